#!/usr/bin/env bash
# shellcheck disable=SC2317 # the exit on the line that calls main makes shellcheck take the functions
# called from traps and by name (version_<tool>) for unreachable
# Offline release toolchain for BattleScope images.
#
# Builds from Go modules, at the versions pinned in scripts/versions.env, and caches OUTSIDE the
# repository, keyed by version:
#   Node.js NODE_VERSION (scripts/node.sh: the machine's node when it is that version, otherwise
#   installed from npm into toolchain/node-<version>/, whose bin/ --print-env puts first on PATH),
#   buildkitd + buildctl, docker-buildx (also as docker CLI plugin), the pulumi CLI with the
#   dynamic-provider script, our own Node.js language host (scripts/toolchain/language-host), the
#   docker-build and kubernetes providers (installed into PULUMI_HOME), actionlint (checks the
#   GitHub workflows), the local OCI registry (distribution v3, `registry`), cosign and syft (sign
#   and attest releases, write their SBOMs), battlescope-sbom (scripts/toolchain/sbom: the SBOMs of a
#   release in one process, with syft's library), grype (scans them) and battlescope-vulndb
#   (scripts/toolchain/vulndb: writes grype databases for the offline tests), and the local
#   cluster's Kubernetes, etcd and containerd (scripts/toolchain/kubernetes);
# and installs the Debian packages the local services and checks need (runc, openssl, ca-certificates, jq, skopeo, shellcheck, apache2-utils, containernetworking-plugins,
# iproute2, curl). A pulumi of the pinned version already
# installed the ordinary way (on PATH or in ~/.pulumi/bin) is used instead of building one.
#
# Usage:
#   bash scripts/toolchain.sh              # build/install what is missing, verify, print summary
#   bash scripts/toolchain.sh --print-env  # only print the export lines (never builds):
#   eval "$(bash scripts/toolchain.sh --print-env)"
#
# Cache: ${BATTLESCOPE_CACHE:-$HOME/.cache/battlescope}
#   toolchain/<tool>-<version>/   built binaries (+ .complete stamp)
#   bin/                          stable symlinks; first on PATH (providers are NOT here: they
#                                 are installed into PULUMI_HOME, so the engine finds no
#                                 "ambient" plugin on PATH)
#   pulumi-home/                  default PULUMI_HOME
#   logs/<tool>-<version>.log     build logs
set -Eeuo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source-path=SCRIPTDIR source=versions.env
source "$HERE/versions.env"

CACHE="${BATTLESCOPE_CACHE:-$HOME/.cache/battlescope}"
BIN="$CACHE/bin"
TOOLS="$CACHE/toolchain"
LOGS="$CACHE/logs"
export PULUMI_HOME="${PULUMI_HOME:-$CACHE/pulumi-home}"
DOCKER_PLUGINS="${DOCKER_CONFIG:-$HOME/.docker}/cli-plugins"

STEP="setup"
LOG=""

# ---------------------------------------------------------------------------------------------
# environment

# path_first DIR: PATH with DIR first (and only once).
path_first() {
  local p=":$PATH:"
  p="${p//":$1:"/:}"
  p="${p#:}"
  p="${p%:}"
  echo "$1${p:+:$p}"
}

# PATH with $BIN first, and before it the pinned Node's folder when the machine's node is another
# version: the language host and dynamic providers the engine starts run the first `node` on PATH.
path_with_bin() {
  local node_dir
  node_dir="$(bash "$HERE/node.sh" --dir)"
  PATH="$(path_first "$BIN")"
  if [[ -n "$node_dir" ]]; then
    path_first "$node_dir"
  else
    echo "$PATH"
  fi
}

print_env() {
  printf 'export PATH=%q\n' "$(path_with_bin)"
  printf 'export PULUMI_HOME=%q\n' "$PULUMI_HOME"
  echo 'export PULUMI_SKIP_UPDATE_CHECK=true'
  echo 'export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true'
  echo 'export PULUMI_AUTOMATION_API_SKIP_VERSION_CHECK=true'
}

