# Shared by the base image seeds (seed-base-images.sh, seed-debian-base.sh): sourced, not run.
# The sourcing script sets SEED_NAME (for its messages) and REPO (the repository it seeds).
# shellcheck shell=bash

CACHE="${BATTLESCOPE_CACHE:-$HOME/.cache/battlescope}"
STATE="${BATTLESCOPE_STATE:-$CACHE/local}"
export PATH="$CACHE/bin:$PATH:/usr/sbin:/sbin"
REGISTRY=127.0.0.1:5000
# shellcheck disable=SC2034 # used by the sourcing scripts
BUILDER=battlescope
CA_CERT="$STATE/ca/ca.crt"
# shellcheck disable=SC2034 # used by the sourcing scripts
ARCHES=(amd64 arm64)

say() { printf '%s: %s\n' "$SEED_NAME" "$*" >&2; }
die() {
  say "error: $*"
  exit 1
}
buildx() { if command -v docker-buildx >/dev/null; then docker-buildx "$@"; else docker buildx "$@"; fi; }

# The pushing account's login (user:password) when the registry requires one; skopeo takes it
# as it is (it speaks both basic and token auth), curl is given a token in token mode.
AUTH_MODE="${BATTLESCOPE_REGISTRY_AUTH:-token}"
REG_CREDS=""
if [[ "$AUTH_MODE" != none && -s "$STATE/registry/password" ]]; then
  REG_CREDS="release-pusher:$(cat "$STATE/registry/password")"
fi
# shellcheck source-path=SCRIPTDIR source=registry-auth.sh
source "$(dirname "${BASH_SOURCE[0]}")/registry-auth.sh"
curl_auth=()
if [[ -n "$REG_CREDS" ]]; then
  registry_curl_auth "$REGISTRY" "$CA_CERT" "$REG_CREDS" "repository:$REPO:pull" ||
    die "the registry's token server gave release-pusher no token for $REPO"
  curl_auth=("${REGISTRY_CURL_AUTH[@]}")
fi

reg_get() {
  curl -sf --max-time 10 --cacert "$CA_CERT" "${curl_auth[@]}" \
    -H 'Accept: application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json' \
    "https://$REGISTRY/v2/$REPO/$1" 2>/dev/null
}

# index_ok <tag>: the tag resolves to an index listing linux/amd64 and linux/arm64, and every
# per-platform manifest, config and layer it reaches is really there (a garbage collection with
# --delete-untagged on distribution 2.8 leaves the index but deletes its children)
index_ok() {
  local idx d m b
  idx="$(reg_get "manifests/$1")" || return 1
  jq -e '[.manifests[]?.platform | "\(.os)/\(.architecture)"] as $p
         | ($p | index("linux/amd64")) != null and ($p | index("linux/arm64")) != null' <<<"$idx" >/dev/null 2>&1 || return 1
  for d in $(jq -r '.manifests[] | select(.platform.os == "linux") | .digest' <<<"$idx"); do
    m="$(reg_get "manifests/$d")" || return 1
    for b in $(jq -r '.config.digest, .layers[].digest' <<<"$m"); do
      curl -sf -o /dev/null -I --max-time 10 --cacert "$CA_CERT" "${curl_auth[@]}" "https://$REGISTRY/v2/$REPO/blobs/$b" || return 1
    done
  done
}
