#!/usr/bin/env bash
# `npm run bench`: loads the toolchain's and the local services' environment (PATH, the
# registry's CA for Node, the access log, BuildKit's address), checks the services answer, and
# runs bench/run.ts. Start the services first with `npm run local` (or scripts/local-services.sh start).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# The pinned Node runs the benchmarks and everything they start (scripts/node.sh).
node_env="$(bash scripts/node.sh --print-env)"
eval "$node_env"
eval "$(bash scripts/toolchain.sh --print-env)"
eval "$(bash scripts/local-services.sh env)"
bash scripts/local-services.sh status >&2 || {
  echo "bench: the local services are not all up: run 'npm run local' (or scripts/local-services.sh start) first" >&2
  exit 1
}
exec node_modules/.bin/tsx bench/run.ts "$@"
