package cli

import (
	"fmt"
	"maps"
	"net"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// kubeconfig stanza naming follows oc so that files written by oc and by
// Slipway look alike and `config get-contexts` reads well:
//
//	cluster  127-0-0-1:8443                   (host:port, dots replaced)
//	user     admin/127-0-0-1:8443              (<user>/<cluster>)
//	context  myproject/127-0-0-1:8443/admin    (<namespace>/<cluster>/<user>)

// clusterNickname names a cluster stanza after the server's host:port. Dots
// become dashes because clientcmd's JSONPath-like paths treat dots as
// separators.
func clusterNickname(server string) (string, error) {
	u, err := url.Parse(server)
	if err != nil {
		return "", fmt.Errorf("parsing server URL %q: %w", server, err)
	}
	host := u.Host
	if u.Port() == "" {
		port := "443"
		if u.Scheme == "http" {
			port = "80"
		}
		host = net.JoinHostPort(u.Hostname(), port)
	}
	return strings.ReplaceAll(host, ".", "-"), nil
}

// userNickname names the credentials stanza of user on cluster.
func userNickname(user, cluster string) string {
	return user + "/" + cluster
}

// contextNickname names the context of user working in namespace on cluster.
// The user part drops any "/<cluster>" suffix, so a user stanza nickname can be
// passed as well as a plain user name.
func contextNickname(namespace, cluster, user string) string {
	user, _, _ = strings.Cut(user, "/")
	return namespace + "/" + cluster + "/" + user
}

// normalizeServerURL turns what a user types ("127.0.0.1:8443",
// "https://host/") into the form stored in a kubeconfig: with a scheme
// (https by default), an explicit port and no trailing slash.
func normalizeServerURL(s string) (string, error) {
	if !strings.Contains(s, "://") {
		s = "https://" + s
	}
	u, err := url.Parse(s)
	if err != nil {
		return "", fmt.Errorf("not a valid URL: %w", err)
	}
	if u.Host == "" {
		return "", fmt.Errorf("not a valid server URL %q: no host", s)
	}
	if port := u.Port(); port != "" {
		if _, err := strconv.ParseUint(port, 10, 16); err != nil {
			return "", fmt.Errorf("not a valid port %q: port numbers must be between 0 and 65535", port)
		}
	} else {
		switch u.Scheme {
		case "https":
			u.Host = net.JoinHostPort(u.Hostname(), "443")
		case "http":
			u.Host = net.JoinHostPort(u.Hostname(), "80")
		default:
			return "", fmt.Errorf("no port specified in %q", s)
		}
	}
	if u.Path == "/" {
		u.Path = ""
	}
	return u.String(), nil
}

// sessionConfig builds the kubeconfig stanzas for user working in namespace
// with the connection and credentials of cfg: one cluster, one user, one
// context, the context made current.
func sessionConfig(namespace, user string, cfg *rest.Config) (*clientcmdapi.Config, error) {
	clusterNick, err := clusterNickname(cfg.Host)
	if err != nil {
		return nil, err
	}
	out := clientcmdapi.NewConfig()

	cluster := clientcmdapi.NewCluster()
	cluster.Server = cfg.Host
	cluster.TLSServerName = cfg.ServerName
	cluster.InsecureSkipTLSVerify = cfg.Insecure
	if !cfg.Insecure {
		cluster.CertificateAuthority = cfg.CAFile
		if cluster.CertificateAuthority == "" {
			cluster.CertificateAuthorityData = cfg.CAData
		}
	}
	out.Clusters[clusterNick] = cluster

	credentials := clientcmdapi.NewAuthInfo()
	credentials.Token = cfg.BearerToken
	credentials.TokenFile = cfg.BearerTokenFile
	credentials.Exec = cfg.ExecProvider
	credentials.AuthProvider = cfg.AuthProvider
	credentials.ClientCertificate = cfg.CertFile
	if credentials.ClientCertificate == "" {
		credentials.ClientCertificateData = cfg.CertData
	}
	credentials.ClientKey = cfg.KeyFile
	if credentials.ClientKey == "" {
		credentials.ClientKeyData = cfg.KeyData
	}
	userNick := userNickname(user, clusterNick)
	out.AuthInfos[userNick] = credentials

	context := clientcmdapi.NewContext()
	context.Cluster = clusterNick
	context.AuthInfo = userNick
	context.Namespace = namespace
	contextNick := contextNickname(namespace, clusterNick, user)
	out.Contexts[contextNick] = context
	out.CurrentContext = contextNick
	return out, nil
}

// mergeSessionConfig adds the stanzas of addition to start: clusters and
// users replace those of the same name (a new token wins), and a context that
// already exists under another name with the same cluster, user and namespace
// is reused rather than duplicated. The addition's current context becomes
// current. start is not modified.
func mergeSessionConfig(start, addition *clientcmdapi.Config) *clientcmdapi.Config {
	merged := start.DeepCopy()
	if merged.Clusters == nil {
		merged.Clusters = map[string]*clientcmdapi.Cluster{}
	}
	if merged.AuthInfos == nil {
		merged.AuthInfos = map[string]*clientcmdapi.AuthInfo{}
	}
	if merged.Contexts == nil {
		merged.Contexts = map[string]*clientcmdapi.Context{}
	}
	for name, cluster := range addition.Clusters {
		merged.Clusters[name] = cluster.DeepCopy()
	}
	for name, user := range addition.AuthInfos {
		merged.AuthInfos[name] = user.DeepCopy()
	}
	renamed := map[string]string{}
	for name, context := range addition.Contexts {
		if existing := findContext(start, context); existing != "" {
			renamed[name] = existing
			continue
		}
		merged.Contexts[name] = context.DeepCopy()
	}
	if addition.CurrentContext != "" {
		merged.CurrentContext = addition.CurrentContext
		if existing, ok := renamed[addition.CurrentContext]; ok {
			merged.CurrentContext = existing
		}
	}
	return merged
}

// findContext returns the name of the context in config that points at the
// same cluster, user and namespace as want, or "".
func findContext(config *clientcmdapi.Config, want *clientcmdapi.Context) string {
	for _, name := range slices.Sorted(maps.Keys(config.Contexts)) {
		context := config.Contexts[name]
		if context.Cluster == want.Cluster && context.AuthInfo == want.AuthInfo && context.Namespace == want.Namespace {
			return name
		}
	}
	return ""
}

// loadStartingConfig reads the kubeconfig the way kubectl does; a file that
// does not exist yet (first login) is an empty config, not an error.
func loadStartingConfig(paths *clientcmd.PathOptions) (*clientcmdapi.Config, error) {
	config, err := paths.GetStartingConfig()
	if err != nil {
		if os.IsNotExist(err) {
			return clientcmdapi.NewConfig(), nil
		}
		return nil, fmt.Errorf("reading kubeconfig: %w", err)
	}
	return config, nil
}

// writeConfig saves config through clientcmd, which puts every stanza back in
// the file it came from and new ones in the default file (--kubeconfig, else
// the first $KUBECONFIG file, else ~/.kube/config).
func writeConfig(paths *clientcmd.PathOptions, config *clientcmdapi.Config) error {
	if err := clientcmd.ModifyConfig(paths, *config, true); err != nil {
		return fmt.Errorf("writing kubeconfig %s: %w", paths.GetDefaultFilename(), err)
	}
	return nil
}
