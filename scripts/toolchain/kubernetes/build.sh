#!/usr/bin/env bash
# Builds the local cluster's binaries from this Go module, at the versions pinned in
# scripts/versions.env (K8S_VERSION, ETCD_VERSION, CONTAINERD_VERSION), into the toolchain cache:
#
#   ${BATTLESCOPE_CACHE:-$HOME/.cache/battlescope}/toolchain/cluster-<K8S>-<ETCD>-<CONTAINERD>/
#     kube-apiserver kube-controller-manager kube-scheduler kubelet kubectl
#     etcd containerd containerd-shim-runc-v2 ctr
#     pause                      the pod sandbox process (cmd/pause)
#     .complete                  stamp: hash of this module and the versions
#   logs/cluster-<...>.log
#
# One `go build` for all ten: they share most packages, so the compiler's work is shared and
# both cores stay busy. A warm Go build cache relinks everything in about a minute.
#
# Usage:
#   bash scripts/toolchain/kubernetes/build.sh           # build if needed, print the folder
#   bash scripts/toolchain/kubernetes/build.sh --force   # rebuild even if cached
set -Eeuo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source-path=SCRIPTDIR source=../../versions.env
source "$HERE/../../versions.env"

# Everything runs from main, and the line that calls it also exits: bash reads a script as it runs
# it, so an edit (a git pull) during a 30-minute build must not be read after main returns.
main() {
  FORCE=0
  case "${1:-}" in
    "") ;;
    --force) FORCE=1 ;;
    *)
      echo "usage: $0 [--force]" >&2
      exit 2
      ;;
  esac

  say() { echo "cluster-binaries: $*" >&2; }

  CACHE="${BATTLESCOPE_CACHE:-$HOME/.cache/battlescope}"
  TOOLS="$CACHE/toolchain"
  NAME="cluster-$K8S_VERSION-$ETCD_VERSION-$CONTAINERD_VERSION"
  DEST="$TOOLS/$NAME"
  LOG="$CACHE/logs/$NAME.log"
  mkdir -p "$TOOLS" "$CACHE/logs"
  EXES=(kube-apiserver kube-controller-manager kube-scheduler kubelet kubectl etcd containerd containerd-shim-runc-v2 ctr pause)

  command -v go >/dev/null || {
    echo "cluster-binaries: 'go' is required on PATH" >&2
    exit 1
  }

  # The module must pin what versions.env says: one place decides the versions.
  pinned() { go -C "$HERE" list -m -f '{{.Version}}' "$1"; }
  for pair in "k8s.io/kubernetes=$K8S_VERSION" "go.etcd.io/etcd/server/v3=$ETCD_VERSION" \
    "github.com/containerd/containerd/v2=$CONTAINERD_VERSION"; do
    have="$(pinned "${pair%%=*}")"
    if [[ "$have" != "${pair#*=}" ]]; then
      echo "cluster-binaries: $HERE/go.mod pins ${pair%%=*} $have but scripts/versions.env says ${pair#*=}" >&2
      exit 1
    fi
  done

  exec 7>"$CACHE/.lock-cluster"
  flock 7

  stamp="$(cd "$HERE" && cat go.mod go.sum cmd/*/main.go build.sh | sha256sum | cut -d' ' -f1)"
  if [[ $FORCE -eq 0 && -f "$DEST/.complete" && "$(cat "$DEST/.complete")" == "$stamp" ]]; then
    say "cached ($DEST)"
    echo "$DEST"
    exit 0
  fi

  say "building ${EXES[*]} (cold: about 30 minutes on 2 cores; log $LOG)"
  : >"$LOG"
  OUT="$TOOLS/.tmp-$NAME-$$"
  rm -rf "$OUT"
  mkdir -p "$OUT"
  trap 'rm -rf "$OUT"' EXIT
  trap 'echo "cluster-binaries: FAILED; last lines of $LOG:" >&2; tail -n 30 "$LOG" >&2' ERR
  T0=$SECONDS

  k8s_minor="${K8S_VERSION#v1.}"
  k8s_minor="${k8s_minor%%.*}"
  ldflags="-s -w"
  # `kubectl version` and the apiserver's /version report the release, not v0.0.0-master.
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ldflags+=" -X $pkg.gitVersion=$K8S_VERSION -X $pkg.gitMajor=1 -X $pkg.gitMinor=$k8s_minor"
    ldflags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
  done
  ldflags+=" -X github.com/containerd/containerd/v2/version.Version=$CONTAINERD_VERSION"

  CGO_ENABLED=0 GOFLAGS="-trimpath -buildvcs=false" go -C "$HERE" build -mod=readonly -o "$OUT/" \
    -ldflags "$ldflags" \
    k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
    k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubelet k8s.io/kubernetes/cmd/kubectl \
    ./cmd/etcd ./cmd/pause github.com/containerd/containerd/v2/cmd/containerd \
    github.com/containerd/containerd/v2/cmd/containerd-shim-runc-v2 \
    github.com/containerd/containerd/v2/cmd/ctr >>"$LOG" 2>&1

  for exe in "${EXES[@]}"; do [[ -x "$OUT/$exe" ]]; done
  "$OUT/kubectl" version --client -o json | grep -q "\"gitVersion\": \"$K8S_VERSION\""
  "$OUT/etcd" --version | grep -q "etcd Version: ${ETCD_VERSION#v}"
  "$OUT/containerd" --version | grep -q "$CONTAINERD_VERSION"
  { "$OUT/kubectl" version --client; "$OUT/etcd" --version; "$OUT/containerd" --version; } >>"$LOG" 2>&1

  echo "$stamp" >"$OUT/.complete"
  rm -rf "$DEST"
  mv "$OUT" "$DEST"
  trap - EXIT ERR
  say "built in $((SECONDS - T0))s: $DEST"
  echo "$DEST"
}

main "$@"; exit
