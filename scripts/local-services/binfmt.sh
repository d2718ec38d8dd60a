#!/usr/bin/env bash
# QEMU user emulation for the platform the local BuildKit builds but the host is not (linux/arm64
# on an amd64 host, linux/amd64 on an arm64 one), run by scripts/local-services.sh:
#
#   binfmt.sh start | stop | status | arch
#
# start   mounts binfmt_misc when it is not mounted and registers Debian's entry for the foreign
#         architecture (/usr/lib/binfmt.d/qemu-<arch>.conf from qemu-user-static, which the caller
#         installs) with the fix-binary flag F, as docker/setup-qemu-action and tonistiigi/binfmt
#         do: the kernel opens the interpreter once, at registration, so a build container that
#         has no /usr/libexec/qemu-binfmt in its root file system still runs foreign binaries.
#         An entry of that name that is already there (the host's, another tool's) is left alone.
# stop    removes exactly the entry start registered (when it is still the one start registered)
#         and unmounts binfmt_misc only when start mounted it and no other entry is left, or it is
#         mounted elsewhere too: the last unmount of binfmt_misc drops every entry.
# status  one line: the entry, its interpreter and flags, and whether start registered it.
# arch    the foreign architecture's QEMU name (aarch64, x86_64): qemu-<arch>-static is its binary.
#
# What start did is recorded in $STATE/binfmt: entries/<name> (the entry as the kernel showed it
# after registration), mounted (the mount point, when start mounted binfmt_misc) and boot (the
# kernel's boot id: after a reboot the kernel holds nothing of it, and the records are dropped).
#
# Environment: BATTLESCOPE_CACHE, BATTLESCOPE_STATE as scripts/local-services.sh;
#   BATTLESCOPE_BINFMT_ENTRY  the entry's name (default Debian's, qemu-<arch>): the tests register
#                             one of their own beside the shared one
#   BATTLESCOPE_BINFMT_MISC   where binfmt_misc is mounted (default /proc/sys/fs/binfmt_misc)
set -euo pipefail

CACHE="${BATTLESCOPE_CACHE:-$HOME/.cache/battlescope}"
STATE="${BATTLESCOPE_STATE:-$CACHE/local}"
export PATH="$PATH:/usr/sbin:/sbin"
MISC="${BATTLESCOPE_BINFMT_MISC:-/proc/sys/fs/binfmt_misc}"
RECORDS="$STATE/binfmt"
CONF_DIR=/usr/lib/binfmt.d

say() { printf 'binfmt: %s\n' "$*" >&2; }
die() {
  say "error: $*"
  exit 1
}

# The QEMU name and the platform of the architecture the host is not (the stack builds two).
foreign_arch() {
  case "$(uname -m)" in
    x86_64) echo aarch64 ;;
    aarch64) echo x86_64 ;;
    *) die "host architecture $(uname -m) is neither x86_64 nor aarch64: no foreign platform to emulate for linux/amd64 + linux/arm64" ;;
  esac
}
platform_of() { case "$1" in aarch64) echo linux/arm64 ;; x86_64) echo linux/amd64 ;; esac }

ARCH="$(foreign_arch)"
PLATFORM="$(platform_of "$ARCH")"
ENTRY="${BATTLESCOPE_BINFMT_ENTRY:-qemu-$ARCH}"
CONF="$CONF_DIR/qemu-$ARCH.conf"

mounted() { [[ -e "$MISC/register" ]]; }

BOOT_ID="$(cat /proc/sys/kernel/random/boot_id)"

# Records of an earlier boot describe nothing the kernel still has.
forget_earlier_boots() {
  if [[ -d "$RECORDS" && "$(cat "$RECORDS/boot" 2>/dev/null)" != "$BOOT_ID" ]]; then
    rm -rf "$RECORDS"
  fi
}

record() { # record <file under $RECORDS> < content
  mkdir -p "$(dirname "$RECORDS/$1")"
  echo "$BOOT_ID" >"$RECORDS/boot"
  cat >"$RECORDS/$1"
}

# same_entry <entry file> <record>: the kernel shows the entry as start recorded it. Not cmp -s:
# it calls files of different sizes different unread, and /proc files have size 0.
same_entry() { [[ -f "$1" && -f "$2" && "$(cat "$1")" == "$(cat "$2")" ]]; }

# field <entry file> <key>: a value of the kernel's view of an entry ("interpreter", "flags:").
field() { awk -v k="$2" '$1 == k { print $2 }' "$1"; }
state_of() { head -n 1 "$1"; } # enabled | disabled

describe() { # describe <entry file>
  printf 'interpreter %s, flags %s, %s' "$(field "$1" interpreter)" "$(field "$1" flags:)" "$(state_of "$1")"
}

need_root() { # need_root <what for>
  [[ $EUID -eq 0 ]] || die "$1 needs root (running as uid $EUID): run scripts/local-services.sh start as root, or register $PLATFORM emulation yourself (e.g. docker run --privileged tonistiigi/binfmt --install ${PLATFORM#linux/})"
}

ensure_mounted() {
  mounted && return 0
  need_root "mounting binfmt_misc at $MISC"
  if ! grep -qw binfmt_misc /proc/filesystems; then
    modprobe binfmt_misc 2>/dev/null || true
    grep -qw binfmt_misc /proc/filesystems ||
      die "the kernel has no binfmt_misc (not in /proc/filesystems, modprobe binfmt_misc failed): $PLATFORM RUN steps cannot be emulated on this host; build that platform on a native node"
  fi
  local err
  if ! err="$(mount -t binfmt_misc binfmt_misc "$MISC" 2>&1)"; then
    die "cannot mount binfmt_misc at $MISC: ${err%%$'\n'*}"
  fi
  record mounted <<<"$MISC"
  say "mounted binfmt_misc at $MISC"
}

