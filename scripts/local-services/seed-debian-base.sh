#!/usr/bin/env bash
# Seeds the local registry with the Debian base the realistic fixtures build on, made offline
# from Debian's archive (no base image can be pulled on these machines):
#
#   127.0.0.1:5000/library/debian:<point release>-slim, e.g. debian:12.15-slim
#
# an OCI index with linux/amd64 and linux/arm64, each one layer: Debian bookworm's minbase
# (`mmdebstrap --variant=minbase`: the required packages and apt, so passwd's groupadd/useradd,
# apt-get and dpkg), merged /usr, with dpkg excluding man pages, docs (but their copyright) and
# locales as Docker's slim images do, and apt's sources listing bookworm, bookworm-updates and
# bookworm-security like Docker's. The arm64 root file system's maintainer scripts run under the
# QEMU user emulation registered in binfmt_misc (scripts/local-services.sh start registers it).
#
# Reproducible: the root file systems come from the suite `bookworm` alone, which stopped
# changing at its final point release, with SOURCE_DATE_EPOCH set to that release's date
# (mmdebstrap then writes the same tarball on every machine), and the image is built from them
# with the same epoch: the index digest is the same everywhere. No labels, as Docker's debian
# images: an image built on it would inherit them.
#
# Idempotent and fast when warm: does nothing when the tag already resolves to an index with
# both platforms (no network, no apt). The root file systems are cached by point release in
# $BATTLESCOPE_CACHE/debian-base/<point release>/rootfs-<arch>.tar, so a registry emptied since
# is re-seeded by a push alone.
#
# Environment: BATTLESCOPE_CACHE, BATTLESCOPE_STATE (as local-services.sh),
#   BATTLESCOPE_DEBIAN_VERSION  the point release the fixtures pin (default 12.15)
#   BATTLESCOPE_DEBIAN_MIRROR   the archive (default http://deb.debian.org/debian)
#   BATTLESCOPE_SEED_FORCE=1    rebuild the root file systems and push even if the tag resolves
set -euo pipefail

SEED_NAME=seed-debian-base
REPO=library/debian
# shellcheck source-path=SCRIPTDIR source=seed-common.sh
source "$(dirname "${BASH_SOURCE[0]}")/seed-common.sh"

SUITE=bookworm
VERSION="${BATTLESCOPE_DEBIAN_VERSION:-12.15}"
MIRROR="${BATTLESCOPE_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
TAG="$VERSION-slim"
DIR="$CACHE/debian-base/$VERSION"

cached() { local arch; for arch in "${ARCHES[@]}"; do [[ -s "$DIR/rootfs-$arch.tar" ]] || return 1; done && [[ -s "$DIR/epoch" ]]; }

LAYOUT="$DIR/image"

# keep_layout: copies the pushed image into $LAYOUT for the next empty registry; a copy that
# fails only costs the next seed a build.
keep_layout() {
  mkdir -p "$DIR"
  rm -rf "$LAYOUT" "$LAYOUT.digest"
  local -a src_creds=()
  [[ -z "$REG_CREDS" ]] || src_creds=(--src-creds "$REG_CREDS")
  if skopeo copy --quiet --all --preserve-digests "${src_creds[@]}" \
    "docker://$REGISTRY/$REPO:$TAG" "oci:$LAYOUT:$TAG" >/dev/null 2>"$DIR/keep.err"; then
    reg_get "manifests/$TAG" | sha256sum | awk '{print "sha256:" $1}' >"$LAYOUT.digest"
  else
    say "could not keep the image as a layout ($(tail -n 1 "$DIR/keep.err")); the next empty registry builds it again"
    rm -rf "$LAYOUT"
  fi
}

if [[ "${BATTLESCOPE_SEED_FORCE:-}" != 1 ]] && index_ok "$TAG"; then
  say "$REGISTRY/$REPO:$TAG already present (linux/amd64, linux/arm64)"
  [[ -s "$LAYOUT.digest" && -s "$LAYOUT/index.json" ]] || keep_layout
  exit 0
fi

# ---- the root file systems, one per architecture (cached by point release)
if [[ "${BATTLESCOPE_SEED_FORCE:-}" == 1 ]] || ! cached; then
  release="$(curl -sf --max-time 30 "$MIRROR/dists/$SUITE/Release")" ||
    die "cannot read $MIRROR/dists/$SUITE/Release (set BATTLESCOPE_DEBIAN_MIRROR to a reachable Debian archive)"
  archive_version="$(awk '/^Version:/ {print $2; exit}' <<<"$release")"
  archive_date="$(sed -n 's/^Date: //p' <<<"$release" | head -n 1)"
  [[ "$archive_version" == "$VERSION" ]] ||
    die "$MIRROR has Debian $SUITE $archive_version, not $VERSION (the fixtures' FROM debian:$TAG): build that release's base with BATTLESCOPE_DEBIAN_VERSION=$archive_version and move the fixtures to debian:$archive_version-slim"
  epoch="$(date -u -d "$archive_date" +%s)" || die "cannot read the date of $MIRROR/dists/$SUITE/Release: $archive_date"

  if ! command -v mmdebstrap >/dev/null || ! command -v arch-test >/dev/null; then
    [[ $EUID -eq 0 ]] || die "mmdebstrap and arch-test are missing: apt-get install mmdebstrap arch-test"
    say "installing mmdebstrap and arch-test"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends mmdebstrap arch-test >/dev/null ||
      die "apt-get install mmdebstrap arch-test failed"
  fi
  for arch in "${ARCHES[@]}"; do
    arch-test "$arch" >/dev/null 2>&1 ||
      die "this machine cannot run $arch programs, which the $arch root file system's maintainer scripts are: register QEMU user emulation (scripts/local-services.sh start does; or apt-get install qemu-user-static and register /usr/lib/binfmt.d/qemu-aarch64.conf in /proc/sys/fs/binfmt_misc)"
  done

  mkdir -p "$DIR"
  work="$(mktemp -d "${TMPDIR:-/tmp}/battlescope-debian-XXXXXX")"
  trap 'rm -rf "$work"' EXIT
  cat >"$work/debian.sources" <<EOF
