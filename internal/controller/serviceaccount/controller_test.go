package serviceaccount

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	clienttesting "k8s.io/client-go/testing"
)

// fixture runs the controller's sync against a fake API with real informers.
type fixture struct {
	t      *testing.T
	ctx    context.Context
	client *fake.Clientset
	c      *Controller
}

func newFixture(t *testing.T, objs ...runtime.Object) *fixture {
	t.Helper()
	return newFixtureWith(t, nil, objs...)
}

// newFixtureWith is newFixture with controller options.
func newFixtureWith(t *testing.T, options []Option, objs ...runtime.Object) *fixture {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	client := fake.NewClientset(objs...)
	// The fake tracker assigns no UIDs; the controller relies on them.
	var n atomic.Int64
	client.PrependReactor("create", "*", func(a clienttesting.Action) (bool, runtime.Object, error) {
		if m, ok := a.(clienttesting.CreateAction).GetObject().(metav1.Object); ok && m.GetUID() == "" {
			m.SetUID(types.UID(fmt.Sprintf("uid-%d", n.Add(1))))
		}
		return false, nil, nil
	})
	factory := informers.NewSharedInformerFactory(client, 0)
	c := New(client, factory.Core().V1().Namespaces(), factory.Core().V1().ServiceAccounts(), factory.Core().V1().Secrets(), []byte("CA PEM"), options...)
	factory.Start(ctx.Done())
	for typ, ok := range factory.WaitForCacheSync(ctx.Done()) {
		if !ok {
			t.Fatalf("cache for %v did not sync", typ)
		}
	}
	return &fixture{t: t, ctx: ctx, client: client, c: c}
}

// waitForCaches waits until the listers show what the API holds, so a sync
// sees the state the test just wrote.
func (f *fixture) waitForCaches(ns string) {
	f.t.Helper()
	err := wait.PollUntilContextTimeout(f.ctx, 5*time.Millisecond, 5*time.Second, true, func(ctx context.Context) (bool, error) {
		sas, _ := f.client.CoreV1().ServiceAccounts(ns).List(ctx, metav1.ListOptions{})
		secrets, _ := f.client.CoreV1().Secrets(ns).List(ctx, metav1.ListOptions{})
		cachedSAs, _ := f.c.serviceAccounts.ServiceAccounts(ns).List(labels.Everything())
		cachedSecrets, _ := f.c.secrets.Secrets(ns).List(labels.Everything())
		return len(sas.Items) == len(cachedSAs) && len(secrets.Items) == len(cachedSecrets), nil
	})
	if err != nil {
		f.t.Fatalf("caches did not catch up: %v", err)
	}
}

func (f *fixture) sync(ns string) {
	f.t.Helper()
	f.waitForCaches(ns)
	if err := f.c.sync(f.ctx, ns); err != nil {
		f.t.Fatalf("sync(%s): %v", ns, err)
	}
}

// assertComplete checks that each default account exists and references
// exactly one existing, well-formed token secret of its own.
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
		if len(secret.Data["token"]) != 43 || string(secret.Data["namespace"]) != ns || string(secret.Data["ca.crt"]) != "CA PEM" {
			f.t.Errorf("secret %s data = %q", secret.Name, secret.Data)
		}
		tokens[name] = secret.Name
	}
	return tokens
}

func (f *fixture) countWrites() int {
	n := 0
	for _, a := range f.client.Actions() {
		switch a.GetVerb() {
		case "create", "update", "delete", "patch":
			n++
		}
	}
	return n
}

func activeNS(name string) *corev1.Namespace {
	return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}, Status: corev1.NamespaceStatus{Phase: corev1.NamespaceActive}}
}

func TestSyncCreatesAccountsAndTokens(t *testing.T) {
	f := newFixture(t, activeNS("p"))
	f.sync("p")
	f.assertComplete("p")
	secrets, _ := f.client.CoreV1().Secrets("p").List(f.ctx, metav1.ListOptions{})
	if len(secrets.Items) != 3 {
		t.Errorf("%d secrets, want 3", len(secrets.Items))
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
	f.sync("p")
	before := f.assertComplete("p")

	// A deleted token secret is replaced and the list fixed.
	if err := f.client.CoreV1().Secrets("p").Delete(f.ctx, before["builder"], metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	f.sync("p")
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
	f.sync("p")
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
	userSecret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "pull", Namespace: "p", UID: "s1"}, Type: corev1.SecretTypeDockerConfigJson}
	robot := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "robot", Namespace: "p", UID: "r1"},
		Secrets: []corev1.ObjectReference{{Name: "pull"}}}
	orphan := testToken("gone-token-abcde", "gone", "g1")
	orphan.Namespace = "p"
	f := newFixture(t, activeNS("p"), userSecret, robot, orphan)
	f.sync("p")
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
	err := wait.PollUntilContextTimeout(f.ctx, 5*time.Millisecond, 5*time.Second, true, func(context.Context) (bool, error) {
		return f.c.queue.Len() > 0, nil
	})
	if err != nil {
		t.Fatal("secret event did not enqueue its namespace")
	}
	if k, _ := f.c.queue.Get(); k != "p" {
		t.Errorf("queued %q, want p", k)
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
