package cli

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	projectclient "github.com/openshift/client-go/project/clientset/versioned/typed/project/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/sets"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	authenticationclient "k8s.io/client-go/kubernetes/typed/authentication/v1"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"k8s.io/kubectl/pkg/util/templates"
	"k8s.io/kubectl/pkg/util/term"
)

// projectListSuppressThreshold is where login stops listing projects, as oc.
const projectListSuppressThreshold = 50

// loginOptions carries one `slipway login` from flags to the saved kubeconfig.
type loginOptions struct {
	env *commandEnv

	server   string // normalized server URL
	token    string
	caFile   string
	insecure bool

	paths            *clientcmd.PathOptions
	start            *clientcmdapi.Config
	defaultNamespace string

	// Results: the verified connection, who it belongs to, the chosen project.
	config  *rest.Config
	user    string
	project string
}

func newCmdLogin(env *commandEnv) *cobra.Command {
	return &cobra.Command{
		Use:   "login [URL]",
		Short: "Log in to a server",
		Long: templates.LongDesc(`
			Log in to your server and save login for subsequent use.

			Slipway has no OAuth server: log in with a token (--token), such as the
			admin token 'slipway server' writes to DATA_DIR/admin.kubeconfig or a
			service account token. The server, the user and the current project are
			saved to your kubeconfig ($KUBECONFIG, else ~/.kube/config) as a context
			named <project>/<server host:port>/<user>.`),
		Example: templates.Examples(`
			# Log in to the given server with a token
			slipway login https://127.0.0.1:8443 --token=TOKEN --certificate-authority=ca.crt

			# Log in again to the server of the current context with the saved credentials
			slipway login`),
		RunE: func(cmd *cobra.Command, args []string) error {
			o := &loginOptions{env: env}
			if err := o.complete(args); err != nil {
				return err
			}
			return o.run(cmd.Context())
		},
	}
}

func (o *loginOptions) complete(args []string) error {
	flags := o.env.flags
	serverFlag := stringFlag(flags.APIServer)
	switch {
	case len(args) > 1:
		return errors.New("Only the server URL may be specified as an argument")
	case len(args) == 1 && serverFlag != "":
		return errors.New("--server and passing the server URL as an argument are mutually exclusive")
	}

	o.paths = o.env.pathOptions()
	start, err := loadStartingConfig(o.paths)
	if err != nil {
		return err
	}
	o.start = start

	server := serverFlag
	if len(args) == 1 {
		server = args[0]
	}
	if server == "" {
		if context, ok := start.Contexts[start.CurrentContext]; ok {
			if cluster, ok := start.Clusters[context.Cluster]; ok {
				server = cluster.Server
			}
		}
	}
	if server == "" {
		return errors.New("A server URL must be specified")
	}
	if o.server, err = normalizeServerURL(server); err != nil {
		return err
	}

	o.token = stringFlag(flags.BearerToken)
	o.insecure = flags.Insecure != nil && *flags.Insecure
	if ca := stringFlag(flags.CAFile); ca != "" {
		// Stored as an absolute path so the kubeconfig works from any directory.
		if o.caFile, err = filepath.Abs(ca); err != nil {
			return fmt.Errorf("resolving --certificate-authority %s: %w", ca, err)
		}
	}
	if namespace := stringFlag(flags.Namespace); namespace != "" {
		o.defaultNamespace = namespace
	} else if context, ok := start.Contexts[start.CurrentContext]; ok {
		o.defaultNamespace = context.Namespace
	}
	return nil
}

func (o *loginOptions) run(ctx context.Context) error {
	out := o.env.streams.Out
	if err := o.authenticate(ctx); err != nil {
		return err
	}
	if err := o.chooseProject(ctx); err != nil {
		return err
	}

	_, statErr := os.Stat(o.paths.GetDefaultFilename())
	session, err := sessionConfig(o.project, o.user, o.config)
	if err != nil {
		return err
	}
	if err := writeConfig(o.paths, mergeSessionConfig(o.start, session)); err != nil {
		return err
	}
	if os.IsNotExist(statErr) {
		fmt.Fprintf(out, "Welcome! See '%s help' to get started.\n", CommandName)
	}
	return nil
}

