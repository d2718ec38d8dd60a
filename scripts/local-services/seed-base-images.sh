#!/usr/bin/env bash
# Seeds the local registry with the base images the fixtures use, assembled offline from Debian
# packages (no base image can be pulled on these machines): first the Debian base of
# seed-debian-base.sh, then
#
#   127.0.0.1:5000/library/busybox:<upstream version of Debian's busybox-static, e.g. 1.35.0>
#
# an OCI index with linux/amd64 and linux/arm64, each a single layer holding that architecture's
# static busybox, its applet links, /etc/passwd (root, nobody, app=10001) and /tmp. buildkitd
# mirrors docker.io to the local registry, so `FROM busybox:1.35.0` resolves to it.
#
# Idempotent: does nothing when the tag already resolves to an index with both platforms.
# The .debs are cached in $BATTLESCOPE_CACHE/debs/busybox-static/<Debian version>/.
# Needs the registry and the buildx builder "battlescope" (scripts/local-services.sh start runs this).
#
# Environment: BATTLESCOPE_CACHE, BATTLESCOPE_STATE (as local-services.sh),
#   BATTLESCOPE_BUSYBOX_DEB_VERSION  Debian version to use (default: apt's candidate)
#   BATTLESCOPE_SEED_FORCE=1         rebuild and push even if the tag resolves
set -euo pipefail

SEED_NAME=seed-base-images
REPO=library/busybox
PKG=busybox-static
# shellcheck source-path=SCRIPTDIR source=seed-common.sh
source "$(dirname "${BASH_SOURCE[0]}")/seed-common.sh"

# The Debian base the realistic fixtures build on (seed-debian-base.sh), then busybox.
bash "$(dirname "${BASH_SOURCE[0]}")/seed-debian-base.sh"

candidate() { apt-cache policy "$1" 2>/dev/null | awk '/Candidate:/ {print $2; exit}'; }

deb_for() { compgen -G "$CACHE/debs/$PKG/$1/${PKG}_*_$2.deb" | head -n 1; }
have_all() { local arch; for arch in "${ARCHES[@]}"; do [[ -n "$(deb_for "$1" "$arch")" ]] || return 1; done; }

# ---- which version: the override, else the newest version already cached for every architecture
# (no apt query on a warm machine; apt-cache costs over a second here), else apt's candidate
version="${BATTLESCOPE_BUSYBOX_DEB_VERSION:-}"
if [[ -z "$version" && -d "$CACHE/debs/$PKG" ]]; then
  for v in "$CACHE/debs/$PKG"/*/; do
    v="$(basename "$v")"
    have_all "$v" || continue
    if [[ -z "$version" ]] || dpkg --compare-versions "$v" gt "$version"; then version="$v"; fi
  done
fi
if [[ -z "$version" ]]; then
  version="$(candidate "$PKG")"
  if [[ -z "$version" || "$version" == "(none)" ]]; then
    say "apt has no candidate for $PKG yet: apt-get update"
    apt-get update -q >/dev/null
    version="$(candidate "$PKG")"
  fi
fi
[[ -n "$version" && "$version" != "(none)" ]] || die "no Debian version of $PKG available"
upstream="${version#*:}"
upstream="${upstream%-*}"
tag="$upstream"

if [[ "${BATTLESCOPE_SEED_FORCE:-}" != 1 ]] && index_ok "$tag"; then
  say "$REGISTRY/$REPO:$tag already present (linux/amd64, linux/arm64)"
  exit 0
fi

# ---- download the .debs (cached by Debian version)
debdir="$CACHE/debs/$PKG/$version"
mkdir -p "$debdir"
native="$(dpkg --print-architecture)"
missing=()
for arch in "${ARCHES[@]}"; do
  [[ -n "$(deb_for "$version" "$arch")" ]] && continue
  if [[ "$arch" != "$native" ]] && ! dpkg --print-foreign-architectures | grep -qx "$arch"; then
    say "enabling Debian architecture $arch (dpkg --add-architecture $arch; apt-get update)"
    dpkg --add-architecture "$arch"
    apt-get update -q >/dev/null
  fi
  missing+=("$PKG:$arch=$version")
done
if ((${#missing[@]})); then
  say "downloading ${missing[*]}"
  download() { (cd "$debdir" && apt-get download -q -o APT::Sandbox::User=root "${missing[@]}" >/dev/null 2>"$debdir/download.err"); }
  download || { apt-get update -q >/dev/null && download; } || {
    cat "$debdir/download.err" >&2
    die "apt-get download ${missing[*]} failed"
  }
  rm -f "$debdir/download.err"
  have_all "$version" || die "missing .debs in $debdir after download"
fi

# ---- assemble one root filesystem per architecture
work="$(mktemp -d "${TMPDIR:-/tmp}/battlescope-seed-XXXXXX")"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/ctx"
for arch in "${ARCHES[@]}"; do
  dpkg-deb -x "$(deb_for "$version" "$arch")" "$work/deb-$arch"
done
hostdeb="$work/deb-$native"
[[ -x "$hostdeb/bin/busybox" ]] || die "no $native busybox to list the applets with"
# Same source package and configuration for every architecture: the host binary lists the applets.
mapfile -t applets < <("$hostdeb/bin/busybox" --list-full | sort -u)
epoch="$(stat -c %Y "$hostdeb/bin/busybox")"
# The applets' links are the same for every architecture: made once (one ln per applet and no
# other process; a mkdir and a dirname per applet took 1.7 s per architecture) and copied.
links="$work/links"
declare -A dirs=(["$links/bin"]=1)
for a in "${applets[@]}"; do [[ "$a" == */* ]] && dirs["$links/${a%/*}"]=1; done
mkdir -p "${!dirs[@]}"
for a in "${applets[@]}"; do
  [[ "$a" == bin/busybox || -L "$links/$a" ]] || ln -s /bin/busybox "$links/$a"