# The registration line of Debian's entry, under our name, with the fix-binary flag.
registration() {
  [[ -f "$CONF" ]] || die "$CONF not found: install Debian's qemu-user-static (apt-get install --no-install-recommends qemu-user-static; scripts/local-services.sh start does)"
  local line name_and_rest flags
  line="$(grep -m 1 '^:' "$CONF")" || die "$CONF holds no registration line"
  # :name:type:offset:magic:mask:interpreter:flags
  name_and_rest="${line#:*:}"
  flags="${line##*:}"
  [[ "$flags" == *F* ]] || flags+=F
  printf ':%s:%s%s\n' "$ENTRY" "${name_and_rest%:*}:" "$flags"
}

cmd_start() {
  local began="${EPOCHREALTIME:-$SECONDS}" line interpreter
  line="$(registration)"
  interpreter="$(cut -d: -f7 <<<"$line")"
  [[ -x "$interpreter" ]] || die "$interpreter (the interpreter $CONF names) is not executable: reinstall qemu-user-static"
  if [[ -f "$RECORDS/entries/$ENTRY" ]]; then
    if same_entry "$MISC/$ENTRY" "$RECORDS/entries/$ENTRY"; then
      say "$ENTRY already registered by an earlier start ($(describe "$MISC/$ENTRY"))"
      return 0
    fi
    # removed or replaced by someone else since: no longer ours to remove
    rm -f "$RECORDS/entries/$ENTRY"
  fi
  ensure_mounted
  if [[ -f "$MISC/$ENTRY" ]]; then
    say "$ENTRY was registered before this start, left alone ($(describe "$MISC/$ENTRY"))"
    if [[ "$(field "$MISC/$ENTRY" flags:)" != *F* ]]; then
      say "warning: $ENTRY has no F (fix-binary) flag: build containers cannot open its interpreter and $PLATFORM RUN steps fail; remove it (echo -1 > $MISC/$ENTRY) and start again to register Debian's with F"
    fi
    return 0
  fi
  need_root "registering $ENTRY in $MISC"
  local err
  if ! err="$( (echo "$line" >"$MISC/register") 2>&1)"; then
    die "cannot register $ENTRY in $MISC/register: ${err##*: }"
  fi
  record "entries/$ENTRY" <"$MISC/$ENTRY"
  say "registered $ENTRY for $PLATFORM ($(describe "$MISC/$ENTRY")) in $(awk -v a="$began" -v b="${EPOCHREALTIME:-$SECONDS}" 'BEGIN { printf "%.2f", b - a }')s"
}

cmd_stop() {
  local record name
  for record in "$RECORDS"/entries/*; do
    [[ -f "$record" ]] || continue
    name="${record##*/}"
    if [[ ! -f "$MISC/$name" ]]; then
      say "$name no longer registered"
    elif ! same_entry "$MISC/$name" "$record"; then
      say "$name changed since start registered it ($(describe "$MISC/$name")), left alone"
    else
      need_root "removing $name from $MISC"
      echo -1 >"$MISC/$name"
      say "removed $name"
    fi
    rm -f "$record"
  done
  if [[ -f "$RECORDS/mounted" ]]; then
    local others
    others="$(find "$MISC" -mindepth 1 -maxdepth 1 ! -name register ! -name status -printf '%f ' 2>/dev/null)"
    if ! mounted; then
      say "binfmt_misc at $MISC already unmounted"
    elif [[ -n "$others" ]] && ! mounted_elsewhere; then
      say "binfmt_misc at $MISC left mounted: entries registered since start (${others% }) would go with it"
    else
      need_root "unmounting binfmt_misc at $MISC"
      umount "$MISC"
      say "unmounted binfmt_misc at $MISC"
    fi
    rm -f "$RECORDS/mounted"
  fi
}

# Another mount of the same binfmt_misc instance (same device in mountinfo: a user namespace's
# instance is another) keeps the kernel's entries when $MISC goes.
mounted_elsewhere() {
  awk -v misc="$(realpath -m "$MISC")" '
    { for (i = 7; $i != "-"; i++) {} }
    $(i + 1) == "binfmt_misc" { device[$5] = $3; if ($5 != misc) others[$3]++ }
    END { exit !((misc in device) && others[device[misc]] > 0) }' /proc/self/mountinfo
}

cmd_status() {
  local how
  if ! mounted; then
    echo "down  $ENTRY not registered: binfmt_misc is not mounted at $MISC ($PLATFORM RUN steps fail with exec format error)"
    return 1
  fi
  if [[ ! -f "$MISC/$ENTRY" ]]; then
    echo "down  $ENTRY not registered in $MISC ($PLATFORM RUN steps fail with exec format error)"
    return 1
  fi
  if same_entry "$MISC/$ENTRY" "$RECORDS/entries/$ENTRY"; then
    how="registered by start, removed by stop"
    [[ -f "$RECORDS/mounted" ]] && how+="; binfmt_misc mounted by start"
  else
    how="not ours: registered before start, stop leaves it"
  fi
  if [[ "$(state_of "$MISC/$ENTRY")" != enabled ]]; then
    echo "down  $ENTRY for $PLATFORM ($(describe "$MISC/$ENTRY"); $how)"
    return 1
  fi
  echo "up    $ENTRY for $PLATFORM ($(describe "$MISC/$ENTRY"); $how)"
}

forget_earlier_boots
case "${1:-}" in
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  arch) echo "$ARCH" ;;
  *)
    sed -n '5p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
    ;;
esac
