package namespace

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	imagev1 "github.com/openshift/api/image/v1"
	imageclient "github.com/openshift/client-go/image/clientset/versioned"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/slipway-dev/slipway/internal/testserver"
)

// server is the real API server every test of this package runs against;
// each test works in namespaces of its own.
var server *testserver.Server

func TestMain(m *testing.M) {
	testserver.Main(m, testserver.Options{}, func(s *testserver.Server) { server = s })
}

var (
	podsGVR       = schema.GroupVersionResource{Version: "v1", Resource: "pods"}
	configMapsGVR = schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}
	secretsGVR    = schema.GroupVersionResource{Version: "v1", Resource: "secrets"}
	streamsGVR    = schema.GroupVersionResource{Group: "image.openshift.io", Version: "v1", Resource: "imagestreams"}
)

// requestLog records the requests a client sends (method and path); it only
// observes, the requests go to the real server.
type requestLog struct {
	mu   sync.Mutex
	reqs []string
}

func (l *requestLog) wrap(rt http.RoundTripper) http.RoundTripper {
	return roundTripperFunc(func(r *http.Request) (*http.Response, error) {
		l.mu.Lock()
		l.reqs = append(l.reqs, r.Method+" "+r.URL.Path)
		l.mu.Unlock()
		return rt.RoundTrip(r)
	})
}

func (l *requestLog) all() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.reqs)
}

type roundTripperFunc func(*http.Request) (*http.Response, error)

func (f roundTripperFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// fixture is the namespace controller wired to the real server through real
// clients and a started informer factory. The test's own client (admin) is
// separate from the controller's, whose requests are logged.
type fixture struct {
	t      *testing.T
	ctx    context.Context
	admin  kubernetes.Interface
	images imageclient.Interface
	dyn    dynamic.Interface
	// requests are the controller's requests (typed and dynamic clients).
	requests *requestLog
	c        *Controller
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	return newFixtureWithDynamic(t, nil)
}

// newFixtureWithDynamic lets a test wrap the controller's dynamic client.
func newFixtureWithDynamic(t *testing.T, wrap func(dynamic.Interface) dynamic.Interface) *fixture {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)

	log := &requestLog{}
	cfg := rest.CopyConfig(server.Admin)
	cfg.WrapTransport = log.wrap
	client := kubernetes.NewForConfigOrDie(cfg)
	dyn := dynamic.NewForConfigOrDie(cfg)
	disco := discovery.NewDiscoveryClientForConfigOrDie(server.Admin)
	var controllerDyn dynamic.Interface = dyn
	if wrap != nil {
		controllerDyn = wrap(dyn)
	}

	factory := informers.NewSharedInformerFactory(client, 0)
	c := New(client, controllerDyn, disco, factory.Core().V1().Namespaces(), WithRecheckDelay(10*time.Millisecond))
	factory.Start(ctx.Done())
	factory.WaitForCacheSync(ctx.Done())
	return &fixture{
		t: t, ctx: ctx,
		admin:    kubernetes.NewForConfigOrDie(server.Admin),
		images:   imageclient.NewForConfigOrDie(server.Admin),
		dyn:      dynamic.NewForConfigOrDie(server.Admin),
		requests: log, c: c,
	}
}

func (f *fixture) must(err error) {
	f.t.Helper()
	if err != nil {
		f.t.Fatal(err)
	}
}

// namespace creates an active namespace with the given extra finalizers
// (the server adds the kubernetes one).
func (f *fixture) namespace(name string, finalizers ...corev1.FinalizerName) {
	f.t.Helper()
	_, err := f.admin.CoreV1().Namespaces().Create(f.ctx, &corev1.Namespace{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec:       corev1.NamespaceSpec{Finalizers: finalizers},
	}, metav1.CreateOptions{})
	f.must(err)
	f.t.Cleanup(func() { forceRemoveNamespace(name) })
}

