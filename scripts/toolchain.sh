#!/usr/bin/env bash
# Offline release toolchain for BattleScope images.
#
# Builds, from Go modules at the versions pinned in scripts/versions.env, and caches OUTSIDE the
# repository, keyed by version:
#   buildkitd + buildctl, docker-buildx (also as docker CLI plugin), pulumi CLI, the Node.js
#   language host, the docker-build and kubernetes providers (installed into PULUMI_HOME);
# and installs the Debian packages the local services need.
#
# Usage:
#   bash scripts/toolchain.sh              # build/install what is missing, verify, print summary
#   bash scripts/toolchain.sh --print-env  # only print export lines (never builds):
#   eval "$(bash scripts/toolchain.sh --print-env)"
#
# Cache: ${BATTLESCOPE_CACHE:-$HOME/.cache/battlescope}
#   toolchain/<tool>-<version>/   built binaries (+ .complete stamp)
#   bin/                          stable symlinks; put first on PATH
#   pulumi-home/                  default PULUMI_HOME (providers installed here)
#   logs/<tool>-<version>.log     build logs
set -Eeuo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=versions.env
source "$HERE/versions.env"

CACHE="${BATTLESCOPE_CACHE:-$HOME/.cache/battlescope}"
BIN="$CACHE/bin"
TOOLS="$CACHE/toolchain"
LOGS="$CACHE/logs"
export PULUMI_HOME="${PULUMI_HOME:-$CACHE/pulumi-home}"
DOCKER_PLUGINS="${DOCKER_CONFIG:-$HOME/.docker}/cli-plugins"

# PATH with $BIN first (and only once).
path_with_bin() {
  local p=":$PATH:"
  p="${p//":$BIN:"/:}"
  p="${p#:}"
  p="${p%:}"
  echo "$BIN${p:+:$p}"
}

print_env() {
  printf 'export PATH=%q\n' "$(path_with_bin)"
  printf 'export PULUMI_HOME=%q\n' "$PULUMI_HOME"
  echo 'export PULUMI_SKIP_UPDATE_CHECK=true'
  echo 'export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true'
  echo 'export PULUMI_AUTOMATION_API_SKIP_VERSION_CHECK=true'
}

case "${1:-}" in
--print-env)
  print_env
  exit 0
  ;;
"") ;;
-h | --help)
  sed -n '2,/^set -E/p' "$0" | sed '$d; s/^# \{0,1\}//'
  exit 0
  ;;
*)
  echo "usage: $0 [--print-env]" >&2
  exit 2
  ;;
esac

STEP="setup"
LOG=""
on_error() {
  local rc=$?
  echo "toolchain: FAILED at step '$STEP' (exit $rc)" >&2
  if [[ -n "$LOG" && -s "$LOG" ]]; then
    echo "---- last lines of $LOG ----" >&2
    tail -n 30 "$LOG" >&2
  fi
  exit "$rc"
}
trap on_error ERR

say() { echo "toolchain: $*"; }

mkdir -p "$BIN" "$TOOLS" "$LOGS" "$PULUMI_HOME"
export PATH
PATH="$(path_with_bin)"

# One run at a time per cache (other scripts may call us concurrently).
exec 9>"$CACHE/.lock"
if ! flock -n 9; then
  say "waiting for another toolchain run to finish ($CACHE/.lock)"
  flock 9
fi

# Go build settings: small, reproducible binaries; default GOCACHE/GOMODCACHE (outside repo).
export CGO_ENABLED=0
export GOFLAGS="-trimpath -buildvcs=false"
LDFLAGS_BASE="-s -w"

# ---------------------------------------------------------------------------------------------
# helpers

# built TOOL VERSION -> true if the cached build is complete
built() { [[ -f "$TOOLS/$1-$2/.complete" ]]; }

# begin_build TOOL VERSION: prints the cold-build line, prepares a fresh temp output dir in $OUT
begin_build() {
  STEP="build $1 $2"
  LOG="$LOGS/$1-$2.log"
  OUT="$TOOLS/.tmp-$1-$2-$$"
  rm -rf "$OUT"
  mkdir -p "$OUT"
  : >"$LOG"
  T0=$SECONDS
  say "building $1 $2 (cold, takes minutes; log $LOG)…"
}

# finish_build TOOL VERSION: atomically publishes $OUT as the cached build
finish_build() {
  local dir="$TOOLS/$1-$2"
  rm -rf "$OUT/.src"
  touch "$OUT/.complete"
  rm -rf "$dir"
  mv "$OUT" "$dir"
  say "$1 $2: built in $((SECONDS - T0))s"
  LOG=""
}