// authenticate settles the connection (TLS trust, credentials) and the user
// name: the token given, else credentials already saved for this server.
func (o *loginOptions) authenticate(ctx context.Context) error {
	out := o.env.streams.Out
	cfg := &rest.Config{Host: o.server, BearerToken: o.token}
	cfg.Insecure = o.insecure || o.savedInsecure()
	if !cfg.Insecure {
		if o.caFile != "" {
			cfg.CAFile = o.caFile
		} else {
			cfg.CAFile, cfg.CAData = o.savedCA()
		}
	}

	if o.token == "" {
		return o.reuseSavedCredentials(ctx, cfg)
	}

	if err := o.probe(ctx, cfg); err != nil {
		return err
	}
	if cfg.Insecure {
		fmt.Fprint(out, "WARNING: Using insecure TLS client config. Setting this option is not supported!\n\n")
	}
	user, err := currentUser(ctx, cfg)
	if err != nil {
		return fmt.Errorf("asking the server who the token belongs to: %w", err)
	}
	o.config, o.user = cfg, user
	fmt.Fprintf(out, "Logged into %q as %q using the token provided.\n\n", cfg.Host, user)
	return nil
}

// errInvalidToken is oc's answer to a 401 on login.
var errInvalidToken = errors.New("The token provided is invalid or expired.")

// probe checks that the server answers GET /api with these credentials. On
// an untrusted certificate it asks (on a terminal) whether to continue
// without verification, as oc does, and updates cfg accordingly.
func (o *loginOptions) probe(ctx context.Context, cfg *rest.Config) error {
	err := getAPI(ctx, cfg)
	if isCertificateError(err) && !cfg.Insecure {
		if !o.promptInsecure(err) {
			return errors.New("The server uses a certificate signed by an unknown authority. " +
				"You may need to use the --certificate-authority flag to provide the path to a certificate file for the certificate authority, " +
				"or --insecure-skip-tls-verify to bypass the certificate check and use insecure connections.")
		}
		cfg.Insecure, cfg.CAFile, cfg.CAData = true, "", nil
		err = getAPI(ctx, cfg)
	}
	var netErr *net.OpError
	switch {
	case err == nil:
		return nil
	case apierrors.IsUnauthorized(err):
		return errInvalidToken
	case apierrors.IsForbidden(err) && cfg.BearerToken == "" && cfg.CertFile == "" && len(cfg.CertData) == 0:
		// Kubernetes lets anonymous requests in as system:anonymous, whom
		// RBAC refuses: without credentials, that means "log in".
		return errInvalidToken
	case errors.As(err, &netErr):
		return fmt.Errorf("%v - verify you have provided the correct host and port and that the server is currently running.", err)
	default:
		return fmt.Errorf("contacting %s: %w", cfg.Host, err)
	}
}

// getAPI is the cheapest authenticated request every Kubernetes-style server
// answers: the core API's version list.
func getAPI(ctx context.Context, cfg *rest.Config) error {
	client, err := rest.UnversionedRESTClientFor(withDefaults(cfg))
	if err != nil {
		return fmt.Errorf("building a client for %s: %w", cfg.Host, err)
	}
	return client.Get().AbsPath("/api").Do(ctx).Error()
}

// withDefaults returns a copy of cfg with the serializer settings an
// unversioned REST client needs.
func withDefaults(cfg *rest.Config) *rest.Config {
	c := rest.CopyConfig(cfg)
	c.APIPath = "/api"
	c.GroupVersion = &metav1.SchemeGroupVersion
	c.NegotiatedSerializer = clientgoscheme.Codecs.WithoutConversion()
	return c
}

func isCertificateError(err error) bool {
	var unknownAuthority x509.UnknownAuthorityError
	var hostname x509.HostnameError
	var invalid x509.CertificateInvalidError
	var verification *tls.CertificateVerificationError
	return errors.As(err, &unknownAuthority) || errors.As(err, &hostname) ||
		errors.As(err, &invalid) || errors.As(err, &verification)
}

