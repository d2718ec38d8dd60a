#!/usr/bin/env bash
# Local services for the BattleScope local stack and the end-to-end tests.
#
#   scripts/local-services.sh start [--no-seed] [--no-hub] [--no-cluster] [--no-qemu] [--builders 2]
#                                                             start what is not running, wait until it answers
#   scripts/local-services.sh status                          one line per service
#   scripts/local-services.sh stop [registry]                 stop every service this script started (or the registry alone)
#   scripts/local-services.sh restart                         stop + start
#   scripts/local-services.sh env                             export lines for other scripts (eval "$(...)")
#   scripts/local-services.sh gc                              registry garbage collection (registry stopped meanwhile)
#
# Services (details in scripts/local-services/README.md):
#   registry   distribution v3 (`registry`, built by scripts/toolchain.sh) on https://127.0.0.1:5000,
#              deletes enabled, certificate signed by a local CA that is added to the system trust store
#   buildkitd  rootful, OCI worker (runc), socket unix://$STATE/buildkit/buildkitd.sock, registered as
#              the buildx "remote" builder "battlescope"; docker.io is mirrored to the local registry
#              (--builders 2: a second daemon on unix://$STATE/buildkit2/buildkitd.sock, for two-node builders)
#   qemu       QEMU user emulation of the foreign platform (linux/arm64 on amd64) in binfmt_misc, from
#              Debian's qemu-user-static, with the fix-binary flag (scripts/local-services/binfmt.sh);
#              stop removes only the entry start registered
#   hub        Docker Hub API emulator (scripts/hub-emulator/hubEmulatorMain.ts, run by plain node) on
#              http://127.0.0.1:5001
#   cluster    a one-node Kubernetes cluster on loopback (scripts/local-services/cluster.sh):
#              etcd, kube-apiserver on https://127.0.0.1:6443, controller-manager, scheduler and a
#              node (containerd + kubelet); kubeconfig $STATE/kubeconfig
#
# State, logs and data live outside the repository in ${BATTLESCOPE_STATE:-$HOME/.cache/battlescope/local}.
#
# Environment:
#   BATTLESCOPE_CACHE          toolchain cache (default $HOME/.cache/battlescope); binaries in $BATTLESCOPE_CACHE/bin
#   BATTLESCOPE_STATE          state directory (default $BATTLESCOPE_CACHE/local)
#   BATTLESCOPE_REGISTRY_AUTH  "token" (default): the registry takes bearer tokens of the local token server
#                              (scripts/token-server, https://localhost:5002/token), as Docker Hub's takes
#                              auth.docker.io's: account release-pusher (pull, push, delete; password
#                              generated into $STATE/registry/password, written as the Docker login for
#                              127.0.0.1:5000 that BuildKit, cosign, syft, the stack and the CLI use) and
#                              release-puller (pull only, the pull secret's; password in
#                              $STATE/registry/pull-password);
#                              "htpasswd": basic auth with the same two accounts; "none": no auth
#   BATTLESCOPE_TOKEN_EXPIRES_IN  lifetime of a token in seconds (default 300, Docker Hub's); while running,
#                              $STATE/token/settings.json ({"expiresIn": <seconds>}) overrides it
#   BATTLESCOPE_BUILDKIT_SNAPSHOTTER  overlayfs | native | auto (default: overlayfs if it works here, else native)
#   BATTLESCOPE_START_TIMEOUT  seconds to wait for each service (default 120: a loaded 2-core machine)
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
HERE="$REPO_ROOT/scripts/local-services"
CACHE="${BATTLESCOPE_CACHE:-$HOME/.cache/battlescope}"
STATE="${BATTLESCOPE_STATE:-$CACHE/local}"
export PATH="$CACHE/bin:$PATH:/usr/sbin:/sbin"

REGISTRY_HOST=127.0.0.1
REGISTRY_PORT=5000
REGISTRY_ADDR="$REGISTRY_HOST:$REGISTRY_PORT"
HUB_PORT=5001
BUILDER=battlescope
TIMEOUT="${BATTLESCOPE_START_TIMEOUT:-120}"
AUTH="${BATTLESCOPE_REGISTRY_AUTH:-token}"
case "$AUTH" in token | htpasswd | none) ;; *)
  echo "local-services: BATTLESCOPE_REGISTRY_AUTH must be token, htpasswd or none, not '$AUTH'" >&2
  exit 2
  ;;
esac
CLUSTER="$HERE/cluster.sh"
BINFMT="$HERE/binfmt.sh"
CERT_CHANGED=0

