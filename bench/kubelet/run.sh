#!/usr/bin/env bash
# bench/kubelet/run.sh: the upstream kubelet on containerd next to Slipway's
# node agent, measured on this machine (issue 11 part 4). See README.md.
#
#   sudo bench/kubelet/run.sh            # as root, from anywhere in the checkout
#
# Environment: PODS (pods timed per node, default 10), SETTLE (seconds
# before an RSS sample, default 15), SKIP_LINK=1 (skip the binary size
# probe, slipway linked with the kubelet: ~40 s with a warm build cache,
# minutes and ~3.5 GB cold), KBENCH_CACHE (where the kubelet, the helper
# and the probe are built, default /tmp/slipway-kbench-cache), KEEP=1 (keep
# the work dir with every log), RUNC (runc binary containerd runs).
#
# Part 1 runs `slipway server --api-only` (no node agent, no controllers)
# and registers the upstream kubelet (built from the module cache) on
# Debian's containerd as node "kbench". Part 2 runs the full `slipway
# server` with its own node agent as node "kbench-sw". Both time the node's
# start to Ready, PODS pods created one after another (create -> Running),
# and RSS idle and with the pods. Everything started is stopped on exit.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
SLIPWAY=$ROOT/bin/slipway
CACHE=${KBENCH_CACHE:-/tmp/slipway-kbench-cache}
PODS=${PODS:-10}
SETTLE=${SETTLE:-15}
KUBE_VERSION=v1.37.2
LDFLAGS="-X k8s.io/component-base/version.gitVersion=$KUBE_VERSION -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=37"
NODE=kbench
NODE_SW=kbench-sw
NODE_IP=10.250.0.1
DUMMY=slw0
CNI_BRIDGE=kbench0
CNI_SUBNET=10.251.0.0/24
KUBELET_PORT=10350
# Short: unix socket paths must fit in 108 bytes.
W=$(mktemp -d /tmp/kb.XXXXXX)
RESULTS=$W/results

