package namespace

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/registry/rest"

	"github.com/slipway-dev/slipway/internal/registry/storagetest"
)

func newTestREST(t *testing.T) (*REST, rest.Updater) {
	t.Helper()
	ns, _, finalize, err := NewREST(storagetest.NewOptions(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ns.Destroy)
	return ns, finalize
}

func TestTwoPhaseDelete(t *testing.T) {
	r, finalize := newTestREST(t)
	ctx := genericapirequest.WithNamespace(genericapirequest.NewContext(), metav1.NamespaceNone)

	created, err := r.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "demo"}}, rest.ValidateAllObjectFunc, &metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ns := created.(*corev1.Namespace)
	if ns.Status.Phase != corev1.NamespaceActive || len(ns.Spec.Finalizers) != 1 || ns.Spec.Finalizers[0] != corev1.FinalizerKubernetes {
		t.Fatalf("created namespace = %+v %+v", ns.Spec, ns.Status)
	}
	if ns.Labels[corev1.LabelMetadataName] != "demo" {
		t.Errorf("labels = %v", ns.Labels)
	}

	// First delete only marks the namespace Terminating.
	obj, deleted, err := r.Delete(ctx, "demo", rest.ValidateAllObjectFunc, &metav1.DeleteOptions{})
	if err != nil || deleted {
		t.Fatalf("first delete = %v, %v", deleted, err)
	}
	ns = obj.(*corev1.Namespace)
	if ns.DeletionTimestamp == nil || ns.Status.Phase != corev1.NamespaceTerminating {
		t.Fatalf("after first delete: deletionTimestamp %v phase %q", ns.DeletionTimestamp, ns.Status.Phase)
	}

	// Deleting again before finalization is a conflict.
	if _, _, err := r.Delete(ctx, "demo", rest.ValidateAllObjectFunc, nil); !apierrors.IsConflict(err) {
		t.Fatalf("second delete err = %v, want Conflict", err)
	}

	// A plain update cannot drop the finalizer.
	update := ns.DeepCopy()
	update.Spec.Finalizers = nil
	obj, _, err = r.Update(ctx, "demo", rest.DefaultUpdatedObjectInfo(update), rest.ValidateAllObjectFunc, rest.ValidateAllObjectUpdateFunc, false, &metav1.UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(obj.(*corev1.Namespace).Spec.Finalizers) != 1 {
		t.Fatal("update removed spec.finalizers")
	}

	// Removing one of two finalizers keeps the namespace Terminating.
	update = obj.(*corev1.Namespace).DeepCopy()
	update.Spec.Finalizers = []corev1.FinalizerName{"example.com/cleanup"}
	obj, _, err = finalize.Update(ctx, "demo", rest.DefaultUpdatedObjectInfo(update), rest.ValidateAllObjectFunc, rest.ValidateAllObjectUpdateFunc, false, &metav1.UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if ns := obj.(*corev1.Namespace); len(ns.Spec.Finalizers) != 1 || ns.Status.Phase != corev1.NamespaceTerminating {
		t.Fatalf("after partial finalize: %+v %+v", ns.Spec, ns.Status)
	}

	// Emptying spec.finalizers of a terminating namespace removes it, as in
	// Kubernetes; the controller's following DELETE then finds nothing.
	update = obj.(*corev1.Namespace).DeepCopy()
	update.Spec.Finalizers = nil
	if _, _, err = finalize.Update(ctx, "demo", rest.DefaultUpdatedObjectInfo(update), rest.ValidateAllObjectFunc, rest.ValidateAllObjectUpdateFunc, false, &metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Get(ctx, "demo", &metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("get after finalize err = %v, want NotFound", err)
	}
	if _, _, err := r.Delete(ctx, "demo", rest.ValidateAllObjectFunc, nil); !apierrors.IsNotFound(err) {
		t.Fatalf("delete after finalize err = %v, want NotFound", err)
	}
}

func TestDeleteWithoutFinalizersIsImmediate(t *testing.T) {
	r, finalize := newTestREST(t)
	ctx := genericapirequest.WithNamespace(genericapirequest.NewContext(), metav1.NamespaceNone)
	created, err := r.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "quick"}}, rest.ValidateAllObjectFunc, &metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	update := created.(*corev1.Namespace).DeepCopy()
	update.Spec.Finalizers = nil
	if _, _, err := finalize.Update(ctx, "quick", rest.DefaultUpdatedObjectInfo(update), rest.ValidateAllObjectFunc, rest.ValidateAllObjectUpdateFunc, false, &metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := r.Delete(ctx, "quick", rest.ValidateAllObjectFunc, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Get(ctx, "quick", &metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("get err = %v, want NotFound", err)
	}
}