CA_DIR="$STATE/ca"
CA_CERT="$CA_DIR/ca.crt"
CA_KEY="$CA_DIR/ca.key"
TRUST_NAME=battlescope-local-ca.crt
REG_DIR="$STATE/registry"
REG_CONFIG="$REG_DIR/config.yml"
REG_ACCESS_LOG="$REG_DIR/access.log"
REG_LOG="$REG_DIR/registry.log"
REG_PID="$REG_DIR/registry.pid"
# Not "battlescope": the engine masks a secret value wherever it appears in its output, and the
# stack holds this user as a secret.
REG_USER=release-pusher
# The pull secret's account: pulls only. Its password is not a secret (the local stack's config
# holds it): the point is that the registry refuses it a push.
PULL_USER=release-puller
PULL_PASSWORD=release-puller-local
TOKEN_PORT=5002
# Docker Hub's pull limits in front of the same registry (scripts/token-server/pullLimitProxy.ts,
# served by the token server's process): a stack whose registry is 127.0.0.1:5003 reads and
# writes the same repositories, and its manifest GETs count against the limit in the token
# server's settings file (none by default).
PROXY_PORT=5003
TOKEN_DIR="$STATE/token"
TOKEN_MAIN="$REPO_ROOT/scripts/token-server/tokenServerMain.ts"
TOKEN_LOG="$TOKEN_DIR/token.log"
TOKEN_PID="$TOKEN_DIR/token.pid"
TOKEN_SERVICE=battlescope-local-registry
TOKEN_ISSUER=battlescope-local-token-server
TOKEN_EXPIRES_IN="${BATTLESCOPE_TOKEN_EXPIRES_IN:-300}"
# /proc/<pid>/cmdline of the registry: also matches a 2.8 `docker-registry serve` an earlier
# version of this script started, so that one is stopped and replaced rather than left running.
REG_PATTERN="registry serve"
BK_DIR="$STATE/buildkit"
BK_CONFIG="$BK_DIR/buildkitd.toml"
BK_SOCK="$BK_DIR/buildkitd.sock"
BK_ADDR="unix://$BK_SOCK"
BK_LOG="$BK_DIR/buildkitd.log"
BK_PID="$BK_DIR/buildkitd.pid"
HUB_DIR="$STATE/hub"
HUB_MAIN="$REPO_ROOT/scripts/hub-emulator/hubEmulatorMain.ts"
HUB_STATE_FILE="$HUB_DIR/state.json"
HUB_LOG="$HUB_DIR/hub.log"
HUB_PID="$HUB_DIR/hub.pid"

say() { printf 'local-services: %s\n' "$*" >&2; }
die() {
  say "error: $*"
  finish_cluster_start || true
  exit 1
}

# The pid of a cluster start running beside the other services' (cmd_start), until it is waited for.
CLUSTER_START_PID=""
# finish_cluster_start: waits for that start, so that nothing of it runs on or writes after we exit.
finish_cluster_start() {
  [[ -n "$CLUSTER_START_PID" ]] || return 0
  local pid="$CLUSTER_START_PID"
  CLUSTER_START_PID=""
  wait "$pid"
}

# ---------------------------------------------------------------- helpers

# daemon_start, daemon_alive, daemon_wait, probe_http: one way to start and judge every service
# shellcheck source-path=SCRIPTDIR source=local-services/daemon.sh
source "$HERE/daemon.sh"