func (o *loginOptions) promptInsecure(cause error) bool {
	streams := o.env.streams
	if streams.In == nil || !(term.TTY{In: streams.In}).IsTerminalIn() {
		return false
	}
	fmt.Fprintf(streams.Out, "The server uses a certificate signed by an unknown authority (%v).\n", cause)
	fmt.Fprintln(streams.Out, "You can bypass the certificate check, but any data you send to the server could be intercepted by others.")
	fmt.Fprint(streams.Out, "Use insecure connections? (y/n): ")
	answer, _ := bufio.NewReader(streams.In).ReadString('\n')
	fmt.Fprintln(streams.Out)
	answer = strings.ToLower(strings.TrimSpace(answer))
	return answer == "y" || answer == "yes"
}

// savedClusters lists the names of the kubeconfig clusters for this server.
func (o *loginOptions) savedClusters() []string {
	var names []string
	for name, cluster := range o.start.Clusters {
		if server, err := normalizeServerURL(cluster.Server); err == nil && server == o.server {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	return names
}

// savedInsecure reports whether the kubeconfig already trusts this server
// without verification (a previous login with --insecure-skip-tls-verify).
func (o *loginOptions) savedInsecure() bool {
	for _, name := range o.savedClusters() {
		if o.start.Clusters[name].InsecureSkipTLSVerify {
			return true
		}
	}
	return false
}

// savedCA returns the certificate authority the kubeconfig has for this
// server, so that a second login needs no --certificate-authority.
func (o *loginOptions) savedCA() (string, []byte) {
	for _, name := range o.savedClusters() {
		cluster := o.start.Clusters[name]
		if cluster.CertificateAuthority != "" || len(cluster.CertificateAuthorityData) > 0 {
			return cluster.CertificateAuthority, cluster.CertificateAuthorityData
		}
	}
	return "", nil
}

// reuseSavedCredentials logs in with the credentials of a saved context for
// this server (the current one first), as `oc login` without a token does.
func (o *loginOptions) reuseSavedCredentials(ctx context.Context, cfg *rest.Config) error {
	clusters := sets.New(o.savedClusters()...)
	names := slices.Sorted(maps.Keys(o.start.Contexts))
	if i := slices.Index(names, o.start.CurrentContext); i > 0 {
		// Read names[i] before slices.Delete, which shifts and clears the
		// tail in place.
		current := names[i]
		names = append([]string{current}, slices.Delete(names, i, i+1)...)
	}
	for _, name := range names {
		if !clusters.Has(o.start.Contexts[name].Cluster) {
			continue
		}
		saved, err := clientcmd.NewDefaultClientConfig(*o.start, &clientcmd.ConfigOverrides{CurrentContext: name}).ClientConfig()
		if err != nil || (saved.BearerToken == "" && saved.BearerTokenFile == "" && len(saved.CertData) == 0 && saved.CertFile == "") {
			continue
		}
		if err := o.probe(ctx, saved); err != nil {
			continue
		}
		user, err := currentUser(ctx, saved)
		if err != nil {
			continue
		}
		o.config, o.user = saved, user
		fmt.Fprintf(o.env.streams.Out, "Logged into %q as %q using existing credentials.\n\n", saved.Host, user)
		return nil
	}
	// Without credentials a 401 is expected; anything else (unreachable,
	// untrusted) is the more useful message.
	if err := o.probe(ctx, cfg); err != nil && !errors.Is(err, errInvalidToken) {
		return err
	}
	return fmt.Errorf("no saved credentials for %s: log in with --token (Slipway has no OAuth server; "+
		"'%s server' writes an admin token to DATA_DIR/admin.kubeconfig)", o.server, CommandName)
}

// chooseProject lists the user's projects and picks the one to use: the
// requested or current namespace if it is one of them, else "default", else
// the first, printing what oc prints.
func (o *loginOptions) chooseProject(ctx context.Context) error {
	out := o.env.streams.Out
	client, err := projectclient.NewForConfig(o.config)
	if err != nil {
		return fmt.Errorf("building the project client: %w", err)
	}
	list, err := client.Projects().List(ctx, metav1.ListOptions{})
	if err != nil {
		if !apierrors.IsNotFound(err) && !apierrors.IsForbidden(err) {
			fmt.Fprintf(out, "WARNING: Failed to list projects: %v\n", err)
		}
		fmt.Fprintf(out, "Using \"default\" namespace.  You can switch namespaces with:\n\n %s project <projectname>\n", CommandName)
		o.project = metav1.NamespaceDefault
		return nil
	}

	names := sets.New[string]()
	for _, p := range list.Items {
		names.Insert(p.Name)
	}
	if o.defaultNamespace != "" && !names.Has(o.defaultNamespace) {
		// A project created a moment ago may not be listed yet.
		if _, err := client.Projects().Get(ctx, o.defaultNamespace, metav1.GetOptions{}); err == nil {
			names.Insert(o.defaultNamespace)
		}
	}

	switch names.Len() {
	case 0:
		fmt.Fprintf(out, "You don't have any projects. You can try to create a new project, by running\n\n    %s new-project <projectname>\n\n", CommandName)
		o.project = ""
	case 1:
		o.project = sets.List(names)[0]
		fmt.Fprintf(out, "You have one project on this server: %q\n\n", o.project)
		fmt.Fprintf(out, "Using project %q.\n", o.project)
	default:
		o.project = o.defaultNamespace
		if !names.Has(o.project) {
			o.project = sets.List(names)[0]
			if names.Has(metav1.NamespaceDefault) {
				o.project = metav1.NamespaceDefault
			}
		}
		if names.Len() > projectListSuppressThreshold {
			fmt.Fprintf(out, "You have access to %d projects, the list has been suppressed. You can list all projects with '%s projects'\n\n", names.Len(), CommandName)
		} else {
			fmt.Fprintf(out, "You have access to the following projects and can switch between them with '%s project <projectname>':\n\n", CommandName)
			for _, name := range sets.List(names) {
				marker := "    "
				if name == o.project {
					marker = "  * "
				}
				fmt.Fprintf(out, "%s%s\n", marker, name)
			}
			fmt.Fprintln(out)
		}
		fmt.Fprintf(out, "Using project %q.\n", o.project)
	}
	return nil
}

func newCmdLogout(env *commandEnv) *cobra.Command {
	return &cobra.Command{
		Use:   "logout",
		Short: "End the current server session",
		Long: templates.LongDesc(`
			Log out of the active session by removing the saved token.

			The token of the current context is removed from every user entry
			of your kubeconfig that holds it. Log in again with 'slipway login'.`),
		Example: templates.Examples(`
			# Log out
			slipway logout`),
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runLogout(cmd.Context(), env)
		},
	}
}

func runLogout(ctx context.Context, env *commandEnv) error {
	paths := env.pathOptions()
	start, err := loadStartingConfig(paths)
	if err != nil {
		return err
	}
	cfg, err := env.factory.ToRESTConfig()
	if err != nil {
		return err
	}
	if cfg.BearerToken == "" {
		return errors.New("You must have a token in order to logout.")
	}
	user, err := currentUser(ctx, cfg)
	if err != nil {
		// The token may be dead or the server gone: logging out must still
		// work, so name the user after the saved credentials.
		user = savedUserName(start)
	}
	if err := writeConfig(paths, withoutToken(start, cfg.BearerToken)); err != nil {
		return err
	}
	fmt.Fprintf(env.streams.Out, "Logged %q out on %q\n", user, cfg.Host)
	return nil
}

// withoutToken returns a copy of config in which no user entry holds token.
func withoutToken(config *clientcmdapi.Config, token string) *clientcmdapi.Config {
	out := config.DeepCopy()
	for _, user := range out.AuthInfos {
		if user.Token == token {
			user.Token = ""
		}
	}
	return out
}

// savedUserName is the user part of the current context's user entry
// ("admin/127-0-0-1:8443" -> "admin").
func savedUserName(config *clientcmdapi.Config) string {
	if context, ok := config.Contexts[config.CurrentContext]; ok {
		user, _, _ := strings.Cut(context.AuthInfo, "/")
		return user
	}
	return ""
}

type whoAmIOptions struct {
	showToken, showContext, showServer bool
}

func newCmdWhoAmI(env *commandEnv) *cobra.Command {
	o := &whoAmIOptions{}
	cmd := &cobra.Command{
		Use:   "whoami",
		Short: "Return information about the current session",
		Long: templates.LongDesc(`
			Show information about the current session.

			By default the name of the user the server knows the current
			credentials as; the flags print the token, context or server instead.`),
		Example: templates.Examples(`
			# Display the currently authenticated user
			slipway whoami

			# Display the token of the current session
			slipway whoami --show-token`),
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return o.run(cmd.Context(), env)
		},
	}
	cmd.Flags().BoolVarP(&o.showToken, "show-token", "t", false, "Print the token the current session is using. This will return an error if you are using a different form of authentication.")
	cmd.Flags().BoolVarP(&o.showContext, "show-context", "c", false, "Print the current user context name")
	cmd.Flags().BoolVar(&o.showServer, "show-server", false, "If true, print the current server's REST API URL")
	return cmd
}

