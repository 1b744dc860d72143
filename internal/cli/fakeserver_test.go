package cli

import (
	"bytes"
	"encoding/json"
	"encoding/pem"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	projectv1 "github.com/openshift/api/project/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/version"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// fakeAPI is a minimal TLS API server with the endpoints the Slipway verbs
// call: /api, /version, selfsubjectreviews, projects, projectrequests,
// namespaces, secrets and serviceaccounts. It accepts one bearer token.
type fakeAPI struct {
	t      *testing.T
	server *httptest.Server
	token  string
	user   string
	// selfSubjectReviews off makes the review endpoint 404, like a server
	// without authentication.k8s.io.
	selfSubjectReviews bool

	mu              sync.Mutex
	projects        map[string]*projectv1.Project
	secrets         map[string]*corev1.Secret         // "ns/name"
	serviceAccounts map[string]*corev1.ServiceAccount // "ns/name"
	projectRequests []projectv1.ProjectRequest
}

func newFakeAPI(t *testing.T, projects ...string) *fakeAPI {
	t.Helper()
	f := &fakeAPI{
		t: t, token: "sha256~good", user: "developer", selfSubjectReviews: true,
		projects:        map[string]*projectv1.Project{},
		secrets:         map[string]*corev1.Secret{},
		serviceAccounts: map[string]*corev1.ServiceAccount{},
	}
	for _, name := range projects {
		f.projects[name] = &projectv1.Project{ObjectMeta: metav1.ObjectMeta{Name: name}}
	}
	f.server = httptest.NewUnstartedServer(http.HandlerFunc(f.serve))
	// Untrusted-certificate tests make the server log handshake failures.
	f.server.Config.ErrorLog = log.New(io.Discard, "", 0)
	f.server.StartTLS()
	t.Cleanup(f.server.Close)
	return f
}

// caFile writes the server's certificate to a file and returns its path.
func (f *fakeAPI) caFile(t *testing.T) string {
	path := filepath.Join(t.TempDir(), "ca.crt")
	data := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: f.server.Certificate().Raw})
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func (f *fakeAPI) addServiceAccount(namespace, name string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.serviceAccounts[namespace+"/"+name] = &corev1.ServiceAccount{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace, ResourceVersion: "1"},
	}
}

func (f *fakeAPI) addSecret(namespace, name string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.secrets[namespace+"/"+name] = &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace}}
}

func (f *fakeAPI) serviceAccount(namespace, name string) *corev1.ServiceAccount {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.serviceAccounts[namespace+"/"+name].DeepCopy()
}

func (f *fakeAPI) secret(namespace, name string) *corev1.Secret {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.secrets[namespace+"/"+name].DeepCopy()
}

func (f *fakeAPI) writeStatus(w http.ResponseWriter, err *apierrors.StatusError) {
	status := err.Status()
	status.Kind, status.APIVersion = "Status", "v1"
	f.write(w, int(status.Code), &status)
}

func (f *fakeAPI) write(w http.ResponseWriter, code int, obj any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	if err := json.NewEncoder(w).Encode(obj); err != nil {
		f.t.Errorf("encoding response: %v", err)
	}
}

// read decodes a request body: JSON, or protobuf as kubectl's clientset
// sends for core types.
func (f *fakeAPI) read(r *http.Request, into any) bool {
	body, err := io.ReadAll(r.Body)
	if err == nil {
		if strings.Contains(r.Header.Get("Content-Type"), "protobuf") {
			_, _, err = clientgoscheme.Codecs.UniversalDeserializer().Decode(body, nil, into.(runtime.Object))
		} else {
			err = json.Unmarshal(body, into)
		}
	}
	if err != nil {
		f.t.Errorf("decoding %s %s: %v", r.Method, r.URL.Path, err)
		return false
	}
	return true
}