# stop_pids <name> <pidfile> <pattern> [<name> <pidfile> <pattern> ...]: signals them all, then
# waits (10 s, then SIGKILL). Each service leads its own session/process group (setsid): the
# group is signalled, so children (buildkitd's runc processes) go too.
stop_pids() {
  local -a names=() pids=() files=()
  local i pid
  while (($# >= 3)); do
    if daemon_alive "$2" "$3"; then
      pid="$(daemon_pid "$2")"
      kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
      names+=("$1") pids+=("$pid")
    else
      say "$1 not running"
    fi
    files+=("$2")
    shift 3
  done
  for ((i = 0; i < 100; i++)); do
    local alive=0
    for pid in "${pids[@]}"; do pid_running "$pid" && alive=1; done
    ((alive)) || break
    sleep 0.1
  done
  for i in "${!pids[@]}"; do
    pid="${pids[$i]}"
    if pid_running "$pid"; then
      say "${names[$i]} (pid $pid) did not stop in 10s, killing"
      kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
    fi
    say "${names[$i]} stopped (pid $pid)"
  done
  rm -f "${files[@]}"
}
stop_pid() { stop_pids "$@"; }

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

need() { command -v "$1" >/dev/null 2>&1; }

apt_install() { # apt_install <command> <debian package> [<apt-get option>...]
  need "$1" && return 0
  local command="$1" package="$2"
  shift 2
  { [[ $EUID -eq 0 ]] && need apt-get; } || die "$command is missing: run 'bash scripts/toolchain.sh' (or apt-get install $*${*:+ }$package)"
  say "installing Debian package $package (for $command)"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" "$package" >/dev/null || {
    apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" "$package" >/dev/null
  } || die "apt-get install $package failed"
}

# qemu-user-static without its recommends: they are systemd or binfmt-support, whose postinst
# would register every QEMU architecture for good, beside the one entry stop removes.
start_qemu() {
  local arch
  arch="$(bash "$BINFMT" arch)" # exits with binfmt.sh's reason on a host that is neither
  apt_install "qemu-$arch-static" qemu-user-static --no-install-recommends
  BATTLESCOPE_STATE="$STATE" bash "$BINFMT" start
}

buildx() {
  if need docker-buildx; then docker-buildx "$@"; else docker buildx "$@"; fi
}

# replace_if_changed <new file> <target>: returns 0 when the target changed
replace_if_changed() {
  if [[ -f "$2" ]] && cmp -s "$1" "$2"; then
    rm -f "$1"
    return 1
  fi
  mv -f "$1" "$2"
  return 0
}

# ---------------------------------------------------------------- certificates

ensure_ca() {
  mkdir -p "$CA_DIR"
  chmod 700 "$CA_DIR"
  if [[ ! -s "$CA_CERT" || ! -s "$CA_KEY" ]] || ! openssl x509 -in "$CA_CERT" -noout -checkend 2592000 >/dev/null; then
    say "generating local CA $CA_CERT"
    # P-256 like the cluster's keys (scripts/local-services/cluster.sh: ensure_pki).
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -sha256 -days 3650 \
      -keyout "$CA_KEY" -out "$CA_CERT" -subj "/O=BattleScope/CN=BattleScope local CA" \
      -addext "basicConstraints=critical,CA:TRUE" \
      -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
    chmod 600 "$CA_KEY"
    chmod 644 "$CA_CERT"
    rm -f "$CA_DIR/registry.crt"
  fi
  local crt="$CA_DIR/registry.crt" key="$CA_DIR/registry.key"
  if [[ ! -s "$crt" || ! -s "$key" ]] || ! openssl x509 -in "$crt" -noout -checkend 2592000 >/dev/null ||
    ! openssl verify -CAfile "$CA_CERT" "$crt" >/dev/null 2>&1; then
    say "issuing registry certificate (IP:127.0.0.1, DNS:localhost)"
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -sha256 -keyout "$key" \
      -out "$CA_DIR/registry.csr" \
      -subj "/O=BattleScope/CN=127.0.0.1" 2>/dev/null
    printf '%s\n' "basicConstraints=CA:FALSE" "keyUsage=critical,digitalSignature,keyEncipherment" \
      "extendedKeyUsage=serverAuth" "subjectAltName=IP:127.0.0.1,DNS:localhost" >"$CA_DIR/registry.ext"
    openssl x509 -req -in "$CA_DIR/registry.csr" -CA "$CA_CERT" -CAkey "$CA_KEY" -CAcreateserial \
      -days 825 -sha256 -extfile "$CA_DIR/registry.ext" -out "$crt" 2>/dev/null
    chmod 600 "$key"
    rm -f "$CA_DIR/registry.csr"
    CERT_CHANGED=1 # running registry/buildkitd loaded the old files: restart them
  fi
  ensure_trusted
}

# Adds the CA to the system trust store (Go programs: buildkitd, buildx, the docker-build provider,
# skopeo, curl). Node does not read it: use NODE_EXTRA_CA_CERTS=$CA_CERT.
ensure_trusted() {
  local dest="/usr/local/share/ca-certificates/$TRUST_NAME"
  if [[ -f "$dest" ]] && cmp -s "$CA_CERT" "$dest" && grep -qF "$(sed -n 2p "$CA_CERT")" /etc/ssl/certs/ca-certificates.crt 2>/dev/null; then
    return 0
  fi
  local sudo=()
  [[ $EUID -eq 0 ]] || sudo=(sudo -n)
  if "${sudo[@]}" install -D -m 644 "$CA_CERT" "$dest" 2>/dev/null && "${sudo[@]}" update-ca-certificates >/dev/null 2>&1; then
    say "added $CA_CERT to the system trust store ($dest)"
  else
    say "warning: could not add the CA to the system trust store (needs root): copy $CA_CERT to $dest and run update-ca-certificates"
  fi
}

# ---------------------------------------------------------------- registry

registry_auth_setup() {
  local cfgdir="${DOCKER_CONFIG:-$HOME/.docker}" auth
  if [[ "$AUTH" == none ]]; then
    # auth off: drop the credentials an earlier auth-on start wrote for this registry
    if [[ -s "$cfgdir/config.json" ]] && jq -e --arg h "$REGISTRY_ADDR" '.auths[$h]' "$cfgdir/config.json" >/dev/null 2>&1; then
      jq --arg h "$REGISTRY_ADDR" 'del(.auths[$h])' "$cfgdir/config.json" >"$cfgdir/config.json.tmp" &&
        mv -f "$cfgdir/config.json.tmp" "$cfgdir/config.json"
    fi
    return 0
  fi
  if [[ ! -s "$REG_DIR/password" ]]; then
    (umask 077 && openssl rand -hex 16 >"$REG_DIR/password")
  fi
  [[ "$(cat "$REG_DIR/pull-password" 2>/dev/null)" == "$PULL_PASSWORD" ]] ||
    (umask 077 && echo "$PULL_PASSWORD" >"$REG_DIR/pull-password")
  local pw
  pw="$(cat "$REG_DIR/password")"
  if [[ "$AUTH" == htpasswd ]]; then
    apt_install htpasswd apache2-utils
    if [[ ! -s "$REG_DIR/htpasswd" ]] || ! htpasswd -vb "$REG_DIR/htpasswd" "$REG_USER" "$pw" >/dev/null 2>&1 ||
      ! htpasswd -vb "$REG_DIR/htpasswd" "$PULL_USER" "$PULL_PASSWORD" >/dev/null 2>&1; then
      { htpasswd -nbB "$REG_USER" "$pw" && htpasswd -nbB "$PULL_USER" "$PULL_PASSWORD"; } 2>/dev/null |
        sed '/^$/d' >"$REG_DIR/htpasswd"
    fi
  fi
  # buildx forwards the client's credentials to buildkitd for pushes and pulls
  auth="$(printf '%s:%s' "$REG_USER" "$pw" | base64 -w0)"
  mkdir -p "$cfgdir"
  [[ -s "$cfgdir/config.json" ]] || echo '{}' >"$cfgdir/config.json"
  jq --arg h "$REGISTRY_ADDR" --arg p "$REGISTRY_HOST:$PROXY_PORT" --arg a "$auth" \
    '.auths[$h].auth = $a | .auths[$p].auth = $a' "$cfgdir/config.json" >"$cfgdir/config.json.tmp" &&
    mv -f "$cfgdir/config.json.tmp" "$cfgdir/config.json"
}

write_registry_config() {
  local tmp="$REG_CONFIG.new" auth_block=""
  if [[ "$AUTH" == htpasswd ]]; then
    auth_block="auth:
  htpasswd:
    realm: battlescope-local
    path: $REG_DIR/htpasswd"
  elif [[ "$AUTH" == token ]]; then
    # distribution checks each token itself: signed by the key in rootcertbundle, issued by
    # this issuer for this service, not expired (with its fixed 60 s leeway), granting the action.
    # The realm is a host name: cosign's and syft's registry library (go-containerregistry
    # v0.22) refuses a realm on a private or loopback IP literal other than the registry's own.
    auth_block="auth:
  token:
    realm: https://localhost:$TOKEN_PORT/token
    service: $TOKEN_SERVICE
    issuer: $TOKEN_ISSUER
    rootcertbundle: $TOKEN_DIR/signer.crt"
  fi
  sed -e "s|@REG_DIR@|$REG_DIR|g" -e "s|@CA_DIR@|$CA_DIR|g" -e "s|@ADDR@|$REGISTRY_ADDR|g" \
    "$HERE/registry.yml" >"$tmp"
  [[ -z "$auth_block" ]] || printf '%s\n' "$auth_block" >>"$tmp"
  replace_if_changed "$tmp" "$REG_CONFIG"
}

# Prints what the registry answered (the readiness report's "last probe").
registry_ready() {
  local want=200
  [[ "$AUTH" != none ]] && want="200|401"
  probe_http "$want" --cacert "$CA_CERT" "https://$REGISTRY_ADDR/v2/"
}

start_registry() {
  need registry || die "registry (distribution v3) not found in PATH or $CACHE/bin: run 'bash scripts/toolchain.sh' first"
  mkdir -p "$REG_DIR/data"
  local changed="$CERT_CHANGED"
  write_registry_config && changed=1
  if daemon_alive "$REG_PID" "$REG_PATTERN"; then
    local exe want
    exe="$(readlink "/proc/$(daemon_pid "$REG_PID")/exe" 2>/dev/null)" || true
    want="$(readlink -f "$(command -v registry)")"
    if ((changed)) || [[ -n "$exe" && "$exe" != "$want" ]]; then
      say "registry configuration, certificate or binary changed, restarting"
      stop_pid registry "$REG_PID" "$REG_PATTERN"
    elif registry_ready >/dev/null; then
      say "registry already running on https://$REGISTRY_ADDR (pid $(daemon_pid "$REG_PID"))"
      return 0
    fi
  fi
  if ! daemon_alive "$REG_PID" "$REG_PATTERN"; then
    port_busy "$REGISTRY_PORT" && die "port $REGISTRY_PORT is in use by another process: $(ss -ltnpH "sport = :$REGISTRY_PORT" 2>/dev/null)"
    # stdout: the access log (one combined-format line per HTTP request); stderr: application log
    # (json). v3 exports OpenTelemetry traces to localhost:4318 unless told not to, and logs every
    # failed export.
    daemon_start "$REG_PID" - env OTEL_TRACES_EXPORTER=none registry serve "$REG_CONFIG" \
      >>"$REG_ACCESS_LOG" 2>>"$REG_LOG"
    say "registry starting (pid $(daemon_pid "$REG_PID")), logs $REG_LOG"
  fi
  daemon_wait registry "$REG_PID" "$REG_LOG" "$TIMEOUT" registry_ready
  say "registry ready on https://$REGISTRY_ADDR"
}

# ---------------------------------------------------------------- services run by Node

# pinned_node <service>: the pinned Node (scripts/node.sh), which runs a service's TypeScript
# itself (type stripping): no tsx, no compile step.
pinned_node() {
  local dir
  dir="$(bash "$REPO_ROOT/scripts/node.sh")" || die "no pinned Node for the $1 (scripts/node.sh)"
  echo "${dir:+$dir/}node"
}

# sources_changed <main file> <pid file>: a .ts file beside the main changed since the start.
sources_changed() {
  [[ -n "$(find "$(dirname "$1")" -name '*.ts' -newer "$2" -print -quit 2>/dev/null)" ]]
}

# ---------------------------------------------------------------- token server

# The key the tokens are signed with and its certificate: the registry trusts exactly this one
# (rootcertbundle). A new key restarts both.
ensure_token_signer() {
  mkdir -p "$TOKEN_DIR"
  chmod 700 "$TOKEN_DIR"
  local key="$TOKEN_DIR/signer.key" crt="$TOKEN_DIR/signer.crt"
  if [[ -s "$key" && -s "$crt" ]] && openssl x509 -in "$crt" -noout -checkend 2592000 >/dev/null; then
    return 0
  fi
  say "generating the token signing key $key"
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$key" 2>/dev/null
  chmod 600 "$key"
  openssl req -x509 -new -key "$key" -sha256 -days 3650 -out "$crt" \
    -subj "/O=BattleScope/CN=$TOKEN_ISSUER" 2>/dev/null
  CERT_CHANGED=1
}

token_ready() { probe_http '[24][0-9][0-9]' --cacert "$CA_CERT" "https://$REGISTRY_HOST:$TOKEN_PORT/token?service=$TOKEN_SERVICE"; }

token_server_args() {
  printf '%s\n' --port "$TOKEN_PORT" --cert "$CA_DIR/registry.crt" --key "$CA_DIR/registry.key" \
    --signing-key "$TOKEN_DIR/signer.key" --issuer "$TOKEN_ISSUER" --service "$TOKEN_SERVICE" \
    --account "$REG_USER:$REG_DIR/password:pull,push,delete,catalog" \
    --account "$PULL_USER:$REG_DIR/pull-password:pull" \
    --expires-in "$TOKEN_EXPIRES_IN" --settings-file "$TOKEN_DIR/settings.json" \
    --proxy-port "$PROXY_PORT" --upstream "https://$REGISTRY_ADDR" --upstream-ca "$CA_CERT"
}

start_token_server() {
  ensure_token_signer
  local args
  args="$(token_server_args)"
  if daemon_alive "$TOKEN_PID" tokenServerMain; then
    if [[ "$(cat "$TOKEN_DIR/args" 2>/dev/null)" != "$TOKEN_MAIN"$'\n'"$args" ]] || ((CERT_CHANGED)); then
      say "token server options, checkout or keys changed, restarting"
      stop_pid "token server" "$TOKEN_PID" tokenServerMain
    elif sources_changed "$TOKEN_MAIN" "$TOKEN_PID"; then
      say "token server sources changed since it started, restarting"
      stop_pid "token server" "$TOKEN_PID" tokenServerMain
    elif token_ready >/dev/null; then
      say "token server already running on https://$REGISTRY_HOST:$TOKEN_PORT (pid $(daemon_pid "$TOKEN_PID"))"
      return 0
    fi
  fi
  if ! daemon_alive "$TOKEN_PID" tokenServerMain; then
    port_busy "$TOKEN_PORT" && die "port $TOKEN_PORT is in use by another process: $(ss -ltnpH "sport = :$TOKEN_PORT" 2>/dev/null)"
    local node
    node="$(pinned_node "token server")"
    printf '%s\n%s' "$TOKEN_MAIN" "$args" >"$TOKEN_DIR/args"
    local -a argv
    mapfile -t argv <<<"$args"
    # stdout: one JSON line per token issued or refused (the tests count them)
    daemon_start "$TOKEN_PID" - env -C "$REPO_ROOT" "$node" "$TOKEN_MAIN" "${argv[@]}" \
      >>"$TOKEN_LOG" 2>>"$TOKEN_DIR/stderr.log"
    say "token server starting (pid $(daemon_pid "$TOKEN_PID")), log $TOKEN_LOG"
  fi
  daemon_wait "token server" "$TOKEN_PID" "$TOKEN_DIR/stderr.log" "$TIMEOUT" token_ready
  say "token server ready on https://$REGISTRY_HOST:$TOKEN_PORT/token (tokens last $TOKEN_EXPIRES_IN s)"
}

stop_token_server() {
  daemon_alive "$TOKEN_PID" tokenServerMain && stop_pid "token server" "$TOKEN_PID" tokenServerMain
  return 0
}

# ---------------------------------------------------------------- buildkitd

pick_snapshotter() {
  if [[ -n "${BATTLESCOPE_BUILDKIT_SNAPSHOTTER:-}" ]]; then
    echo "$BATTLESCOPE_BUILDKIT_SNAPSHOTTER"
    return
  fi
  if [[ -s "$BK_DIR/snapshotter" ]]; then
    cat "$BK_DIR/snapshotter"
    return
  fi
  # Probe an overlay mount with two lower layers inside the state directory (the same test
  # buildkitd's overlay check does); fall back to the native (copying) snapshotter.
  local d="$BK_DIR/overlay-probe" s=native
  rm -rf "$d" && mkdir -p "$d"/{l1,l2,u,w,m}
  if mount -t overlay overlay -o "lowerdir=$d/l2:$d/l1,upperdir=$d/u,workdir=$d/w" "$d/m" 2>/dev/null; then
    touch "$d/m/probe" 2>/dev/null && s=overlayfs
    umount "$d/m" 2>/dev/null || true
  fi
  rm -rf "$d"
  echo "$s" >"$BK_DIR/snapshotter"
  echo "$s"
}

write_buildkitd_config() {
  local tmp="$BK_CONFIG.new" snap
  snap="$(pick_snapshotter)"
  sed -e "s|@BK_DIR@|$BK_DIR|g" -e "s|@BK_SOCK@|$BK_SOCK|g" -e "s|@CA_CERT@|$CA_CERT|g" \
    -e "s|@REGISTRY@|$REGISTRY_ADDR|g" -e "s|@PROXY@|$REGISTRY_HOST:$PROXY_PORT|g" -e "s|@SNAPSHOTTER@|$snap|g" \
    "$HERE/buildkitd.toml" >"$tmp"
  replace_if_changed "$tmp" "$BK_CONFIG"
}

buildkitd_ready() { buildctl --addr "$BK_ADDR" --timeout 3 debug workers >/dev/null; }

start_buildkitd() {
  { need buildkitd && need buildctl; } ||
    die "buildkitd/buildctl not found in PATH or $CACHE/bin: run 'bash scripts/toolchain.sh' first"
  apt_install runc runc
  mkdir -p "$BK_DIR/root"
  local changed="$CERT_CHANGED"
  write_buildkitd_config && changed=1
  if daemon_alive "$BK_PID" buildkitd; then
    local exe want
    exe="$(readlink "/proc/$(daemon_pid "$BK_PID")/exe" 2>/dev/null)" || true
    want="$(readlink -f "$(command -v buildkitd)")"
    if ((changed)) || [[ -n "$exe" && "$exe" != "$want" ]]; then
      say "buildkitd configuration, CA or binary changed, restarting"
      stop_pid buildkitd "$BK_PID" buildkitd
    elif buildkitd_ready >/dev/null; then
      say "buildkitd already running on $BK_ADDR (pid $(daemon_pid "$BK_PID"))"
      return 0
    fi
  fi
  if ! daemon_alive "$BK_PID" buildkitd; then
    if buildkitd_ready >/dev/null 2>&1; then
      die "another buildkitd answers on $BK_ADDR but is not ours (no valid $BK_PID); stop it first"
    fi
    rm -f "$BK_SOCK"
    daemon_start "$BK_PID" "$BK_LOG" buildkitd --config "$BK_CONFIG"
    say "buildkitd starting (pid $(daemon_pid "$BK_PID")), log $BK_LOG"
  fi
  daemon_wait buildkitd "$BK_PID" "$BK_LOG" "$TIMEOUT" buildkitd_ready
  say "buildkitd ready on $BK_ADDR ($(cat "$BK_DIR/snapshotter") snapshotter)"
}

# The docker-build provider and `docker buildx` read builders from ${DOCKER_CONFIG:-$HOME/.docker}/buildx.
ensure_builder() {
  need docker-buildx || docker buildx version >/dev/null 2>&1 ||
    die "docker-buildx not found in PATH or $CACHE/bin: run 'bash scripts/toolchain.sh' first"
  local cfgdir="${DOCKER_CONFIG:-$HOME/.docker}"
  # make `docker buildx` work too (the machine's docker CLI has no buildx plugin)
  if need docker-buildx && ! docker buildx version >/dev/null 2>&1; then
    mkdir -p "$cfgdir/cli-plugins"
    ln -sfn "$(command -v docker-buildx)" "$cfgdir/cli-plugins/docker-buildx"
  fi
  local current
  current="$(buildx inspect "$BUILDER" 2>/dev/null | awk '/^Endpoint:/ {print $2; exit}')" || true
  if [[ "$current" != "$BK_ADDR" ]]; then
    [[ -z "$current" ]] || buildx rm "$BUILDER" >/dev/null 2>&1 || true
    buildx create --name "$BUILDER" --driver remote "$BK_ADDR" >/dev/null
    say "buildx builder '$BUILDER' created (remote driver, $BK_ADDR) in $cfgdir/buildx"
  fi
  buildx inspect --bootstrap "$BUILDER" >/dev/null 2>"$BK_DIR/bootstrap.err" || {
    cat "$BK_DIR/bootstrap.err" >&2
    die "buildx builder '$BUILDER' failed to bootstrap"
  }
  say "buildx builder '$BUILDER' ready"
  registry_settings_builder "$cfgdir"
}

# The docker-build provider writes manifest lists with `buildx imagetools create`, which runs
# no builder but reads registry settings from the *current* builder's buildkitd.toml, and
# otherwise talks plain HTTP to any loopback registry (containerd's MatchLocalhost). A remote
# builder cannot carry a buildkitd.toml, so a builder entry that is never booted carries the
# one setting imagetools needs (HTTPS for the local registry; the CA is in the system store)
# and is made current. Builds keep naming the `battlescope` builder explicitly.
registry_settings_builder() {
  local cfgdir=$1 name="$BUILDER-registries"
  local toml
  toml="$(printf '[registry."%s"]\n  http = false\n' "$REGISTRY_ADDR" | base64 -w0)"
  mkdir -p "$cfgdir/buildx/instances"
  printf '{"Name":"%s","Driver":"docker-container","Nodes":[{"Name":"%s0","Endpoint":"unix:///var/run/docker.sock","Platforms":null,"Flags":null,"DriverOpts":null,"Files":{"buildkitd.toml":"%s"}}],"Dynamic":false}\n' \
    "$name" "$name" "$toml" >"$cfgdir/buildx/instances/$name"
  printf '{"Key":"unix:///var/run/docker.sock","Name":"%s","Global":false}\n' "$name" >"$cfgdir/buildx/current"
}

# ---------------------------------------------------------------- second buildkitd (--builders 2)

# A second BuildKit daemon, for stacks whose `builders` name two nodes: its own root, socket, pid
# and log under $STATE/buildkit2, the same registry settings. Not a buildx builder of its own (the
# stack's `builders` make theirs); start, status and stop reuse the first daemon's code with its paths.
BK2_DIR="$STATE/buildkit2"
with_buildkit2() {
  local BK_DIR="$BK2_DIR"
  local BK_CONFIG="$BK_DIR/buildkitd.toml" BK_SOCK="$BK_DIR/buildkitd.sock"
  local BK_ADDR="unix://$BK_DIR/buildkitd.sock" BK_LOG="$BK_DIR/buildkitd.log" BK_PID="$BK_DIR/buildkitd.pid"
  "$@"
}
status_buildkit2() {
  if daemon_alive "$BK_PID" buildkitd && buildkitd_ready >/dev/null 2>&1; then
    echo "buildkitd2 up    $BK_ADDR (pid $(daemon_pid "$BK_PID"))"
  elif [[ -s "$BK_PID" ]]; then
    echo "buildkitd2 down  $BK_ADDR"
    return 1
  fi
}
stop_buildkit2() { [[ ! -s "$BK_PID" ]] || stop_pid buildkitd2 "$BK_PID" buildkitd; }

# ---------------------------------------------------------------- Docker Hub emulator

hub_ready() { probe_http '[24][0-9][0-9]' "http://127.0.0.1:$HUB_PORT/_emulator/state"; }

start_hub() {
  if [[ ! -f "$HUB_MAIN" ]]; then
    say "hub emulator skipped: ${HUB_MAIN#"$REPO_ROOT"/} does not exist yet"
    return 0
  fi
  mkdir -p "$HUB_DIR"
  if daemon_alive "$HUB_PID" hubEmulatorMain; then
    if [[ "$(cat "$HUB_DIR/main" 2>/dev/null)" != "$HUB_MAIN" ]]; then
      say "hub emulator runs from another checkout ($(cat "$HUB_DIR/main" 2>/dev/null)), restarting from this one"
      stop_pid hub "$HUB_PID" hubEmulatorMain
    elif sources_changed "$HUB_MAIN" "$HUB_PID"; then
      say "hub emulator sources changed since it started, restarting"
      stop_pid hub "$HUB_PID" hubEmulatorMain
    elif hub_ready >/dev/null; then
      say "hub emulator already running on http://127.0.0.1:$HUB_PORT (pid $(daemon_pid "$HUB_PID"))"
      return 0
    fi
  fi
  if ! daemon_alive "$HUB_PID" hubEmulatorMain; then
    port_busy "$HUB_PORT" && die "port $HUB_PORT is in use by another process: $(ss -ltnpH "sport = :$HUB_PORT" 2>/dev/null)"
    # The pinned Node runs the emulator's TypeScript itself (type stripping): no tsx, no compile
    # step, so it listens within a second even on a loaded machine with cold caches.
    local node
    node="$(pinned_node "hub emulator")"
    echo "$HUB_MAIN" >"$HUB_DIR/main"
    daemon_start "$HUB_PID" "$HUB_LOG" env -C "$REPO_ROOT" "$node" "$HUB_MAIN" --port "$HUB_PORT" \
      --state-file "$HUB_STATE_FILE"
    say "hub emulator starting (pid $(daemon_pid "$HUB_PID")), log $HUB_LOG"
  fi
  daemon_wait "hub emulator" "$HUB_PID" "$HUB_LOG" "$TIMEOUT" hub_ready
  say "hub emulator ready on http://127.0.0.1:$HUB_PORT (state $HUB_STATE_FILE)"
}

# ---------------------------------------------------------------- commands

# What Node is to trust: the system bundle once it holds the local CA (so npm keeps trusting
# what the machine's bundle lets it reach), else the local CA alone.
node_ca_file() {
  local bundle=/etc/ssl/certs/ca-certificates.crt
  if [[ -s "$CA_CERT" ]] && grep -qF "$(sed -n 2p "$CA_CERT")" "$bundle" 2>/dev/null; then
    echo "$bundle"
  else
    echo "$CA_CERT"
  fi
}

print_env() {
  cat <<EOF
export BATTLESCOPE_STATE=$STATE
export BATTLESCOPE_REGISTRY=$REGISTRY_ADDR
export BATTLESCOPE_CA_CERT=$CA_CERT
export NODE_EXTRA_CA_CERTS=$(node_ca_file)
export BATTLESCOPE_REGISTRY_ACCESS_LOG=$REG_ACCESS_LOG
export BATTLESCOPE_BUILDER=$BUILDER
export BUILDKIT_HOST=$BK_ADDR
export BATTLESCOPE_BUILDKIT2_HOST=unix://$BK2_DIR/buildkitd.sock
export BATTLESCOPE_HUB_URL=http://127.0.0.1:$HUB_PORT
export BATTLESCOPE_HUB_STATE_FILE=$HUB_STATE_FILE
export BATTLESCOPE_KUBECONFIG=$STATE/kubeconfig
EOF
  if [[ "$AUTH" != none ]]; then
    echo "export BATTLESCOPE_REGISTRY_USERNAME=$REG_USER"
    echo "export BATTLESCOPE_REGISTRY_PASSWORD_FILE=$REG_DIR/password"
    echo "export BATTLESCOPE_PULL_USERNAME=$PULL_USER"
    echo "export BATTLESCOPE_PULL_PASSWORD_FILE=$REG_DIR/pull-password"
  fi
  if [[ "$AUTH" == token ]]; then
    echo "export BATTLESCOPE_TOKEN_URL=https://localhost:$TOKEN_PORT/token"
    echo "export BATTLESCOPE_TOKEN_LOG=$TOKEN_LOG"
    echo "export BATTLESCOPE_TOKEN_SETTINGS=$TOKEN_DIR/settings.json"
    echo "export BATTLESCOPE_PULL_LIMITED_REGISTRY=$REGISTRY_HOST:$PROXY_PORT"
  fi
}

cmd_start() {
  local seed=1 hub=1 cluster=1 qemu=1 builders=1
  while (($#)); do
    case "$1" in
      --no-seed) seed=0 ;;
      --no-qemu) qemu=0 ;;
      --no-hub) hub=0 ;;
      --no-cluster) cluster=0 ;;
      --builders) builders="${2:-}" && shift ;;
      *) die "unknown option for start: $1" ;;
    esac
    shift
  done
  [[ "$builders" == 1 || "$builders" == 2 ]] || die "--builders takes 1 or 2, not '$builders'"
  need curl || apt_install curl curl
  need openssl || apt_install openssl openssl
  need jq || apt_install jq jq
  mkdir -p "$STATE"
  ensure_ca
  mkdir -p "$REG_DIR"
  # Once per start, before both: the token server reads the accounts' passwords, the registry
  # its htpasswd file.
  registry_auth_setup
  if ((cluster)); then
    # The cluster uses none of the daemons started below, only the CA's files and BuildKit's
    # snapshotter choice: it starts beside them (a start took 12 s with it after them, under load).
    mkdir -p "$BK_DIR"
    pick_snapshotter >/dev/null
    BATTLESCOPE_STATE="$STATE" BATTLESCOPE_CACHE="$CACHE" BATTLESCOPE_START_TIMEOUT="$TIMEOUT" bash "$CLUSTER" start &
    CLUSTER_START_PID=$!
  fi
  if [[ "$AUTH" == token ]]; then start_token_server; else stop_token_server; fi
  start_registry
  ((qemu)) && start_qemu
  start_buildkitd
  ensure_builder
  ((builders == 2)) && with_buildkit2 start_buildkitd
  if ((seed)); then
    BATTLESCOPE_STATE="$STATE" BATTLESCOPE_CACHE="$CACHE" bash "$HERE/seed-base-images.sh"
  fi
  ((hub)) && start_hub
  local cluster_status=0
  finish_cluster_start || cluster_status=$?
  ((cluster_status == 0)) || die "the cluster did not start (cluster.sh exited with status $cluster_status; its lines above say why)"
  print_env >"$STATE/env.sh"
  say "all services up; environment: source $STATE/env.sh (or eval \"\$(scripts/local-services.sh env)\")"
}

