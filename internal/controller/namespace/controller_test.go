package namespace

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	fakediscovery "k8s.io/client-go/discovery/fake"
	fakedynamic "k8s.io/client-go/dynamic/fake"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	clienttesting "k8s.io/client-go/testing"
)

var (
	podsGVR       = schema.GroupVersionResource{Version: "v1", Resource: "pods"}
	configMapsGVR = schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}
	secretsGVR    = schema.GroupVersionResource{Version: "v1", Resource: "secrets"}
	buildsGVR     = schema.GroupVersionResource{Group: "build.openshift.io", Version: "v1", Resource: "builds"}
	widgetsGVR    = schema.GroupVersionResource{Group: "gone.example.com", Version: "v1", Resource: "widgets"}

	kinds = map[schema.GroupVersionResource]string{
		podsGVR: "Pod", configMapsGVR: "ConfigMap", secretsGVR: "Secret", buildsGVR: "Build",
	}
)

type fixture struct {
	t      *testing.T
	ctx    context.Context
	client *fake.Clientset
	dyn    *fakedynamic.FakeDynamicClient
	c      *Controller
}

func object(gvr schema.GroupVersionResource, ns, name string) *unstructured.Unstructured {
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(gvr.GroupVersion().WithKind(kinds[gvr]))
	u.SetNamespace(ns)
	u.SetName(name)
	return u
}

func terminating(name string, finalizers ...corev1.FinalizerName) *corev1.Namespace {
	now := metav1.Now()
	return &corev1.Namespace{
		ObjectMeta: metav1.ObjectMeta{Name: name, DeletionTimestamp: &now},
		Spec:       corev1.NamespaceSpec{Finalizers: finalizers},
		Status:     corev1.NamespaceStatus{Phase: corev1.NamespaceTerminating},
	}
}

func newFixture(t *testing.T, namespaces []runtime.Object, objects ...runtime.Object) *fixture {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)

	client := fake.NewClientset(namespaces...)
	disco := &fakediscovery.FakeDiscovery{Fake: &client.Fake}
	all := []string{"create", "delete", "deletecollection", "get", "list", "watch"}
	disco.Resources = []*metav1.APIResourceList{
		{GroupVersion: "v1", APIResources: []metav1.APIResource{
			{Name: "pods", Namespaced: true, Verbs: all},
			{Name: "pods/log", Namespaced: true, Verbs: []string{"get"}},
			{Name: "configmaps", Namespaced: true, Verbs: []string{"list", "delete"}},
			{Name: "secrets", Namespaced: true, Verbs: all},
			{Name: "namespaces", Namespaced: false, Verbs: all},
		}},
		{GroupVersion: "build.openshift.io/v1", APIResources: []metav1.APIResource{
			{Name: "builds", Namespaced: true, Verbs: all},
		}},
		{GroupVersion: "gone.example.com/v1", APIResources: []metav1.APIResource{
			{Name: "widgets", Namespaced: true, Verbs: all},
		}},
	}

	listKinds := map[schema.GroupVersionResource]string{}
	for gvr, kind := range kinds {
		listKinds[gvr] = kind + "List"
	}
	listKinds[widgetsGVR] = "WidgetList"
	dyn := fakedynamic.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(), listKinds, objects...)
	// The fake neither implements deletecollection nor graceful deletion:
	// delete the namespace's objects, except those already terminating,
	// which stand for pods still shutting down.
	dyn.PrependReactor("delete-collection", "*", func(a clienttesting.Action) (bool, runtime.Object, error) {
		gvr, ns := a.GetResource(), a.GetNamespace()
		if gvr == widgetsGVR {
			return true, nil, apierrors.NewNotFound(gvr.GroupResource(), "")
		}
		list, err := dyn.Tracker().List(gvr, gvr.GroupVersion().WithKind(kinds[gvr]), ns)
		if err != nil {
			return true, nil, err
		}
		items, _ := meta.ExtractList(list)
		for _, item := range items {
			m, _ := meta.Accessor(item)
			if m.GetDeletionTimestamp() != nil {
				continue
			}
			if err := dyn.Tracker().Delete(gvr, ns, m.GetName()); err != nil {
				return true, nil, err
			}
		}
		return true, nil, nil
	})
	dyn.PrependReactor("list", "widgets", func(a clienttesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewNotFound(widgetsGVR.GroupResource(), "")
	})

	factory := informers.NewSharedInformerFactory(client, 0)
	c := New(client, dyn, disco, factory.Core().V1().Namespaces(), WithRecheckDelay(10*time.Millisecond))
	factory.Start(ctx.Done())
	factory.WaitForCacheSync(ctx.Done())
	return &fixture{t: t, ctx: ctx, client: client, dyn: dyn, c: c}
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

func (f *fixture) namespaceActions() []string {
	var out []string
	for _, a := range f.client.Actions() {
		if a.GetResource().Resource == "namespaces" && a.GetVerb() != "list" && a.GetVerb() != "watch" && a.GetVerb() != "get" {
			out = append(out, a.GetVerb()+"/"+a.GetSubresource())
		}
	}
	return out
}