// terminate deletes the namespace, which the server only marks Terminating
// while the kubernetes finalizer is there, and waits until the controller's
// cache shows it so.
func (f *fixture) terminate(name string) {
	f.t.Helper()
	f.must(f.admin.CoreV1().Namespaces().Delete(f.ctx, name, metav1.DeleteOptions{}))
	f.waitFor("namespace "+name+" terminating in the cache", func() bool {
		ns, err := f.c.namespaces.Get(name)
		return err == nil && ns.DeletionTimestamp != nil
	})
}

func (f *fixture) waitFor(what string, cond func() bool) {
	f.t.Helper()
	err := wait.PollUntilContextTimeout(f.ctx, 10*time.Millisecond, 20*time.Second, true, func(context.Context) (bool, error) {
		return cond(), nil
	})
	if err != nil {
		f.t.Fatalf("waiting for %s: %v", what, err)
	}
}

// forceRemoveNamespace empties a test namespace's finalizers so the server
// drops it when a test left it Terminating.
func forceRemoveNamespace(name string) {
	ctx := context.Background()
	client := kubernetes.NewForConfigOrDie(server.Admin)
	ns, err := client.CoreV1().Namespaces().Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return
	}
	if ns.DeletionTimestamp == nil {
		_ = client.CoreV1().Namespaces().Delete(ctx, name, metav1.DeleteOptions{})
		if ns, err = client.CoreV1().Namespaces().Get(ctx, name, metav1.GetOptions{}); err != nil {
			return
		}
	}
	ns.Spec.Finalizers = nil
	_, _ = client.CoreV1().Namespaces().Finalize(ctx, ns, metav1.UpdateOptions{})
}

func (f *fixture) pod(ns, name, node string) {
	f.t.Helper()
	_, err := f.admin.CoreV1().Pods(ns).Create(f.ctx, &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: corev1.PodSpec{
			NodeName:   node,
			Containers: []corev1.Container{{Name: "main", Image: "busybox"}},
		},
	}, metav1.CreateOptions{})
	f.must(err)
}

// shuttingDownPod makes a pod that is being deleted but stays, as a pod on
// a node does until the node confirms it stopped.
func (f *fixture) shuttingDownPod(ns, name string) {
	f.t.Helper()
	f.pod(ns, name, "node-1")
	grace := int64(3600)
	f.must(f.admin.CoreV1().Pods(ns).Delete(f.ctx, name, metav1.DeleteOptions{GracePeriodSeconds: &grace}))
	p, err := f.admin.CoreV1().Pods(ns).Get(f.ctx, name, metav1.GetOptions{})
	f.must(err)
	if p.DeletionTimestamp == nil {
		f.t.Fatalf("pod %s/%s is not shutting down", ns, name)
	}
}

// podStopped is the node's confirmation: the pod goes for good.
func (f *fixture) podStopped(ns, name string) {
	f.t.Helper()
	zero := int64(0)
	f.must(f.admin.CoreV1().Pods(ns).Delete(f.ctx, name, metav1.DeleteOptions{GracePeriodSeconds: &zero}))
}

