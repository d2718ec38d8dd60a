#!/usr/bin/env bash
# `npm test`: every test. Installs what is missing (dependencies, the offline toolchain), starts the
# local registry, BuildKit and the Docker Hub emulator, then runs every vitest project: unit, static
# (tsc, Biome, actionlint) and end-to-end.
# Extra arguments go to vitest (e.g. `npm test -- --project unit`).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# Node: the version pinned in scripts/versions.env runs everything below, npm ci included (the
# machine's npm runs under the first `node` on PATH). scripts/node.sh installs it into the cache when
# the machine's node is another version (README "Node and Pulumi versions").
node_env="$(bash scripts/node.sh --print-env)"
eval "$node_env"

if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  echo "test: installing npm dependencies (npm ci)"
  npm ci --no-audit --no-fund
fi
[ policy/node_modules/.package-lock.json -nt policy/package-lock.json ] || { echo "test: installing the policy pack's dependencies (npm ci in policy/)"; (cd policy && npm ci --no-audit --no-fund); }

if [ "${BATTLESCOPE_UNIT_ONLY:-}" != "1" ]; then
  bash scripts/toolchain.sh
  bash scripts/local-services.sh start
  eval "$(bash scripts/toolchain.sh --print-env)"
  eval "$(bash scripts/local-services.sh env)"
fi

mkdir -p .test-results
exec npx vitest run --reporter=default --reporter=json --outputFile.json=.test-results/vitest.json "$@"