Types: deb
URIs: $MIRROR
Suites: $SUITE $SUITE-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: ${MIRROR%/debian}/debian-security
Suites: $SUITE-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
  say "building Debian $VERSION minbase root file systems for ${ARCHES[*]} with mmdebstrap (arm64 under QEMU; a few minutes)"
  pids=()
  for arch in "${ARCHES[@]}"; do
    # shellcheck disable=SC2016 # $1 is mmdebstrap's: the root file system being made
    SOURCE_DATE_EPOCH="$epoch" mmdebstrap --variant=minbase --architectures="$arch" --mode=root --format=tar \
      --hook-dir=/usr/share/mmdebstrap/hooks/merged-usr \
      --dpkgopt='path-exclude=/usr/share/man/*' \
      --dpkgopt='path-exclude=/usr/share/doc/*' \
      --dpkgopt='path-include=/usr/share/doc/*/copyright' \
      --dpkgopt='path-exclude=/usr/share/info/*' \
      --dpkgopt='path-exclude=/usr/share/locale/*' \
      --aptopt='Acquire::Languages "none"' \
      --customize-hook='rm -f "$1/etc/apt/sources.list"' \
      --customize-hook="upload $work/debian.sources /etc/apt/sources.list.d/debian.sources" \
      "$SUITE" "$work/rootfs-$arch.tar" "$MIRROR" >"$work/mmdebstrap-$arch.log" 2>&1 &
    pids+=($!)
  done
  for i in "${!ARCHES[@]}"; do
    wait "${pids[$i]}" || {
      tail -n 30 "$work/mmdebstrap-${ARCHES[$i]}.log" >&2
      die "mmdebstrap for ${ARCHES[$i]} failed (log above)"
    }
  done
  for arch in "${ARCHES[@]}"; do mv "$work/rootfs-$arch.tar" "$DIR/rootfs-$arch.tar"; done
  echo "$epoch" >"$DIR/epoch"
fi
epoch="$(cat "$DIR/epoch")"

# ---- the image pushed before, kept as an OCI layout: copied as it is (the same digests), which
# takes a second where building it again from the root file systems takes over ten (compressing
# two file systems); every start from an empty state (a new registry) comes here
skopeo_creds=()
[[ -z "$REG_CREDS" ]] || skopeo_creds=(--dest-creds "$REG_CREDS")
if [[ "${BATTLESCOPE_SEED_FORCE:-}" != 1 && -s "$LAYOUT.digest" && -s "$LAYOUT/index.json" ]]; then
  say "pushing $REGISTRY/$REPO:$TAG from the kept layout ($(cat "$LAYOUT.digest"))"
  if skopeo copy --quiet --all --preserve-digests "${skopeo_creds[@]}" \
    "oci:$LAYOUT:$TAG" "docker://$REGISTRY/$REPO:$TAG" >/dev/null 2>"$DIR/copy.err" && index_ok "$TAG"; then
    say "pushed $REGISTRY/$REPO:$TAG (linux/amd64, linux/arm64)"
    exit 0
  fi
  say "the kept layout did not push ($(tail -n 1 "$DIR/copy.err")); building the image again"
  rm -rf "$LAYOUT" "$LAYOUT.digest"
fi

# ---- one image per architecture from its root file system, pushed as one index
work="${work:-$(mktemp -d "${TMPDIR:-/tmp}/battlescope-debian-XXXXXX")}"
trap 'rm -rf "$work"' EXIT
cat >"$work/Dockerfile" <<'EOF'
FROM scratch
ARG TARGETARCH
ADD rootfs-${TARGETARCH}.tar /
CMD ["bash"]
EOF
say "building $REGISTRY/$REPO:$TAG for linux/amd64,linux/arm64"
SOURCE_DATE_EPOCH="$epoch" buildx build --builder "$BUILDER" \
  --platform linux/amd64,linux/arm64 --provenance=false --sbom=false \
  --output "type=image,name=$REGISTRY/$REPO:$TAG,push=true,rewrite-timestamp=true" \
  -f "$work/Dockerfile" --progress plain "$DIR" >"$work/build.log" 2>&1 || {
  tail -n 30 "$work/build.log" >&2
  die "build of the Debian base image failed"
}
index_ok "$TAG" || die "$REGISTRY/$REPO:$TAG does not resolve to an index with both platforms after the push"
say "pushed $REGISTRY/$REPO:$TAG (linux/amd64, linux/arm64)"
keep_layout
