package serviceaccount

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/slipway-dev/slipway/internal/testserver"
)

// server is the real API server every test of this package runs against.
// It runs Kubernetes' controller manager (its service account and token
// controllers, which make the default account and sign tokens) but not
// Slipway's service account controller: the tests drive their own.
var server *testserver.Server

func TestMain(m *testing.M) {
	testserver.Main(m, testserver.Options{}, func(s *testserver.Server) { server = s })
}

// fixture runs the controller against the real API server with real
// informers. client is the controller's client; it counts the writes sent
// through it (the controller's and the test's own).
type fixture struct {
	t      *testing.T
	ctx    context.Context
	client kubernetes.Interface
	writes *atomic.Int64
	c      *Controller
}

func newFixture(t *testing.T, objs ...runtime.Object) *fixture {
	t.Helper()
	return newFixtureWith(t, nil, objs...)
}

// newFixtureWith is newFixture with controller options. objs (namespaces,
// service accounts, secrets) are created through an uncounted admin client
// first; a namespace with a deletion timestamp is created, then deleted, so
// that it is Terminating. Every namespace is removed when the test ends.
func newFixtureWith(t *testing.T, options []Option, objs ...runtime.Object) *fixture {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	admin := kubernetes.NewForConfigOrDie(server.Admin)
	for _, obj := range objs {
		createObject(t, ctx, admin, obj)
	}

	writes := &atomic.Int64{}
	cfg := rest.CopyConfig(server.Admin)
	cfg.WrapTransport = func(rt http.RoundTripper) http.RoundTripper {
		return roundTripperFunc(func(r *http.Request) (*http.Response, error) {
			if r.Method != http.MethodGet {
				writes.Add(1)
			}
			return rt.RoundTrip(r)
		})
	}
	client := kubernetes.NewForConfigOrDie(cfg)
	factory := informers.NewSharedInformerFactory(client, 0)
	c := New(client, factory.Core().V1().Namespaces(), factory.Core().V1().ServiceAccounts(), factory.Core().V1().Secrets(), options...)
	factory.Start(ctx.Done())
	for typ, ok := range factory.WaitForCacheSync(ctx.Done()) {
		if !ok {
			t.Fatalf("cache for %v did not sync", typ)
		}
	}
	return &fixture{t: t, ctx: ctx, client: client, writes: writes, c: c}
}

type roundTripperFunc func(*http.Request) (*http.Response, error)

func (f roundTripperFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// createObject creates obj on the server as the tests describe it; UIDs
// and resource versions are the server's.
func createObject(t *testing.T, ctx context.Context, admin kubernetes.Interface, obj runtime.Object) {
	t.Helper()
	// The server may still be forgetting the namespace of the same name an
	// earlier test removed: retry while it refuses.
	err := wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, 20*time.Second, true, func(ctx context.Context) (bool, error) {
		var err error
		switch o := obj.DeepCopyObject().(type) {
		case *corev1.Namespace:
			terminating := o.DeletionTimestamp != nil
			o.UID, o.ResourceVersion, o.DeletionTimestamp = "", "", nil
			if _, err = admin.CoreV1().Namespaces().Create(ctx, o, metav1.CreateOptions{}); err == nil {
				t.Cleanup(func() { removeNamespace(t, admin, o.Name) })
				if terminating {
					err = admin.CoreV1().Namespaces().Delete(ctx, o.Name, metav1.DeleteOptions{})
				}
			}
		case *corev1.ServiceAccount:
			o.UID, o.ResourceVersion = "", ""
			_, err = admin.CoreV1().ServiceAccounts(o.Namespace).Create(ctx, o, metav1.CreateOptions{})
		case *corev1.Secret:
			o.UID, o.ResourceVersion = "", ""
			_, err = admin.CoreV1().Secrets(o.Namespace).Create(ctx, o, metav1.CreateOptions{})
		default:
			return false, fmt.Errorf("test object of unexpected type %T", obj)
		}
		if apierrors.IsForbidden(err) || apierrors.IsAlreadyExists(err) {
			return false, nil
		}
		return err == nil, err
	})
	if err != nil {
		t.Fatalf("creating %T: %v", obj, err)
	}
	// Kubernetes' service account controller gives every namespace its
	// default account; waiting for it keeps the tests' syncs from racing it.
	if ns, ok := obj.(*corev1.Namespace); ok && ns.DeletionTimestamp == nil {
		err := wait.PollUntilContextTimeout(ctx, 20*time.Millisecond, 20*time.Second, true, func(ctx context.Context) (bool, error) {
			_, err := admin.CoreV1().ServiceAccounts(ns.Name).Get(ctx, "default", metav1.GetOptions{})
			return err == nil, nil
		})
		if err != nil {
			t.Fatalf("namespace %s got no default service account from the controller manager: %v", ns.Name, err)
		}
	}
}

