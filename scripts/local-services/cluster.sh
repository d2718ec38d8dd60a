#!/usr/bin/env bash
# shellcheck disable=SC2317 # the exit on the line that calls main makes shellcheck take the functions
# called from traps and by name (version_<tool>) for unreachable
# The local one-node Kubernetes cluster, on loopback (run by scripts/local-services.sh):
#
#   cluster.sh start | stop | status | env
#
#   etcd                 http://127.0.0.1:2379, data in $STATE/cluster/etcd (kept between starts)
#   kube-apiserver       https://127.0.0.1:6443 (Node,RBAC authorization; admin kubeconfig
#                        $STATE/kubeconfig)
#   controller-manager   127.0.0.1:10257, scheduler 127.0.0.1:10259
#   node "localhost"     containerd + kubelet (127.0.0.1:10250), runc, a CNI bridge
#
# The node is confined so that the host looks after `stop` as it did before `start`:
# - containerd and the kubelet run in a private mount namespace (unshare -m). Everything they
#   mount (snapshots, pod volumes, network namespaces) stays in it and goes with it, and tmpfs
#   hides the fixed paths they write (/run, /var/lib/kubelet, /var/lib/cni, /var/log/pods,
#   /var/log/containers) from the host.
# - The kubelet insists on kernel sysctls this VM does not have (vm.overcommit_memory=1,
#   kernel.panic=10, kernel.panic_on_oops=1) and would rewrite them on the host; inside the
#   namespace files holding those values are bind-mounted over the /proc/sys entries, and the
#   kubelet runs with protectKernelDefaults, so it checks instead of writing.
# - This VM has cgroup v1 (the kubelet needs failCgroupV1: false) and root without
#   CAP_SYS_RESOURCE (runc cannot lower oom_score_adj: containerd's restrict_oom_score_adj).
# - stop kills every process of the node (found by its mount namespace and its cgroups), removes
#   the pods' cgroups, the CNI bridge and the folders start had to create.
#
# Environment: as scripts/local-services.sh (BATTLESCOPE_CACHE, BATTLESCOPE_STATE,
# BATTLESCOPE_START_TIMEOUT); BATTLESCOPE_CLUSTER_BIN overrides where the binaries are.
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
CACHE="${BATTLESCOPE_CACHE:-$HOME/.cache/battlescope}"
STATE="${BATTLESCOPE_STATE:-$CACHE/local}"
export PATH="$CACHE/bin:$PATH:/usr/sbin:/sbin"
TIMEOUT="${BATTLESCOPE_START_TIMEOUT:-120}"

REGISTRY_ADDR=127.0.0.1:5000
REGISTRY_CA="$STATE/ca/ca.crt"
DIR="$STATE/cluster"
PKI="$DIR/pki"
LOGS="$DIR/logs"
RUN="$DIR/run"
NODE="$DIR/node"
KUBECONFIG_FILE="$STATE/kubeconfig"
API=https://127.0.0.1:6443
SERVICE_RANGE=10.96.0.0/16
POD_RANGE=10.244.0.0/24
BRIDGE=bscope0
NODE_NAME=localhost
SANDBOX_IMAGE=localhost/battlescope/pause:1
# The values the kubelet requires (it checks them with protectKernelDefaults).
KERNEL_DEFAULTS=(vm/overcommit_memory=1 kernel/panic=10 kernel/panic_on_oops=1)
# Host settings the node's plugins would write (the CNI bridge turns on IP forwarding when it
# gives the bridge an address): the node sees a copy holding the host's value and writes to that.
SHIELDED_SYSCTLS=(net/ipv4/ip_forward)
# Paths the kubelet, libcni and runc use whatever their configuration says.
FIXED_PATHS=(/var/lib/kubelet /var/lib/cni /var/log/pods /var/log/containers)

say() { printf 'cluster: %s\n' "$*" >&2; }
die() {
  say "error: $*"
  exit 1
}

# The folder of the cluster's binaries, resolved once per run (the build script checks the pins).
bin_dir() {
  if [[ -z "${CLUSTER_BIN:-}" ]]; then
    CLUSTER_BIN="${BATTLESCOPE_CLUSTER_BIN:-$(bash "$REPO_ROOT/scripts/toolchain/kubernetes/build.sh" 2>/dev/null)}"
  fi
  echo "$CLUSTER_BIN"
}