log() { printf '%s kbench: %s\n' "$(date +%T)" "$*" >&2; }
result() { printf '%s=%s\n' "$1" "$2" | tee -a "$RESULTS"; }
die() { log "FAILED: $*"; exit 1; }
now_ns() { date +%s%N; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# rss_kb PID...: the sum of the processes' VmRSS in kB.
rss_kb() {
	local t=0 p v
	for p in "$@"; do
		v=$(awk '/^VmRSS:/ {print $2}' "/proc/$p/status" 2>/dev/null || true)
		t=$((t + ${v:-0}))
	done
	echo $t
}
mb() { awk -v k="$1" 'BEGIN {printf "%.0f", k/1024}'; }
descendants() { # every process below $1
	local c
	for c in $(pgrep -P "$1" || true); do echo "$c"; descendants "$c"; done
}
wait_ready() { # wait_ready LISTEN DATADIR PID: /readyz of a slipway server answers 200
	local i
	for i in $(seq 1 600); do
		kill -0 "$3" 2>/dev/null || die "slipway server on $1 exited (logs in the work dir; KEEP=1 keeps it)"
		if [ -f "$2/admin.token" ] &&
			curl -fsk -o /dev/null -H "Authorization: Bearer $(cat "$2/admin.token")" "https://$1/readyz"; then
			return 0
		fi
		sleep 0.2
	done
	die "slipway server on $1 not ready after 120s"
}

# ---- cleanup: only what this script started or created ----------------------
PIDS=() # stopped in reverse order
# kill_tasks kills and deletes the containers left in our containerd
# (the kubelet normally removes them) and notes their network namespaces.
kill_tasks() {
	local a="$W/containerd/containerd.sock" t
	[ -S "$a" ] || return 0
	for t in $(ctr -a "$a" -n k8s.io tasks ls -q 2>/dev/null); do
		# The sandbox's network namespace, which only the CRI's StopPodSandbox removes.
		ctr -a "$a" -n k8s.io containers info "$t" 2>/dev/null | grep -o '/var/run/netns/cni-[0-9a-f-]*' >>"$W/netns"
		ctr -a "$a" -n k8s.io tasks kill -s SIGKILL "$t" >/dev/null 2>&1
	done
	sleep 1
	for t in $(ctr -a "$a" -n k8s.io tasks ls -q 2>/dev/null); do
		ctr -a "$a" -n k8s.io tasks delete -f "$t" >/dev/null 2>&1
	done
	return 0
}
CREATED_DUMMY=
SYSCTLS_SAVED=
IPT_BEFORE=
cleanup() {
	local rc=$? i p
	set +e
	log "cleaning up"
	if [ -S "$W/containerd/containerd.sock" ] && [ -n "${KUBECONFIG_ADMIN:-}" ] && [ -n "${KUBELET_PID:-}" ] && kill -0 "$KUBELET_PID" 2>/dev/null; then
		# Let the kubelet tear the pods down (CNI DEL, netns, mounts).
		timeout 90 "$KBENCH" delete-pods -kubeconfig "$KUBECONFIG_ADMIN" -namespace kbench >/dev/null 2>&1
	fi
	for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
		p=${PIDS[i]}
		kill -0 "$p" 2>/dev/null || continue
		kill -INT "$p" 2>/dev/null
		for _ in $(seq 1 300); do kill -0 "$p" 2>/dev/null || break; sleep 0.2; done
		kill -0 "$p" 2>/dev/null && kill -KILL "$p" 2>/dev/null
		# Stopping containerd below: first remove what is left of the kubelet's pods.
		[ "$p" = "${KUBELET_PID:-}" ] && kill_tasks
	done
	# Shims of our containerd that outlived it.
	for p in $(pgrep -f "containerd-shim-runc-v2 .*-address $W/" || true); do kill -KILL "$p" 2>/dev/null; done
	# Mounts under the work dir (rootfs, kubelet volumes), deepest first.
	awk -v w="$W/" 'index($2, w) == 1 {print $2}' /proc/mounts | sort -r | while read -r m; do umount -l "$m"; done
	# Network namespaces containerd made for our pods.
	for n in $(sort -u "$W/netns" 2>/dev/null); do ip netns delete "$(basename "$n")" 2>/dev/null; done
	ip link show "$CNI_BRIDGE" >/dev/null 2>&1 && ip link delete "$CNI_BRIDGE"
	[ -n "$CREATED_DUMMY" ] && ip link delete "$DUMMY"
	# The kubelet's QoS cgroups (cgroup v1, cgroupfs driver), if it made them.
	if [ -f "$W/kubepods-created" ]; then
		for c in /sys/fs/cgroup/*/kubepods; do
			[ -d "$c" ] && find "$c" -depth -type d -exec rmdir {} \; 2>/dev/null
		done
	fi
	# The kubelet sets vm.overcommit_memory, kernel.panic and kernel.panic_on_oops.
	if [ -n "$SYSCTLS_SAVED" ]; then
		while read -r k v; do sysctl -qw "$k=$v"; done <"$W/sysctls"
	fi
	# The kubelet's iptables chains (KUBE-FIREWALL, the hint and canary chains).
	if [ -n "$IPT_BEFORE" ] && [ "$IPT_BEFORE" = absent ]; then
		for ipt in iptables ip6tables; do
			$ipt -D INPUT -j KUBE-FIREWALL 2>/dev/null
			$ipt -D OUTPUT -j KUBE-FIREWALL 2>/dev/null
			$ipt -F KUBE-FIREWALL 2>/dev/null
			$ipt -X KUBE-FIREWALL 2>/dev/null
			for tbl in mangle nat filter; do $ipt -t $tbl -X KUBE-KUBELET-CANARY 2>/dev/null; done
			$ipt -t mangle -X KUBE-IPTABLES-HINT 2>/dev/null
		done
	fi
	rm -f /var/log/containers/*_kbench_*.log
	if [ -f "$CACHE/.no-run-containerd" ] && ! pgrep -x containerd >/dev/null; then rm -rf /run/containerd; fi
	rm -f "$CACHE/.no-run-containerd"
	rm -rf "$ROOT/bench/kubelet/.linkprobe"
	if [ "${KEEP:-}" = 1 ]; then log "kept $W"; else rm -rf "$W"; fi
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- requirements ------------------------------------------------------------
[ "$(id -u)" = 0 ] || die "run as root (containerd, runc, the kubelet, Slipway's node)"
[ -x "$SLIPWAY" ] || die "$SLIPWAY is missing: make build"
if ! command -v containerd >/dev/null; then
	log "installing Debian's containerd"
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq containerd >/dev/null
fi
for b in containerd ctr containerd-shim-runc-v2 runc busybox openssl curl python3 go iptables kubectl; do
	command -v $b >/dev/null || die "$b is not installed"
done
[ -x /usr/lib/cni/bridge ] || die "CNI plugins missing: apt-get install containernetworking-plugins"
if [ -n "$(find "$ROOT" -name '*.go' -newer "$SLIPWAY" -not -path "$ROOT/bench/*" -print -quit)" ]; then
	log "warning: Go files are newer than bin/slipway (make build); measuring the binary as it is"
fi
for c in /sys/fs/cgroup/memory/kubepods /sys/fs/cgroup/kubepods; do
	[ -d "$c" ] && die "$c exists: another kubelet runs here"
done
mkdir -p "$CACHE"
# containerd 1.6 keeps shim sockets under /run/containerd/s whatever its state dir.
[ -e /run/containerd ] || touch "$CACHE/.no-run-containerd"

# ---- machine -----------------------------------------------------------------
result machine_nproc "$(nproc)"
result machine_kernel "$(uname -r)"
if [ -f /sys/fs/cgroup/cgroup.controllers ]; then CG=v2; else CG="v1 (hybrid: $(stat -fc %T /sys/fs/cgroup) with cgroup2 at /sys/fs/cgroup/unified)"; fi
result machine_cgroup "$CG"
if (( (0x$(awk '/^CapBnd/ {print $2}' /proc/self/status) >> 24) & 1 )); then result machine_cap_sys_resource yes; else result machine_cap_sys_resource "no (dropped from the bounding set)"; fi
result machine_mem_mb "$(awk '/MemTotal/ {printf "%d", $2/1024}' /proc/meminfo)"
result containerd_version "$(containerd --version | awk '{print $3}')"
result containerd_binaries_mb "$(mb $(( ($(stat -c %s "$(command -v containerd)") + $(stat -c %s "$(command -v containerd-shim-runc-v2)")) / 1024 )) ) (containerd + containerd-shim-runc-v2)"
result runc_version "$(runc --version | head -1 | awk '{print $3}')"

# ---- build: the kubelet, the helper, the link probe --------------------------
# k8s.io/kubernetes/pkg/kubelet/server imports otelrestful, a module
# Slipway's go.sum lacks (nothing in slipway imports that package): build
# with a copy of go.mod/go.sum that adds it (-modfile), the rest of the
# module graph unchanged.
MODDIR=$CACHE/mod
mkdir -p "$MODDIR"
cp "$ROOT/go.mod" "$ROOT/go.sum" "$MODDIR/"
(cd "$ROOT" && GONOSUMDB='github.com/openshift/*' GOFLAGS=-mod=mod go get -modfile="$MODDIR/go.mod" \
	k8s.io/kubernetes/pkg/kubelet/server@$KUBE_VERSION >/dev/null 2>&1) ||
	die "go get -modfile: the otelrestful module could not be added"
result build_extra_modules "$(diff <(grep -v '^\s*//' "$ROOT/go.mod") <(grep -v '^\s*//' "$MODDIR/go.mod") | grep '^>' | awk '{print $2"@"$3}' | paste -sd, -)"
log "building the kubelet"
t0=$(now_ns)
(cd "$ROOT" && go build -modfile="$MODDIR/go.mod" -ldflags "$LDFLAGS" -o "$CACHE/kubelet" k8s.io/kubernetes/cmd/kubelet) ||
	die "go build k8s.io/kubernetes/cmd/kubelet"
result kubelet_build_s "$(awk -v a="$t0" -v b="$(now_ns)" 'BEGIN {printf "%.1f", (b-a)/1e9}') (warm build cache)"
result kubelet_binary_mb "$(mb $(($(stat -c %s "$CACHE/kubelet") / 1024)))"
KUBELET=$CACHE/kubelet
KBENCH=$CACHE/kbench
(cd "$ROOT" && go build -o "$KBENCH" ./bench/kubelet/kbench) || die "go build ./bench/kubelet/kbench"
result slipway_binary_mb "$(mb $(($(stat -c %s "$SLIPWAY") / 1024)))"
if [ "${SKIP_LINK:-}" != 1 ]; then
	# slipway's main with the kubelet's app package linked in: the size
	# `slipway kubelet` would add. A dot directory: ./... skips it.
	log "linking slipway with k8s.io/kubernetes/cmd/kubelet/app"
	PROBE=$ROOT/bench/kubelet/.linkprobe
	mkdir -p "$PROBE"
	# `slipway kubelet`: the kubelet's command as one more pod verb (a blank
	# import would let the linker drop everything but its init()s).
	sed -e 's#^import (#import (\n\t"context"\n\tkubeletapp "k8s.io/kubernetes/cmd/kubelet/app"#' \
		-e 's#^\t"builder": .*#&\n\t"kubelet": func() *cobra.Command { return kubeletapp.NewKubeletCommand(context.Background()) },#' \
		"$ROOT/cmd/slipway/main.go" >"$PROBE/main.go"
	grep -q NewKubeletCommand "$PROBE/main.go" || die "cmd/slipway/main.go changed shape: the link probe could not add the kubelet verb"
	t0=$(now_ns)
	if (cd "$ROOT" && go build -modfile="$MODDIR/go.mod" -ldflags "$LDFLAGS" -o "$CACHE/slipway-with-kubelet" ./bench/kubelet/.linkprobe); then
		result link_probe_s "$(awk -v a="$t0" -v b="$(now_ns)" 'BEGIN {printf "%.0f", (b-a)/1e9}')"
		result slipway_with_kubelet_mb "$(mb $(($(stat -c %s "$CACHE/slipway-with-kubelet") / 1024)))"
		result slipway_kubelet_growth_mb "$(mb $((($(stat -c %s "$CACHE/slipway-with-kubelet") - $(stat -c %s "$SLIPWAY")) / 1024)))"
		# Both sets of init()s in one process: does it still start?
		if "$CACHE/slipway-with-kubelet" kubelet --version >"$W/probe.out" 2>"$W/probe.err"; then
			result slipway_with_kubelet_starts "ok: slipway kubelet --version: $(cat "$W/probe.out")"
		else
			result slipway_with_kubelet_starts "failed: $(head -c 300 "$W/probe.err")"
		fi
	else
		result slipway_with_kubelet_mb "link failed"
	fi
	rm -rf "$PROBE"
fi

# =============================================================================
# Part 1: the upstream kubelet on containerd, on `slipway server --api-only`
# =============================================================================
log "part 1: upstream kubelet on containerd"
# A non-loopback node IP of the kubelet's own (it listens there, not on eth0).
if ! ip -4 addr show dev "$DUMMY" 2>/dev/null | grep -q "$NODE_IP/"; then
	# No dummy driver in some kernels ("Unknown device type"): an empty
	# bridge holds a local address as well.
	if ip link add "$DUMMY" type dummy 2>/dev/null; then
		result node_ip_interface "dummy $DUMMY"
	else
		ip link add "$DUMMY" type bridge
		result node_ip_interface "bridge $DUMMY without ports (ip link add type dummy: Unknown device type)"
	fi
	CREATED_DUMMY=1
	ip addr add "$NODE_IP/32" dev "$DUMMY"
	ip link set "$DUMMY" up
fi
for k in vm.overcommit_memory kernel.panic kernel.panic_on_oops; do echo "$k $(sysctl -n $k)"; done >"$W/sysctls"
SYSCTLS_SAVED=1
if iptables -S KUBE-FIREWALL >/dev/null 2>&1; then IPT_BEFORE=present; else IPT_BEFORE=absent; fi

# The control plane without Slipway's node: --node-name makes it issue the
# node's client certificate (system:node:kbench in system:nodes).
API=$W/api
API_LISTEN=127.0.0.1:$(free_port)
t_api=$(now_ns)
"$SLIPWAY" server --api-only --data-dir "$API" --listen "$API_LISTEN" --service-cidr 10.104.0.0/24 \
	--registry-listen "127.0.0.1:$(free_port)" --node-name "$NODE" >"$W/api.log" 2>&1 &
API_PID=$!
PIDS+=("$API_PID")
wait_ready "$API_LISTEN" "$API" "$API_PID"
result apionly_ready_s "$(awk -v a="$t_api" -v b="$(now_ns)" 'BEGIN {printf "%.2f", (b-a)/1e9}')"
KUBECONFIG_ADMIN=$API/admin.kubeconfig
NODE_KUBECONFIG=$API/controlplane/system:node:$NODE.kubeconfig
[ -f "$NODE_KUBECONFIG" ] || die "no node kubeconfig at $NODE_KUBECONFIG: $(ls "$API/controlplane")"

# The kubelet's serving certificate, from Slipway's CA: the kube-apiserver
# checks it (--kubelet-certificate-authority) for logs, exec, port-forward.
mkdir -p "$W/pki"
openssl req -new -newkey rsa:2048 -nodes -keyout "$W/pki/kubelet.key" -subj "/CN=system:node:$NODE/O=system:nodes" \
	-out "$W/pki/kubelet.csr" 2>/dev/null
printf 'subjectAltName=IP:%s,DNS:%s\nextendedKeyUsage=serverAuth\nkeyUsage=critical,digitalSignature,keyEncipherment\n' "$NODE_IP" "$NODE" >"$W/pki/ext"
openssl x509 -req -in "$W/pki/kubelet.csr" -CA "$API/ca.crt" -CAkey "$API/ca.key" -CAcreateserial -days 2 \
	-extfile "$W/pki/ext" -out "$W/pki/kubelet.crt" 2>/dev/null || die "signing the kubelet's serving certificate"

# containerd 1.6 from Debian, its own root, state and socket; CRI with a
# local pause image and a bridge CNI network of its own.
CD=$W/containerd
SOCK=$CD/containerd.sock
mkdir -p "$CD/root" "$CD/state" "$CD/opt" "$W/cni/net.d"
cat >"$W/cni/net.d/10-kbench.conflist" <<EOF
{
  "cniVersion": "0.4.0",
  "name": "kbench",
  "plugins": [
    {"type": "bridge", "bridge": "$CNI_BRIDGE", "isGateway": true, "ipMasq": false, "hairpinMode": true,
     "ipam": {"type": "host-local", "dataDir": "$W/cni/ipam", "ranges": [[{"subnet": "$CNI_SUBNET"}]], "routes": [{"dst": "0.0.0.0/0"}]}},
    {"type": "portmap", "capabilities": {"portMappings": true}}
  ]
}
EOF
cat >"$CD/config.toml" <<EOF
version = 2
root = "$CD/root"
state = "$CD/state"
[grpc]
  address = "$SOCK"
[plugins."io.containerd.internal.v1.opt"]
  path = "$CD/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "localhost/kbench/pause:1"
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  # This machine drops CAP_SYS_RESOURCE from every process (CapBnd lacks
  # bit 24): the sandbox's oom_score_adj -998 fails in runc ("nsexec:
  # failed to update /proc/self/oom_score_adj: Permission denied", seen as
  # "can't get final child's PID from pipe: EOF"). Keep scores >= ours.
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        BinaryName = "${RUNC:-$(command -v runc)}"
        SystemdCgroup = false
        Root = "$CD/runc"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$W/cni/net.d"
EOF
t_cd=$(now_ns)
containerd --config "$CD/config.toml" >"$W/containerd.log" 2>&1 &
CONTAINERD_PID=$!
PIDS+=("$CONTAINERD_PID")
for _ in $(seq 1 300); do ctr -a "$SOCK" version >/dev/null 2>&1 && break; sleep 0.1; done
ctr -a "$SOCK" version >/dev/null 2>&1 || die "containerd did not start: $(tail -5 "$W/containerd.log")"
result containerd_start_s "$(awk -v a="$t_cd" -v b="$(now_ns)" 'BEGIN {printf "%.2f", (b-a)/1e9}')"

# The images: busybox and the pause image (busybox's sleep), both from
# Debian's static busybox, imported into containerd's k8s.io namespace.
"$KBENCH" images -out "$W/images.tar" -busybox localhost/kbench/busybox:1 -pause localhost/kbench/pause:1
ctr -a "$SOCK" -n k8s.io images import "$W/images.tar" >/dev/null || die "ctr images import"
# Pinned, as containerd pins its sandbox image when it pulls it: the
# kubelet's image GC keeps it.
ctr -a "$SOCK" -n k8s.io images label localhost/kbench/pause:1 io.cri-containerd.pinned=pinned >/dev/null

mkdir -p "$W/kubelet" "$W/podlogs"
cat >"$W/kubelet.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
failCgroupV1: false
cgroupDriver: cgroupfs
address: $NODE_IP
port: $KUBELET_PORT
readOnlyPort: 0
healthzPort: 0
tlsCertFile: $W/pki/kubelet.crt
tlsPrivateKeyFile: $W/pki/kubelet.key
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: $API/ca.crt}
authorization:
  mode: Webhook
podLogsDir: $W/podlogs
containerRuntimeEndpoint: unix://$SOCK
resolvConf: /etc/resolv.conf
serializeImagePulls: false
nodeStatusReportFrequency: 10s
EOF
[ -d /sys/fs/cgroup/memory/kubepods ] || touch "$W/kubepods-created"
t_kl=$(now_ns)
"$KUBELET" --config "$W/kubelet.yaml" --kubeconfig "$NODE_KUBECONFIG" --root-dir "$W/kubelet" \
	--hostname-override "$NODE" --node-ip "$NODE_IP" --v=1 >"$W/kubelet.log" 2>&1 &
KUBELET_PID=$!
PIDS+=("$KUBELET_PID")
if ! "$KBENCH" wait-node -kubeconfig "$KUBECONFIG_ADMIN" -node "$NODE" -start "$t_kl" >"$W/node.out"; then
	tail -30 "$W/kubelet.log" >&2
	die "the kubelet's node did not become Ready"
fi
sed 's/^/kubelet_/' "$W/node.out" | tee -a "$RESULTS"
result kubelet_plus_containerd_ready_s "$(awk -v a="$t_cd" -v b="$(awk -F= '/node_ready_s/ {print $2}' "$W/node.out")" -v c="$t_kl" 'BEGIN {printf "%.2f", (c-a)/1e9 + b}')"

shims() { pgrep -f "containerd-shim-runc-v2 .*-address $SOCK" || true; }
sample_kubelet() { # sample_kubelet LABEL
	local shimpids contpids
	shimpids=$(shims)
	contpids=$(for s in $shimpids; do descendants "$s"; done)
	result "kubelet_rss_mb_$1" "$(mb "$(rss_kb "$KUBELET_PID")")"
	result "containerd_rss_mb_$1" "$(mb "$(rss_kb "$CONTAINERD_PID")")"
	result "shims_$1" "$(echo $shimpids | wc -w)"
	result "shims_rss_mb_$1" "$(mb "$(rss_kb $shimpids)")"
	result "pod_processes_rss_mb_$1" "$(mb "$(rss_kb $contpids)") ($(echo $contpids | wc -w) processes: pause + container)"
	result "kubelet_containerd_shims_rss_mb_$1" "$(mb "$(rss_kb "$KUBELET_PID" "$CONTAINERD_PID" $shimpids)")"
	result "apionly_server_rss_mb_$1" "$(mb "$(rss_kb "$API_PID")")"
}
sleep "$SETTLE"
sample_kubelet idle

log "timing $PODS pods on the kubelet"
"$KBENCH" pods -kubeconfig "$KUBECONFIG_ADMIN" -node "$NODE" -namespace kbench -image localhost/kbench/busybox:1 -count "$PODS" \
	>"$W/pods.out" || { tail -30 "$W/kubelet.log" >&2; die "pods on the kubelet"; }
sed 's/^/kubelet_/' "$W/pods.out" | tee -a "$RESULTS"
sleep "$SETTLE"
sample_kubelet "${PODS}pods"

# The kubelet API through the kube-apiserver.
if kubectl --kubeconfig "$KUBECONFIG_ADMIN" -n kbench exec p01 -- echo exec-ok 2>"$W/exec.err" | grep -q exec-ok; then
	result kubelet_exec_via_apiserver ok
else
	result kubelet_exec_via_apiserver "failed: $(head -c 300 "$W/exec.err")"
fi
if kubectl --kubeconfig "$KUBECONFIG_ADMIN" -n kbench logs p01 >/dev/null 2>"$W/logs.err"; then
	result kubelet_logs_via_apiserver ok
else
	result kubelet_logs_via_apiserver "failed: $(head -c 300 "$W/logs.err")"
fi

# cAdvisor's figures through the kubelet API (kubectl top, metrics-server, HPA use them).
if kubectl --kubeconfig "$KUBECONFIG_ADMIN" get --raw "/api/v1/nodes/$NODE/proxy/stats/summary" >"$W/summary.json" 2>"$W/summary.err"; then
	result kubelet_stats_summary "$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); p=[x for x in d.get("pods",[]) if x["podRef"]["namespace"]=="kbench"]; print("ok: %d kbench pods, %d with memory.workingSetBytes; node memory.workingSetBytes %s" % (len(p), sum(1 for x in p if (x.get("memory") or {}).get("workingSetBytes")), (d["node"].get("memory") or {}).get("workingSetBytes")))' "$W/summary.json")"
else
	result kubelet_stats_summary "failed: $(head -c 300 "$W/summary.err")"
fi

log "stopping part 1"
"$KBENCH" delete-pods -kubeconfig "$KUBECONFIG_ADMIN" -namespace kbench || log "warning: pods not deleted"
# Kill the kubelet, containerd and the control plane now (cleanup does the rest).
for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
	p=${PIDS[i]}
	if [ "$p" = "$KUBELET_PID" ]; then
		kill -INT "$p"; wait "$p" 2>/dev/null || true
		left=$(ctr -a "$SOCK" -n k8s.io tasks ls -q 2>/dev/null | wc -l)
		[ "$left" = 0 ] || log "warning: $left containers left after the kubelet deleted the pods; killing them"
		kill_tasks
	else
		kill -INT "$p"; wait "$p" 2>/dev/null || true
	fi
done
PIDS=()
unset KUBELET_PID

# =============================================================================
# Part 2: Slipway's node agent (the full `slipway server`)
# =============================================================================
log "part 2: Slipway's node agent"
SW=$W/sw
SW_LISTEN=127.0.0.1:$(free_port)
SW_REG=127.0.0.1:$(free_port)
t_sw=$(now_ns)
"$SLIPWAY" server --data-dir "$SW" --listen "$SW_LISTEN" --registry-listen "$SW_REG" --service-cidr 10.105.0.0/24 \
	--node-name "$NODE_SW" >"$W/sw.log" 2>&1 &
SW_PID=$!
PIDS+=("$SW_PID")
for _ in $(seq 1 600); do [ -f "$SW/admin.kubeconfig" ] && break; kill -0 "$SW_PID" || die "slipway server exited: $(tail -20 "$W/sw.log")"; sleep 0.1; done
"$KBENCH" wait-node -kubeconfig "$SW/admin.kubeconfig" -node "$NODE_SW" -start "$t_sw" >"$W/swnode.out" ||
	{ tail -30 "$W/sw.log" >&2; die "Slipway's node did not become Ready"; }
sed 's/^/slipway_/' "$W/swnode.out" | tee -a "$RESULTS"
wait_ready "$SW_LISTEN" "$SW" "$SW_PID"
result slipway_readyz_s "$(awk -v a="$t_sw" -v b="$(now_ns)" 'BEGIN {printf "%.2f", (b-a)/1e9}')"

sample_slipway() { # sample_slipway LABEL
	local kids k c bk="" standby="" runcs="" podprocs=""
	kids=$(descendants "$SW_PID")
	for k in $kids; do
		c=$(cat /proc/$k/comm 2>/dev/null || true)
		case "$c" in
		buildkitd) bk="$bk $k" ;;
		# The next build pod's process, started ahead (the build fast path).
		slipway) standby="$standby $k" ;;
		# `runc run` in the foreground, one per container.
		runc) runcs="$runcs $k" ;;
		*) podprocs="$podprocs $k" ;;
		esac
	done
	result "slipway_server_rss_mb_$1" "$(mb "$(rss_kb "$SW_PID")")"
	result "slipway_runc_rss_mb_$1" "$(mb "$(rss_kb $runcs)") ($(echo $runcs | wc -w) runc processes)"
	result "slipway_pod_processes_rss_mb_$1" "$(mb "$(rss_kb $podprocs)") ($(echo $podprocs | wc -w) processes)"
	result "slipway_standby_builder_rss_mb_$1" "$(mb "$(rss_kb $standby)")"
	result "slipway_buildkitd_rss_mb_$1" "$(mb "$(rss_kb $bk)")"
	result "slipway_server_plus_runc_rss_mb_$1" "$(mb "$(rss_kb "$SW_PID" $runcs)")"
}
sleep "$SETTLE"
sample_slipway idle

# The same busybox image, pushed to Slipway's registry (the admin token is
# the password); the pods pull it from there (loopback).
SWK=$W/sw-home
mkdir -p "$SWK"
cp "$SW/admin.kubeconfig" "$SWK/kubeconfig"
KUBECONFIG="$SWK/kubeconfig" HOME="$SWK" "$SLIPWAY" new-project kbench >/dev/null || die "new-project kbench"
"$KBENCH" push -ref "$SW_REG/kbench/busybox:1" -password "$(cat "$SW/admin.token")" || die "push to Slipway's registry"
log "timing $PODS pods on Slipway's node"
"$KBENCH" pods -kubeconfig "$SW/admin.kubeconfig" -node "$NODE_SW" -namespace kbench -image "$SW_REG/kbench/busybox:1" -count "$PODS" \
	>"$W/swpods.out" || { tail -30 "$W/sw.log" >&2; die "pods on Slipway's node"; }
sed 's/^/slipway_/' "$W/swpods.out" | tee -a "$RESULTS"
sleep "$SETTLE"
sample_slipway "${PODS}pods"
"$KBENCH" delete-pods -kubeconfig "$SW/admin.kubeconfig" -namespace kbench || log "warning: pods not deleted"

log "done; results:"
cat "$RESULTS"
