// Package cni gives pods their network: a named network namespace per pod
// (iproute2's `ip netns`, so it outlives the agent and can be found and
// removed by the next one), attached with the CNI plugins of Debian's
// containernetworking-plugins through libcni: loopback, a bridge with
// host-local IPAM and IP masquerading, and portmap for hostPorts.
package cni

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/containernetworking/cni/libcni"
	types100 "github.com/containernetworking/cni/pkg/types/100"
)

// DefaultSubnet is the pod network's default: the first /16 of OpenShift's
// default cluster network (10.128.0.0/14). Podman's default, 10.88.0.0/16,
// is often taken on machines that have it.
const DefaultSubnet = "10.128.0.0/16"

// DefaultPluginDirs is where Debian installs the CNI plugins.
var DefaultPluginDirs = []string{"/usr/lib/cni", "/opt/cni/bin"}

// Config describes the pod network.
type Config struct {
	// Name is the CNI network name (host-local keeps its allocations
	// under /var/lib/cni/networks/<Name>, shared by every agent on the
	// machine); default "slipway".
	Name string
	// Bridge is the Linux bridge; default "slipway0".
	Bridge string
	// Subnet is the pods' IPv4 subnet; default DefaultSubnet.
	Subnet string
	// PluginDirs hold the plugin binaries; default DefaultPluginDirs.
	PluginDirs []string
	// CacheDir is libcni's result cache; default /var/lib/cni.
	CacheDir string
}

// Network attaches network namespaces to the pod network.
type Network struct {
	cni      *libcni.CNIConfig
	list     *libcni.NetworkConfigList
	loopback *libcni.NetworkConfigList
}

// PortMapping is a container port published on the host (hostPort).
type PortMapping struct {
	HostPort      int32  `json:"hostPort"`
	ContainerPort int32  `json:"containerPort"`
	Protocol      string `json:"protocol"`
	HostIP        string `json:"hostIP,omitempty"`
}

// Attachment is one pod's place in the network; it is what Del needs, so
// the agent persists it.
type Attachment struct {
	// ID is the CNI container ID (the pod UID).
	ID string `json:"id"`
	// NetNS is the namespace's path (/run/netns/<name>).
	NetNS string `json:"netns"`
	// Ports are the pod's host ports.
	Ports []PortMapping `json:"ports,omitempty"`
}

// New checks the plugins are installed and returns the network.
func New(cfg Config) (*Network, error) {
	if cfg.Name == "" {
		cfg.Name = "slipway"
	}
	if cfg.Bridge == "" {
		cfg.Bridge = "slipway0"
	}
	if cfg.Subnet == "" {
		cfg.Subnet = DefaultSubnet
	}
	if len(cfg.PluginDirs) == 0 {
		cfg.PluginDirs = DefaultPluginDirs
	}
	_, subnet, err := net.ParseCIDR(cfg.Subnet)
	if err != nil {
		return nil, fmt.Errorf("pod network subnet: %w", err)
	}
	if err := checkOverlap(subnet, cfg.Bridge); err != nil {
		return nil, err
	}
	conf := map[string]any{
		"cniVersion": "1.0.0",
		"name":       cfg.Name,
		"plugins": []any{
			map[string]any{
				"type": "bridge", "bridge": cfg.Bridge, "isGateway": true, "ipMasq": true, "hairpinMode": true,
				"ipam": map[string]any{
					"type":   "host-local",
					"ranges": [][]map[string]string{{{"subnet": cfg.Subnet}}},
					"routes": []map[string]string{{"dst": "0.0.0.0/0"}},
				},
			},
			map[string]any{"type": "portmap", "capabilities": map[string]bool{"portMappings": true}, "snat": true},
		},
	}
	b, err := json.Marshal(conf)
	if err != nil {
		return nil, err
	}
	list, err := libcni.NetworkConfFromBytes(b)
	if err != nil {
		return nil, fmt.Errorf("pod network configuration: %w", err)
	}
	lo, err := libcni.NetworkConfFromBytes([]byte(`{"cniVersion":"1.0.0","name":"` + cfg.Name + `-lo","plugins":[{"type":"loopback"}]}`))
	if err != nil {
		return nil, fmt.Errorf("loopback configuration: %w", err)
	}
	c := libcni.NewCNIConfigWithCacheDir(cfg.PluginDirs, cfg.CacheDir, nil)
	for _, plugin := range []string{"bridge", "host-local", "portmap", "loopback"} {
		if _, err := (finder{c}).ensureFind(plugin); err != nil {
			return nil, err
		}
	}
	return &Network{cni: c, list: list, loopback: lo}, nil
}

// finder wraps CNIConfig to check plugins are there before the first pod.
type finder struct{ *libcni.CNIConfig }