// removeNamespace deletes a test namespace and waits until Kubernetes'
// namespace controller has emptied and removed it, so that the next test
// may use the name again.
func removeNamespace(t *testing.T, admin kubernetes.Interface, name string) {
	ctx := context.Background()
	namespaces := admin.CoreV1().Namespaces()
	if err := namespaces.Delete(ctx, name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
		t.Errorf("deleting namespace %s: %v", name, err)
		return
	}
	err := wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		_, err := namespaces.Get(ctx, name, metav1.GetOptions{})
		return apierrors.IsNotFound(err), nil
	})
	if err != nil {
		t.Errorf("removing namespace %s: %v", name, err)
	}
}

// waitForCaches waits until the listers show what the API holds (the same
// objects at the same resource versions), so a sync sees the state the test
// and the token controller just wrote.
func (f *fixture) waitForCaches(ns string) {
	f.t.Helper()
	err := wait.PollUntilContextTimeout(f.ctx, 5*time.Millisecond, 5*time.Second, true, func(ctx context.Context) (bool, error) {
		sas, err := f.client.CoreV1().ServiceAccounts(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, nil
		}
		secrets, err := f.client.CoreV1().Secrets(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, nil
		}
		cachedSAs, _ := f.c.serviceAccounts.ServiceAccounts(ns).List(labels.Everything())
		cachedSecrets, _ := f.c.secrets.Secrets(ns).List(labels.Everything())
		live, cached := map[string]string{}, map[string]string{}
		for _, sa := range sas.Items {
			live["sa/"+sa.Name] = sa.ResourceVersion
		}
		for _, s := range secrets.Items {
			live["secret/"+s.Name] = s.ResourceVersion
		}
		for _, sa := range cachedSAs {
			cached["sa/"+sa.Name] = sa.ResourceVersion
		}
		for _, s := range cachedSecrets {
			cached["secret/"+s.Name] = s.ResourceVersion
		}
		return maps.Equal(live, cached), nil
	})
	if err != nil {
		f.t.Fatalf("caches did not catch up: %v", err)
	}
}

// sync runs one sync of ns once the caches show the API's state.
func (f *fixture) sync(ns string) {
	f.t.Helper()
	f.waitForCaches(ns)
	if err := f.c.sync(f.ctx, ns); err != nil {
		f.t.Fatalf("sync(%s): %v", ns, err)
	}
}

// settle syncs ns as the running controller would, until it is complete:
// a token secret the controller makes is empty until Kubernetes' token
// controller signs its token, and the pull secrets come from that token.
// A sync that lost a race with Kubernetes' controllers (a conflict) is
// retried, as the work queue would.
func (f *fixture) settle(ns string) {
	f.t.Helper()
	var lastErr error
	for range 20 {
		f.waitForCaches(ns)
		lastErr = f.c.sync(f.ctx, ns)
		if lastErr == nil && f.complete(ns) {
			return
		}
		// Give the token controller time to sign what the sync created.
		_ = wait.PollUntilContextTimeout(f.ctx, 20*time.Millisecond, 5*time.Second, true, func(ctx context.Context) (bool, error) {
			secrets, err := f.client.CoreV1().Secrets(ns).List(ctx, metav1.ListOptions{})
			if err != nil {
				return false, nil
			}
			for i := range secrets.Items {
				if s := &secrets.Items[i]; s.Type == corev1.SecretTypeServiceAccountToken && !HasToken(s) && !staleToken(s) {
					return false, nil
				}
			}
			return true, nil
		})
	}
	f.t.Fatalf("namespace %s did not settle; last sync: %v", ns, lastErr)
}

// complete reports whether the live state of ns needs nothing more from
// the controller and every token secret holds its signed token.
func (f *fixture) complete(ns string) bool {
	f.t.Helper()
	sas, secrets, err := f.c.liveState(f.ctx, ns)
	if err != nil {
		f.t.Fatal(err)
	}
	for _, s := range secrets {
		if s.Type == corev1.SecretTypeServiceAccountToken && !HasToken(s) {
			return false
		}
	}
	return PlanNamespace(f.c.accounts, sas, secrets).Empty() && DockercfgPlanEmpty(f.c.registryHosts, sas, secrets)
}

