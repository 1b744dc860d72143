package namespace

import (
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestPrepareForCreate(t *testing.T) {
	ns := &corev1.Namespace{
		ObjectMeta: metav1.ObjectMeta{Name: "a"},
		Spec:       corev1.NamespaceSpec{Finalizers: []corev1.FinalizerName{"example.com/x"}},
		Status:     corev1.NamespaceStatus{Phase: corev1.NamespaceTerminating},
	}
	Strategy.PrepareForCreate(context.Background(), ns)
	if ns.Status.Phase != corev1.NamespaceActive {
		t.Errorf("phase = %q", ns.Status.Phase)
	}
	if got := ns.Spec.Finalizers; len(got) != 2 || got[1] != corev1.FinalizerKubernetes {
		t.Errorf("finalizers = %v", got)
	}
	again := ns.DeepCopy()
	Strategy.PrepareForCreate(context.Background(), again)
	if len(again.Spec.Finalizers) != 2 {
		t.Errorf("kubernetes finalizer added twice: %v", again.Spec.Finalizers)
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name       string
		nsName     string
		finalizers []corev1.FinalizerName
		want       string
	}{
		{name: "valid", nsName: "my-project", finalizers: []corev1.FinalizerName{"kubernetes", "example.com/x"}},
		{name: "not a label", nsName: "my.project", want: "metadata.name: Invalid value"},
		{name: "too long", nsName: strings.Repeat("a", 64), want: "metadata.name: Invalid value"},
		{name: "unqualified finalizer", nsName: "a", finalizers: []corev1.FinalizerName{"cleanup"}, want: "spec.finalizers[0]: Invalid value"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: tt.nsName}, Spec: corev1.NamespaceSpec{Finalizers: tt.finalizers}}
			errs := Strategy.Validate(context.Background(), ns)
			if tt.want == "" {
				if len(errs) != 0 {
					t.Fatalf("errors = %v", errs)
				}
				return
			}
			if len(errs) == 0 || !strings.Contains(errs.ToAggregate().Error(), tt.want) {
				t.Fatalf("errors = %v, want %q", errs, tt.want)
			}
		})
	}
}

func TestStatusStrategy(t *testing.T) {
	now := metav1.Now()
	old := &corev1.Namespace{
		ObjectMeta: metav1.ObjectMeta{Name: "a", ResourceVersion: "1"},
		Spec:       corev1.NamespaceSpec{Finalizers: []corev1.FinalizerName{"kubernetes"}},
		Status:     corev1.NamespaceStatus{Phase: corev1.NamespaceActive},
	}
	ns := old.DeepCopy()
	ns.Spec.Finalizers = nil
	ns.Status.Phase = corev1.NamespaceTerminating
	StatusStrategy.PrepareForUpdate(context.Background(), ns, old)
	if len(ns.Spec.Finalizers) != 1 {
		t.Error("status update changed the spec")
	}
	if errs := StatusStrategy.ValidateUpdate(context.Background(), ns, old); len(errs) != 1 {
		t.Errorf("Terminating without deletionTimestamp: errors = %v", errs)
	}
	ns.DeletionTimestamp = &now
	old.DeletionTimestamp = &now
	if errs := StatusStrategy.ValidateUpdate(context.Background(), ns, old); len(errs) != 0 {
		t.Errorf("Terminating with deletionTimestamp: errors = %v", errs)
	}
}

func TestFinalizeKeepsStatusAndUpdateKeepsFinalizers(t *testing.T) {
	old := &corev1.Namespace{
		ObjectMeta: metav1.ObjectMeta{Name: "a"},
		Spec:       corev1.NamespaceSpec{Finalizers: []corev1.FinalizerName{"kubernetes"}},
		Status:     corev1.NamespaceStatus{Phase: corev1.NamespaceTerminating},
	}
	ns := old.DeepCopy()
	ns.Spec.Finalizers = nil
	ns.Status.Phase = corev1.NamespaceActive
	FinalizeStrategy.PrepareForUpdate(context.Background(), ns, old)
	if len(ns.Spec.Finalizers) != 0 || ns.Status.Phase != corev1.NamespaceTerminating {
		t.Errorf("finalize: %+v %+v", ns.Spec, ns.Status)
	}
	ns = old.DeepCopy()
	ns.Spec.Finalizers = nil
	Strategy.PrepareForUpdate(context.Background(), ns, old)
	if len(ns.Spec.Finalizers) != 1 {
		t.Error("plain update changed the finalizers")
	}
}

func TestTable(t *testing.T) {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "a", CreationTimestamp: metav1.Now()}, Status: corev1.NamespaceStatus{Phase: corev1.NamespaceActive}}
	table, err := TableConvertor.ConvertToTable(context.Background(), ns, nil)
	if err != nil {
		t.Fatal(err)
	}
	if cells := table.Rows[0].Cells; cells[0] != "a" || cells[1] != "Active" || cells[2] != "0s" {
		t.Errorf("cells = %v", cells)
	}
}
