#!/usr/bin/env bash
# BuildKit on the local cluster through buildx's kubernetes driver, tried end to end:
#
#   try.sh <build context> <platform> <output dir>
#
# In a namespace of its own (bk-try-<random>): a pull secret for the local registry attached to a
# ServiceAccount (the driver has no imagePullSecrets option; the node pulls only with a pod's
# secret), the rootless image of buildkit-image.sh pushed as 127.0.0.1:5000/bk-try/buildkit:<ns>,
# `buildx create --driver kubernetes ... rootless=true` (the apiserver refuses privileged pods:
# --allow-privileged=false), then one platform of the context built on it into <output dir>.
# The pod cannot reach the registry (it listens on 127.0.0.1), so each image the Dockerfile's
# FROM lines name is handed over as a named context: an OCI layout made by the local BuildKit.
# Removes the builder, the namespace and the image tag on the way out, also after a failure.
# Prints one line per step with its time.
#
# Environment: as scripts/local-services.sh env prints (BATTLESCOPE_KUBECONFIG,
# BATTLESCOPE_REGISTRY_USERNAME, BATTLESCOPE_REGISTRY_PASSWORD_FILE, BUILDKIT_HOST).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CACHE="${BATTLESCOPE_CACHE:-$HOME/.cache/battlescope}"
STATE="${BATTLESCOPE_STATE:-$CACHE/local}"
export PATH="$CACHE/bin:$PATH:/usr/sbin:/sbin"
REGISTRY=127.0.0.1:5000
context="${1:?usage: try.sh <build context> <platform> <output dir>}"
platform="${2:?usage: try.sh <build context> <platform> <output dir>}"
out="${3:?usage: try.sh <build context> <platform> <output dir>}"

say() { printf 'kube-builder: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }
buildx() { if command -v docker-buildx >/dev/null; then docker-buildx "$@"; else docker buildx "$@"; fi; }
export KUBECONFIG="${BATTLESCOPE_KUBECONFIG:?run under: eval \"\$(bash scripts/local-services.sh env)\"}"
password="$(cat "${BATTLESCOPE_REGISTRY_PASSWORD_FILE:?}")"
# shellcheck source-path=SCRIPTDIR source=../local-services/registry-auth.sh
source "$HERE/../local-services/registry-auth.sh"
# The image's tag is read and deleted at the end: one login for both (a token, on the default
# token auth), asked for when needed.
curl_registry() {
  registry_curl_auth "$REGISTRY" "$STATE/ca/ca.crt" "$BATTLESCOPE_REGISTRY_USERNAME:$password" \
    "repository:bk-try/buildkit:pull,delete" || return 1
  curl -sf --max-time 20 --cacert "$STATE/ca/ca.crt" "${REGISTRY_CURL_AUTH[@]}" "$@"
}

ns="bk-try-$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')"
image="$REGISTRY/bk-try/buildkit:$ns"
work="$(mktemp -d "${TMPDIR:-/tmp}/battlescope-kube-builder-XXXXXX")"
# The builder lives in a buildx configuration of its own, not in the one the stack uses.
export BUILDX_CONFIG="$work/buildx"

cleanup() {
  local status=$?
  buildx rm "$ns" >/dev/null 2>&1 || true
  kubectl delete namespace "$ns" --ignore-not-found --wait=true --timeout=120s >/dev/null 2>&1 ||
    say "warning: namespace $ns was not deleted"
  local digest
  digest="$(curl_registry -I -H 'Accept: application/vnd.oci.image.manifest.v1+json' \
    "https://$REGISTRY/v2/bk-try/buildkit/manifests/$ns" 2>/dev/null |
    tr -d '\r' | awk -F': ' 'tolower($1) == "docker-content-digest" {print $2}')" || true
  if [[ -n "$digest" ]]; then
    curl_registry -X DELETE "https://$REGISTRY/v2/bk-try/buildkit/manifests/$digest" >/dev/null ||
      say "warning: $image was not deleted"
  fi
  # The node's copy of the image (its containerd holds every image a pod ran).
  local ctr
  ctr="$(find "$CACHE/toolchain" -maxdepth 2 -path '*/cluster-*/ctr' 2>/dev/null | head -1 || true)"
  if [[ -n "$ctr" && -S "$STATE/cluster/node/containerd.sock" ]]; then
    # The CRI names it by tag and by digest.
    "$ctr" --address "$STATE/cluster/node/containerd.sock" -n k8s.io images rm "$image" \
      ${digest:+"$REGISTRY/bk-try/buildkit@$digest"} >/dev/null 2>&1 || true
  fi
  rm -rf "$work"
  exit "$status"
}
trap cleanup EXIT