func (f *fakeAPI) serve(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("Authorization") != "Bearer "+f.token {
		f.writeStatus(w, apierrors.NewUnauthorized("Unauthorized"))
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	path := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	route := r.Method + " " + r.URL.Path
	projects := schema.GroupResource{Group: "project.openshift.io", Resource: "projects"}
	switch {
	case route == "GET /api":
		f.write(w, 200, &metav1.APIVersions{TypeMeta: metav1.TypeMeta{Kind: "APIVersions"}, Versions: []string{"v1"}})
	case route == "GET /version":
		f.write(w, 200, &version.Info{GitVersion: "v1.37.2-slipway"})
	case route == "POST /apis/authentication.k8s.io/v1/selfsubjectreviews":
		if !f.selfSubjectReviews {
			f.writeStatus(w, apierrors.NewNotFound(schema.GroupResource{Group: "authentication.k8s.io", Resource: "selfsubjectreviews"}, ""))
			return
		}
		review := &authenticationv1.SelfSubjectReview{TypeMeta: metav1.TypeMeta{Kind: "SelfSubjectReview", APIVersion: "authentication.k8s.io/v1"}}
		review.Status.UserInfo.Username = f.user
		f.write(w, 201, review)
	case route == "GET /apis/project.openshift.io/v1/projects":
		list := &projectv1.ProjectList{TypeMeta: metav1.TypeMeta{Kind: "ProjectList", APIVersion: "project.openshift.io/v1"}}
		for _, p := range f.projects {
			list.Items = append(list.Items, *p)
		}
		f.write(w, 200, list)
	case r.Method == "GET" && len(path) == 5 && path[3] == "projects":
		if p, ok := f.projects[path[4]]; ok {
			f.write(w, 200, p)
			return
		}
		f.writeStatus(w, apierrors.NewNotFound(projects, path[4]))
	case r.Method == "GET" && len(path) == 4 && path[2] == "namespaces":
		// Namespaces are the projects here; absent ones are not found.
		if _, ok := f.projects[path[3]]; ok {
			f.write(w, 200, &corev1.Namespace{TypeMeta: metav1.TypeMeta{Kind: "Namespace", APIVersion: "v1"}, ObjectMeta: metav1.ObjectMeta{Name: path[3]}})
			return
		}
		f.writeStatus(w, apierrors.NewNotFound(schema.GroupResource{Resource: "namespaces"}, path[3]))
	case route == "POST /apis/project.openshift.io/v1/projectrequests":
		var request projectv1.ProjectRequest
		if !f.read(r, &request) {
			return
		}
		if _, ok := f.projects[request.Name]; ok {
			f.writeStatus(w, apierrors.NewAlreadyExists(projects, request.Name))
			return
		}
		f.projectRequests = append(f.projectRequests, request)
		p := &projectv1.Project{
			TypeMeta:   metav1.TypeMeta{Kind: "Project", APIVersion: "project.openshift.io/v1"},
			ObjectMeta: metav1.ObjectMeta{Name: request.Name, Annotations: map[string]string{displayNameAnnotation: request.DisplayName}},
		}
		f.projects[request.Name] = p
		f.write(w, 201, p)
	case len(path) >= 5 && path[0] == "api" && path[2] == "namespaces" && (path[4] == "secrets" || path[4] == "serviceaccounts"):
		f.serveNamespaced(w, r, path[3], path[4], path[5:])
	default:
		f.t.Errorf("fake API: unexpected request %s", route)
		f.writeStatus(w, apierrors.NewNotFound(schema.GroupResource{Resource: r.URL.Path}, ""))
	}
}

// serveNamespaced is create/get/update for secrets and serviceaccounts.
func (f *fakeAPI) serveNamespaced(w http.ResponseWriter, r *http.Request, namespace, resource string, rest []string) {
	gr := schema.GroupResource{Resource: resource}
	switch {
	case resource == "secrets" && r.Method == "POST" && len(rest) == 0:
		var secret corev1.Secret
		if !f.read(r, &secret) {
			return
		}
		key := namespace + "/" + secret.Name
		if _, ok := f.secrets[key]; ok {
			f.writeStatus(w, apierrors.NewAlreadyExists(gr, secret.Name))
			return
		}
		secret.Namespace = namespace
		f.secrets[key] = &secret
		f.write(w, 201, &secret)
	case resource == "secrets" && r.Method == "GET" && len(rest) == 1:
		if secret, ok := f.secrets[namespace+"/"+rest[0]]; ok {
			f.write(w, 200, secret)
			return
		}
		f.writeStatus(w, apierrors.NewNotFound(gr, rest[0]))
	case resource == "serviceaccounts" && r.Method == "GET" && len(rest) == 1:
		if sa, ok := f.serviceAccounts[namespace+"/"+rest[0]]; ok {
			f.write(w, 200, sa)
			return
		}
		f.writeStatus(w, apierrors.NewNotFound(gr, rest[0]))
	case resource == "serviceaccounts" && r.Method == "PUT" && len(rest) == 1:
		var sa corev1.ServiceAccount
		if !f.read(r, &sa) {
			return
		}
		current, ok := f.serviceAccounts[namespace+"/"+rest[0]]
		if !ok {
			f.writeStatus(w, apierrors.NewNotFound(gr, rest[0]))
			return
		}
		if sa.ResourceVersion != current.ResourceVersion {
			f.writeStatus(w, apierrors.NewConflict(gr, rest[0], nil))
			return
		}
		sa.ResourceVersion += "1"
		f.serviceAccounts[namespace+"/"+rest[0]] = &sa
		f.write(w, 200, &sa)
	default:
		f.t.Errorf("fake API: unexpected request %s %s", r.Method, r.URL.Path)
		f.writeStatus(w, apierrors.NewNotFound(gr, ""))
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
