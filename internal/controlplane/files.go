package controlplane

import (
	"fmt"
	"os"
	"path/filepath"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/slipway-dev/slipway/internal/pki"
)

// Identities the control plane's components and Slipway's own parts use
// towards the kube-apiserver. Users and groups follow Kubernetes' bootstrap
// RBAC (system:kube-controller-manager, system:kube-scheduler, system:node:*)
// and OpenShift's component names.
const (
	ControllerManagerUser = "system:kube-controller-manager"
	SchedulerUser         = "system:kube-scheduler"
	// OpenShiftAPIServerUser is Slipway's aggregated OpenShift API server.
	OpenShiftAPIServerUser = "system:openshift-apiserver"
	// OpenShiftControllersUser runs Slipway's controllers (build, image
	// import, triggers, DeploymentConfigs), as openshift-controller-manager.
	OpenShiftControllersUser = "system:openshift-controller-manager"
	// FrontProxyUser is the aggregator's identity towards aggregated servers.
	FrontProxyUser = "front-proxy-client"
	// NodeGroup is the group of every node's identity (system:node:NAME).
	NodeGroup = "system:nodes"
)

// Files is the layout of the control plane's part of the data directory.
type Files struct {
	Dir string
	// CACert and CAKey are Slipway's cluster CA (the server's ca.crt): it
	// signs serving certificates and every client certificate.
	CACert, CAKey string
}

func (f Files) path(name string) string { return filepath.Join(f.Dir, name) }

// FrontProxyCA is the CA of the request-header client certificate the
// aggregator presents to aggregated API servers.
func (f Files) FrontProxyCA() string        { return f.path("front-proxy-ca.crt") }
func (f Files) frontProxyCAKey() string     { return f.path("front-proxy-ca.key") }
func (f Files) frontProxyClient() string    { return f.path("front-proxy-client.crt") }
func (f Files) frontProxyClientKey() string { return f.path("front-proxy-client.key") }

// ServiceAccountKey and ServiceAccountPub sign and verify service account
// tokens.
func (f Files) ServiceAccountKey() string     { return f.path("sa.key") }
func (f Files) ServiceAccountPub() string     { return f.path("sa.pub") }
func (f Files) kubeletClient() string         { return f.path("apiserver-kubelet-client.crt") }
func (f Files) kubeletClientKey() string      { return f.path("apiserver-kubelet-client.key") }
func (f Files) tokenFile() string             { return f.path("tokens.csv") }
func (f Files) admissionConfig() string       { return f.path("admission-config.yaml") }
func (f Files) auditPolicy() string           { return f.path("audit-policy.yaml") }
func (f Files) kubeconfig(user string) string { return f.path(kubeconfigName(user)) }

func kubeconfigName(user string) string {
	return filepath.Base(filepath.Clean("/"+user)) + ".kubeconfig"
}

// Kubeconfig is the kubeconfig file of identity user written by Prepare.
func (f Files) Kubeconfig(user string) string { return f.kubeconfig(user) }

// clientIdentity is one client certificate Prepare issues.
type clientIdentity struct {
	user   string
	groups []string
}

// prepare creates what the control plane needs on first start: the
// front-proxy CA and client, the service account key, the kube-apiserver's
// kubelet client and the admin token file; and a kubeconfig for each of
// identities, pointing at server.
func (f Files) prepare(ca *pki.CA, server, adminToken string, identities []clientIdentity) error {
	if err := os.MkdirAll(f.Dir, 0o700); err != nil {
		return err
	}
	frontProxy, err := pki.LoadOrCreateCA(f.FrontProxyCA(), f.frontProxyCAKey(), "slipway-front-proxy-ca")
	if err != nil {
		return err
	}
	if err := frontProxy.EnsureClientCert(f.frontProxyClient(), f.frontProxyClientKey(), FrontProxyUser, nil); err != nil {
		return err
	}
	if err := pki.EnsureSigningKey(f.ServiceAccountKey(), f.ServiceAccountPub()); err != nil {
		return err
	}
	if err := ca.EnsureClientCert(f.kubeletClient(), f.kubeletClientKey(), "kube-apiserver-kubelet-client", []string{"system:masters"}); err != nil {
		return err
	}
	// The admin token, as a static token of system:admin in system:masters.
	if err := os.WriteFile(f.tokenFile(), fmt.Appendf(nil, "%s,system:admin,system:admin,\"system:masters\"\n", adminToken), 0o600); err != nil {
		return err
	}
	if err := os.WriteFile(f.admissionConfig(), []byte(admissionConfig), 0o600); err != nil {
		return err
	}
	if err := os.WriteFile(f.auditPolicy(), []byte(auditPolicy), 0o600); err != nil {
		return err
	}
	for _, id := range identities {
		cert, key := f.path(kubeconfigName(id.user)+".crt"), f.path(kubeconfigName(id.user)+".key")
		if err := ca.EnsureClientCert(cert, key, id.user, id.groups); err != nil {
			return err
		}
		if err := writeKubeconfig(f.kubeconfig(id.user), server, f.CACert, cert, key); err != nil {
			return err
		}
	}
	return nil
}

// writeKubeconfig writes a kubeconfig that authenticates with a client
// certificate. Its users are the server's own components, on loopback in
// the same process: they ask for no compression (as kube-apiserver's own
// loopback client does), which would cost CPU on both ends of every
// watch event and gain nothing.
func writeKubeconfig(path, server, caFile, certFile, keyFile string) error {
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["slipway"] = &clientcmdapi.Cluster{Server: server, CertificateAuthority: caFile, DisableCompression: true}
	cfg.AuthInfos["user"] = &clientcmdapi.AuthInfo{ClientCertificate: certFile, ClientKey: keyFile}
	cfg.Contexts["slipway"] = &clientcmdapi.Context{Cluster: "slipway", AuthInfo: "user"}
	cfg.CurrentContext = "slipway"
	return clientcmd.WriteToFile(*cfg, path)
}

// admissionConfig makes Pod Security's baseline level the default of every
// namespace (OpenShift's restricted SCC is stricter still): no privileged
// containers, host namespaces or hostPath volumes unless a cluster admin
// labels the namespace (pod-security.kubernetes.io/enforce=privileged).
const admissionConfig = `apiVersion: apiserver.config.k8s.io/v1
kind: AdmissionConfiguration
plugins:
- name: PodSecurity
  configuration:
    apiVersion: pod-security.admission.config.k8s.io/v1
    kind: PodSecurityConfiguration
    defaults:
      enforce: baseline
      enforce-version: latest
    exemptions:
      namespaces: [kube-system]
`

// auditPolicy records every request's metadata (who, verb, resource,
// response code, timestamps), never a request or response body, so no
// secret reaches the audit log. Health probes are left out.
const auditPolicy = `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
- level: None
  nonResourceURLs: [/healthz*, /livez*, /readyz*]
- level: Metadata
`