step_start=0
step() { step_start=$(date +%s%N); say "$1"; }
took() { say "$1 took $((($(date +%s%N) - step_start) / 1000000))ms"; }

step "image $image"
bash "$HERE/buildkit-image.sh" "$image"
took image

step "namespace $ns, pull secret and ServiceAccount"
kubectl create namespace "$ns" >/dev/null
kubectl -n "$ns" create secret docker-registry registry-pull --docker-server="$REGISTRY" \
  --docker-username="$BATTLESCOPE_REGISTRY_USERNAME" --docker-password="$password" >/dev/null
kubectl -n "$ns" create serviceaccount buildkit >/dev/null
kubectl -n "$ns" patch serviceaccount buildkit \
  -p '{"imagePullSecrets":[{"name":"registry-pull"}]}' >/dev/null
took namespace

step "buildx create --driver kubernetes (rootless) and bootstrap"
if ! buildx create --name "$ns" --driver kubernetes --bootstrap \
  --driver-opt "namespace=$ns,image=$image,replicas=1,rootless=true,serviceaccount=buildkit,timeout=120s" \
  >"$work/create.log" 2>&1; then
  cat "$work/create.log" >&2
  kubectl -n "$ns" get pods -o wide >&2 || true
  kubectl -n "$ns" logs "deployment/${ns}0" --tail=20 >&2 || true
  die "the kubernetes builder did not start"
fi
took bootstrap

step "base images as named contexts"
contexts=()
stages=" "
while read -r from ref alias name; do
  [[ "$from" =~ ^[Ff][Rr][Oo][Mm]$ ]] || continue
  if [[ "$ref" == --platform=* ]]; then ref="$alias"; alias="$name"; fi
  if [[ "$stages" != *" $ref "* && "$ref" != scratch ]]; then
    dir="$work/bases/$(printf '%s' "$ref" | tr -c 'A-Za-z0-9.-' _)"
    if [[ ! -d "$dir" ]]; then
      mkdir -p "$dir/ctx"
      printf 'FROM %s\n' "$ref" >"$dir/ctx/Dockerfile"
      buildctl build --frontend dockerfile.v0 --local context="$dir/ctx" --local dockerfile="$dir/ctx" \
        --opt platform="$platform" --output "type=oci,dest=$dir/layout,tar=false" >"$dir/build.log" 2>&1 ||
        { cat "$dir/build.log" >&2; die "cannot read $ref from the local BuildKit"; }
      contexts+=(--build-context "$ref=oci-layout://$dir/layout@$(jq -r '.manifests[0].digest' "$dir/layout/index.json")")
    fi
  fi
  [[ "${alias,,}" == as && -n "$name" ]] && stages+="$name "
done <"$context/Dockerfile"
took bases

step "build $context for $platform on the cluster's BuildKit"
buildx build --builder "$ns" --platform "$platform" "${contexts[@]}" --progress plain \
  --output "type=local,dest=$out" "$context" >"$work/build.log" 2>&1 ||
  { tail -30 "$work/build.log" >&2; die "the build on the cluster's BuildKit failed"; }
took build
# Shown from the cluster's BuildKit itself: its build history, read through the pod.
history="$(buildx history ls --builder "$ns" --format json)"
builds="$(jq -s 'length' <<<"$history")"
say "the cluster's BuildKit (pod $(kubectl -n "$ns" get pods -o jsonpath='{.items[0].metadata.name}')) records $builds build(s): $(jq -rs 'map(.name) | join(", ")' <<<"$history")"
printf 'builds recorded by the cluster BuildKit: %s\n' "$builds"