cmd_status() {
  local rc=0
  if daemon_alive "$REG_PID" "$REG_PATTERN" && registry_ready >/dev/null; then
    echo "registry   up    https://$REGISTRY_ADDR (pid $(daemon_pid "$REG_PID"), access log $REG_ACCESS_LOG)"
  else
    echo "registry   down  https://$REGISTRY_ADDR"
    rc=1
  fi
  if [[ "$AUTH" == token ]]; then
    if daemon_alive "$TOKEN_PID" tokenServerMain && token_ready >/dev/null; then
      echo "token      up    https://$REGISTRY_HOST:$TOKEN_PORT/token (pid $(daemon_pid "$TOKEN_PID"), log $TOKEN_LOG)"
    else
      echo "token      down  https://$REGISTRY_HOST:$TOKEN_PORT/token"
      rc=1
    fi
  fi
  if daemon_alive "$BK_PID" buildkitd && buildkitd_ready >/dev/null 2>&1; then
    echo "buildkitd  up    $BK_ADDR (pid $(daemon_pid "$BK_PID"), buildx builder $BUILDER)"
  else
    echo "buildkitd  down  $BK_ADDR"
    rc=1
  fi
  BATTLESCOPE_STATE="$STATE" bash "$BINFMT" status | sed 's/^/qemu       /' || rc=1
  with_buildkit2 status_buildkit2 || rc=1
  if daemon_alive "$HUB_PID" hubEmulatorMain && hub_ready >/dev/null; then
    echo "hub        up    http://127.0.0.1:$HUB_PORT (pid $(daemon_pid "$HUB_PID"), state $HUB_STATE_FILE)"
  elif [[ -f "$HUB_MAIN" ]]; then
    echo "hub        down  http://127.0.0.1:$HUB_PORT"
    rc=1
  else
    echo "hub        n/a   http://127.0.0.1:$HUB_PORT (${HUB_MAIN#"$REPO_ROOT"/} not present)"
  fi
  BATTLESCOPE_STATE="$STATE" BATTLESCOPE_CACHE="$CACHE" bash "$CLUSTER" status | sed 's/^/cluster    /' || rc=1
  return "$rc"
}

