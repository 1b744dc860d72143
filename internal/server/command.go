// Package server is `slipway server`: etcd, the API server and the
// controllers in one process, on the embedded defaults or an external etcd.
package server

import (
	"context"
	"crypto/x509"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"sync/atomic"

	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/api/resource"
	genericapiserver "k8s.io/apiserver/pkg/server"
	"k8s.io/apiserver/pkg/server/healthz"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"

	"github.com/slipway-dev/slipway/internal/apiserver"
	"github.com/slipway-dev/slipway/internal/buildkit"
	"github.com/slipway-dev/slipway/internal/controller/imageimport"
	"github.com/slipway-dev/slipway/internal/controller/sccallocation"
	"github.com/slipway-dev/slipway/internal/controlplane"
	"github.com/slipway-dev/slipway/internal/etcd"
	"github.com/slipway-dev/slipway/internal/image"
	"github.com/slipway-dev/slipway/internal/imageregistry"
	"github.com/slipway-dev/slipway/internal/node"
	"github.com/slipway-dev/slipway/internal/node/cni"
	"github.com/slipway-dev/slipway/internal/pki"
	"github.com/slipway-dev/slipway/internal/podlogs"
	buildregistry "github.com/slipway-dev/slipway/internal/registry/build"
)

// Options are the flags of `slipway server`.
type Options struct {
	DataDir     string
	Listen      string
	EtcdServers []string
	EtcdCAFile  string
	EtcdCert    string
	EtcdKey     string
	// Workers is the number of parallel syncs per controller.
	Workers int
	// RegistryListen is the internal registry's host:port.
	RegistryListen string
	// RegistryMaxBlobSize bounds one blob pushed to the internal registry.
	RegistryMaxBlobSize resource.QuantityValue
	// Buildkitd is the buildkitd executable; empty finds it next to slipway.
	Buildkitd string
	// InsecureRegistries and RegistryCAs configure how builds, imports
	// and pods reach registries.
	InsecureRegistries []string
	RegistryCAs        []string
	// ImageImportInterval is how often scheduled tags are checked;
	// ImageImportRate caps scheduled imports per minute (-1: no cap).
	ImageImportInterval time.Duration
	ImageImportRate     int
	// HostPortAddress is the address Services' node ports listen on.
	HostPortAddress string
	// PodSubnet is the pod network's IPv4 subnet.
	PodSubnet string
	// ServiceCIDR is where Services' cluster IPs come from.
	ServiceCIDR string
	// AuditLog is where the kube-apiserver writes its audit log (none when empty).
	AuditLog string
	// Profiling serves /debug/pprof to cluster admins.
	Profiling bool
	// NodeName names this machine's Node; default its host name.
	NodeName string
	// KubeletListen is the node's kubelet API address (logs, exec);
	// port 0 picks a free one, which the Node object publishes.
	KubeletListen string
	// ContainerLogMaxSize is the size at which a container's log is
	// rotated, and ContainerLogMaxFiles how many of its files the node
	// keeps (the kubelet's containerLogMaxSize and containerLogMaxFiles).
	ContainerLogMaxSize  resource.QuantityValue
	ContainerLogMaxFiles int
	// EmptyDirMaxSize bounds an emptyDir volume without a sizeLimit (0:
	// no bound).
	EmptyDirMaxSize resource.QuantityValue
	// MaxBinaryBuildSize bounds a binary build's upload
	// (buildconfigs/instantiatebinary).
	MaxBinaryBuildSize resource.QuantityValue
	// LocalGitRoot is the directory under which builds may use git
	// repositories of this machine (file:// URLs and paths); "" refuses
	// them.
	LocalGitRoot string
	// APIOnly runs etcd, the Kubernetes control plane and the OpenShift
	// API server only: no Slipway controllers, node, registry or BuildKit
	// (for tests that run those parts themselves).
	APIOnly bool
}