func (c finder) ensureFind(plugin string) (string, error) {
	for _, dir := range c.Path {
		p := filepath.Join(dir, plugin)
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p, nil
		}
	}
	return "", fmt.Errorf("CNI plugin %q not found in %s (apt-get install containernetworking-plugins)", plugin, strings.Join(c.Path, ":"))
}

func (n *Network) runtimeConf(att Attachment, ifName string) *libcni.RuntimeConf {
	rt := &libcni.RuntimeConf{ContainerID: att.ID, NetNS: att.NetNS, IfName: ifName}
	if ifName != "lo" {
		ports := make([]map[string]any, 0, len(att.Ports))
		for _, p := range att.Ports {
			m := map[string]any{"hostPort": p.HostPort, "containerPort": p.ContainerPort, "protocol": strings.ToLower(p.Protocol)}
			if p.HostIP != "" {
				m["hostIP"] = p.HostIP
			}
			ports = append(ports, m)
		}
		rt.CapabilityArgs = map[string]any{"portMappings": ports}
	}
	return rt
}

// Add attaches the namespace (loopback up, eth0 on the bridge, host ports)
// and returns the pod's IP.
func (n *Network) Add(ctx context.Context, att Attachment) (net.IP, error) {
	if _, err := n.cni.AddNetworkList(ctx, n.loopback, n.runtimeConf(att, "lo")); err != nil {
		return nil, fmt.Errorf("bringing up loopback: %w", err)
	}
	res, err := n.cni.AddNetworkList(ctx, n.list, n.runtimeConf(att, "eth0"))
	if err != nil {
		return nil, fmt.Errorf("attaching to the pod network: %w", err)
	}
	r, err := types100.NewResultFromResult(res)
	if err != nil {
		return nil, fmt.Errorf("reading the CNI result: %w", err)
	}
	for _, ip := range r.IPs {
		if ip.Address.IP.To4() != nil {
			return ip.Address.IP, nil
		}
	}
	return nil, errors.New("the pod network gave no IPv4 address")
}

// Del detaches the namespace and frees its address and host ports; it
// works when the namespace is already gone, so cleanup after a crash frees
// the IP and the iptables rules.
func (n *Network) Del(ctx context.Context, att Attachment) error {
	if _, err := os.Stat(att.NetNS); err != nil {
		att.NetNS = ""
	}
	err := n.cni.DelNetworkList(ctx, n.list, n.runtimeConf(att, "eth0"))
	if att.NetNS != "" {
		err = errors.Join(err, n.cni.DelNetworkList(ctx, n.loopback, n.runtimeConf(att, "lo")))
	}
	if err != nil {
		return fmt.Errorf("detaching %s from the pod network: %w", att.ID, err)
	}
	return nil
}

// NetNSPath is where `ip netns` keeps the namespace name.
func NetNSPath(name string) string { return filepath.Join("/run/netns", name) }

// CreateNetNS creates the named network namespace and returns its path.
func CreateNetNS(name string) (string, error) {
	if out, err := exec.Command("ip", "netns", "add", name).CombinedOutput(); err != nil {
		return "", fmt.Errorf("creating network namespace %s: %v: %s", name, err, strings.TrimSpace(string(out)))
	}
	return NetNSPath(name), nil
}

// DeleteNetNS removes the named network namespace; a missing one is not an
// error.
func DeleteNetNS(name string) error {
	if _, err := os.Stat(NetNSPath(name)); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if out, err := exec.Command("ip", "netns", "delete", name).CombinedOutput(); err != nil {
		return fmt.Errorf("removing network namespace %s: %v: %s", name, err, strings.TrimSpace(string(out)))
	}
	return nil
}

// checkOverlap refuses a subnet that overlaps an address of another
// interface than bridge: the kernel would route some pod addresses there
// (another container runtime's bridge, a VPN) and pods would be
// unreachable with "no route to host".
func checkOverlap(subnet *net.IPNet, bridge string) error {
	ifaces, err := net.Interfaces()
	if err != nil {
		return fmt.Errorf("listing network interfaces: %w", err)
	}
	for _, iface := range ifaces {
		if iface.Name == bridge {
			continue
		}
		addrs, err := iface.Addrs()
		if err != nil {
			continue
		}
		for _, a := range addrs {
			ipnet, ok := a.(*net.IPNet)
			if !ok || ipnet.IP.To4() == nil {
				continue
			}
			if subnet.Contains(ipnet.IP) || ipnet.Contains(subnet.IP) {
				return fmt.Errorf("pod network subnet %s overlaps %s on interface %s: choose another one (slipway server --pod-subnet)", subnet, ipnet, iface.Name)
			}
		}
	}
	return nil
}