func TestSyncDeletesContentThenFinalizes(t *testing.T) {
	f := newFixture(t,
		[]runtime.Object{terminating("p", corev1.FinalizerKubernetes)},
		object(podsGVR, "p", "web-1"), object(podsGVR, "p", "web-2"), object(podsGVR, "other", "keep"),
		object(configMapsGVR, "p", "cfg"), object(configMapsGVR, "other", "keep"),
		object(buildsGVR, "p", "app-1"), object(secretsGVR, "p", "builder-token-abcde"),
	)
	if err := f.c.sync(f.ctx, "p"); err != nil {
		t.Fatalf("sync: %v", err)
	}
	for _, gvr := range []schema.GroupVersionResource{podsGVR, configMapsGVR, buildsGVR, secretsGVR} {
		if left := f.names(gvr, "p"); len(left) != 0 {
			t.Errorf("%s left in p: %v", gvr.Resource, left)
		}
	}
	if !slices.Equal(f.names(podsGVR, "other"), []string{"keep"}) || !slices.Equal(f.names(configMapsGVR, "other"), []string{"keep"}) {
		t.Errorf("objects of another namespace were touched")
	}
	if got, want := f.namespaceActions(), []string{"create/finalize", "delete/"}; !slices.Equal(got, want) {
		t.Errorf("namespace writes = %v, want %v", got, want)
	}
	if _, err := f.client.CoreV1().Namespaces().Get(f.ctx, "p", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("namespace still there: %v", err)
	}
}

func TestSyncWaitsForRemainingContent(t *testing.T) {
	shuttingDown := object(podsGVR, "p", "slow")
	now := metav1.Now()
	shuttingDown.SetDeletionTimestamp(&now)
	f := newFixture(t, []runtime.Object{terminating("p", corev1.FinalizerKubernetes, "openshift.io/origin")}, shuttingDown)

	err := f.c.sync(f.ctx, "p")
	var remaining *ContentRemainingError
	if !errors.As(err, &remaining) || remaining.Objects != 1 {
		t.Fatalf("sync = %v, want 1 object remaining", err)
	}
	if got := f.namespaceActions(); len(got) != 0 {
		t.Errorf("namespace written while content remains: %v", got)
	}

	// The pod finishes; the next pass finalizes, but another finalizer still holds the namespace.
	if err := f.dyn.Tracker().Delete(podsGVR, "p", "slow"); err != nil {
		t.Fatal(err)
	}
	if err := f.c.sync(f.ctx, "p"); err != nil {
		t.Fatalf("second sync: %v", err)
	}
	ns, err := f.client.CoreV1().Namespaces().Get(f.ctx, "p", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(ns.Spec.Finalizers, []corev1.FinalizerName{"openshift.io/origin"}) {
		t.Errorf("finalizers = %v", ns.Spec.Finalizers)
	}
	if got := f.namespaceActions(); !slices.Equal(got, []string{"create/finalize"}) {
		t.Errorf("namespace writes = %v, want only finalize", got)
	}
}

func TestSyncContinuesPastFailingResource(t *testing.T) {
	f := newFixture(t, []runtime.Object{terminating("p", corev1.FinalizerKubernetes)},
		object(podsGVR, "p", "web"), object(secretsGVR, "p", "s"), object(buildsGVR, "p", "b"))
	f.dyn.PrependReactor("delete-collection", "secrets", func(clienttesting.Action) (bool, runtime.Object, error) {
		return true, nil, apierrors.NewInternalError(errors.New("etcd unhappy"))
	})
	if err := f.c.sync(f.ctx, "p"); err == nil {
		t.Fatal("sync succeeded despite a failing resource")
	}
	if left := f.names(podsGVR, "p"); len(left) != 0 {
		t.Errorf("pods left: %v", left)
	}
	if left := f.names(buildsGVR, "p"); len(left) != 0 {
		t.Errorf("builds left: %v", left)
	}
	if got := f.namespaceActions(); len(got) != 0 {
		t.Errorf("namespace finalized despite a failure: %v", got)
	}
}

func TestSyncIgnoresActiveNamespace(t *testing.T) {
	active := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "p"},
		Spec: corev1.NamespaceSpec{Finalizers: []corev1.FinalizerName{corev1.FinalizerKubernetes}}}
	f := newFixture(t, []runtime.Object{active}, object(podsGVR, "p", "web"))
	if err := f.c.sync(f.ctx, "p"); err != nil {
		t.Fatal(err)
	}
	if err := f.c.sync(f.ctx, "absent"); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(f.names(podsGVR, "p"), []string{"web"}) {
		t.Error("content of an active namespace was deleted")
	}
	if len(f.dyn.Actions()) != 1 { // the test's own list
		t.Errorf("dynamic actions = %v", f.dyn.Actions())
	}
}

func TestRunRemovesNamespace(t *testing.T) {
	shuttingDown := object(podsGVR, "p", "slow")
	now := metav1.Now()
	shuttingDown.SetDeletionTimestamp(&now)
	f := newFixture(t, []runtime.Object{terminating("p", corev1.FinalizerKubernetes)}, shuttingDown, object(buildsGVR, "p", "b"))
	ctx, cancel := context.WithCancel(f.ctx)
	done := make(chan error, 1)
	go func() { done <- f.c.Run(ctx, 1) }()

	// Run keeps re-checking while the pod shuts down, then finishes on its own.
	time.Sleep(50 * time.Millisecond)
	if _, err := f.client.CoreV1().Namespaces().Get(f.ctx, "p", metav1.GetOptions{}); err != nil {
		t.Fatalf("namespace gone while a pod remains: %v", err)
	}
	if err := f.dyn.Tracker().Delete(podsGVR, "p", "slow"); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, err := f.client.CoreV1().Namespaces().Get(f.ctx, "p", metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("namespace not removed after its content was gone")
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run = %v", err)
	}
}
