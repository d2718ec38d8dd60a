#!/usr/bin/env bash
# The baseline of `npm run bench`: the shell procedure of
# docs/reference.md#the-bench-baseline-procedure, per service, scripted as faithfully as this
# machine allows (it has the docker CLI and buildx with a BuildKit builder, but no Docker engine).
# See bench/RESULTS.md, "The baseline", for why each substitution is the closest equivalent.
#
#   bench/baseline.sh --org <org> --version <vX.Y.Z> --source <dir> [--registry <host:port>]
#                     [--builder <name>] [--platforms amd64,arm64] [service...]
#
# Per service (one after another, as the procedure is written):
#   1. `docker build --platform linux/<arch> -t <repo>:<v>-<arch> .` for amd64, then arm64:
#      `docker buildx build` with no output, so the result stays in the builder (the engine's
#      image store in the procedure); no registry write.
#   2. `docker tag` x3 per arch: a name in the engine's local store, no registry traffic and no
#      equivalent without an engine; the extra names come into being with step 3's pushes.
#   3. `docker push` of the eight tags, one command each: a cached rebuild of the same build with
#      `--push -t <that tag>`. The first push of each arch uploads the blobs; the other three find
#      every blob present (HEAD) and write the manifest, as `docker push` of a tagged image does.
#      The cached rebuild yields the same digest, as `docker tag` would.
#   4. `docker manifest create` + `docker manifest push` for the four manifest tags:
#      `docker buildx imagetools create -t <tag> <tag>-amd64 <tag>-arm64` (reads both manifests,
#      writes the list). `docker manifest push` cannot reach this registry without an engine: the
#      CLI, lacking the daemon's registry settings, treats 127.0.0.0/8 as an insecure registry and
#      pushes over plain HTTP to the HTTPS listener.
#
# Prints one line per step on stderr ("baseline: ...") and nothing on stdout.
set -euo pipefail

registry="${BATTLESCOPE_REGISTRY:-}"
builder="${BATTLESCOPE_BUILDER:-battlescope}"
platforms="amd64,arm64"
org=""
version=""
source=""
services=()
while (($# > 0)); do
  case "$1" in
    --registry) registry="$2"; shift 2 ;;
    --builder) builder="$2"; shift 2 ;;
    --org) org="$2"; shift 2 ;;
    --version) version="$2"; shift 2 ;;
    --source) source="$2"; shift 2 ;;
    --platforms) platforms="$2"; shift 2 ;;
    -*) echo "baseline: unknown option $1" >&2; exit 2 ;;
    *) services+=("$1"); shift ;;
  esac
done
[[ -n "$registry" && -n "$org" && -n "$version" && -d "$source" ]] || {
  echo "baseline: need --registry (or BATTLESCOPE_REGISTRY), --org, --version vX.Y.Z and --source <dir>" >&2
  exit 2
}
[[ "$version" =~ ^v([0-9]+)\.([0-9]+)\.([0-9]+)$ ]] || {
  echo "baseline: --version must be vX.Y.Z, got $version" >&2
  exit 2
}
major="v${BASH_REMATCH[1]}"
minor="$major.${BASH_REMATCH[2]}"
tags=("$version" "$minor" "$major" latest)
IFS=, read -r -a arches <<<"$platforms"
if ((${#services[@]} == 0)); then
  for dir in "$source"/*/; do
    [[ -f "$dir/Dockerfile" ]] && services+=("$(basename "$dir")")
  done
fi

say() { printf 'baseline: %s\n' "$*" >&2; }

# `docker build` as the classic engine does it: one platform, a plain image manifest (the engine's
# own store keeps no attestations, and `docker manifest create` refuses an index), and the
# VERSION build argument the stack passes too, so both release the same image contents.
build() { # build <context> <arch> [buildx output args...]
  local context=$1 arch=$2
  shift 2
  docker buildx build --builder "$builder" --platform "linux/$arch" --provenance=false \
    --build-arg "VERSION=$version" --progress=quiet "$@" "$context" >/dev/null
}

for service in "${services[@]}"; do
  repo="$registry/$org/$service"
  context="$source/$service"
  started=$SECONDS
  # 1-2. build each arch (docker tag has no registry effect)
  for arch in "${arches[@]}"; do
    build "$context" "$arch" -t "$repo:$version-$arch"
  done
  # 3. push the eight tags, one command each
  for arch in "${arches[@]}"; do
    for tag in "${tags[@]}"; do
      build "$context" "$arch" --push -t "$repo:$tag-$arch"
    done
  done
  # 4. one manifest list per tag, from that tag's arch images
  for tag in "${tags[@]}"; do
    sources=()
    for arch in "${arches[@]}"; do sources+=("$repo:$tag-$arch"); done
    docker buildx imagetools create --progress=quiet -t "$repo:$tag" "${sources[@]}" >/dev/null
  done
  say "$service $version ($((SECONDS - started))s)"
done