# ---------------------------------------------------------------------------------------------
# helpers

say() { echo "toolchain: $*"; }
warn() { echo "toolchain: WARNING: $*" >&2; }

# duration_text, expected_text, ticker_start/ticker_stop, progress_record: what a cold build is
# expected to take and a line at least every minute while it runs
PROGRESS_RECORD="$LOGS/cold-build-times.tsv"
# shellcheck source-path=SCRIPTDIR source=toolchain/progress.sh
source "$HERE/toolchain/progress.sh"

on_error() {
  local rc=$?
  echo "toolchain: FAILED at step '$STEP' (exit $rc)" >&2
  if [[ -n "$LOG" && -s "$LOG" ]]; then
    echo "---- last lines of $LOG ----" >&2
    tail -n 30 "$LOG" >&2
  fi
  exit "$rc"
}

# built TOOL VERSION: the cached build is complete
built() { [[ -f "$TOOLS/$1-$2/.complete" ]]; }

# begin_build TOOL VERSION: announce a cold build; fresh temp output dir in $OUT, log in $LOG
begin_build() {
  STEP="build $1 $2"
  LOG="$LOGS/$1-$2.log"
  OUT="$TOOLS/.tmp-$1-$2-$$"
  rm -rf "$OUT"
  mkdir -p "$OUT"
  : >"$LOG"
  T0=$SECONDS
  local expected
  expected="$(expected_text "$1" "$2")"
  say "building $1 $2 (cold: $expected; log $LOG)…"
  ticker_start "$1 $2" "$expected"
}