cmd_stop() {
  case "${1:-all}" in
    all)
      BATTLESCOPE_STATE="$STATE" BATTLESCOPE_CACHE="$CACHE" bash "$CLUSTER" stop
      with_buildkit2 stop_buildkit2
      stop_pids hub "$HUB_PID" hubEmulatorMain buildkitd "$BK_PID" buildkitd registry "$REG_PID" "$REG_PATTERN" \
        "token server" "$TOKEN_PID" tokenServerMain
      BATTLESCOPE_STATE="$STATE" bash "$BINFMT" stop
      ;;
    # The cluster alone (the tests that check the host after a stop).
    cluster) BATTLESCOPE_STATE="$STATE" BATTLESCOPE_CACHE="$CACHE" bash "$CLUSTER" stop ;;
    # Used by the outage tests: the registry alone goes away mid-release and comes back.
    registry) stop_pid registry "$REG_PID" "$REG_PATTERN" ;;
    *) die "stop takes no argument, 'registry' or 'cluster'" ;;
  esac
}

cmd_gc() {
  [[ -s "$REG_CONFIG" ]] || die "no registry configuration at $REG_CONFIG (never started)"
  local was_up=0
  daemon_alive "$REG_PID" "$REG_PATTERN" && was_up=1
  ((was_up)) && stop_pid registry "$REG_PID" "$REG_PATTERN"
  say "registry garbage-collect $REG_CONFIG"
  local ok=1
  OTEL_TRACES_EXPORTER=none registry garbage-collect "$REG_CONFIG" >>"$REG_DIR/gc.log" 2>&1 || ok=0
  # A failed collection deletes nothing; the registry comes back either way.
  ((was_up)) && start_registry
  if ((!ok)); then
    tail -n 20 "$REG_DIR/gc.log" >&2
    die "garbage collection failed, nothing was deleted (log $REG_DIR/gc.log)"
  fi
  tail -n 1 "$REG_DIR/gc.log" >&2
  return 0
}

case "${1:-}" in
  start) shift; cmd_start "$@" ;;
  stop) shift; cmd_stop "$@" ;;
  start-cluster) BATTLESCOPE_STATE="$STATE" BATTLESCOPE_CACHE="$CACHE" BATTLESCOPE_START_TIMEOUT="$TIMEOUT" bash "$CLUSTER" start ;;
  restart) shift; cmd_stop; cmd_start "$@" ;;
  status) cmd_status ;;
  env) print_env ;;
  gc) cmd_gc ;;
  *)
    sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
    ;;
esac