// assertComplete checks that each default account exists and references
// exactly one existing token secret of its own, filled in by Kubernetes'
// token controller: a signed JWT, the namespace and the cluster's CA.
func (f *fixture) assertComplete(ns string) map[string]string {
	f.t.Helper()
	tokens := map[string]string{}
	for _, name := range DefaultServiceAccounts {
		sa, err := f.client.CoreV1().ServiceAccounts(ns).Get(f.ctx, name, metav1.GetOptions{})
		if err != nil {
			f.t.Fatalf("service account %s: %v", name, err)
		}
		if len(sa.Secrets) != 1 {
			f.t.Fatalf("service account %s secrets = %v, want one token", name, sa.Secrets)
		}
		secret, err := f.client.CoreV1().Secrets(ns).Get(f.ctx, sa.Secrets[0].Name, metav1.GetOptions{})
		if err != nil {
			f.t.Fatalf("token of %s: %v", name, err)
		}
		if !strings.HasPrefix(secret.Name, name+"-token-") || !IsTokenSecretFor(secret, sa) {
			f.t.Errorf("secret %s is not a token of %s: %+v", secret.Name, name, secret)
		}
		if token := string(secret.Data["token"]); strings.Count(token, ".") != 2 || !strings.HasPrefix(token, "eyJ") {
			f.t.Errorf("secret %s token = %q, want a signed JWT", secret.Name, token)
		}
		if string(secret.Data["namespace"]) != ns || string(secret.Data["ca.crt"]) != string(server.CABundle) {
			f.t.Errorf("secret %s namespace = %q, ca.crt = %q; want %s and the cluster's CA", secret.Name, secret.Data["namespace"], secret.Data["ca.crt"], ns)
		}
		tokens[name] = secret.Name
	}
	return tokens
}

// countWrites is the number of writes sent through f.client so far.
func (f *fixture) countWrites() int {
	return int(f.writes.Load())
}

func activeNS(name string) *corev1.Namespace {
	return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}, Status: corev1.NamespaceStatus{Phase: corev1.NamespaceActive}}
}

func TestSyncCreatesAccountsAndTokens(t *testing.T) {
	f := newFixture(t, activeNS("p"))
	f.settle("p")
	tokens := f.assertComplete("p")
	secrets, _ := f.client.CoreV1().Secrets("p").List(f.ctx, metav1.ListOptions{})
	if len(secrets.Items) != 3 {
		t.Errorf("%d secrets, want 3", len(secrets.Items))
	}

	// The API server accepts the token as the account's.
	builder, err := f.client.CoreV1().Secrets("p").Get(f.ctx, tokens["builder"], metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cfg := rest.AnonymousClientConfig(server.Admin)
	cfg.BearerToken = string(builder.Data[TokenKey])
	review, err := kubernetes.NewForConfigOrDie(cfg).AuthenticationV1().SelfSubjectReviews().Create(f.ctx, &authenticationv1.SelfSubjectReview{}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("authenticating with the builder token: %v", err)
	}
	if got := review.Status.UserInfo.Username; got != "system:serviceaccount:p:builder" {
		t.Errorf("builder token authenticates as %q", got)
	}

	// A second pass over a complete namespace writes nothing.
	writes := f.countWrites()
	f.sync("p")
	if got := f.countWrites(); got != writes {
		t.Errorf("second sync wrote %d times", got-writes)
	}
}

func TestSyncSkipsTerminatingNamespace(t *testing.T) {
	now := metav1.Now()
	terminating := &corev1.Namespace{
		ObjectMeta: metav1.ObjectMeta{Name: "p", DeletionTimestamp: &now},
		Status:     corev1.NamespaceStatus{Phase: corev1.NamespaceTerminating},
	}
	f := newFixture(t, terminating)
	f.sync("p")
	if n := f.countWrites(); n != 0 {
		t.Errorf("sync wrote %d times in a terminating namespace", n)
	}
	// A namespace that is gone needs nothing either.
	if err := f.c.sync(f.ctx, "absent"); err != nil {
		t.Errorf("sync(absent) = %v", err)
	}
}

func TestSyncRepairs(t *testing.T) {
	f := newFixture(t, activeNS("p"))
	f.settle("p")
	before := f.assertComplete("p")

	// A deleted token secret is replaced and the list fixed.
	if err := f.client.CoreV1().Secrets("p").Delete(f.ctx, before["builder"], metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	f.settle("p")
	after := f.assertComplete("p")
	if after["builder"] == before["builder"] {
		t.Errorf("builder token not replaced: %s", after["builder"])
	}
	if after["default"] != before["default"] {
		t.Errorf("default token changed: %s -> %s", before["default"], after["default"])
	}

	// A deleted account is recreated; its old token is deleted and a new one made.
	if err := f.client.CoreV1().ServiceAccounts("p").Delete(f.ctx, "deployer", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	f.settle("p")
	final := f.assertComplete("p")
	if final["deployer"] == before["deployer"] {
		t.Errorf("deployer kept the token of the deleted account")
	}
	if _, err := f.client.CoreV1().Secrets("p").Get(f.ctx, before["deployer"], metav1.GetOptions{}); err == nil {
		t.Errorf("token %s of the deleted account still exists", before["deployer"])
	}
	secrets, _ := f.client.CoreV1().Secrets("p").List(f.ctx, metav1.ListOptions{})
	if len(secrets.Items) != 3 {
		t.Errorf("%d secrets after repairs, want 3", len(secrets.Items))
	}
}

func TestSyncKeepsUserSecretsAndTokensForUserAccounts(t *testing.T) {
	userSecret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "pull", Namespace: "p", UID: "s1"}, Type: corev1.SecretTypeDockerConfigJson,
		Data: map[string][]byte{corev1.DockerConfigJsonKey: []byte(`{"auths":{}}`)}}
	robot := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "robot", Namespace: "p", UID: "r1"},
		Secrets: []corev1.ObjectReference{{Name: "pull"}}}
	orphan := testToken("gone-token-abcde", "gone", "g1")
	orphan.Namespace = "p"
	f := newFixture(t, activeNS("p"), userSecret, robot, orphan)
	f.settle("p")
	f.assertComplete("p")

	got, err := f.client.CoreV1().ServiceAccounts("p").Get(f.ctx, "robot", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Secrets) != 2 || got.Secrets[0].Name != "pull" || !strings.HasPrefix(got.Secrets[1].Name, "robot-token-") {
		t.Errorf("robot secrets = %v, want [pull robot-token-*]", got.Secrets)
	}
	if _, err := f.client.CoreV1().Secrets("p").Get(f.ctx, "pull", metav1.GetOptions{}); err != nil {
		t.Errorf("user secret: %v", err)
	}
	if _, err := f.client.CoreV1().Secrets("p").Get(f.ctx, orphan.Name, metav1.GetOptions{}); err == nil {
		t.Errorf("orphaned token secret was not deleted")
	}
}

