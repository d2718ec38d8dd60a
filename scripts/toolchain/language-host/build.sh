#!/usr/bin/env bash
# Builds our own Node.js language host (pulumi-language-nodejs, the Go module in this directory)
# for the Pulumi CLI version pinned in scripts/versions.env, into the toolchain cache:
#
#   ${BATTLESCOPE_CACHE:-$HOME/.cache/battlescope}/toolchain/language-host-<PULUMI_VERSION>/
#     pulumi-language-nodejs     the binary (reports <PULUMI_VERSION> without the v)
#     .complete                  stamp: hash of the sources it was built from
#   logs/language-host-<PULUMI_VERSION>.log
#
# Idempotent: a build whose stamp matches the current sources is reused. The module requires
# github.com/pulumi/pulumi/sdk/v3 at PULUMI_VERSION; if versions.env moves on, the build retargets
# a temporary copy of the module at the new SDK version.
#
# Usage:
#   bash scripts/toolchain/language-host/build.sh           # build if needed, print the binary path
#   bash scripts/toolchain/language-host/build.sh --link    # also symlink it into <cache>/bin
#   bash scripts/toolchain/language-host/build.sh --force   # rebuild even if cached
set -Eeuo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source-path=SCRIPTDIR source=../../versions.env
source "$HERE/../../versions.env"

LINK=0
FORCE=0
for arg in "$@"; do
  case "$arg" in
    --link) LINK=1 ;;
    --force) FORCE=1 ;;
    -h | --help)
      sed -n '2,/^set -E/p' "$0" | sed '$d; s/^# \{0,1\}//'
      exit 0
      ;;
    *)
      echo "usage: $0 [--link] [--force]" >&2
      exit 2
      ;;
  esac
done

say() { echo "language-host: $*"; }

VERSION="$PULUMI_VERSION"
CACHE="${BATTLESCOPE_CACHE:-$HOME/.cache/battlescope}"
TOOLS="$CACHE/toolchain"
DEST="$TOOLS/language-host-$VERSION"
EXE="pulumi-language-nodejs"
LOG="$CACHE/logs/language-host-$VERSION.log"
mkdir -p "$TOOLS" "$CACHE/logs" "$CACHE/bin"

command -v go >/dev/null || {
  echo "language-host: 'go' is required on PATH" >&2
  exit 1
}

# Separate lock from scripts/toolchain.sh's, which may be calling us while holding its own.
exec 8>"$CACHE/.lock-language-host"
flock 8

# Stamp: the sources, the build settings and the target version.
stamp="$(cd "$HERE" && cat go.mod go.sum ./*.go build.sh | sha256sum | cut -d' ' -f1)-$VERSION"

if [[ $FORCE -eq 0 && -x "$DEST/$EXE" && -f "$DEST/.complete" && "$(cat "$DEST/.complete")" == "$stamp" ]]; then
  say "$EXE $VERSION: cached ($DEST/$EXE)"
else
  say "building $EXE $VERSION from $HERE (log $LOG)"
  : >"$LOG"
  OUT="$TOOLS/.tmp-language-host-$VERSION-$$"
  rm -rf "$OUT"
  mkdir -p "$OUT"
  trap 'rm -rf "$OUT"' EXIT
  trap 'echo "language-host: FAILED; last lines of $LOG:" >&2; tail -n 30 "$LOG" >&2' ERR

  SRC="$HERE"
  pinned="$(go -C "$HERE" list -m -f '{{.Version}}' github.com/pulumi/pulumi/sdk/v3 2>>"$LOG")"
  if [[ "$pinned" != "$VERSION" ]]; then
    say "go.mod pins sdk/v3 $pinned; retargeting a temporary copy to $VERSION"
    SRC="$OUT/.src"
    mkdir -p "$SRC"
    cp "$HERE"/go.mod "$HERE"/go.sum "$HERE"/*.go "$SRC/"
    go -C "$SRC" mod edit -require "github.com/pulumi/pulumi/sdk/v3@$VERSION" >>"$LOG" 2>&1
    go -C "$SRC" mod tidy >>"$LOG" 2>&1
  fi

  say "go build (CGO_ENABLED=0, -trimpath, version ${VERSION#v})"
  CGO_ENABLED=0 GOFLAGS="-trimpath -buildvcs=false" \
    go -C "$SRC" build -mod=readonly -o "$OUT/$EXE" -ldflags "-s -w -X main.version=${VERSION#v}" . >>"$LOG" 2>&1

  say "checking the binary: --version and the port handshake"
  got="$("$OUT/$EXE" --version)"
  [[ "$got" == "${VERSION#v}" ]] || {
    echo "language-host: $EXE --version printed '$got', expected '${VERSION#v}'" >&2
    exit 1
  }
  # It must print a port on its first stdout line, like every plugin the CLI starts.
  coproc HOSTPROC { exec "$OUT/$EXE" 127.0.0.1:1; }
  port=""
  read -r -t 10 port <&"${HOSTPROC[0]}" || true
  kill "$HOSTPROC_PID" 2>/dev/null || true
  wait "$HOSTPROC_PID" 2>/dev/null || true
  [[ "$port" =~ ^[0-9]+$ ]] || {
    echo "language-host: $EXE did not print a port (got '$port')" >&2
    exit 1
  }
  echo "started, printed port $port" >>"$LOG"

  rm -rf "$OUT/.src"
  echo "$stamp" >"$OUT/.complete"
  rm -rf "$DEST"
  mv "$OUT" "$DEST"
  trap - EXIT ERR
  say "built $DEST/$EXE"
fi

if [[ $LINK -eq 1 ]]; then
  ln -sfn "$DEST/$EXE" "$CACHE/bin/$EXE"
  say "linked $CACHE/bin/$EXE -> $DEST/$EXE"
fi
echo "$DEST/$EXE"