done
for arch in "${ARCHES[@]}"; do
  r="$work/rootfs-$arch"
  mkdir -p "$r"
  cp -a "$links/." "$r/"
  mkdir -p "$r"/{bin,sbin,usr/bin,usr/sbin,etc,root,tmp,home/app,usr/share/doc/$PKG}
  cp -p "$work/deb-$arch/bin/busybox" "$r/bin/busybox"
  cp -p "$work/deb-$arch/usr/share/doc/$PKG/copyright" "$r/usr/share/doc/$PKG/copyright"
  printf '%s\n' 'root:x:0:0:root:/root:/bin/sh' 'nobody:x:65534:65534:nobody:/nonexistent:/bin/false' \
    'app:x:10001:10001:app:/home/app:/bin/sh' >"$r/etc/passwd"
  printf '%s\n' 'root:x:0:' 'nobody:x:65534:' 'app:x:10001:' >"$r/etc/group"
  chmod 1777 "$r/tmp"
  chmod 700 "$r/root"
  chown 10001:10001 "$r/home/app" 2>/dev/null || true
  tar --sort=name --mtime="@$epoch" --numeric-owner --format=posix --pax-option=delete=atime,delete=ctime \
    -C "$r" -cf "$work/ctx/rootfs-$arch.tar" .
done
cat >"$work/ctx/Dockerfile" <<'EOF'
FROM scratch
ARG TARGETARCH
ADD rootfs-${TARGETARCH}.tar /
CMD ["sh"]
EOF

# ---- build both platforms on the builder and push one index
say "building $REGISTRY/$REPO:$tag for linux/amd64,linux/arm64 from $PKG $version"
SOURCE_DATE_EPOCH="$epoch" buildx build --builder "$BUILDER" \
  --platform linux/amd64,linux/arm64 --provenance=false --sbom=false \
  --label "org.opencontainers.image.title=busybox" \
  --label "org.opencontainers.image.version=$upstream" \
  --label "org.opencontainers.image.description=Debian $PKG $version, assembled offline for the BattleScope local stack" \
  --push -t "$REGISTRY/$REPO:$tag" --progress plain "$work/ctx" >"$work/build.log" 2>&1 || {
  tail -n 30 "$work/build.log" >&2
  die "build of the base image failed"
}
index_ok "$tag" || die "$REGISTRY/$REPO:$tag does not resolve to an index with both platforms after the push"
say "pushed $REGISTRY/$REPO:$tag (linux/amd64, linux/arm64)"