// TestSyncReplacesStaleTokens migrates the old layout: token secrets holding
// a random token Slipway made itself (no API server accepts those any more)
// are deleted, and the account gets a token Kubernetes signs.
func TestSyncReplacesStaleTokens(t *testing.T) {
	f := newFixture(t, activeNS("p"))
	builder, err := f.client.CoreV1().ServiceAccounts("p").Create(f.ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "builder", Namespace: "p"}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// All three keys are there, so Kubernetes' token controller leaves it be.
	stale := NewTokenSecret(builder, "builder-token-stale")
	stale.Data = map[string][]byte{TokenKey: []byte(staleTokenValue), NamespaceKey: []byte("p"), CAKey: server.CABundle}
	if stale, err = f.client.CoreV1().Secrets("p").Create(f.ctx, stale, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	builder.Secrets = []corev1.ObjectReference{{Name: stale.Name}}
	if _, err := f.client.CoreV1().ServiceAccounts("p").Update(f.ctx, builder, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}

	f.settle("p")
	tokens := f.assertComplete("p")
	if tokens["builder"] == stale.Name {
		t.Errorf("builder still uses the stale token secret")
	}
	if _, err := f.client.CoreV1().Secrets("p").Get(f.ctx, stale.Name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("stale token secret: err = %v, want NotFound", err)
	}
}

func TestEventsEnqueueNamespace(t *testing.T) {
	f := newFixture(t, activeNS("p"))
	// Drain what the informers' initial adds queued.
	for f.c.queue.Len() > 0 {
		k, _ := f.c.queue.Get()
		f.c.queue.Done(k)
		f.c.queue.Forget(k)
	}
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "x", Namespace: "p"}}
	if _, err := f.client.CoreV1().Secrets("p").Create(f.ctx, secret, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// Kubernetes' controllers keep writing in their own namespaces
	// (kube-system...), which the informers see too: skip those keys.
	var queued []string
	err := wait.PollUntilContextTimeout(f.ctx, 5*time.Millisecond, 5*time.Second, true, func(context.Context) (bool, error) {
		for f.c.queue.Len() > 0 {
			k, _ := f.c.queue.Get()
			f.c.queue.Done(k)
			queued = append(queued, k)
			if k == "p" {
				return true, nil
			}
		}
		return false, nil
	})
	if err != nil {
		t.Fatalf("secret event did not enqueue its namespace p; queued %v", queued)
	}
}

func TestRunStopsWithContext(t *testing.T) {
	f := newFixture(t, activeNS("p"))
	ctx, cancel := context.WithCancel(f.ctx)
	done := make(chan error, 1)
	go func() { done <- f.c.Run(ctx, 2) }()
	err := wait.PollUntilContextTimeout(f.ctx, 10*time.Millisecond, 5*time.Second, true, func(ctx context.Context) (bool, error) {
		sas, err := f.client.CoreV1().ServiceAccounts("p").List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, err
		}
		for _, sa := range sas.Items {
			if len(sa.Secrets) == 0 {
				return false, nil
			}
		}
		return len(sas.Items) == 3, nil
	})
	if err != nil {
		t.Fatalf("Run did not complete the namespace: %v", err)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run = %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
}