# daemon_start, daemon_alive, daemon_wait, probe_http: the one way every local service starts
# shellcheck source-path=SCRIPTDIR source=daemon.sh
source "$REPO_ROOT/scripts/local-services/daemon.sh"

pid_alive() { daemon_alive "$RUN/$1.pid" "$1"; } # pid_alive <component>

spawn() { # spawn <name> <cmd...>: detached, own session; pid in $RUN/<name>.pid, log $LOGS/<name>.log
  local name="$1"
  shift
  daemon_start "$RUN/$name.pid" "$LOGS/$name.log" "$@"
}

wait_for() { # wait_for <component> <what> <probe...>: its log is $LOGS/<component>.log
  local name="$1" what="$2"
  shift 2
  daemon_wait "$what" "$RUN/$name.pid" "$LOGS/$name.log" "$TIMEOUT" "$@"
}

# ---------------------------------------------------------------- certificates and kubeconfigs

# cert <name> <subject> <extensions...>: a key and a certificate signed by the cluster CA
cert() {
  local name="$1" subject="$2" ext="$PKI/$1.ext"
  shift 2
  [[ -s "$PKI/$name.crt" ]] && openssl x509 -in "$PKI/$name.crt" -noout -checkend 2592000 >/dev/null &&
    return 0
  printf '%s\n' "basicConstraints=CA:FALSE" "$@" >"$ext"
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -sha256 -keyout "$PKI/$name.key" -out "$PKI/$name.csr" \
    -subj "$subject" 2>/dev/null
  openssl x509 -req -in "$PKI/$name.csr" -CA "$PKI/ca.crt" -CAkey "$PKI/ca.key" -CAcreateserial \
    -days 825 -sha256 -extfile "$ext" -out "$PKI/$name.crt" 2>/dev/null
  chmod 600 "$PKI/$name.key"
  rm -f "$PKI/$name.csr" "$ext"
}

kubeconfig() { # kubeconfig <file> <client cert name> <user>
  local b64=(base64 -w0)
  (umask 077 && cat >"$1" <<EOF
apiVersion: v1
kind: Config
clusters:
  - name: battlescope-local
    cluster:
      server: $API
      certificate-authority-data: $("${b64[@]}" <"$PKI/ca.crt")
users:
  - name: $3
    user:
      client-certificate-data: $("${b64[@]}" <"$PKI/$2.crt")
      client-key-data: $("${b64[@]}" <"$PKI/$2.key")
contexts:
  - name: battlescope-local
    context: { cluster: battlescope-local, user: $3 }
current-context: battlescope-local
EOF
  )
}

