#!/usr/bin/env bash
# The project's Node.js: the version pinned as NODE_VERSION in scripts/versions.env.
#
# A machine whose `node` is already that version uses it as it is. Otherwise the pinned binary is
# installed from the npm package node-linux-<arch> (it ships the binary and needs no install
# script; the package `node` does, and npm here runs none) into the cache, keyed by version:
#
#   ${BATTLESCOPE_CACHE:-$HOME/.cache/battlescope}/toolchain/node-<NODE_VERSION>/
#     bin/node        the binary (a link into node_modules/node-linux-<arch>/bin)
#     .complete       stamp
#
# Everything that runs JavaScript here (npm ci, vitest, tsx, the CLI, the engine's language host
# and dynamic providers, the policy pack) starts `node` from PATH, and the machine's npm and npx
# run under whichever `node` is first on PATH: putting that folder first switches all of them.
#
# Usage:
#   bash scripts/node.sh              # install if needed; print the folder to put first on PATH
#                                     # (empty when the machine's node is the pinned one)
#   bash scripts/node.sh --print-env  # install if needed; print `export PATH=...` with it first
#   eval "$(bash scripts/node.sh --print-env)"
#   bash scripts/node.sh --dir        # never installs: the folder if it is installed, else empty
set -Eeuo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source-path=SCRIPTDIR source=versions.env
source "$HERE/versions.env"

CACHE="${BATTLESCOPE_CACHE:-$HOME/.cache/battlescope}"
TOOLS="$CACHE/toolchain"
DEST="$TOOLS/node-$NODE_VERSION"
NODE_BIN="$DEST/bin"

say() { echo "node: $*" >&2; }

# PATH without our folder, so the machine's own node is what `command -v` finds.
path_without() {
  local p=":$PATH:"
  p="${p//":$1:"/:}"
  p="${p#:}"
  echo "${p%:}"
}

machine_node_is_pinned() {
  local found
  found="$(PATH="$(path_without "$NODE_BIN")" command -v node || true)"
  [[ -n "$found" && "$("$found" --version 2>/dev/null || true)" == "$NODE_VERSION" ]]
}

installed() { [[ -x "$NODE_BIN/node" && -f "$DEST/.complete" ]]; }

install_node() {
  local arch pkg out
  case "$(uname -m)" in
    x86_64 | amd64) arch=x64 ;;
    aarch64 | arm64) arch=arm64 ;;
    *)
      say "no node-linux package for $(uname -m): install Node $NODE_VERSION and put it first on PATH"
      return 1
      ;;
  esac
  pkg="node-linux-$arch"
  command -v npm >/dev/null || {
    say "npm is required to install Node $NODE_VERSION (from the npm package $pkg)"
    return 1
  }
  mkdir -p "$TOOLS"
  # One install at a time per cache; a concurrent run waits and then finds it installed.
  exec 7>"$CACHE/.lock-node"
  flock 7
  installed && return 0
  say "installing Node $NODE_VERSION (npm package $pkg) into $DEST…"
  local t0=$SECONDS
  out="$TOOLS/.tmp-node-$NODE_VERSION-$$"
  rm -rf "$out"
  mkdir -p "$out/bin"
  # The machine's npm (under its own node) installs the package: no package.json, no lock file.
  if ! npm install --prefix "$out" --no-save --no-package-lock --no-audit --no-fund --loglevel=error \
    "$pkg@${NODE_VERSION#v}" >&2; then
    rm -rf "$out"
    return 1
  fi
  ln -s "../node_modules/$pkg/bin/node" "$out/bin/node"
  if [[ "$("$out/bin/node" --version)" != "$NODE_VERSION" ]]; then
    say "$out/bin/node reports $("$out/bin/node" --version), expected $NODE_VERSION"
    rm -rf "$out"
    return 1
  fi
  echo "$NODE_VERSION $pkg" >"$out/.complete"
  rm -rf "$DEST"
  mv "$out" "$DEST"
  say "Node $NODE_VERSION installed in $((SECONDS - t0))s"
}

# The folder to put first on PATH ("" when the machine's node is the pinned one).
node_dir() {
  if machine_node_is_pinned; then
    echo ""
  else
    echo "$NODE_BIN"
  fi
}

main() {
  case "${1:-}" in
    --dir)
      if machine_node_is_pinned || ! installed; then echo ""; else echo "$NODE_BIN"; fi
      return 0
      ;;
    "" | --print-env) ;;
    -h | --help)
      sed -n '2,/^set -E/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'
      return 0
      ;;
    *)
      echo "usage: $0 [--print-env | --dir]" >&2
      return 2
      ;;
  esac
  local dir
  dir="$(node_dir)"
  if [[ -n "$dir" ]] && ! installed; then
    install_node
  fi
  if [[ "${1:-}" == "--print-env" ]]; then
    if [[ -n "$dir" ]]; then
      printf 'export PATH=%q\n' "$dir:$(path_without "$dir")"
    fi
  else
    echo "$dir"
  fi
}

main "$@"; exit
