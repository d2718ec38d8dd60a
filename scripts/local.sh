#!/usr/bin/env bash
# `npm run local`: release all nine images on this machine, from a fresh clone.
# Installs what is missing (npm dependencies, the offline toolchain), starts the local registry,
# BuildKit and the Docker Hub emulator, runs `up` on the `local` stack and prints what was published.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# Node: the version pinned in scripts/versions.env runs everything below, npm ci included (the
# machine's npm runs under the first `node` on PATH). scripts/node.sh installs it into the cache when
# the machine's node is another version (README "Node and Pulumi versions").
node_env="$(bash scripts/node.sh --print-env)"
eval "$node_env"

if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "local: installing npm dependencies (npm ci)"
  npm ci --no-audit --no-fund
fi
bash scripts/toolchain.sh
bash scripts/local-services.sh start
eval "$(bash scripts/toolchain.sh --print-env)"
eval "$(bash scripts/local-services.sh env)"

# The local stack's state lives beside the local registry it describes, outside the clone.
backend="$BATTLESCOPE_STATE/pulumi-backend"
mkdir -p "$backend"
export PULUMI_BACKEND_URL="file://$backend"
export PULUMI_CONFIG_PASSPHRASE="${PULUMI_CONFIG_PASSPHRASE:-battlescope-local}"

echo "local: pulumi up --stack local (backend $PULUMI_BACKEND_URL)"
exec npx tsx scripts/stack.ts up --stack local --summary