func (o *whoAmIOptions) run(ctx context.Context, env *commandEnv) error {
	out := env.streams.Out
	if o.showContext {
		raw, err := env.factory.ToRawKubeConfigLoader().RawConfig()
		if err != nil {
			return err
		}
		current := raw.CurrentContext
		if name := stringFlag(env.flags.Context); name != "" {
			current = name
		}
		if current == "" {
			return errors.New("no context has been set")
		}
		fmt.Fprintln(out, current)
		return nil
	}
	cfg, err := env.factory.ToRESTConfig()
	if err != nil {
		return err
	}
	switch {
	case o.showToken:
		if cfg.BearerToken == "" {
			return errors.New("no token is currently in use for this session")
		}
		fmt.Fprintln(out, cfg.BearerToken)
	case o.showServer:
		fmt.Fprintln(out, cfg.Host)
	default:
		user, err := currentUser(ctx, cfg)
		if err != nil {
			return err
		}
		fmt.Fprintln(out, user)
	}
	return nil
}

// currentUser asks the server who cfg's credentials belong to, with the
// standard SelfSubjectReview. A server without that API gets the name the
// token itself carries: a service account token's subject
// (system:serviceaccount:<ns>:<name>), else "admin", the only other kind of
// token Slipway issues.
func currentUser(ctx context.Context, cfg *rest.Config) (string, error) {
	client, err := authenticationclient.NewForConfig(cfg)
	if err != nil {
		return "", fmt.Errorf("building the authentication client: %w", err)
	}
	review, err := client.SelfSubjectReviews().Create(ctx, &authenticationv1.SelfSubjectReview{}, metav1.CreateOptions{})
	switch {
	case err == nil && review.Status.UserInfo.Username != "":
		return review.Status.UserInfo.Username, nil
	case err == nil, apierrors.IsNotFound(err), apierrors.IsMethodNotSupported(err):
		return userFromToken(cfg.BearerToken), nil
	default:
		return "", err
	}
}

// userFromToken reads the subject of a JWT service account token; any other
// token is the admin's.
func userFromToken(token string) string {
	parts := strings.Split(token, ".")
	if len(parts) == 3 {
		if payload, err := base64.RawURLEncoding.DecodeString(parts[1]); err == nil {
			var claims struct {
				Subject string `json:"sub"`
			}
			if json.Unmarshal(payload, &claims) == nil && strings.HasPrefix(claims.Subject, "system:serviceaccount:") {
				return claims.Subject
			}
		}
	}
	return "admin"
}

// stringFlag dereferences one of ConfigFlags' optional string flags.
func stringFlag(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