func (f *fixture) configMap(ns, name string) {
	f.t.Helper()
	_, err := f.admin.CoreV1().ConfigMaps(ns).Create(f.ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
	f.must(err)
}

func (f *fixture) secret(ns, name string) {
	f.t.Helper()
	_, err := f.admin.CoreV1().Secrets(ns).Create(f.ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
	f.must(err)
}

func (f *fixture) imageStream(ns, name string) {
	f.t.Helper()
	_, err := f.images.ImageV1().ImageStreams(ns).Create(f.ctx, &imagev1.ImageStream{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
	f.must(err)
}

func (f *fixture) names(gvr schema.GroupVersionResource, ns string) []string {
	f.t.Helper()
	list, err := f.dyn.Resource(gvr).Namespace(ns).List(f.ctx, metav1.ListOptions{})
	if err != nil {
		f.t.Fatal(err)
	}
	var names []string
	for _, item := range list.Items {
		names = append(names, item.GetName())
	}
	slices.Sort(names)
	return names
}

// namespaceWrites are the controller's writes to namespace ns.
func (f *fixture) namespaceWrites(ns string) []string {
	var out []string
	for _, r := range f.requests.all() {
		method, path, _ := strings.Cut(r, " ")
		if method == http.MethodGet || !strings.HasPrefix(path, "/api/v1/namespaces/"+ns) {
			continue
		}
		rest := strings.TrimPrefix(path, "/api/v1/namespaces/"+ns)
		if rest == "" || rest == "/finalize" {
			out = append(out, method+" "+strings.TrimPrefix(rest, "/"))
		}
	}
	return out
}

func (f *fixture) namespaceGone(name string) bool {
	_, err := f.admin.CoreV1().Namespaces().Get(f.ctx, name, metav1.GetOptions{})
	return apierrors.IsNotFound(err)
}

// defaultContent is what the tests put into a namespace: pods, a config
// map, a secret and an OpenShift image stream.
func (f *fixture) defaultContent(ns string) {
	f.t.Helper()
	f.pod(ns, "web-1", "")
	f.pod(ns, "web-2", "")
	f.configMap(ns, "cfg")
	f.secret(ns, "builder-token-abcde")
	f.imageStream(ns, "app")
}

func TestSyncDeletesContentThenFinalizes(t *testing.T) {
	f := newFixture(t)
	f.namespace("del-p")
	f.namespace("del-other")
	f.defaultContent("del-p")
	f.pod("del-other", "keep", "")
	f.configMap("del-other", "keep")
	f.terminate("del-p")

	if err := f.c.sync(f.ctx, "del-p"); err != nil {
		t.Fatalf("sync: %v", err)
	}
	if !f.namespaceGone("del-p") {
		t.Error("namespace still there after sync")
	}
	if got, want := f.namespaceWrites("del-p"), []string{"PUT finalize", "DELETE "}; !slices.Equal(got, want) {
		t.Errorf("namespace writes = %v, want %v", got, want)
	}
	// The content went with it, and only it.
	for _, gvr := range []schema.GroupVersionResource{podsGVR, configMapsGVR, secretsGVR, streamsGVR} {
		if left := f.names(gvr, "del-p"); len(left) != 0 {
			t.Errorf("%s left in del-p: %v", gvr.Resource, left)
		}
	}
	if !slices.Equal(f.names(podsGVR, "del-other"), []string{"keep"}) || !slices.Equal(f.names(configMapsGVR, "del-other"), []string{"keep"}) {
		t.Errorf("objects of another namespace were touched")
	}
}

func TestSyncWaitsForRemainingContent(t *testing.T) {
	f := newFixture(t)
	f.namespace("wait-p", "openshift.io/origin")
	f.shuttingDownPod("wait-p", "slow")
	f.terminate("wait-p")

	err := f.c.sync(f.ctx, "wait-p")
	var remaining *ContentRemainingError
	if !errors.As(err, &remaining) || remaining.Objects != 1 {
		t.Fatalf("sync = %v, want 1 object remaining", err)
	}
	if got := f.namespaceWrites("wait-p"); len(got) != 0 {
		t.Errorf("namespace written while content remains: %v", got)
	}

	// The pod finishes; the next pass finalizes, but another finalizer still holds the namespace.
	f.podStopped("wait-p", "slow")
	if err := f.c.sync(f.ctx, "wait-p"); err != nil {
		t.Fatalf("second sync: %v", err)
	}
	ns, err := f.admin.CoreV1().Namespaces().Get(f.ctx, "wait-p", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(ns.Spec.Finalizers, []corev1.FinalizerName{"openshift.io/origin"}) {
		t.Errorf("finalizers = %v", ns.Spec.Finalizers)
	}
	if got := f.namespaceWrites("wait-p"); !slices.Equal(got, []string{"PUT finalize"}) {
		t.Errorf("namespace writes = %v, want only finalize", got)
	}
}

// fakeFailingSecretDeletes is a FAKE fault on top of the real server: the
// controller's dynamic client fails every deletecollection of secrets, a
// storage failure the real server cannot be made to produce on demand.
// Every other request goes to the real server.
type fakeFailingSecretDeletes struct{ dynamic.Interface }

func (d fakeFailingSecretDeletes) Resource(gvr schema.GroupVersionResource) dynamic.NamespaceableResourceInterface {
	r := d.Interface.Resource(gvr)
	if gvr != secretsGVR {
		return r
	}
	return fakeFailingSecretResource{r}
}

type fakeFailingSecretResource struct {
	dynamic.NamespaceableResourceInterface
}

func (r fakeFailingSecretResource) Namespace(ns string) dynamic.ResourceInterface {
	return fakeFailingSecretNamespace{r.NamespaceableResourceInterface.Namespace(ns)}
}

type fakeFailingSecretNamespace struct{ dynamic.ResourceInterface }

func (fakeFailingSecretNamespace) DeleteCollection(context.Context, metav1.DeleteOptions, metav1.ListOptions) error {
	return apierrors.NewInternalError(errors.New("etcd unhappy (injected by the test)"))
}

func TestSyncContinuesPastFailingResourceWithFakeFault(t *testing.T) {
	f := newFixtureWithDynamic(t, func(d dynamic.Interface) dynamic.Interface { return fakeFailingSecretDeletes{d} })
	f.namespace("fail-p")
	f.pod("fail-p", "web", "")
	f.secret("fail-p", "s")
	f.imageStream("fail-p", "app")
	f.terminate("fail-p")

	if err := f.c.sync(f.ctx, "fail-p"); err == nil {
		t.Fatal("sync succeeded despite a failing resource")
	}
	if left := f.names(podsGVR, "fail-p"); len(left) != 0 {
		t.Errorf("pods left: %v", left)
	}
	if left := f.names(streamsGVR, "fail-p"); len(left) != 0 {
		t.Errorf("image streams left: %v", left)
	}
	if left := f.names(secretsGVR, "fail-p"); !slices.Equal(left, []string{"s"}) {
		t.Errorf("secrets = %v, want the one whose deletion failed", left)
	}
	if got := f.namespaceWrites("fail-p"); len(got) != 0 {
		t.Errorf("namespace finalized despite a failure: %v", got)
	}
}

func TestSyncIgnoresActiveNamespace(t *testing.T) {
	f := newFixture(t)
	f.namespace("active-p")
	f.pod("active-p", "web", "")
	f.waitFor("namespace in the cache", func() bool {
		_, err := f.c.namespaces.Get("active-p")
		return err == nil
	})
	if err := f.c.sync(f.ctx, "active-p"); err != nil {
		t.Fatal(err)
	}
	if err := f.c.sync(f.ctx, "absent"); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(f.names(podsGVR, "active-p"), []string{"web"}) {
		t.Error("content of an active namespace was deleted")
	}
	var reqs []string
	for _, r := range f.requests.all() {
		if !strings.Contains(r, "/namespaces?") && !strings.HasSuffix(r, "/api/v1/namespaces") {
			reqs = append(reqs, r) // anything but the informer's list and watch
		}
	}
	if len(reqs) != 0 {
		t.Errorf("controller requests = %v, want none", reqs)
	}
}

func TestRunRemovesNamespace(t *testing.T) {
	f := newFixture(t)
	f.namespace("run-p")
	f.shuttingDownPod("run-p", "slow")
	f.imageStream("run-p", "app")
	f.terminate("run-p")
	ctx, cancel := context.WithCancel(f.ctx)
	done := make(chan error, 1)
	go func() { done <- f.c.Run(ctx, 1) }()

	// Run keeps re-checking while the pod shuts down, then finishes on its own.
	f.waitFor("image stream deleted", func() bool { return len(f.names(streamsGVR, "run-p")) == 0 })
	time.Sleep(100 * time.Millisecond)
	if f.namespaceGone("run-p") {
		t.Fatal("namespace gone while a pod remains")
	}
	f.podStopped("run-p", "slow")
	f.waitFor("namespace removed after its content was gone", func() bool { return f.namespaceGone("run-p") })
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run = %v", err)
	}
}
