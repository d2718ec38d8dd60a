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

# Everything runs inside main() so that bash has parsed the whole file before running it.
main() {

  HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
  # shellcheck source-path=SCRIPTDIR source=versions.env
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
  debs=(runc docker-registry openssl ca-certificates jq skopeo)
  missing=()
  for p in "${debs[@]}"; do
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
    say "debian packages: present (${debs[*]})"
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
  # 3. pulumi CLI (or an ordinary installation of the same version)

  STEP="pulumi $PULUMI_VERSION"
  PULUMI_BIN=""
  PULUMI_SYSTEM=""
  # An ordinary installation (on PATH or in ~/.pulumi/bin) of the right version wins.
  sys_pulumi="$(PATH="${PATH#"$BIN":}:$HOME/.pulumi/bin" command -v pulumi || true)"
  if [[ -n "$sys_pulumi" && "$(readlink -f "$sys_pulumi")" != "$TOOLS"/* ]] &&
    [[ "$("$sys_pulumi" version 2>/dev/null || true)" == "$PULUMI_VERSION" ]]; then
    PULUMI_SYSTEM="$sys_pulumi"
    PULUMI_BIN="$(dirname "$sys_pulumi")"
    say "pulumi $PULUMI_VERSION: using the installed $sys_pulumi (not building)"
    # our own links must not shadow it
    for f in "$BIN"/pulumi*; do
      [[ -L "$f" && "$(readlink "$f")" == "$TOOLS"/pulumi-v* ]] && rm -f "$f"
    done
    [[ ":$PATH:" == *":$PULUMI_BIN:"* ]] || PATH="$PATH:$PULUMI_BIN"
  elif built pulumi "$PULUMI_VERSION"; then
    say "pulumi $PULUMI_VERSION: cached"
  else
    begin_build pulumi "$PULUMI_VERSION"
    modsrc github.com/pulumi/pulumi/pkg/v3 "$PULUMI_VERSION"
    # pkg/v3 replaces sdk/v3 with ../sdk (a monorepo path): use the released sdk module instead.
    logged go -C "$SRC" mod edit -dropreplace github.com/pulumi/pulumi/sdk/v3 \
      -require "github.com/pulumi/pulumi/sdk/v3@$PULUMI_VERSION"
    gobuild "$OUT/pulumi" "-X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$PULUMI_VERSION" ./cmd/pulumi
    [[ "$("$OUT/pulumi" version)" == "$PULUMI_VERSION" ]]
    # Scripts that ship next to the CLI (dynamic provider, policy analyzers): sdk/nodejs/dist.
    STEP="pulumi $PULUMI_VERSION: nodejs scripts"
    sdkdir="$(go -C "$TOOLS" mod download -json "github.com/pulumi/pulumi/sdk/v3@$PULUMI_VERSION" | jq -r .Dir)"
    for f in "$sdkdir"/nodejs/dist/*; do
      [[ "$f" == *.cmd ]] && continue
      install -m 0755 "$f" "$OUT/"
    done
    [[ -x "$OUT/pulumi-resource-pulumi-nodejs" ]]
    finish_build pulumi "$PULUMI_VERSION"
  fi
  if [[ -z "$PULUMI_SYSTEM" ]]; then
    (cd "$TOOLS/pulumi-$PULUMI_VERSION" && ls) | while read -r exe; do
      link pulumi "$PULUMI_VERSION" "$exe"
    done
    PULUMI_BIN="$BIN"
  fi
  PULUMI="$PULUMI_BIN/pulumi"

  # ---------------------------------------------------------------------------------------------
  # 4. Node.js language host

  STEP="pulumi-language-nodejs $PULUMI_VERSION"
  LANGHOST="missing"
  if [[ -n "$PULUMI_SYSTEM" && -x "$PULUMI_BIN/pulumi-language-nodejs" ]]; then
    LANGHOST="$PULUMI_BIN/pulumi-language-nodejs (installed)"
    say "pulumi-language-nodejs: using the installed $PULUMI_BIN/pulumi-language-nodejs"
  elif built pulumi-language-nodejs "$PULUMI_VERSION"; then
    say "pulumi-language-nodejs $PULUMI_VERSION: cached"
    LANGHOST="$PULUMI_VERSION"
  else
    begin_build pulumi-language-nodejs "$PULUMI_VERSION"
    if modsrc github.com/pulumi/pulumi/sdk/nodejs/cmd/pulumi-language-nodejs/v3 "$PULUMI_LANGUAGE_NODEJS_MODULE"; then
      logged go -C "$SRC" mod edit \
        -dropreplace github.com/pulumi/pulumi/pkg/v3 -require "github.com/pulumi/pulumi/pkg/v3@$PULUMI_VERSION" \
        -dropreplace github.com/pulumi/pulumi/sdk/v3 -require "github.com/pulumi/pulumi/sdk/v3@$PULUMI_VERSION"
      gobuild "$OUT/pulumi-language-nodejs" "-X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$PULUMI_VERSION" .
      logged "$OUT/pulumi-language-nodejs" --help || true
      finish_build pulumi-language-nodejs "$PULUMI_VERSION"
      LANGHOST="$PULUMI_VERSION"
    else
      rm -rf "$OUT"
      LOG=""
      echo "toolchain: WARNING: pulumi-language-nodejs $PULUMI_VERSION cannot be built here: the Go module proxy" >&2
      echo "toolchain: WARNING:   refuses github.com/pulumi/pulumi/sdk/nodejs/cmd/pulumi-language-nodejs/v3@$PULUMI_LANGUAGE_NODEJS_MODULE" >&2
      echo "toolchain: WARNING:   (log $LOGS/pulumi-language-nodejs-$PULUMI_VERSION.log). Only Automation API inline programs" >&2
      echo "toolchain: WARNING:   (in-process language server) can run; 'pulumi up' on a nodejs project cannot." >&2
    fi
  fi
  if [[ "$LANGHOST" == "$PULUMI_VERSION" ]]; then
    link pulumi-language-nodejs "$PULUMI_VERSION" pulumi-language-nodejs
  fi

  # ---------------------------------------------------------------------------------------------
  # providers

  # provider_install NAME VERSION(without v) BINARY: install into $PULUMI_HOME/plugins if missing
  provider_install() {
    local name=$1 ver=$2 bin=$3
    STEP="plugin install resource $name $ver"
    if [[ -f "$PULUMI_HOME/plugins/resource-$name-v$ver/pulumi-resource-$name" ]]; then
      say "plugin resource $name $ver: installed in $PULUMI_HOME"
      return 0
    fi
    say "installing plugin resource $name $ver into $PULUMI_HOME"
    "$PULUMI" plugin install resource "$name" "$ver" --file "$bin" >/dev/null
  }

  # check_schema BINARY VERSION(without v): the provider starts and reports its version
  check_schema() {
    local got
    got="$("$PULUMI" package get-schema "$1" 2>>"$LOG" | jq -r .version)"
    echo "schema version of $1: $got" >>"$LOG"
    [[ "$got" == "$2" ]]
  }

  # 5. docker-build provider
  STEP="docker-build $DOCKER_BUILD_VERSION"
  if built docker-build "$DOCKER_BUILD_VERSION"; then
    say "docker-build provider $DOCKER_BUILD_VERSION: cached"
  else
    begin_build docker-build "$DOCKER_BUILD_VERSION"
    modsrc github.com/pulumi/pulumi-docker-build "$DOCKER_BUILD_VERSION"
    # Two codegen-only imports are refused by the module proxy: use the stand-ins in
    # scripts/toolchain/docker-build (see its README).
    logged go -C "$SRC" mod edit \
      -replace "github.com/pulumi/pulumi-java=$HERE/toolchain/docker-build/pulumi-java" \
      -replace "github.com/pulumi/pulumi-dotnet/pulumi-language-dotnet/v3=$HERE/toolchain/docker-build/pulumi-language-dotnet"
    gobuild "$OUT/pulumi-resource-docker-build" \
      "-X github.com/pulumi/pulumi-docker-build/provider.Version=${DOCKER_BUILD_VERSION#v}" \
      ./provider/cmd/pulumi-resource-docker-build
    check_schema "$OUT/pulumi-resource-docker-build" "${DOCKER_BUILD_VERSION#v}"
    finish_build docker-build "$DOCKER_BUILD_VERSION"
  fi
  link docker-build "$DOCKER_BUILD_VERSION" pulumi-resource-docker-build
  provider_install docker-build "${DOCKER_BUILD_VERSION#v}" "$TOOLS/docker-build-$DOCKER_BUILD_VERSION/pulumi-resource-docker-build"

  # 6. kubernetes provider
  STEP="kubernetes $KUBERNETES_VERSION"
  if built kubernetes "$KUBERNETES_VERSION"; then
    say "kubernetes provider $KUBERNETES_VERSION: cached"
  else
    begin_build kubernetes "$KUBERNETES_VERSION"
    modsrc github.com/pulumi/pulumi-kubernetes/provider/v4 "$KUBERNETES_PROVIDER_MODULE"
    # provider/go.mod replaces sdk/v4 with ../sdk (monorepo): use the released sdk module.
    logged go -C "$SRC" mod edit -dropreplace github.com/pulumi/pulumi-kubernetes/sdk/v4 \
      -require "github.com/pulumi/pulumi-kubernetes/sdk/v4@$KUBERNETES_VERSION"
    # go generate embeds the schema with the version stamped in (schema-embed.json).
    STEP="kubernetes $KUBERNETES_VERSION: go generate"
    (cd "$SRC/cmd/pulumi-resource-kubernetes" && VERSION="${KUBERNETES_VERSION#v}" logged go generate -mod=mod .) || false
    STEP="kubernetes $KUBERNETES_VERSION"
    gobuild "$OUT/pulumi-resource-kubernetes" \
      "-X github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/version.Version=${KUBERNETES_VERSION#v}" \
      ./cmd/pulumi-resource-kubernetes
    check_schema "$OUT/pulumi-resource-kubernetes" "${KUBERNETES_VERSION#v}"
    finish_build kubernetes "$KUBERNETES_VERSION"
  fi
  link kubernetes "$KUBERNETES_VERSION" pulumi-resource-kubernetes
  provider_install kubernetes "${KUBERNETES_VERSION#v}" "$TOOLS/kubernetes-$KUBERNETES_VERSION/pulumi-resource-kubernetes"

  # npm pins must match the providers (the engine wants the exact version the SDK asks for)
  STEP="npm pins"
  PKG_JSON="$HERE/../package.json"
  if [[ -f "$PKG_JSON" ]]; then
    for pair in "@pulumi/pulumi=$PULUMI_VERSION" "@pulumi/docker-build=$DOCKER_BUILD_VERSION" \
      "@pulumi/kubernetes=$KUBERNETES_VERSION"; do
      pkg="${pair%%=*}"
      want="${pair#*=}"
      have="$(jq -r --arg p "$pkg" '.dependencies[$p] // empty' "$PKG_JSON")"
      if [[ -n "$have" && "$have" != "${want#v}" ]]; then
        echo "toolchain: WARNING: package.json pins $pkg $have but the toolchain provides ${want#v}" >&2
      fi
    done
  fi

  # ---------------------------------------------------------------------------------------------
  # summary

  STEP="summary"
  say "ready. Versions:"
  echo "  buildkitd      $("$BIN/buildkitd" --version | awk '{print $3}')"
  echo "  docker-buildx  $("$BIN/docker-buildx" version | awk '{print $2}')"
  echo "  pulumi         $("$PULUMI" version) ($PULUMI)"
  echo "  language host  $LANGHOST"
  echo "  docker-build   ${DOCKER_BUILD_VERSION#v} (plugin in $PULUMI_HOME)"
  echo "  kubernetes     ${KUBERNETES_VERSION#v} (plugin in $PULUMI_HOME)"
  say "environment (eval \"\$(bash scripts/toolchain.sh --print-env)\"):"
  print_env | sed 's/^/  /'
}

main "$@"
