// Package server is `slipway server`: etcd, the API server and the
// controllers in one process, on the embedded defaults or an external etcd.
package server

import (
	"context"
	"crypto/x509"
	"fmt"
	"sync/atomic"

	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	genericapiserver "k8s.io/apiserver/pkg/server"

	"github.com/slipway-dev/slipway/internal/apiserver"
	"github.com/slipway-dev/slipway/internal/buildkit"
	"github.com/slipway-dev/slipway/internal/controller/imageimport"
	"github.com/slipway-dev/slipway/internal/controller/serviceaccount"
	"github.com/slipway-dev/slipway/internal/etcd"
	"github.com/slipway-dev/slipway/internal/image"
	"github.com/slipway-dev/slipway/internal/imageregistry"
	"github.com/slipway-dev/slipway/internal/node/cni"
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
}

// NewCommand returns `slipway server`.
func NewCommand() *cobra.Command {
	o := &Options{
		DataDir: defaultDataDir(), Listen: "127.0.0.1:8443", Workers: 2, RegistryListen: imageregistry.DefaultListen,
		ImageImportInterval: imageimport.DefaultInterval, ImageImportRate: imageimport.DefaultRatePerMinute,
		HostPortAddress: "127.0.0.1", PodSubnet: cni.DefaultSubnet,
	}
	cmd := &cobra.Command{
		Use:   "server",
		Short: "Run the Slipway API server, controllers and etcd on this machine",
		Long: `Run Slipway: the OpenShift-compatible API server (build, image, apps and
project APIs plus the core v1 resources they use), its controllers, and an
embedded etcd under --data-dir unless --etcd-servers names an external one.

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
	f.StringVar(&o.Buildkitd, "buildkitd", "", "Path of the buildkitd executable (default: next to slipway, else on PATH)")
	f.StringArrayVar(&o.InsecureRegistries, "insecure-registry", nil, "HOST[:PORT] of a registry builds, imports and pods may reach without TLS verification (repeatable); loopback registries may always speak plain HTTP")
	f.StringArrayVar(&o.RegistryCAs, "registry-ca", nil, "CA bundle trusted for registries: FILE for all, or HOST[:PORT]=FILE for one, which builds then reach over HTTPS even on loopback (repeatable)")
	f.DurationVar(&o.ImageImportInterval, "image-import-interval", o.ImageImportInterval, "How often image stream tags with importPolicy.scheduled are re-imported (minimum 1s)")
	f.IntVar(&o.ImageImportRate, "image-import-rate", o.ImageImportRate, "Scheduled image imports per minute, bursting to twice that; -1 for no limit")
	f.StringVar(&o.PodSubnet, "pod-subnet", o.PodSubnet, "IPv4 subnet of the pod network (the CNI bridge slipway0); must not overlap another interface's")
	f.StringVar(&o.HostPortAddress, "host-port-address", o.HostPortAddress, "IP address Services' host ports (nodePort, expose --host-port) listen on; 0.0.0.0 for every interface")
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
	etcdServers := o.EtcdServers
	if len(etcdServers) == 0 {
		member, err := etcd.Start(dir.etcd(), time.Minute)
		if err != nil {
			return err
		}
		defer member.Stop()
		etcdServers = []string{member.ClientURL}
	}

	registries, err := registryClient(o)
	if err != nil {
		return err
	}
	if o.ImageImportInterval < imageimport.MinInterval {
		return fmt.Errorf("--image-import-interval %s is below the minimum %s", o.ImageImportInterval, imageimport.MinInterval)
	}
	s, err := apiserver.New(apiserver.Config{
		Listen:               o.Listen,
		CertFile:             dir.pki().ServingCert,
		KeyFile:              dir.pki().ServingKey,
		EtcdServers:          etcdServers,
		EtcdCAFile:           o.EtcdCAFile,
		EtcdCertFile:         o.EtcdCert,
		EtcdKeyFile:          o.EtcdKey,
		EncryptionConfigFile: dir.encryptionConfig(),
		AdminToken:           adminToken,
		RegistryHostname:     clientHost(o.RegistryListen),
		DataDir:              string(dir),
		Registries:           registries,
	})
	if err != nil {
		return err
	}
	caBundle, err := os.ReadFile(dir.pki().CACert)
	if err != nil {
		return err
	}
	registry, err := imageregistry.New(imageregistry.Config{
		Listen:     o.RegistryListen,
		StorageDir: dir.path("registry"),
		APIConfig:  s.Loopback,
		Hostname:   clientHost(o.RegistryListen),
	})
	if err != nil {
		return err
	}
	go func() {
		if err := registry.Run(ctx); err != nil && ctx.Err() == nil {
			slog.Error("internal registry stopped", "err", err)
		}
	}()
	buildkitAddress := startBuildkit(ctx, o, string(dir), registry.Hostname())

	var controllersStarted atomic.Bool
	agentStopped := make(chan struct{})
	s.Generic.AddPostStartHookOrDie("slipway-controllers", func(hook genericapiserver.PostStartHookContext) error {
		controllersStarted.Store(true)
		return startControllers(hook, s, controllerConfig{
			agentStopped:  agentStopped,
			podSubnet:     o.PodSubnet,
			caBundle:      caBundle,
			workers:       o.Workers,
			registryHosts: serviceaccount.RegistryHosts(registry.Hostname()),
			dataDir:       string(dir),
			apiListen:     clientHost(o.Listen),
			buildkitHost:  buildkitAddress,
			registries:    registries,
			imageImport: imageimport.Config{
				Interval:      o.ImageImportInterval,
				RatePerMinute: o.ImageImportRate,
			},
		})
	})

	server := "https://" + clientHost(o.Listen)
	if err := dir.writeAdminKubeconfig(server, adminToken); err != nil {
		return err
	}
	slog.Info("slipway server starting", "api", server, "kubeconfig", dir.adminKubeconfig(), "registry", registry.Hostname(), "etcd", strings.Join(etcdServers, ","))
	prepared := s.Generic.PrepareRun()
	err = prepared.RunWithContext(ctx)
	if controllersStarted.Load() {
		// Pods stop with the server, so none outlives it unmanaged.
		select {
		case <-agentStopped:
		case <-time.After(time.Minute):
			slog.Warn("the node agent did not stop its pods within a minute")
		}
	}
	return err
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