# link TOOL VERSION EXE...: symlink cached executables into $BIN
link() {
  local tool=$1 ver=$2 exe
  shift 2
  for exe in "$@"; do
    ln -sfn "$TOOLS/$tool-$ver/$exe" "$BIN/$exe"
  done
}

# run a command with output into $LOG
logged() { "$@" >>"$LOG" 2>&1; }

# modsrc MODULE VERSION: writable copy of a module's source in $SRC (inside $OUT, removed by
# finish_build). Building from the module's own go.mod keeps its exclude/replace directives,
# which `go install mod/pkg@version` refuses.
modsrc() {
  local dir
  SRC="$OUT/.src"
  dir="$(go -C "$TOOLS" mod download -json "$1@$2" | jq -r '.Dir // empty')" || true
  if [[ -z "$dir" ]]; then
    go -C "$TOOLS" mod download -json "$1@$2" >>"$LOG" 2>&1 || true
    echo "cannot download module $1@$2" >>"$LOG"
    return 1
  fi
  rm -rf "$SRC"
  cp -r "$dir/." "$SRC"
  chmod -R u+w "$SRC"
}

# gobuild OUTFILE LDFLAGS PKG: build a main package of $SRC
gobuild() { logged go -C "$SRC" build -mod=mod -o "$1" -ldflags "$LDFLAGS_BASE $2" "$3"; }

# ---------------------------------------------------------------------------------------------
# 0. Debian packages

STEP="debian packages"
want=(runc docker-registry openssl ca-certificates jq skopeo)
missing=()
for p in "${want[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if ((${#missing[@]})); then
  say "installing Debian packages: ${missing[*]}"
  SUDO=""
  [[ $(id -u) -eq 0 ]] || SUDO="sudo"
  if ! $SUDO apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null 2>&1; then
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
  fi
else
  say "debian packages: present (${want[*]})"
fi
command -v go >/dev/null || {
  echo "toolchain: 'go' is required on PATH (Go >= 1.26)" >&2
  false
}

# ---------------------------------------------------------------------------------------------
# 1. buildkitd + buildctl

STEP="buildkit $BUILDKIT_VERSION"
if built buildkit "$BUILDKIT_VERSION"; then
  say "buildkit $BUILDKIT_VERSION: cached"
else
  begin_build buildkit "$BUILDKIT_VERSION"
  modsrc github.com/moby/buildkit "$BUILDKIT_VERSION"
  for exe in buildkitd buildctl; do
    gobuild "$OUT/$exe" "-X github.com/moby/buildkit/version.Version=$BUILDKIT_VERSION" "./cmd/$exe"
  done
  logged "$OUT/buildkitd" --version
  logged "$OUT/buildctl" --version
  finish_build buildkit "$BUILDKIT_VERSION"
fi
link buildkit "$BUILDKIT_VERSION" buildkitd buildctl

# ---------------------------------------------------------------------------------------------
# 2. buildx (docker CLI plugin)

STEP="buildx $BUILDX_VERSION"
if built buildx "$BUILDX_VERSION"; then
  say "buildx $BUILDX_VERSION: cached"
else
  begin_build buildx "$BUILDX_VERSION"
  modsrc github.com/docker/buildx "$BUILDX_VERSION"
  gobuild "$OUT/docker-buildx" "-X github.com/docker/buildx/version.Version=$BUILDX_VERSION" ./cmd/buildx
  logged "$OUT/docker-buildx" version
  finish_build buildx "$BUILDX_VERSION"
fi
link buildx "$BUILDX_VERSION" docker-buildx
mkdir -p "$DOCKER_PLUGINS"
ln -sfn "$TOOLS/buildx-$BUILDX_VERSION/docker-buildx" "$DOCKER_PLUGINS/docker-buildx"
if command -v docker >/dev/null && ! docker buildx version >/dev/null 2>&1; then
  echo "toolchain: 'docker buildx version' fails with the plugin in $DOCKER_PLUGINS" >&2
  false
fi

# ---------------------------------------------------------------------------------------------
# summary

STEP="summary"
say "ready. Versions:"
echo "  buildkitd      $("$BIN/buildkitd" --version | awk '{print $3}')"
echo "  docker-buildx  $("$BIN/docker-buildx" version | awk '{print $2}')"
say "environment (eval \"\$(bash scripts/toolchain.sh --print-env)\"):"
print_env | sed 's/^/  /'
