// Package controlplane runs the real Kubernetes control plane inside
// `slipway server`, as k3s and MicroShift do: kube-apiserver (with
// apiextensions and the aggregator), kube-controller-manager and
// kube-scheduler from k8s.io/kubernetes, started through their own options
// and Run functions with flags, on one signal context. This package only
// wires them: certificates, kubeconfigs and flags.
package controlplane

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/spf13/pflag"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apiserver/pkg/server/healthz"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	logsapi "k8s.io/component-base/logs/api/v1"
	"k8s.io/klog/v2"

	"github.com/slipway-dev/slipway/internal/pki"
)

// Defaults of the cluster's networks.
const (
	// DefaultServiceCIDR is where Services' cluster IPs come from; it must
	// not overlap the pod network (10.88.0.0/16).
	DefaultServiceCIDR = "10.96.0.0/16"
	// DefaultNodePortRange lets Services take any host port, as Slipway's
	// `expose --host-port` always did.
	DefaultNodePortRange = "1-65535"
)

// Config is what the control plane needs from `slipway server`.
type Config struct {
	// Files is where its certificates, keys and kubeconfigs live.
	Files Files
	// Listen is the kube-apiserver's host:port: the API users talk to.
	Listen string
	// ServingCert and ServingKey are the kube-apiserver's certificate.
	ServingCert, ServingKey string
	// EtcdServers and the TLS files reach etcd.
	EtcdServers                           []string
	EtcdCAFile, EtcdCertFile, EtcdKeyFile string
	// EncryptionConfigFile encrypts secrets at rest.
	EncryptionConfigFile string
	// AdminToken authenticates as system:admin (system:masters).
	AdminToken string
	// ServiceCIDR and NodePortRange default to DefaultServiceCIDR and
	// DefaultNodePortRange.
	ServiceCIDR, NodePortRange string
	// ExtraIdentities get a client certificate and a kubeconfig (Files.Kubeconfig).
	ExtraIdentities map[string][]string
	// ReadyzChecks are added to the kube-apiserver's /readyz.
	ReadyzChecks []healthz.HealthChecker
	// ExtraHandlers are served by the kube-apiserver at their paths, after
	// its authentication and authorization (non-resource URLs).
	ExtraHandlers map[string]http.Handler
	// AuditLogPath, when set, is where the kube-apiserver writes its audit
	// log: one JSON line per request with who, what and when (auditPolicy).
	AuditLogPath string
	// Profiling serves Go's profiles of the whole server process under
	// /debug/pprof to cluster admins (kube-apiserver's --profiling).
	Profiling bool
}

// ControlPlane is a started control plane.
type ControlPlane struct {
	// Admin is a system:masters client configuration (the admin token).
	Admin *rest.Config
	// Files is where the kubeconfigs are.
	Files Files
	done  chan struct{}
	err   error
}

// Done is closed when every component has stopped; Err then says why the
// kube-apiserver stopped, if not because its context ended.
func (c *ControlPlane) Done() <-chan struct{} { return c.done }

// Err is the kube-apiserver's error once Done is closed.
func (c *ControlPlane) Err() error { return c.err }

// Config returns a client configuration for one of the identities
// Start issued (ExtraIdentities). It speaks protobuf, as Kubernetes' own
// components do (--kube-api-content-type): less to encode and decode on
// both sides than JSON, for every type that has it (OpenShift's too).
func (c *ControlPlane) Config(user string) (*rest.Config, error) {
	cfg, err := clientcmd.BuildConfigFromFlags("", c.Files.Kubeconfig(user))
	if err != nil {
		return nil, err
	}
	cfg.ContentType = runtime.ContentTypeProtobuf
	cfg.AcceptContentTypes = runtime.ContentTypeProtobuf + "," + runtime.ContentTypeJSON
	return cfg, nil
}

var loggingOnce sync.Once

