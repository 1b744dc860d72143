package cli

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	projectv1 "github.com/openshift/api/project/v1"
	projectclient "github.com/openshift/client-go/project/clientset/versioned/typed/project/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/slipway-dev/slipway/internal/testserver"
)

// adminUser is who the real server's admin token authenticates as.
const adminUser = "system:admin"

// realAPI is Slipway's real API server, started once for the package's
// tests (embedded etcd, free loopback port, test CA, admin token).
type realAPI struct {
	*testserver.Server
	// URL is the server's https URL, as login normalizes it.
	URL string
	// caFile holds the CA that signed the serving certificate.
	caFile   string
	kube     kubernetes.Interface
	projects projectclient.ProjectV1Interface
}

var api *realAPI

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "cli-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := func() int {
		defer os.RemoveAll(dir)
		s, stop, err := testserver.StartForMain(testserver.Options{})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer stop()
		caFile := filepath.Join(dir, "ca.crt")
		if err := os.WriteFile(caFile, s.CABundle, 0o600); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		api = &realAPI{
			Server:   s,
			URL:      s.Admin.Host,
			caFile:   caFile,
			kube:     kubernetes.NewForConfigOrDie(s.Admin),
			projects: projectclient.NewForConfigOrDie(s.Admin),
		}
		return m.Run()
	}()
	os.Exit(code)
}

// ensureProject creates the namespace name (with a display name if given)
// unless it exists.
func ensureProject(t *testing.T, name, display string) {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if display != "" {
		ns.Annotations = map[string]string{displayNameAnnotation: display}
	}
	_, err := api.kube.CoreV1().Namespaces().Create(context.Background(), ns, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
}

// serverProjects lists the projects the admin sees, sorted by name.
func serverProjects(t *testing.T) []projectv1.Project {
	t.Helper()
	list, err := api.projects.Projects().List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	items := list.Items
	slices.SortFunc(items, func(a, b projectv1.Project) int { return strings.Compare(a.Name, b.Name) })
	return items
}

func serverProjectNames(t *testing.T) []string {
	var names []string
	for _, p := range serverProjects(t) {
		names = append(names, p.Name)
	}
	return names
}

// serviceAccountToken makes service account sa in namespace ns (there is
// no service account controller here, so the test makes it and its token
// secret itself) and returns a new token for it, once the server accepts
// it. Every call adds another valid token.
func serviceAccountToken(t *testing.T, ns, sa string) string {
	t.Helper()
	ctx := context.Background()
	ensureProject(t, ns, "")
	account, err := api.kube.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: sa}}, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		account, err = api.kube.CoreV1().ServiceAccounts(ns).Get(ctx, sa, metav1.GetOptions{})
	}
	if err != nil {
		t.Fatal(err)
	}
	// A token from Kubernetes' TokenRequest API; each request gives
	// another valid token of the same account.
	_ = account
	expiry := int64(3600)
	tr, err := api.kube.CoreV1().ServiceAccounts(ns).CreateToken(ctx, sa, &authenticationv1.TokenRequest{
		Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: &expiry},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	token := tr.Status.Token
	// The server authenticates tokens from its secret cache: wait for it.
	cfg := rest.AnonymousClientConfig(api.Admin)
	cfg.BearerToken = token
	client := kubernetes.NewForConfigOrDie(cfg)
	want := "system:serviceaccount:" + ns + ":" + sa
	err = wait.PollUntilContextTimeout(ctx, 20*time.Millisecond, 20*time.Second, true, func(ctx context.Context) (bool, error) {
		review, err := client.AuthenticationV1().SelfSubjectReviews().Create(ctx, &authenticationv1.SelfSubjectReview{}, metav1.CreateOptions{})
		return err == nil && review.Status.UserInfo.Username == want, nil
	})
	if err != nil {
		t.Fatalf("token of %s/%s not accepted: %v", ns, sa, err)
	}
	return token
}

// fakeServerWithoutReviewsOrProjects is a FAKE: a TLS proxy in front of the
// real server that behaves like an older or plainer Kubernetes server, a
// condition the real server cannot be put in. It answers 404 to
// selfsubjectreviews (no authentication.k8s.io review API, so the CLI
// falls back to naming the user from the token) and an empty project list
// (a user without projects; the real server's only user who may list
// projects, the admin, always sees the system ones). Everything else goes
// to the real server.
func fakeServerWithoutReviewsOrProjects(t *testing.T) *httptest.Server {
	t.Helper()
	target, err := url.Parse(api.URL)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(api.CABundle)
	proxy := httputil.NewSingleHostReverseProxy(target)
	proxy.Transport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}
	proxy.ErrorLog = log.New(io.Discard, "", 0)
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Method == http.MethodPost && r.URL.Path == "/apis/authentication.k8s.io/v1/selfsubjectreviews":
			status := apierrors.NewNotFound(authenticationv1.Resource("selfsubjectreviews"), "").Status()
			status.Kind, status.APIVersion = "Status", "v1"
			writeJSON(t, w, http.StatusNotFound, &status)
		case r.Method == http.MethodGet && r.URL.Path == "/apis/project.openshift.io/v1/projects":
			writeJSON(t, w, http.StatusOK, &projectv1.ProjectList{TypeMeta: metav1.TypeMeta{Kind: "ProjectList", APIVersion: "project.openshift.io/v1"}})
		default:
			proxy.ServeHTTP(w, r)
		}
	})
	server := httptest.NewUnstartedServer(handler)
	server.Config.ErrorLog = log.New(io.Discard, "", 0)
	server.StartTLS()
	t.Cleanup(server.Close)
	return server
}

func writeJSON(t *testing.T, w http.ResponseWriter, code int, obj any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	if err := json.NewEncoder(w).Encode(obj); err != nil {
		t.Errorf("encoding response: %v", err)
	}
}

// cliEnv is a sandbox for running commands: its own HOME and KUBECONFIG.
type cliEnv struct {
	t          *testing.T
	kubeconfig string
}

func newCLIEnv(t *testing.T) *cliEnv {
	dir := t.TempDir()
	t.Setenv("HOME", dir)
	kubeconfig := filepath.Join(dir, "kube", "config")
	t.Setenv("KUBECONFIG", kubeconfig)
	return &cliEnv{t: t, kubeconfig: kubeconfig}
}

// run executes one command line and returns its stdout, stderr and error.
func (e *cliEnv) run(args ...string) (string, string, error) {
	e.t.Helper()
	var out, errOut bytes.Buffer
	root := NewRootCommand(IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut})
	root.SetArgs(args)
	root.SetOut(&out)
	root.SetErr(&errOut)
	root.SilenceErrors, root.SilenceUsage = true, true
	err := root.Execute()
	return out.String(), errOut.String(), err
}

// mustRun is run that fails the test on error.
func (e *cliEnv) mustRun(args ...string) string {
	e.t.Helper()
	out, errOut, err := e.run(args...)
	if err != nil {
		e.t.Fatalf("slipway %s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), err, out, errOut)
	}
	return out
}

// config reads the kubeconfig file the commands wrote.
func (e *cliEnv) config() *clientcmdapi.Config {
	e.t.Helper()
	config, err := clientcmd.LoadFromFile(e.kubeconfig)
	if err != nil {
		e.t.Fatalf("reading kubeconfig: %v", err)
	}
	return config
}
