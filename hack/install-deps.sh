#!/usr/bin/env bash
# Installs the Debian packages Slipway needs on a fresh machine, once.
# git: builds clone with it; etcd-server: the external etcd the tests use.
set -euo pipefail
need=()
command -v git >/dev/null || need+=(git)
command -v etcd >/dev/null || need+=(etcd-server)
command -v runc >/dev/null || need+=(runc)
command -v docker-registry >/dev/null || need+=(docker-registry)
command -v htpasswd >/dev/null || need+=(apache2-utils)
command -v busybox >/dev/null || need+=(busybox-static)
# The node agent's pod networks: CNI plugins (bridge, host-local, portmap,
# loopback), iptables for masquerading and host ports, ip for namespaces.
[ -x /usr/lib/cni/bridge ] || need+=(containernetworking-plugins)
command -v iptables >/dev/null || need+=(iptables)
command -v ip >/dev/null || need+=(iproute2)
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "missing packages: ${need[*]} (run as root, or: sudo apt-get install ${need[*]})" >&2
  exit 1
fi
echo "installing ${need[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
# Debian starts the packaged etcd as a service where systemd runs; Slipway's
# tests start their own on free ports.
if command -v systemctl >/dev/null && systemctl is-active --quiet etcd 2>/dev/null; then
  systemctl stop etcd || true
fi