# Keys are P-256: nine RSA-2048 keys took 4 s of a fresh start (more with the CPU loaded), these
# take a few milliseconds, and every client here (Go's TLS, kube's ES256 tokens) takes them.
ensure_pki() {
  mkdir -p "$PKI"
  chmod 700 "$PKI"
  if [[ ! -s "$PKI/ca.crt" ]] || ! openssl x509 -in "$PKI/ca.crt" -noout -checkend 2592000 >/dev/null; then
    say "generating the cluster CA and certificates in $PKI"
    rm -f "$PKI"/*.crt "$PKI"/*.key
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -sha256 -days 3650 -keyout "$PKI/ca.key" \
      -out "$PKI/ca.crt" -subj "/CN=battlescope-local-cluster-ca" \
      -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
    chmod 600 "$PKI/ca.key"
  fi
  local server="keyUsage=critical,digitalSignature,keyEncipherment" client="extendedKeyUsage=clientAuth"
  cert apiserver "/CN=kube-apiserver" "$server" "extendedKeyUsage=serverAuth" \
    "subjectAltName=IP:127.0.0.1,IP:10.96.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local"
  cert kubelet-serving "/CN=$NODE_NAME" "$server" "extendedKeyUsage=serverAuth" \
    "subjectAltName=IP:127.0.0.1,DNS:localhost"
  cert admin "/O=system:masters/CN=battlescope-admin" "$server" "$client"
  cert apiserver-kubelet-client "/O=system:masters/CN=kube-apiserver-kubelet-client" "$server" "$client"
  cert controller-manager "/CN=system:kube-controller-manager" "$server" "$client"
  cert scheduler "/CN=system:kube-scheduler" "$server" "$client"
  cert node "/O=system:nodes/CN=system:node:$NODE_NAME" "$server" "$client"
  if [[ ! -s "$PKI/sa.key" ]]; then
    openssl ecparam -name prime256v1 -genkey -noout -out "$PKI/sa.key" 2>/dev/null
    openssl ec -in "$PKI/sa.key" -pubout -out "$PKI/sa.pub" 2>/dev/null
    chmod 600 "$PKI/sa.key"
  fi
  kubeconfig "$KUBECONFIG_FILE" admin battlescope-admin
  kubeconfig "$DIR/controller-manager.kubeconfig" controller-manager system:kube-controller-manager
  kubeconfig "$DIR/scheduler.kubeconfig" scheduler system:kube-scheduler
  kubeconfig "$DIR/kubelet.kubeconfig" node "system:node:$NODE_NAME"
}

# ---------------------------------------------------------------- control plane

# The probes print what they got (the readiness report's "last probe").
etcd_ready() { probe_http 200 http://127.0.0.1:2379/health; }
apiserver_ready() { probe_http 200 --cacert "$PKI/ca.crt" --cert "$PKI/admin.crt" --key "$PKI/admin.key" "$API/readyz"; }
component_ready() { probe_http 200 -k "https://127.0.0.1:$1/healthz"; }

start_etcd() {
  mkdir -p "$DIR/etcd"
  spawn etcd "$1/etcd" --name battlescope --data-dir "$DIR/etcd" --unsafe-no-fsync \
    --listen-client-urls http://127.0.0.1:2379 --advertise-client-urls http://127.0.0.1:2379 \
    --listen-peer-urls http://127.0.0.1:2380 --initial-advertise-peer-urls http://127.0.0.1:2380 \
    --initial-cluster battlescope=http://127.0.0.1:2380 --listen-metrics-urls http://127.0.0.1:2381 \
    --log-level warn
}

start_control_plane() {
  local b="$1"
  if ! pid_alive etcd; then
    start_etcd "$b"
    # etcd runs without fsync (a local cluster): after the machine or the session was killed its
    # data can be torn, and etcd exits at once. The cluster's state is disposable: set the data
    # aside and start empty (the local stack's next `up --refresh` recreates what it declares).
    local t=0
    while ((t < 50)) && ! etcd_ready >/dev/null; do
      if ! pid_alive etcd; then
        local aside
        aside="$DIR/etcd.unreadable-$(date +%s)"
        say "etcd exited at start (see $LOGS/etcd.log); moving its data to $aside and starting empty"
        mv "$DIR/etcd" "$aside"
        start_etcd "$b"
        break
      fi
      sleep 0.2
      t=$((t + 1))
    done
  fi
  wait_for etcd etcd etcd_ready

  if ! pid_alive kube-apiserver; then
    spawn kube-apiserver "$b/kube-apiserver" --bind-address=127.0.0.1 --secure-port=6443 \
      --advertise-address=127.0.0.1 --endpoint-reconciler-type=none \
      --etcd-servers=http://127.0.0.1:2379 --service-cluster-ip-range="$SERVICE_RANGE" \
      --authorization-mode=Node,RBAC --enable-admission-plugins=NodeRestriction \
      --allow-privileged=false --anonymous-auth=false \
      --client-ca-file="$PKI/ca.crt" --tls-cert-file="$PKI/apiserver.crt" \
      --tls-private-key-file="$PKI/apiserver.key" \
      --kubelet-client-certificate="$PKI/apiserver-kubelet-client.crt" \
      --kubelet-client-key="$PKI/apiserver-kubelet-client.key" \
      --kubelet-certificate-authority="$PKI/ca.crt" --kubelet-preferred-address-types=Hostname,InternalIP \
      --service-account-issuer=https://kubernetes.default.svc.cluster.local \
      --service-account-key-file="$PKI/sa.pub" --service-account-signing-key-file="$PKI/sa.key" \
      --profiling=false
  fi
  wait_for kube-apiserver kube-apiserver apiserver_ready

  if ! pid_alive kube-controller-manager; then
    mkdir -p "$DIR/flexvolume"
    spawn kube-controller-manager "$b/kube-controller-manager" \
      --kubeconfig="$DIR/controller-manager.kubeconfig" \
      --authentication-kubeconfig="$DIR/controller-manager.kubeconfig" \
      --authorization-kubeconfig="$DIR/controller-manager.kubeconfig" \
      --leader-elect=false --bind-address=127.0.0.1 --use-service-account-credentials=true \
      --service-account-private-key-file="$PKI/sa.key" --root-ca-file="$PKI/ca.crt" \
      --cluster-signing-cert-file="$PKI/ca.crt" --cluster-signing-key-file="$PKI/ca.key" \
      --flex-volume-plugin-dir="$DIR/flexvolume" --allocate-node-cidrs=false --profiling=false
  fi
  if ! pid_alive kube-scheduler; then
    spawn kube-scheduler "$b/kube-scheduler" --kubeconfig="$DIR/scheduler.kubeconfig" \
      --authentication-kubeconfig="$DIR/scheduler.kubeconfig" \
      --authorization-kubeconfig="$DIR/scheduler.kubeconfig" \
      --leader-elect=false --bind-address=127.0.0.1 --profiling=false
  fi
  wait_for kube-controller-manager kube-controller-manager component_ready 10257
  wait_for kube-scheduler kube-scheduler component_ready 10259
}

# ---------------------------------------------------------------- node

pick_snapshotter() {
  local snap
  snap="$(cat "$STATE/buildkit/snapshotter" 2>/dev/null || true)"
  echo "${snap:-native}"
}

write_node_config() {
  mkdir -p "$NODE"/{containerd,certs.d/"$REGISTRY_ADDR",cni/net.d,cni/ipam,sysctl}
  rm -rf "${NODE:?}/home"
  mkdir -p "$NODE/home"
  cat >"$NODE/containerd.toml" <<EOF
version = 3
root = "$NODE/containerd/root"
state = "$NODE/containerd/state"
# Plugins that write outside root and state, or that the node does not use.
disabled_plugins = ["io.containerd.internal.v1.opt", "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper",
  "io.containerd.snapshotter.v1.blockfile", "io.containerd.snapshotter.v1.erofs",
  "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing",
  "io.containerd.nri.v1.nri"]

[grpc]
  address = "$NODE/containerd.sock"

[ttrpc]
  address = "$NODE/containerd.sock.ttrpc"

[plugins."io.containerd.cri.v1.images"]
  snapshotter = "$(pick_snapshotter)"
  [plugins."io.containerd.cri.v1.images".pinned_images]
    sandbox = "$SANDBOX_IMAGE"
  [plugins."io.containerd.cri.v1.images".registry]
    config_path = "$NODE/certs.d"

[plugins."io.containerd.cri.v1.runtime"]
  restrict_oom_score_adj = true
  netns_mounts_under_state_dir = true
  enable_selinux = false
  [plugins."io.containerd.cri.v1.runtime".cni]
    bin_dirs = ["/usr/lib/cni"]
    conf_dir = "$NODE/cni/net.d"
  [plugins."io.containerd.cri.v1.runtime".containerd.runtimes.runc]
    runtime_type = "io.containerd.runc.v2"
    [plugins."io.containerd.cri.v1.runtime".containerd.runtimes.runc.options]
      BinaryName = "$(command -v runc)"
      SystemdCgroup = false
EOF
  cat >"$NODE/certs.d/$REGISTRY_ADDR/hosts.toml" <<EOF
server = "https://$REGISTRY_ADDR"

[host."https://$REGISTRY_ADDR"]
  capabilities = ["pull", "resolve"]
  ca = "$REGISTRY_CA"
EOF
  # A bridge with an address, so the host reaches the pods (the kubelet probes pod IPs from the
  # host), without masquerade or a default route: pods talk to each other and to the host only.
  cat >"$NODE/cni/net.d/10-battlescope.conflist" <<EOF
{
  "cniVersion": "1.0.0",
  "name": "battlescope",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "$BRIDGE",
      "isGateway": true,
      "isDefaultGateway": false,
      "ipMasq": false,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "dataDir": "$NODE/cni/ipam",
        "ranges": [[{ "subnet": "$POD_RANGE" }]]
      }
    },
    { "type": "loopback" }
  ]
}
EOF
  cat >"$NODE/kubelet.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: 127.0.0.1
port: 10250
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: 10248
authentication:
  anonymous: { enabled: false }
  webhook: { enabled: true }
  x509: { clientCAFile: "$PKI/ca.crt" }
authorization: { mode: Webhook }
tlsCertFile: "$PKI/kubelet-serving.crt"
tlsPrivateKeyFile: "$PKI/kubelet-serving.key"
containerRuntimeEndpoint: "unix://$NODE/containerd.sock"
cgroupDriver: cgroupfs
cgroupsPerQOS: false
enforceNodeAllocatable: []
failCgroupV1: false
failSwapOn: false
protectKernelDefaults: true
oomScoreAdj: 0
serializeImagePulls: false
resolvConf: "$NODE/resolv.conf"
evictionHard: { memory.available: "50Mi", nodefs.available: "1%", imagefs.available: "1%", nodefs.inodesFree: "1%" }
imageGCHighThresholdPercent: 99
imageGCLowThresholdPercent: 98
maxPods: 50
# Every image with all its names in the node's status (the release checks read them).
nodeStatusMaxImages: -1
EOF
  : >"$NODE/resolv.conf"
  local entry
  for entry in "${KERNEL_DEFAULTS[@]}"; do
    mkdir -p "$NODE/sysctl/$(dirname "${entry%%=*}")"
    echo "${entry#*=}" >"$NODE/sysctl/${entry%%=*}"
  done
  for entry in "${SHIELDED_SYSCTLS[@]}"; do
    mkdir -p "$NODE/sysctl/$(dirname "$entry")"
    cat "/proc/sys/$entry" >"$NODE/sysctl/$entry"
  done
}

# The node's entry point, run by `unshare -m --propagation private` (see the header).
write_node_script() {
  local b="$1" mounts="" entry path
  for entry in "${KERNEL_DEFAULTS[@]%%=*}" "${SHIELDED_SYSCTLS[@]}"; do
    mounts+="mount --bind '$NODE/sysctl/$entry' '/proc/sys/$entry'"$'\n'
  done
  mounts+="mount -t tmpfs -o mode=0755 node-run /run"$'\n'
  for path in "${FIXED_PATHS[@]}"; do
    mounts+="mount -t tmpfs -o mode=0755 node-tmp '$path'"$'\n'
  done
  cat >"$NODE/node.sh" <<EOF
#!/usr/bin/env bash
# Generated by scripts/local-services/cluster.sh: containerd and the kubelet of the node. Its log
# ($LOGS/node.log) says which of them failed to start or ended, and why.
set -euo pipefail
say() { printf 'node: %s\\n' "\$*" >&2; }
source '$REPO_ROOT/scripts/local-services/daemon.sh'
$mounts
# The kubelet also pulls with any Docker login it finds in \$HOME/.docker, the working folder or
# its root folder: the node gets none, so only a pod's pull secret can authenticate a pull.
export HOME='$NODE/home'
cd "\$HOME"
# Ready is this start's "successfully booted" line, written once the CRI serves (a killed
# containerd leaves its socket behind, and the socket answers before the CRI does, which the
# kubelet checks once and exits on).
rm -f '$NODE/containerd.sock'
offset=\$(stat -c %s '$LOGS/containerd.log' 2>/dev/null || echo 0)
containerd_booted() {
  [[ "\$(tail -c +\$((offset + 1)) '$LOGS/containerd.log')" == *'containerd successfully booted'* ]] && return 0
  echo "no 'containerd successfully booted' line in its log yet"
  return 1
}
daemon_start '$RUN/containerd.pid' '$LOGS/containerd.log' '$b/containerd' --config '$NODE/containerd.toml'
daemon_wait containerd '$RUN/containerd.pid' '$LOGS/containerd.log' $TIMEOUT containerd_booted
'$b/ctr' --address '$NODE/containerd.sock' -n k8s.io images import --platform linux/amd64 \
  '$NODE/pause.tar' >>'$LOGS/containerd.log' 2>&1
daemon_start '$RUN/kubelet.pid' '$LOGS/kubelet.log' '$b/kubelet' --config='$NODE/kubelet.yaml' \
  --kubeconfig='$DIR/kubelet.kubeconfig' --hostname-override=$NODE_NAME --root-dir=/var/lib/kubelet \
  --cert-dir='$NODE/kubelet-certs'
daemon_wait kubelet '$RUN/kubelet.pid' '$LOGS/kubelet.log' $TIMEOUT probe_http 200 http://127.0.0.1:10248/healthz
# The node lives as long as both do: say which one ended, how, and its last lines.
status=0
wait -n -p ended || status=\$?
for name in containerd kubelet; do
  if [[ "\$(daemon_pid '$RUN/'\$name.pid)" == "\$ended" ]]; then
    say "\$name exited with status \$status; last lines of $LOGS/\$name.log:"
    daemon_log_tail '$LOGS/'\$name.log >&2
  fi
done
exit 1
EOF
  chmod +x "$NODE/node.sh"
}

# The sandbox ("pause") image: the kubelet pulls it without credentials, so it is imported into
# containerd from an OCI archive written here, holding the static pause binary built with the
# cluster's binaries.
write_pause_image() {
  local b="$1" work="$NODE/pause-image" layer config manifest
  [[ -s "$NODE/pause.tar" && "$NODE/pause.tar" -nt "$b/pause" ]] && return 0
  rm -rf "$work"
  mkdir -p "$work/rootfs" "$work/oci/blobs/sha256"
  install -m 0755 "$b/pause" "$work/rootfs/pause"
  tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C "$work/rootfs" -cf "$work/layer.tar" pause
  gzip -n -c "$work/layer.tar" >"$work/layer.tar.gz"
  sha() { sha256sum "$1" | cut -d' ' -f1; }
  layer="$(sha "$work/layer.tar.gz")"
  cp "$work/layer.tar.gz" "$work/oci/blobs/sha256/$layer"
  jq -cn --arg diff "sha256:$(sha "$work/layer.tar")" '{architecture:"amd64",os:"linux",
    config:{Entrypoint:["/pause"],User:"65535:65535"},rootfs:{type:"layers",diff_ids:[$diff]}}' >"$work/config.json"
  config="$(sha "$work/config.json")"
  cp "$work/config.json" "$work/oci/blobs/sha256/$config"
  jq -cn --arg c "sha256:$config" --argjson cs "$(stat -c %s "$work/config.json")" \
    --arg l "sha256:$layer" --argjson ls "$(stat -c %s "$work/layer.tar.gz")" '{schemaVersion:2,
    mediaType:"application/vnd.oci.image.manifest.v1+json",
    config:{mediaType:"application/vnd.oci.image.config.v1+json",digest:$c,size:$cs},
    layers:[{mediaType:"application/vnd.oci.image.layer.v1.tar+gzip",digest:$l,size:$ls}]}' >"$work/manifest.json"
  manifest="$(sha "$work/manifest.json")"
  cp "$work/manifest.json" "$work/oci/blobs/sha256/$manifest"
  echo '{"imageLayoutVersion":"1.0.0"}' >"$work/oci/oci-layout"
  jq -cn --arg m "sha256:$manifest" --argjson ms "$(stat -c %s "$work/manifest.json")" --arg n "$SANDBOX_IMAGE" \
    '{schemaVersion:2,manifests:[{mediaType:"application/vnd.oci.image.manifest.v1+json",digest:$m,size:$ms,
    platform:{architecture:"amd64",os:"linux"},annotations:{"io.containerd.image.name":$n,
    "org.opencontainers.image.ref.name":"1"}}]}' >"$work/oci/index.json"
  tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C "$work/oci" -cf "$NODE/pause.tar" .
  rm -rf "$work"
}

kubectl_admin() { "$CLUSTER_BIN/kubectl" --kubeconfig "$KUBECONFIG_FILE" "$@"; }
# Ready as reported by this start's kubelet: the Node object kept in etcd still says Ready from
# the last run until the node controller notices, so the kubelet must answer and have sent a
# heartbeat since the node started.
# Prints what is still missing (the readiness report's "last probe").
node_ready() {
  local answer ready
  answer="$(probe_http 200 http://127.0.0.1:10248/healthz)" || {
    echo "kubelet healthz: $answer"
    return 1
  }
  ready="$(kubectl_admin get node "$NODE_NAME" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status} {.status.conditions[?(@.type=="Ready")].lastHeartbeatTime}' 2>/dev/null)" || {
    echo "node $NODE_NAME is not registered yet"
    return 1
  }
  [[ "${ready%% *}" == True ]] || {
    echo "node $NODE_NAME Ready=${ready%% *}"
    return 1
  }
  (($(date -d "${ready#* }" +%s) >= ${NODE_STARTED:-0})) || {
    echo "node $NODE_NAME has no heartbeat from this start's kubelet yet"
    return 1
  }
}
default_service_account() { kubectl_admin -n default get serviceaccount default; }

start_node() {
  local b="$1" path
  [[ -x "$(command -v runc)" ]] || die "runc is missing: run 'bash scripts/toolchain.sh'"
  [[ -x /usr/lib/cni/bridge ]] || die "/usr/lib/cni/bridge is missing: run 'bash scripts/toolchain.sh' (Debian containernetworking-plugins)"
  daemon_alive "$RUN/node.pid" node.sh && return 0
  # A node that died leaves its processes' cgroups and bridge: clear them first.
  clean_node
  write_node_config
  write_pause_image "$b"
  write_node_script "$b"
  # The tmpfs mounts need their mount points; remember which ones start creates.
  for path in "${FIXED_PATHS[@]}"; do
    if [[ ! -d "$path" ]]; then
      mkdir -p "$path"
      echo "$path" >>"$DIR/created-paths"
    fi
  done
  NODE_STARTED="$(date +%s)"
  spawn node unshare --mount --propagation private "$NODE/node.sh"
  wait_for node "node (containerd + kubelet)" node_ready
  # Once the node runs, its pid is in the new mount namespace: stop finds the node's processes by it.
  readlink "/proc/$(daemon_pid "$RUN/node.pid")/ns/mnt" >"$RUN/node.mntns"
}

# ---------------------------------------------------------------- stop

# Processes in the node's mount namespace (containerd, shims, kubelet), in its cgroups (pods),
# and any left running from the cluster's binaries (a node whose entry script died early).
node_pids() {
  local ns pid comm exe bins
  ns="$(tr -dc 0-9 2>/dev/null <"$RUN/node.mntns" || true)"
  bins="$(dirname "$(readlink -f "$CLUSTER_BIN/containerd")")"
  while read -r pid stat mntns comm; do
    [[ "$stat" != Z* && "$stat" != X* ]] || continue
    if [[ -n "$ns" && "$mntns" == "$ns" ]]; then
      echo "$pid"
    elif [[ "$comm" == containerd* || "$comm" == kubelet ]]; then
      exe="$(readlink "/proc/$pid/exe" 2>/dev/null || true)"
      [[ "$exe" == "$bins"/* ]] && echo "$pid"
    fi
  done < <(ps -e -o pid=,stat=,mntns=,comm=)
  pod_cgroups | while read -r cg; do cat "$cg/cgroup.procs" 2>/dev/null; done |
    while read -r pid; do pid_running "$pid" && echo "$pid"; done
}

# The cgroups runc made for pods: one per container under each v1 hierarchy (and the unified one).
pod_cgroups() {
  find /sys/fs/cgroup -mindepth 1 -maxdepth 3 -type d \( -name 'k8s.io' -o -name 'kubepods*' \) 2>/dev/null |
    while read -r top; do find "$top" -depth -type d; done
}

clean_node() {
  local cg path
  for _ in 1 2 3 4 5; do
    while read -r cg; do rmdir "$cg" 2>/dev/null || true; done < <(pod_cgroups)
    [[ -z "$(pod_cgroups)" ]] && break
    sleep 0.2
  done
  if ip link show "$BRIDGE" >/dev/null 2>&1; then ip link delete "$BRIDGE" 2>/dev/null || true; fi
  if [[ -s "$DIR/created-paths" ]]; then
    while read -r path; do rmdir "$path" 2>/dev/null || true; done <"$DIR/created-paths"
    rm -f "$DIR/created-paths"
  fi
  rm -f "$RUN/node.mntns" "$RUN/kubelet.pid" "$RUN/containerd.pid" "$RUN/kubelet.inner.pid"
}

stop_node() {
  local pids kubelet deadline
  pids="$(node_pids | sort -u)"
  # The kubelet first, so that it restarts nothing while the rest goes.
  kubelet="$(daemon_pid "$RUN/kubelet.pid")"
  if [[ -n "$kubelet" ]]; then kill -TERM "$kubelet" 2>/dev/null || true; fi
  if [[ -n "$pids" ]]; then
    # shellcheck disable=SC2086 # a list of pids
    kill -TERM $pids 2>/dev/null || true
    deadline=$((SECONDS + 10))
    while [[ -n "$(node_pids)" ]] && ((SECONDS < deadline)); do sleep 0.1; done
    pids="$(node_pids | sort -u)"
    # shellcheck disable=SC2086
    [[ -z "$pids" ]] || kill -KILL $pids 2>/dev/null || true
    deadline=$((SECONDS + 10))
    while [[ -n "$(node_pids)" ]] && ((SECONDS < deadline)); do sleep 0.2; done
    say "node stopped"
  fi
  clean_node
  rm -f "$RUN/node.pid"
}

# stop_components <name...>: signals them all at once, then waits (10 s, then SIGKILL)
stop_components() {
  local name pid deadline
  local -a pids=() names=()
  for name in "$@"; do
    if pid_alive "$name"; then
      pid="$(daemon_pid "$RUN/$name.pid")"
      kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
      pids+=("$pid") names+=("$name")
    fi
    rm -f "$RUN/$name.pid"
  done
  deadline=$((SECONDS + 10))
  for pid in "${pids[@]}"; do
    while pid_running "$pid" && ((SECONDS < deadline)); do sleep 0.1; done
    kill -KILL -- "-$pid" 2>/dev/null || true
  done
  ((${#names[@]} == 0)) || say "stopped ${names[*]}"
}

# ---------------------------------------------------------------- commands

cmd_start() {
  local t0=$SECONDS
  mkdir -p "$DIR" "$LOGS" "$RUN"
  [[ -x "$CLUSTER_BIN/kube-apiserver" ]] ||
    die "no cluster binaries in '$CLUSTER_BIN': run 'bash scripts/toolchain.sh' (it builds them)"
  ensure_pki
  start_control_plane "$CLUSTER_BIN"
  start_node "$CLUSTER_BIN"
  wait_for kube-controller-manager "the default ServiceAccount" default_service_account
  say "ready in $((SECONDS - t0))s: $API (kubeconfig $KUBECONFIG_FILE), node $NODE_NAME Ready"
}

cmd_stop() {
  local t0=$SECONDS
  stop_node
  stop_components kube-scheduler kube-controller-manager kube-apiserver
  stop_components etcd
  say "stopped in $((SECONDS - t0))s"
}

cmd_status() {
  local rc=0 c
  for c in etcd kube-apiserver kube-controller-manager kube-scheduler; do
    if pid_alive "$c"; then
      printf '%-24s up    pid %s\n' "$c" "$(daemon_pid "$RUN/$c.pid")"
    else
      printf '%-24s down\n' "$c"
      rc=1
    fi
  done
  if daemon_alive "$RUN/node.pid" node.sh; then
    local ready
    ready="$(node_ready >/dev/null && echo Ready || echo NotReady)"
    printf '%-24s up    pid %s, node %s %s, kubeconfig %s\n' "node (containerd+kubelet)" \
      "$(daemon_pid "$RUN/node.pid")" "$NODE_NAME" "$ready" "$KUBECONFIG_FILE"
  else
    printf '%-24s down\n' "node (containerd+kubelet)"
    rc=1
  fi
  return "$rc"
}

# Everything runs from main, and the line that calls it also exits: bash reads a script as it runs
# it, so an edit (a git pull) during a 30-minute build must not be read after main returns.
main() {
  bin_dir >/dev/null
  case "${1:-}" in
    start) cmd_start ;;
    stop) cmd_stop ;;
    status) cmd_status ;;
    *)
      echo "usage: $0 start|stop|status" >&2
      exit 2
      ;;
  esac
}

main "$@"; exit