# finish_build TOOL VERSION: publish $OUT as the cached build
finish_build() {
  local dir="$TOOLS/$1-$2"
  rm -rf "$OUT/.src"
  touch "$OUT/.complete"
  rm -rf "$dir"
  mv "$OUT" "$dir"
  ticker_stop
  progress_record "$1" "$2" $((SECONDS - T0))
  say "$1 $2: built in $(duration_text $((SECONDS - T0)))"
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

# logged CMD...: run with its output appended to $LOG
logged() { "$@" >>"$LOG" 2>&1; }

# modsrc MODULE VERSION: writable copy of the module's source in $SRC (removed by finish_build).
# Building inside the module keeps its exclude/replace directives, which
# `go install mod/pkg@version` refuses; local (../) replaces are then rewritten by the caller.
modsrc() {
  local dir
  SRC="$OUT/.src"
  dir="$(go -C "$TOOLS" mod download -json "$1@$2" 2>>"$LOG" | jq -r '.Dir // empty')" || true
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
gobuild() { logged go -C "$SRC" build -mod=mod -o "$1" -ldflags "-s -w $2" "$3"; }

# check_schema BINARY VERSION: the provider starts and reports VERSION in its schema
check_schema() {
  local got
  got="$("$PULUMI" package get-schema "$1" 2>>"$LOG" | jq -r .version)"
  echo "schema version of $1: $got" >>"$LOG"
  [[ "$got" == "$2" ]]
}

# provider_install NAME VERSION BINARY: install into $PULUMI_HOME/plugins unless present
provider_install() {
  local name=$1 ver=$2 bin=$3
  STEP="plugin install resource $name $ver"
  # Providers are found through PULUMI_HOME, not PATH: a provider on PATH is an "ambient"
  # plugin that the engine prefers and warns about on every run.
  rm -f "$BIN/pulumi-resource-$name"
  if [[ -f "$PULUMI_HOME/plugins/resource-$name-v$ver/pulumi-resource-$name" ]]; then
    say "plugin resource $name $ver: installed in $PULUMI_HOME"
    return 0
  fi
  say "installing plugin resource $name $ver into $PULUMI_HOME"
  "$PULUMI" plugin install resource "$name" "$ver" --file "$bin" >/dev/null 2>&1
}

# ---------------------------------------------------------------------------------------------
# steps

# Sets NODE_DIR (the pinned Node's folder, "" when the machine's node is that version).
step_node() {
  STEP="node $NODE_VERSION"
  NODE_DIR="$(bash "$HERE/node.sh")"
  PATH="$(path_with_bin)"
  export PATH
  [[ "$(node --version)" == "$NODE_VERSION" ]]
  if [[ -n "$NODE_DIR" ]]; then
    say "node $NODE_VERSION: installed in $NODE_DIR"
  else
    say "node $NODE_VERSION: the machine's ($(command -v node))"
  fi
}

step_debian() {
  STEP="debian packages"
  local debs=(runc openssl ca-certificates jq skopeo shellcheck apache2-utils
    containernetworking-plugins iproute2 curl) missing=() p sudo=""
  for p in "${debs[@]}"; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
  done
  if ((${#missing[@]} == 0)); then
    say "debian packages: present (${debs[*]})"
    return 0
  fi
  say "installing Debian packages: ${missing[*]}"
  [[ $(id -u) -eq 0 ]] || sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  # apt-get update only when the install cannot proceed from the current lists
  if ! $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null 2>&1; then
    $sudo apt-get update -qq
    $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
  fi
}

step_buildkit() {
  STEP="buildkit $BUILDKIT_VERSION"
  if built buildkit "$BUILDKIT_VERSION"; then
    say "buildkit $BUILDKIT_VERSION: cached"
  else
    begin_build buildkit "$BUILDKIT_VERSION"
    modsrc github.com/moby/buildkit "$BUILDKIT_VERSION"
    local exe
    for exe in buildkitd buildctl; do
      gobuild "$OUT/$exe" "-X github.com/moby/buildkit/version.Version=$BUILDKIT_VERSION" "./cmd/$exe"
      logged "$OUT/$exe" --version
    done
    finish_build buildkit "$BUILDKIT_VERSION"
  fi
  link buildkit "$BUILDKIT_VERSION" buildkitd buildctl
}

step_buildx() {
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
  STEP="buildx $BUILDX_VERSION: docker CLI plugin"
  mkdir -p "$DOCKER_PLUGINS"
  ln -sfn "$TOOLS/buildx-$BUILDX_VERSION/docker-buildx" "$DOCKER_PLUGINS/docker-buildx"
  if command -v docker >/dev/null && ! docker buildx version >/dev/null 2>&1; then
    echo "toolchain: 'docker buildx version' fails with the plugin in $DOCKER_PLUGINS" >&2
    false
  fi
}

# Sets PULUMI (the CLI to use) and PULUMI_INSTALLED (non-empty for an ordinary installation).
step_pulumi() {
  STEP="pulumi $PULUMI_VERSION"
  local found f exe sdkdir
  PULUMI_INSTALLED=""
  # An ordinary installation of the pinned version (on PATH after $BIN, or in ~/.pulumi/bin).
  found="$(PATH="${PATH//"$BIN:"/}:$HOME/.pulumi/bin" command -v pulumi || true)"
  if [[ -n "$found" && "$(readlink -f "$found")" != "$TOOLS"/* ]] &&
    [[ "$("$found" version 2>/dev/null || true)" == "$PULUMI_VERSION" ]]; then
    PULUMI_INSTALLED="$(readlink -f "$found")"
    say "pulumi $PULUMI_VERSION: using the installed $PULUMI_INSTALLED (not building)"
    # $BIN/pulumi points at it (it finds its language hosts next to its real path); our own
    # builds' links must not shadow the installation's.
    for f in "$BIN"/pulumi*; do
      [[ -L "$f" && "$(readlink "$f")" == "$TOOLS"/* ]] && rm -f "$f"
    done
    ln -sfn "$PULUMI_INSTALLED" "$BIN/pulumi"
    PULUMI="$BIN/pulumi"
    return 0
  fi
  if built pulumi "$PULUMI_VERSION"; then
    say "pulumi $PULUMI_VERSION: cached"
  else
    begin_build pulumi "$PULUMI_VERSION"
    modsrc github.com/pulumi/pulumi/pkg/v3 "$PULUMI_VERSION"
    # pkg/v3 replaces sdk/v3 with ../sdk (a monorepo path): use the released sdk module.
    logged go -C "$SRC" mod edit -dropreplace github.com/pulumi/pulumi/sdk/v3 \
      -require "github.com/pulumi/pulumi/sdk/v3@$PULUMI_VERSION"
    gobuild "$OUT/pulumi" "-X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$PULUMI_VERSION" ./cmd/pulumi
    [[ "$("$OUT/pulumi" version)" == "$PULUMI_VERSION" ]]
    # Scripts that ship next to the CLI (dynamic provider; policy analyzers where the release
    # has them): sdk/nodejs/dist of the sdk module.
    STEP="pulumi $PULUMI_VERSION: nodejs scripts"
    sdkdir="$(go -C "$TOOLS" mod download -json "github.com/pulumi/pulumi/sdk/v3@$PULUMI_VERSION" | jq -r .Dir)"
    for f in "$sdkdir"/nodejs/dist/*; do
      [[ "$f" == *.cmd ]] || install -m 0755 "$f" "$OUT/"
    done
    [[ -x "$OUT/pulumi-resource-pulumi-nodejs" ]]
    finish_build pulumi "$PULUMI_VERSION"
  fi
  for exe in "$TOOLS/pulumi-$PULUMI_VERSION"/*; do
    link pulumi "$PULUMI_VERSION" "${exe##*/}"
  done
  PULUMI="$BIN/pulumi"
}

# Sets LANGHOST (what the summary prints).
# Pulumi's own Node.js language host module is refused by the Go module proxy reachable here,
# so the project builds its own (scripts/toolchain/language-host, a small Go program on the
# released sdk/v3). The CLI looks for language hosts next to its real path, so the binary is
# copied into the CLI's folder, which keeps the engine from warning about plugins on PATH.
step_language_host() {
  STEP="pulumi-language-nodejs $PULUMI_VERSION"
  if [[ -n "$PULUMI_INSTALLED" ]]; then
    LANGHOST="from the installation ($(dirname "$PULUMI_INSTALLED"))"
    say "pulumi-language-nodejs: from the installation"
    return 0
  fi
  local built_host target="$TOOLS/pulumi-$PULUMI_VERSION/pulumi-language-nodejs"
  built_host="$(bash "$HERE/toolchain/language-host/build.sh" | tail -n 1)"
  [[ -x "$built_host" ]]
  if ! cmp -s "$built_host" "$target"; then
    install -m 0755 "$built_host" "$target"
  fi
  link pulumi "$PULUMI_VERSION" pulumi-language-nodejs
  LANGHOST="$PULUMI_VERSION (built from scripts/toolchain/language-host)"
}

step_docker_build() {
  local ver="${DOCKER_BUILD_VERSION#v}"
  STEP="docker-build $DOCKER_BUILD_VERSION"
  if built docker-build "$DOCKER_BUILD_VERSION"; then
    say "docker-build provider $DOCKER_BUILD_VERSION: cached"
  else
    begin_build docker-build "$DOCKER_BUILD_VERSION"
    modsrc github.com/pulumi/pulumi-docker-build "$DOCKER_BUILD_VERSION"
    # Two codegen-only imports are refused by the module proxy: stand-ins from
    # scripts/toolchain/docker-build (see its README).
    logged go -C "$SRC" mod edit \
      -replace "github.com/pulumi/pulumi-java=$HERE/toolchain/docker-build/pulumi-java" \
      -replace "github.com/pulumi/pulumi-dotnet/pulumi-language-dotnet/v3=$HERE/toolchain/docker-build/pulumi-language-dotnet"
    gobuild "$OUT/pulumi-resource-docker-build" \
      "-X github.com/pulumi/pulumi-docker-build/provider.Version=$ver" ./provider/cmd/pulumi-resource-docker-build
    check_schema "$OUT/pulumi-resource-docker-build" "$ver"
    finish_build docker-build "$DOCKER_BUILD_VERSION"
  fi
  provider_install docker-build "$ver" "$TOOLS/docker-build-$DOCKER_BUILD_VERSION/pulumi-resource-docker-build"
}

step_kubernetes() {
  local ver="${KUBERNETES_VERSION#v}"
  STEP="kubernetes $KUBERNETES_VERSION"
  if built kubernetes "$KUBERNETES_VERSION"; then
    say "kubernetes provider $KUBERNETES_VERSION: cached"
  else
    begin_build kubernetes "$KUBERNETES_VERSION"
    modsrc github.com/pulumi/pulumi-kubernetes/provider/v4 "$KUBERNETES_PROVIDER_MODULE"
    # provider/go.mod replaces sdk/v4 with ../sdk (a monorepo path): use the released module.
    logged go -C "$SRC" mod edit -dropreplace github.com/pulumi/pulumi-kubernetes/sdk/v4 \
      -require "github.com/pulumi/pulumi-kubernetes/sdk/v4@$KUBERNETES_VERSION"
    # go generate writes schema-embed.json (the schema with the version stamped in).
    STEP="kubernetes $KUBERNETES_VERSION: go generate"
    VERSION="$ver" GOFLAGS="$GOFLAGS -mod=mod" logged go -C "$SRC/cmd/pulumi-resource-kubernetes" generate .
    STEP="kubernetes $KUBERNETES_VERSION"
    gobuild "$OUT/pulumi-resource-kubernetes" \
      "-X github.com/pulumi/pulumi-kubernetes/provider/v4/pkg/version.Version=$ver" ./cmd/pulumi-resource-kubernetes
    check_schema "$OUT/pulumi-resource-kubernetes" "$ver"
    finish_build kubernetes "$KUBERNETES_VERSION"
  fi
  provider_install kubernetes "$ver" "$TOOLS/kubernetes-$KUBERNETES_VERSION/pulumi-resource-kubernetes"
}

# version_<tool> BINARY: the version a built tool reports, as versions.env writes it
version_actionlint() { "$1" -version | head -n 1; }
version_registry() { "$1" --version | awk '{print $3}'; }
version_cosign() { "$1" version --json 2>/dev/null | jq -r .gitVersion; }
version_syft() { echo "v$("$1" version -o json 2>/dev/null | jq -r .version)"; }
version_grype() { echo "v$("$1" version -o json 2>/dev/null | jq -r .version)"; }

# go_tool TOOL VERSION MODULE PACKAGE LDFLAGS: one Go binary built from its module (unless
# cached), checked to report VERSION (version_<TOOL>), and linked into $BIN
go_tool() {
  local tool=$1 version=$2 module=$3 package=$4 ldflags=$5
  STEP="$tool $version"
  if built "$tool" "$version"; then
    say "$tool $version: cached"
  else
    begin_build "$tool" "$version"
    modsrc "$module" "$version"
    gobuild "$OUT/$tool" "$ldflags" "$package"
    [[ "$("version_$tool" "$OUT/$tool")" == "$version" ]]
    finish_build "$tool" "$version"
  fi
  link "$tool" "$version" "$tool"
}

step_actionlint() {
  go_tool actionlint "$ACTIONLINT_VERSION" github.com/rhysd/actionlint ./cmd/actionlint \
    "-X github.com/rhysd/actionlint.version=$ACTIONLINT_VERSION"
}

step_registry() {
  go_tool registry "$REGISTRY_VERSION" github.com/distribution/distribution/v3 ./cmd/registry \
    "-X github.com/distribution/distribution/v3/version.version=$REGISTRY_VERSION"
}

# cosign signs and attests releases, syft writes their SBOMs (docs/rules.md#signed-releases).
step_cosign() {
  go_tool cosign "$COSIGN_VERSION" github.com/sigstore/cosign/v3 ./cmd/cosign \
    "-X sigs.k8s.io/release-utils/version.gitVersion=$COSIGN_VERSION"
}

step_syft() {
  go_tool syft "$SYFT_VERSION" github.com/anchore/syft ./cmd/syft "-X main.version=${SYFT_VERSION#v}"
}

# grype scans each release's SBOM before any tag names it.
step_grype() {
  go_tool grype "$GRYPE_VERSION" github.com/anchore/grype ./cmd/grype "-X main.version=${GRYPE_VERSION#v}"
}

# go_helper NAME MODULE VERSION: one of this repository's Go programs, scripts/toolchain/NAME, built
# as battlescope-NAME against MODULE at VERSION (its go.mod must require exactly that version) and
# cached by VERSION and a hash of its sources, so an edit rebuilds it; it shares MODULE's modules and
# build cache. A fresh build reports VERSION, then check_NAME BINARY (when defined) proves it works.
go_helper() {
  local name=$1 module=$2 version=$3 src="$HERE/toolchain/$1" exe="battlescope-$1" hash key pinned
  hash="$(cd "$src" && find . -maxdepth 1 -type f \( -name '*.go' -o -name go.mod -o -name go.sum \) |
    LC_ALL=C sort | xargs sha256sum | sha256sum | cut -c1-12)"
  key="$version-$hash"
  STEP="$name $key"
  if built "$name" "$key"; then
    say "$exe $key: cached"
  else
    begin_build "$name" "$key"
    pinned="$(go -C "$src" list -m -f '{{.Version}}' "$module" 2>>"$LOG")"
    if [[ "$pinned" != "$version" ]]; then
      echo "scripts/toolchain/$name/go.mod requires ${module##*/} $pinned, versions.env pins $version: run go get $module@$version && go mod tidy there" >>"$LOG"
      false
    fi
    logged go -C "$src" build -mod=readonly -o "$OUT/$exe" -ldflags "-s -w" .
    [[ "$("$OUT/$exe" --version | awk '{print $1}')" == "$version" ]]
    if declare -F "check_$name" >/dev/null; then "check_$name" "$OUT/$exe"; fi
    finish_build "$name" "$key"
  fi
  link "$name" "$key" "$exe"
}

# battlescope-vulndb (scripts/toolchain/vulndb) writes grype databases from records, with grype's
# own database package, for the offline scan tests.
step_vulndb() { go_helper vulndb github.com/anchore/grype "$GRYPE_VERSION"; }

# check_vulndb BINARY: it writes a database grype accepts: one advisory, then grype's own status check.
check_vulndb() {
  mkdir -p "$OUT/.src"
  echo '{"built": "'"$(date -u +%Y-%m-%dT%H:%M:%SZ)"'", "advisories": [{"id": "CVE-2022-30065", "severity": "High",
    "cpes": [{"cpe": "cpe:2.3:a:busybox:busybox:*:*:*:*:*:*:*:*", "constraint": "= 1.35.0", "fixedIn": "1.36.0"}]}]}' >"$OUT/.src/records.json"
  logged "$1" --records "$OUT/.src/records.json" --out "$OUT/.src/db"
  GRYPE_DB_CACHE_DIR="$OUT/.src/db" GRYPE_DB_AUTO_UPDATE=false GRYPE_CHECK_FOR_APP_UPDATE=false \
    logged "$BIN/grype" db status -o json
}

# battlescope-sbom (scripts/toolchain/sbom) writes a release's SBOMs with syft's own library in one
# long-lived process (clients/sbomServer.ts): one license scanner for all images instead of one per
# `syft scan`.
step_sbom() { go_helper sbom github.com/anchore/syft "$SYFT_VERSION"; }

# The local cluster's binaries (Kubernetes, etcd, containerd, pause) from one wrapper module: the
# largest build here (about 30 min cold on 2 cores), so it starts first, in the background, and
# the other builds share the cores with it; it is awaited at the end.
start_cluster_build() {
  CLUSTER_LOG="$LOGS/cluster-build.out"
  CLUSTER_NAME="cluster-$K8S_VERSION-$ETCD_VERSION-$CONTAINERD_VERSION"
  CLUSTER_T0=$SECONDS
  CLUSTER_EXPECTED=""
  if [[ ! -f "$TOOLS/$CLUSTER_NAME/.complete" ]]; then
    CLUSTER_EXPECTED="$(expected_text cluster "$K8S_VERSION")"
    say "building the cluster binaries (Kubernetes $K8S_VERSION, etcd, containerd) in the background, beside the other steps (cold: $CLUSTER_EXPECTED; log $LOGS/$CLUSTER_NAME.log)…"
  fi
  bash "$HERE/toolchain/kubernetes/build.sh" >"$CLUSTER_LOG" 2>&1 &
  CLUSTER_PID=$!
}

step_cluster() {
  STEP="cluster binaries (scripts/toolchain/kubernetes)"
  local ticker=""
  if [[ -n "$CLUSTER_EXPECTED" ]] && kill -0 "$CLUSTER_PID" 2>/dev/null; then
    say "waiting for the cluster binaries: $(duration_text $((SECONDS - CLUSTER_T0))) so far (cold: $CLUSTER_EXPECTED)"
    ticker_start "cluster binaries" "$CLUSTER_EXPECTED" "$CLUSTER_T0"
    ticker="$TICKER_PID"
  fi
  if ! wait "$CLUSTER_PID"; then
    ticker_stop "$ticker"
    LOG="$CLUSTER_LOG"
    false
  fi
  ticker_stop "$ticker"
  if [[ -n "$CLUSTER_EXPECTED" ]]; then
    progress_record cluster "$K8S_VERSION" $((SECONDS - CLUSTER_T0))
    say "cluster binaries: built in $(duration_text $((SECONDS - CLUSTER_T0)))"
  fi
  CLUSTER_DIR="$(tail -n 1 "$CLUSTER_LOG")"
  [[ -x "$CLUSTER_DIR/kube-apiserver" ]]
  ln -sfn "$CLUSTER_DIR/kubectl" "$BIN/kubectl"
  # build.sh's own lines, less its estimate and its timing when this script printed both.
  local skip='^$'
  [[ -z "$CLUSTER_EXPECTED" ]] || skip='^cluster-binaries: (building|built in)'
  grep -v "^/" "$CLUSTER_LOG" | grep -Ev "$skip" | sed 's/^cluster-binaries: /toolchain: cluster binaries: /' || true
}

# The npm SDKs ask the engine for exactly their own version: package.json must match.
step_check_pins() {
  STEP="npm pins"
  local pkg_json="$HERE/../package.json" pair pkg want have
  [[ -f "$pkg_json" ]] || return 0
  for pair in "@pulumi/pulumi=$PULUMI_VERSION" "@pulumi/docker-build=$DOCKER_BUILD_VERSION" \
    "@pulumi/kubernetes=$KUBERNETES_VERSION"; do
    pkg="${pair%%=*}"
    want="${pair#*=v}"
    have="$(jq -r --arg p "$pkg" '.dependencies[$p] // empty' "$pkg_json")"
    if [[ -n "$have" && "$have" != "$want" ]]; then
      warn "package.json pins $pkg $have but the toolchain provides $want"
    fi
  done
}

# The engine runs offline: right version, both providers visible from PULUMI_HOME.
step_verify() {
  STEP="verify pulumi"
  [[ "$("$PULUMI" version)" == "$PULUMI_VERSION" ]]
  local plugins
  plugins="$("$PULUMI" plugin ls --json)"
  jq -e --arg v "${DOCKER_BUILD_VERSION#v}" 'any(.[]; .name == "docker-build" and .version == $v)' <<<"$plugins" >/dev/null
  jq -e --arg v "${KUBERNETES_VERSION#v}" 'any(.[]; .name == "kubernetes" and .version == $v)' <<<"$plugins" >/dev/null
}

summary() {
  STEP="summary"
  say "ready:"
  echo "  node           $(node --version) ($(command -v node))"
  echo "  buildkitd      $("$BIN/buildkitd" --version | awk '{print $3}') ($BIN/buildkitd, buildctl)"
  echo "  docker-buildx  $("$BIN/docker-buildx" version | awk '{print $2}') ($DOCKER_PLUGINS/docker-buildx)"
  echo "  pulumi         $("$PULUMI" version) ($(readlink -f "$PULUMI"))"
  echo "  language host  $LANGHOST"
  echo "  docker-build   ${DOCKER_BUILD_VERSION#v} (plugin in $PULUMI_HOME)"
  echo "  kubernetes     ${KUBERNETES_VERSION#v} (plugin in $PULUMI_HOME)"
  local tool
  for tool in actionlint registry cosign syft grype; do
    printf '  %-14s %s (%s)\n' "$tool" "$("version_$tool" "$BIN/$tool")" "$BIN/$tool"
  done
  printf '  %-14s %s (%s)\n' vulndb "$("$BIN/battlescope-vulndb" --version | awk '{print $1}')" "$BIN/battlescope-vulndb"
  printf '  %-14s %s (%s)\n' sbom "$("$BIN/battlescope-sbom" --version | awk '{print $1}')" "$BIN/battlescope-sbom"
  echo "  cluster        kubernetes $K8S_VERSION, etcd $ETCD_VERSION, containerd $CONTAINERD_VERSION ($CLUSTER_DIR)"
  say "environment: eval \"\$(bash scripts/toolchain.sh --print-env)\" gives"
  print_env | sed 's/^/  /'
}

# ---------------------------------------------------------------------------------------------

main() {
  case "${1:-}" in
    --print-env)
      print_env
      return 0
      ;;
    "") ;;
    -h | --help)
      sed -n '4,/^set -E/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'
      return 0
      ;;
    *)
      echo "usage: $0 [--print-env]" >&2
      return 2
      ;;
  esac

  trap on_error ERR
  trap tickers_stop_all EXIT
  mkdir -p "$BIN" "$TOOLS" "$LOGS" "$PULUMI_HOME"
  PATH="$(path_with_bin)"
  export PATH

  # One run at a time per cache (other scripts may call this concurrently).
  exec 9>"$CACHE/.lock"
  if ! flock -n 9; then
    say "waiting for another toolchain run to finish ($CACHE/.lock)"
    flock 9
  fi

  step_debian
  step_node
  STEP="go"
  if ! command -v go >/dev/null; then
    echo "toolchain: 'go' (>= 1.26) is required on PATH" >&2
    false
  fi
  # Small, static binaries; GOCACHE/GOMODCACHE stay at their defaults (outside the repo).
  export CGO_ENABLED=0
  export GOFLAGS="-trimpath -buildvcs=false"

  start_cluster_build
  step_buildkit
  step_buildx
  step_pulumi
  step_language_host
  step_docker_build
  step_kubernetes
  step_actionlint
  step_registry
  step_cosign
  step_syft
  step_grype
  step_vulndb
  step_sbom
  step_cluster
  step_check_pins
  step_verify
  summary
}

# Everything runs from main, and the line that calls it also exits: bash reads a script as it runs
# it, so an edit (a git pull) during a 30-minute build must not be read after main returns.
main "$@"; exit