// Start runs kube-apiserver, waits until it serves, then runs the
// controller manager and the scheduler. Every component stops when ctx
// ends.
func Start(ctx context.Context, c Config) (*ControlPlane, error) {
	if c.ServiceCIDR == "" {
		c.ServiceCIDR = DefaultServiceCIDR
	}
	if c.NodePortRange == "" {
		c.NodePortRange = DefaultNodePortRange
	}
	host, port, err := net.SplitHostPort(c.Listen)
	if err != nil {
		return nil, fmt.Errorf("--listen %q: %w", c.Listen, err)
	}
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	server := "https://" + net.JoinHostPort(host, port)
	ca, err := pki.LoadOrCreateCA(c.Files.CACert, c.Files.CAKey, "slipway-ca")
	if err != nil {
		return nil, err
	}
	ids := []clientIdentity{
		{user: ControllerManagerUser},
		{user: SchedulerUser},
	}
	for user, groups := range c.ExtraIdentities {
		ids = append(ids, clientIdentity{user: user, groups: groups})
	}
	if err := c.Files.prepare(ca, server, c.AdminToken, ids); err != nil {
		return nil, fmt.Errorf("control plane certificates in %s: %w", c.Files.Dir, err)
	}
	loggingOnce.Do(quietLogging)

	cp := &ControlPlane{
		Files: c.Files,
		Admin: &rest.Config{
			Host:            server,
			BearerToken:     c.AdminToken,
			TLSClientConfig: rest.TLSClientConfig{CAFile: c.Files.CACert},
			QPS:             -1,
			// In-process, on loopback: see writeKubeconfig.
			DisableCompression: true,
		},
		done: make(chan struct{}),
	}
	apiStopped := make(chan struct{})
	apiServer, err := newAPIServer(c, apiArgs(c, host, port))
	if err != nil {
		return nil, err
	}
	go func() {
		defer close(apiStopped)
		cp.err = apiServer(ctx)
	}()
	var exclude []string
	for _, check := range c.ReadyzChecks {
		exclude = append(exclude, check.Name())
	}
	if err := waitServing(ctx, cp.Admin, apiStopped, exclude); err != nil {
		return nil, err
	}

	var components sync.WaitGroup
	components.Add(2)
	go func() {
		defer components.Done()
		if err := runControllerManager(ctx, c); err != nil && ctx.Err() == nil {
			slog.Error("kube-controller-manager stopped", "err", err)
		}
	}()
	go func() {
		defer components.Done()
		if err := runScheduler(ctx, c); err != nil && ctx.Err() == nil {
			slog.Error("kube-scheduler stopped", "err", err)
		}
	}()
	go func() {
		<-apiStopped
		components.Wait()
		close(cp.done)
	}()
	return cp, nil
}

