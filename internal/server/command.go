// Package server is `slipway server`: etcd, the API server and the
// controllers in one process, on the embedded defaults or an external etcd.
package server

import (
	"context"

	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	genericapiserver "k8s.io/apiserver/pkg/server"

	"github.com/slipway-dev/slipway/internal/apiserver"
	"github.com/slipway-dev/slipway/internal/etcd"
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
}

// NewCommand returns `slipway server`.
func NewCommand() *cobra.Command {
	o := &Options{DataDir: defaultDataDir(), Listen: "127.0.0.1:8443", Workers: 2}
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
	})
	if err != nil {
		return err
	}
	caBundle, err := os.ReadFile(dir.pki().CACert)
	if err != nil {
		return err
	}
	s.Generic.AddPostStartHookOrDie("slipway-controllers", func(hook genericapiserver.PostStartHookContext) error {
		return startControllers(hook, s, caBundle, o.Workers)
	})

	server := "https://" + clientHost(o.Listen)
	if err := dir.writeAdminKubeconfig(server, adminToken); err != nil {
		return err
	}
	slog.Info("slipway server starting", "api", server, "kubeconfig", dir.adminKubeconfig(), "etcd", strings.Join(etcdServers, ","))
	prepared := s.Generic.PrepareRun()
	return prepared.RunWithContext(ctx)
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