// NewCommand returns `slipway server`.
func NewCommand() *cobra.Command {
	o := &Options{
		DataDir: defaultDataDir(), Listen: "127.0.0.1:8443", Workers: 2, RegistryListen: imageregistry.DefaultListen,
		ImageImportInterval: imageimport.DefaultInterval, ImageImportRate: imageimport.DefaultRatePerMinute,
		HostPortAddress: "127.0.0.1", PodSubnet: cni.DefaultSubnet,
		ServiceCIDR: controlplane.DefaultServiceCIDR, KubeletListen: "127.0.0.1:0",
		ContainerLogMaxSize:  resource.QuantityValue{Quantity: *resource.NewQuantity(podlogs.DefaultLogMaxSize, resource.BinarySI)},
		ContainerLogMaxFiles: podlogs.DefaultLogMaxFiles,
		EmptyDirMaxSize:      resource.QuantityValue{Quantity: *resource.NewQuantity(node.DefaultEmptyDirMaxSize, resource.BinarySI)},
		RegistryMaxBlobSize:  resource.QuantityValue{Quantity: *resource.NewQuantity(imageregistry.DefaultMaxBlobSize, resource.BinarySI)},
		MaxBinaryBuildSize:   resource.QuantityValue{Quantity: *resource.NewQuantity(buildregistry.DefaultMaxBinarySize, resource.BinarySI)},
	}
	cmd := &cobra.Command{
		Use:   "server",
		Short: "Run the Slipway API server, controllers and etcd on this machine",
		Long: `Run Slipway: the Kubernetes control plane (kube-apiserver, controller
manager, scheduler) with OpenShift's API server aggregated on it (build,
image, apps and project APIs), Slipway's controllers, the node that runs
pods, the internal registry and BuildKit, on an embedded etcd under
--data-dir unless --etcd-servers names an external one.

At first start it generates a CA, a serving certificate, an admin token and
an encryption key into the data directory, and writes admin.kubeconfig there.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return Run(genericapiserver.SetupSignalContext(), *o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.DataDir, "data-dir", o.DataDir, "Directory for certificates, tokens, keys and the embedded etcd's data")
	f.StringVar(&o.Listen, "listen", o.Listen, "IP:port the HTTPS API server listens on")
	f.StringSliceVar(&o.EtcdServers, "etcd-servers", nil, "Client URLs of an external etcd cluster (comma separated); empty runs an embedded etcd")
	f.StringVar(&o.EtcdCAFile, "etcd-cafile", "", "CA bundle to verify the external etcd's certificates")
	f.StringVar(&o.EtcdCert, "etcd-certfile", "", "Client certificate for the external etcd")
	f.StringVar(&o.EtcdKey, "etcd-keyfile", "", "Client key for the external etcd")
	f.IntVar(&o.Workers, "controller-workers", o.Workers, "Parallel syncs per controller")
	f.StringVar(&o.RegistryListen, "registry-listen", o.RegistryListen, "IP:port the internal image registry listens on (plain HTTP)")
	f.Var(&o.RegistryMaxBlobSize, "registry-max-blob-size", "Largest blob (image layer or config) the internal registry accepts; a larger upload is refused with 413 and cancelled")
	f.StringVar(&o.Buildkitd, "buildkitd", "", "Path of the buildkitd executable (default: next to slipway, else on PATH)")
	f.StringArrayVar(&o.InsecureRegistries, "insecure-registry", nil, "HOST[:PORT] of a registry builds, imports and pods may reach without TLS verification (repeatable); loopback registries may always speak plain HTTP")
	f.StringArrayVar(&o.RegistryCAs, "registry-ca", nil, "CA bundle trusted for registries: FILE for all, or HOST[:PORT]=FILE for one, which builds then reach over HTTPS even on loopback (repeatable)")
	f.DurationVar(&o.ImageImportInterval, "image-import-interval", o.ImageImportInterval, "How often image stream tags with importPolicy.scheduled are re-imported (minimum 1s)")
	f.IntVar(&o.ImageImportRate, "image-import-rate", o.ImageImportRate, "Scheduled image imports per minute, bursting to twice that; -1 for no limit")
	f.StringVar(&o.PodSubnet, "pod-subnet", o.PodSubnet, "IPv4 subnet of the pod network (the CNI bridge slipway0); must not overlap another interface's")
	f.StringVar(&o.HostPortAddress, "host-port-address", o.HostPortAddress, "IP address Services' host ports (nodePort, expose --host-port) listen on; 0.0.0.0 for every interface")
	f.StringVar(&o.ServiceCIDR, "service-cidr", o.ServiceCIDR, "IPv4 range Services' cluster IPs come from; must not overlap the pod subnet")
	f.BoolVar(&o.Profiling, "profiling", o.Profiling, "serve Go's CPU, heap and goroutine profiles of the server under /debug/pprof/ (cluster admins only)")
	f.StringVar(&o.AuditLog, "audit-log", o.AuditLog, "file the API server writes its audit log to: one JSON line per request (metadata only, never bodies); none when empty")
	f.StringVar(&o.NodeName, "node-name", "", "Name of this machine's Node (default: its host name)")
	f.StringVar(&o.KubeletListen, "kubelet-listen", o.KubeletListen, "IP:port of the node's kubelet API (logs, exec, port-forward); port 0 picks a free one")
	f.Var(&o.ContainerLogMaxSize, "container-log-max-size", "Size at which the node rotates a container's log (as the kubelet's containerLogMaxSize); pods/log serves the current file")
	f.IntVar(&o.ContainerLogMaxFiles, "container-log-max-files", o.ContainerLogMaxFiles, "Files of a container's log the node keeps, the current one included (as the kubelet's containerLogMaxFiles; at least 2)")
	f.Var(&o.EmptyDirMaxSize, "emptydir-max-size", "Size an emptyDir volume without a sizeLimit may reach before its pod is evicted (as one past its sizeLimit is); 0 for no bound")
	f.Var(&o.MaxBinaryBuildSize, "max-binary-build-size", "Largest upload a binary build (start-build --from-dir/--from-file/--from-archive) may send; a larger one is refused with 413 and its build cancelled")
	f.StringVar(&o.LocalGitRoot, "local-git-root", "", "Directory under which builds may use git repositories of this machine (file:// URLs and paths, symlinks resolved); empty refuses them")
	f.BoolVar(&o.APIOnly, "api-only", false, "Run only etcd, the Kubernetes control plane and the OpenShift API server (for tests)")
	_ = f.MarkHidden("api-only")
	return cmd
}

func defaultDataDir() string {
	if dir, err := os.UserHomeDir(); err == nil {
		return filepath.Join(dir, ".local", "share", "slipway")
	}
	return "slipway-data"
}

// Run starts everything and blocks until ctx ends.
func Run(ctx context.Context, o Options) error {
	dir := dataDir(o.DataDir)
	adminToken, err := dir.prepare(o.Listen)
	if err != nil {
		return err
	}
	migrate, err := dir.checkLayout()
	if err != nil {
		return err
	}
	etcdServers := o.EtcdServers
	if len(etcdServers) == 0 {
		member, err := etcd.Start(dir.etcd(), dir.etcdPKI(), time.Minute)
		if err != nil {
			return err
		}
		defer member.Stop()
		etcdServers = []string{member.ClientURL}
		o.EtcdCAFile, o.EtcdCert, o.EtcdKey = member.CAFile, member.ClientCert, member.ClientKey
	}
	// Objects the kube-apiserver reads elsewhere move before it starts.
	var layout1 *layout1Migration
	if migrate {
		if layout1, err = startLayout1Migration(ctx, etcdServers, o.EtcdCAFile, o.EtcdCert, o.EtcdKey); err != nil {
			return err
		}
		defer layout1.close()
	}
	registries, err := registryClient(o)
	if err != nil {
		return err
	}
	if o.ImageImportInterval < imageimport.MinInterval {
		return fmt.Errorf("--image-import-interval %s is below the minimum %s", o.ImageImportInterval, imageimport.MinInterval)
	}
	if o.RegistryMaxBlobSize.Value() <= 0 {
		return fmt.Errorf("--registry-max-blob-size %s: must be greater than 0", o.RegistryMaxBlobSize.String())
	}
	if o.MaxBinaryBuildSize.Value() <= 0 {
		return fmt.Errorf("--max-binary-build-size %s: must be greater than 0", o.MaxBinaryBuildSize.String())
	}
	nodeName, err := nodeNameOf(o.NodeName)
	if err != nil {
		return err
	}
	nodeUser := "system:node:" + nodeName

	// The OpenShift API server listens first, so the APIServices can name
	// its port when the control plane starts.
	openshiftListener, err := dir.openshiftListener()
	if err != nil {
		return fmt.Errorf("OpenShift API server listener: %w", err)
	}
	openshiftPort := openshiftListener.Addr().(*net.TCPAddr).Port
	ca, err := pki.LoadOrCreateCA(dir.pki().CACert, dir.pki().CAKey, "slipway-ca")
	if err != nil {
		return err
	}
	osCert, osKey := dir.path("controlplane/openshift-apiserver-serving.crt"), dir.path("controlplane/openshift-apiserver-serving.key")
	if err := os.MkdirAll(dir.path("controlplane"), 0o700); err != nil {
		return err
	}
	if err := ca.EnsureServingCert(osCert, osKey, "openshift-apiserver", []string{openshiftAPIService + "." + openshiftAPINamespace + ".svc", "localhost", "127.0.0.1"}); err != nil {
		return err
	}
	caBundle, err := os.ReadFile(dir.pki().CACert)
	if err != nil {
		return err
	}

	// The API servers outlive the pipeline: when ctx ends, the node stops
	// its pods (writing their status) before the control plane goes.
	apiCtx, stopAPIs := context.WithCancel(context.WithoutCancel(ctx))
	defer stopAPIs()
	ready := &openshiftAPIsReady{}
	readyChecks := []healthz.HealthChecker{ready}
	node := &nodeReady{name: nodeName}
	if !o.APIOnly {
		readyChecks = append(readyChecks, node)
	}
	notifications := &handlerSlot{}
	files := controlplane.Files{Dir: dir.path("controlplane"), CACert: dir.pki().CACert, CAKey: dir.pki().CAKey}
	cp, err := controlplane.Start(apiCtx, controlplane.Config{
		Files:                files,
		Listen:               o.Listen,
		ServingCert:          dir.pki().ServingCert,
		ServingKey:           dir.pki().ServingKey,
		EtcdServers:          etcdServers,
		EtcdCAFile:           o.EtcdCAFile,
		EtcdCertFile:         o.EtcdCert,
		EtcdKeyFile:          o.EtcdKey,
		EncryptionConfigFile: dir.encryptionConfig(),
		AdminToken:           adminToken,
		ServiceCIDR:          o.ServiceCIDR,
		AuditLogPath:         o.AuditLog,
		Profiling:            o.Profiling,
		ExtraIdentities: map[string][]string{
			controlplane.OpenShiftAPIServerUser:   nil,
			controlplane.OpenShiftControllersUser: nil,
			registryUser:                          nil,
			nodeUser:                              {controlplane.NodeGroup},
		},
		ReadyzChecks: readyChecks,
		// Registries configured to notify Slipway (see the README) post
		// here with the admin token.
		ExtraHandlers: map[string]http.Handler{"/registry/notifications": notifications},
	})
	if err != nil {
		return err
	}
	admin, err := kubernetes.NewForConfig(cp.Admin)
	if err != nil {
		return err
	}
	ready.admin.Store(admin)
	node.admin.Store(admin)

	s, err := apiserver.New(apiserver.Config{
		Listener:                  openshiftListener,
		CertFile:                  osCert,
		KeyFile:                   osKey,
		EtcdServers:               etcdServers,
		EtcdCAFile:                o.EtcdCAFile,
		EtcdCertFile:              o.EtcdCert,
		EtcdKeyFile:               o.EtcdKey,
		Kubeconfig:                files.Kubeconfig(controlplane.OpenShiftAPIServerUser),
		RequestHeaderCAFile:       files.FrontProxyCA(),
		RequestHeaderAllowedNames: []string{controlplane.FrontProxyUser},
		ClientCAFile:              dir.pki().CACert,
		RegistryHostname:          clientHost(o.RegistryListen),
		DataDir:                   string(dir),
		Registries:                registries,
		MaxBinaryBuildSize:        o.MaxBinaryBuildSize.Value(),
	})
	if err != nil {
		return err
	}
	openshiftStopped := make(chan error, 1)
	go func() { openshiftStopped <- s.Generic.PrepareRun().RunWithContext(apiCtx) }()
	dnsIP, err := clusterDNSAddress(o.ServiceCIDR)
	if err != nil {
		return err
	}
	if err := retryBootstrap(ctx, cp.Admin, openshiftPort, caBundle, dnsIP); err != nil {
		return err
	}
	// Every namespace's pods need its ID ranges (the SCC admission waits
	// for them), with or without the rest of the pipeline.
	if err := startSCCAllocation(ctx, cp); err != nil {
		return err
	}
	if layout1 != nil {
		done, err := layout1.finish(ctx, admin)
		if err != nil {
			return err
		}
		if done {
			if err := dir.recordLayout(); err != nil {
				return err
			}
		}
	}

	server := "https://" + clientHost(o.Listen)
	if err := dir.writeAdminKubeconfig(server, adminToken); err != nil {
		return err
	}
	agentStopped := make(chan struct{})
	if o.APIOnly {
		close(agentStopped)
	} else {
		if err := startPipeline(ctx, o, dir, cp, pipelineConfig{
			nodeName: nodeName, nodeUser: nodeUser, caBundle: caBundle, registries: registries,
			notifications: notifications, agentStopped: agentStopped, ca: ca, dnsIP: dnsIP,
			reservedPorts: listeningPorts(append([]string{o.Listen, o.RegistryListen, openshiftListener.Addr().String()}, etcdServers...)),
		}); err != nil {
			return err
		}
	}
	slog.Info("slipway server started", "api", server, "kubeconfig", dir.adminKubeconfig(), "registry", clientHost(o.RegistryListen), "etcd", strings.Join(etcdServers, ","))

	var runErr error
	select {
	case <-ctx.Done():
	case <-cp.Done():
		runErr = cp.Err()
	case runErr = <-openshiftStopped:
	}
	// Pods stop with the server, so none outlives it unmanaged.
	select {
	case <-agentStopped:
	case <-time.After(time.Minute):
		slog.Warn("the node agent did not stop its pods within a minute")
	}
	stopAPIs()
	select {
	case <-cp.Done():
	case <-time.After(30 * time.Second):
		slog.Warn("the control plane did not stop within 30s")
	}
	return runErr
}

// nodeNameOf is the Node's name: the flag, else the host name in lower case.
func nodeNameOf(flag string) (string, error) {
	if flag != "" {
		return flag, nil
	}
	name, err := os.Hostname()
	if err != nil {
		return "", fmt.Errorf("naming the node (set --node-name): %w", err)
	}
	return strings.ToLower(name), nil
}

// handlerSlot is an http.Handler set once the controller behind it exists;
// until then it answers 503.
type handlerSlot struct{ h atomic.Pointer[http.Handler] }

func (s *handlerSlot) set(h http.Handler) { s.h.Store(&h) }

func (s *handlerSlot) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if h := s.h.Load(); h != nil {
		(*h).ServeHTTP(w, r)
		return
	}
	http.Error(w, "not serving yet", http.StatusServiceUnavailable)
}

// clientHost is the address clients use for a listen address: a wildcard
// listen is reached on loopback.
func clientHost(listen string) string {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return listen
	}
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}

// startBuildkit supervises buildkitd for builds and returns its address, or
// "" (builds then fail with a clear error) when it cannot run here.
func startBuildkit(ctx context.Context, o Options, dataDir, registryHost string) string {
	d, err := buildkit.Start(ctx, buildkit.Config{
		Binary:              o.Buildkitd,
		DataDir:             dataDir,
		InsecureRegistries:  o.InsecureRegistries,
		PlainHTTPRegistries: []string{registryHost},
		RegistryCAs:         o.RegistryCAs,
	})
	if err != nil {
		slog.Warn("buildkitd is not running: builds will fail until it can start", "err", err)
		return ""
	}
	return d.Address()
}

// registryClient is the client imports (and pulls) use: the system's CAs
// plus every --registry-ca file (a host-scoped one is trusted for every
// registry here), and the --insecure-registry hosts.
func registryClient(o Options) (*image.Client, error) {
	var roots *x509.CertPool
	if len(o.RegistryCAs) > 0 {
		pool, err := x509.SystemCertPool()
		if err != nil {
			pool = x509.NewCertPool()
		}
		for _, v := range o.RegistryCAs {
			_, file := buildkit.SplitRegistryCA(v)
			pem, err := os.ReadFile(file)
			if err != nil {
				return nil, fmt.Errorf("--registry-ca: %w", err)
			}
			if !pool.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("--registry-ca %s: no PEM certificate in it", file)
			}
		}
		roots = pool
	}
	return image.NewClient(image.Options{
		InsecureRegistries: o.InsecureRegistries,
		RootCAs:            roots,
		UserAgent:          "slipway",
	}), nil
}

// listeningPorts are the ports of the server's own listeners (host:port
// addresses or URLs); a pod's hostPort may not take one.
func listeningPorts(addresses []string) []int32 {
	var ports []int32
	for _, a := range addresses {
		if u, err := url.Parse(a); err == nil && u.Host != "" {
			a = u.Host
		}
		if _, p, err := net.SplitHostPort(a); err == nil {
			if n, err := strconv.Atoi(p); err == nil && n > 0 && n < 65536 {
				ports = append(ports, int32(n))
			}
		}
	}
	return ports
}

// startSCCAllocation runs the controller that gives namespaces their UID
// and group ranges (internal/controller/sccallocation) until ctx ends.
func startSCCAllocation(ctx context.Context, cp *controlplane.ControlPlane) error {
	cfg, err := cp.Config(controlplane.OpenShiftControllersUser)
	if err != nil {
		return err
	}
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	factory := informers.NewSharedInformerFactory(client, 10*time.Minute)
	allocation := sccallocation.New(client, factory.Core().V1().Namespaces())
	factory.Start(ctx.Done())
	go func() {
		if err := allocation.Run(ctx, 1); err != nil && ctx.Err() == nil {
			slog.Error("controller stopped", "controller", sccallocation.ControllerName, "err", err)
		}
	}()
	return nil
}