// apiArgs are kube-apiserver's flags.
func apiArgs(c Config, host, port string) []string {
	f := c.Files
	args := []string{
		"--bind-address=" + host,
		"--secure-port=" + port,
		"--advertise-address=" + host,
		// The kubernetes Service's endpoints would be a loopback address,
		// which Endpoints may not hold; pods reach the API by its address.
		"--endpoint-reconciler-type=none",
		"--tls-cert-file=" + c.ServingCert,
		"--tls-private-key-file=" + c.ServingKey,
		"--client-ca-file=" + f.CACert,
		"--token-auth-file=" + f.tokenFile(),
		"--authorization-mode=Node,RBAC",
		"--enable-admission-plugins=NodeRestriction",
		"--admission-control-config-file=" + f.admissionConfig(),
		"--allow-privileged=true",
		"--service-account-issuer=https://kubernetes.default.svc",
		"--service-account-key-file=" + f.ServiceAccountPub(),
		"--service-account-signing-key-file=" + f.ServiceAccountKey(),
		"--service-cluster-ip-range=" + c.ServiceCIDR,
		"--service-node-port-range=" + c.NodePortRange,
		"--kubelet-client-certificate=" + f.kubeletClient(),
		"--kubelet-client-key=" + f.kubeletClientKey(),
		"--kubelet-certificate-authority=" + f.CACert,
		"--kubelet-preferred-address-types=InternalIP,Hostname",
		"--requestheader-client-ca-file=" + f.FrontProxyCA(),
		"--requestheader-allowed-names=" + FrontProxyUser,
		"--requestheader-username-headers=X-Remote-User",
		"--requestheader-uid-headers=X-Remote-Uid",
		"--requestheader-group-headers=X-Remote-Group",
		"--requestheader-extra-headers-prefix=X-Remote-Extra-",
		"--proxy-client-cert-file=" + f.frontProxyClient(),
		"--proxy-client-key-file=" + f.frontProxyClientKey(),
		"--etcd-servers=" + strings.Join(c.EtcdServers, ","),
		fmt.Sprintf("--profiling=%t", c.Profiling),
	}
	for flag, v := range map[string]string{
		"--etcd-cafile":                c.EtcdCAFile,
		"--etcd-certfile":              c.EtcdCertFile,
		"--etcd-keyfile":               c.EtcdKeyFile,
		"--encryption-provider-config": c.EncryptionConfigFile,
		"--audit-log-path":             c.AuditLogPath,
	} {
		if v != "" {
			args = append(args, flag+"="+v)
		}
	}
	if c.AuditLogPath != "" {
		args = append(args, "--audit-policy-file="+f.auditPolicy(), "--audit-log-format=json", "--audit-log-maxbackup=3", "--audit-log-maxsize=100")
	}
	return args
}

// quietLogging sets klog up once for every component: warnings and errors
// to stderr, routine info-level lines nowhere (SLIPWAY_KUBE_V=N brings them
// back at verbosity N), and lets the components' own logging setup apply
// it again unchanged.
func quietLogging() {
	logsapi.ReapplyHandling = logsapi.ReapplyHandlingIgnoreUnchanged
	// klog takes over the log package's output (at info level, which goes
	// nowhere below); Slipway's own records keep going to stderr.
	if _, ok := slog.Default().Handler().(*slog.TextHandler); !ok {
		slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, nil)))
	}
	fs := flag.NewFlagSet("klog", flag.ContinueOnError)
	klog.InitFlags(fs)
	if v := os.Getenv("SLIPWAY_KUBE_V"); v != "" {
		_ = fs.Set("v", v)
		return
	}
	_ = fs.Set("logtostderr", "false")
	_ = fs.Set("alsologtostderr", "false")
	_ = fs.Set("log_file", os.DevNull)
	_ = fs.Set("stderrthreshold", "ERROR")
	_ = fs.Set("skip_log_headers", "true")
}

// parseFlags parses args into a component's named flag sets.
func parseFlags(name string, sets map[string]*pflag.FlagSet, args []string) error {
	fs := pflag.NewFlagSet(name, pflag.ContinueOnError)
	for _, s := range sets {
		fs.AddFlagSet(s)
	}
	if err := fs.Parse(args); err != nil {
		return fmt.Errorf("%s flags: %w", name, err)
	}
	return nil
}

// waitServing waits until the kube-apiserver answers /readyz with ok.
func waitServing(ctx context.Context, cfg *rest.Config, stopped <-chan struct{}, exclude []string) error {
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	deadline := time.Now().Add(2 * time.Minute)
	var last error
	for time.Now().Before(deadline) {
		select {
		case <-stopped:
			return fmt.Errorf("kube-apiserver stopped while starting (last readiness error: %v)", last)
		case <-ctx.Done():
			return ctx.Err()
		default:
		}
		rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		req := client.Discovery().RESTClient().Get().AbsPath("/readyz")
		for _, name := range exclude {
			req = req.Param("exclude", name)
		}
		body, err := req.DoRaw(rctx)
		cancel()
		if err == nil && string(body) == "ok" {
			return nil
		}
		last = err
		time.Sleep(100 * time.Millisecond)
	}
	return errors.New("kube-apiserver not ready within 2m: " + fmt.Sprint(last))
}
