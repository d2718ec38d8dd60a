#!/usr/bin/env bash
# A rootless BuildKit image for buildx's kubernetes driver, made from what is reachable here
# (moby/buildkit cannot be pulled on these machines):
#
#   buildkit-image.sh <image reference>     builds linux/amd64 and pushes it (local BuildKit)
#
# - buildkitd and buildctl: the toolchain's (scripts/toolchain.sh), static;
# - runc: Debian's, with the libraries it links;
# - rootlesskit: Debian's package (downloaded once into $BATTLESCOPE_CACHE/debs/rootlesskit/);
# - newuidmap/newgidmap: newidmap/ (Go, setuid root), because Debian 12's newuidmap fails in an
#   unprivileged pod (see newidmap/main.go);
# laid out as moby/buildkit:rootless is: user 1000 with subordinate ids 100000-165535,
# XDG_RUNTIME_DIR=/run/user/1000, BUILDKIT_HOST on its socket, ENTRYPOINT rootlesskit buildkitd.
#
# Environment: BATTLESCOPE_CACHE (as scripts/local-services.sh); BUILDKIT_HOST, the BuildKit
# that builds and pushes it (the local services' one by default, with its registry login).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
CACHE="${BATTLESCOPE_CACHE:-$HOME/.cache/battlescope}"
export PATH="$CACHE/bin:$PATH:/usr/sbin:/sbin"
ref="${1:?usage: buildkit-image.sh <image reference>}"

say() { printf 'buildkit-image: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }
for tool in buildkitd buildctl runc go dpkg-deb apt-get; do
  command -v "$tool" >/dev/null || die "$tool is not on PATH (buildkitd/buildctl: scripts/toolchain.sh; runc: Debian's runc)"
done

debs="$CACHE/debs/rootlesskit"
deb="$(find "$debs" -name 'rootlesskit_*.deb' 2>/dev/null | sort | tail -1 || true)"
if [[ -z "$deb" ]]; then
  mkdir -p "$debs"
  (cd "$debs" && apt-get download rootlesskit >&2) || die "apt-get download rootlesskit failed"
  deb="$(find "$debs" -name 'rootlesskit_*.deb' | sort | tail -1)"
fi

work="$(mktemp -d "${TMPDIR:-/tmp}/battlescope-buildkit-image-XXXXXX")"
trap 'rm -rf "$work"' EXIT
root="$work/rootfs"
mkdir -p "$root"/{usr/bin,etc,tmp} "$root/run/user/1000" "$root/home/user/.local/tmp" \
  "$root/home/user/.local/share/buildkit"
chmod 1777 "$root/tmp"
cp -L "$(command -v buildkitd)" "$(command -v buildctl)" "$(command -v runc)" "$root/usr/bin/"
ldd "$(command -v runc)" | awk '/=> \//{print $3} /^\t\/lib/{print $1}' | while read -r lib; do
  mkdir -p "$root$(dirname "$lib")"
  cp -L "$lib" "$root$lib"
done
dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$work" ./usr/bin/rootlesskit
cp "$work/usr/bin/rootlesskit" "$root/usr/bin/"
(cd "$HERE/newidmap" && CGO_ENABLED=0 go build -trimpath -ldflags='-s -w' -o "$work/newidmap" .)
install -m 4755 "$work/newidmap" "$root/usr/bin/newuidmap"
install -m 4755 "$work/newidmap" "$root/usr/bin/newgidmap"
printf 'root:x:0:0:root:/root:/sbin/nologin\nuser:x:1000:1000:user:/home/user:/sbin/nologin\n' >"$root/etc/passwd"
printf 'root:x:0:\nuser:x:1000:\n' >"$root/etc/group"
echo user:100000:65536 >"$root/etc/subuid"
echo user:100000:65536 >"$root/etc/subgid"

cat >"$work/Dockerfile" <<'DOCKERFILE'
FROM scratch
COPY --chown=0:0 rootfs/ /
COPY --chown=1000:1000 rootfs/home /home
COPY --chown=1000:1000 rootfs/run /run
USER 1000:1000
ENV HOME=/home/user USER=user XDG_RUNTIME_DIR=/run/user/1000 TMPDIR=/home/user/.local/tmp \
    BUILDKIT_HOST=unix:///run/user/1000/buildkit/buildkitd.sock
ENTRYPOINT ["rootlesskit", "buildkitd"]
DOCKERFILE
say "building $ref"
buildctl build --progress plain --frontend dockerfile.v0 --local context="$work" \
  --local dockerfile="$work" --opt platform=linux/amd64 \
  --output "type=image,name=$ref,push=true" >"$work/build.log" 2>&1 ||
  { tail -20 "$work/build.log" >&2; die "the build of $ref failed"; }
