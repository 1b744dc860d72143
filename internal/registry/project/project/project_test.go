package project

import (
	"context"
	"strings"
	"testing"

	projectv1 "github.com/openshift/api/project/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
)

func TestConvertRoundTrip(t *testing.T) {
	now := metav1.Now()
	ns := &corev1.Namespace{
		ObjectMeta: metav1.ObjectMeta{Name: "demo", UID: "u1", ResourceVersion: "5", DeletionTimestamp: &now,
			Labels: map[string]string{"a": "b"}, Annotations: map[string]string{"openshift.io/display-name": "Demo"}},
		Spec:   corev1.NamespaceSpec{Finalizers: []corev1.FinalizerName{"kubernetes"}},
		Status: corev1.NamespaceStatus{Phase: corev1.NamespaceTerminating},
	}
	p := ConvertNamespace(ns)
	if p.Name != "demo" || p.UID != "u1" || p.ResourceVersion != "5" || p.DeletionTimestamp == nil ||
		p.Annotations["openshift.io/display-name"] != "Demo" || p.Labels["a"] != "b" {
		t.Errorf("metadata = %+v", p.ObjectMeta)
	}
	if len(p.Spec.Finalizers) != 1 || p.Spec.Finalizers[0] != "kubernetes" || p.Status.Phase != corev1.NamespaceTerminating {
		t.Errorf("spec/status = %+v %+v", p.Spec, p.Status)
	}
	p.Labels["a"] = "changed"
	if ns.Labels["a"] != "b" {
		t.Error("project shares maps with its namespace")
	}
	back := ConvertProject(ConvertNamespace(ns))
	if back.Name != ns.Name || back.Status.Phase != ns.Status.Phase || len(back.Spec.Finalizers) != 1 {
		t.Errorf("round trip = %+v", back)
	}
}

func TestConvertWatchEvent(t *testing.T) {
	ev, ok := ConvertWatchEvent(watch.Event{Type: watch.Added, Object: &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "x"}}})
	if !ok || ev.Type != watch.Added {
		t.Fatalf("event = %+v", ev)
	}
	if p, isProject := ev.Object.(*projectv1.Project); !isProject || p.Name != "x" {
		t.Errorf("object = %#v", ev.Object)
	}
	status := &metav1.Status{Message: "gone"}
	if ev, _ := ConvertWatchEvent(watch.Event{Type: watch.Error, Object: status}); ev.Object != status {
		t.Error("error event changed")
	}
}

func TestValidateProjectUpdate(t *testing.T) {
	old := &projectv1.Project{
		ObjectMeta: metav1.ObjectMeta{Name: "demo", ResourceVersion: "1",
			Labels:      map[string]string{"team": "a"},
			Annotations: map[string]string{"openshift.io/display-name": "Demo", "openshift.io/requester": "alice"}},
		Spec:   projectv1.ProjectSpec{Finalizers: []corev1.FinalizerName{"kubernetes"}},
		Status: projectv1.ProjectStatus{Phase: corev1.NamespaceActive},
	}
	tests := []struct {
		name   string
		mutate func(*projectv1.Project)
		want   string
	}{
		{name: "display name", mutate: func(p *projectv1.Project) { p.Annotations["openshift.io/display-name"] = "New" }},
		{name: "description added", mutate: func(p *projectv1.Project) { p.Annotations["openshift.io/description"] = "text" }},
		{name: "labels", mutate: func(p *projectv1.Project) { p.Labels["team"] = "b" }},
		{name: "requester changed", mutate: func(p *projectv1.Project) { p.Annotations["openshift.io/requester"] = "bob" }, want: "metadata.annotations[openshift.io/requester]: Invalid value"},
		{name: "requester removed", mutate: func(p *projectv1.Project) { delete(p.Annotations, "openshift.io/requester") }, want: "metadata.annotations[openshift.io/requester]: Invalid value"},
		{name: "other annotation added", mutate: func(p *projectv1.Project) { p.Annotations["x"] = "y" }, want: "metadata.annotations[x]: Invalid value"},
		{name: "multi-line display name", mutate: func(p *projectv1.Project) { p.Annotations["openshift.io/display-name"] = "a\nb" }, want: "may not contain a new line or tab"},
		{name: "finalizers", mutate: func(p *projectv1.Project) { p.Spec.Finalizers = nil }, want: "spec.finalizers: Invalid value"},
		{name: "status", mutate: func(p *projectv1.Project) { p.Status.Phase = corev1.NamespaceTerminating }, want: "status: Invalid value"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := old.DeepCopy()
			tt.mutate(p)
			errs := ValidateProjectUpdate(p, old)
			if tt.want == "" {
				if len(errs) != 0 {
					t.Fatalf("errors = %v", errs)
				}
				return
			}
			if len(errs) != 1 || !strings.Contains(errs[0].Error(), tt.want) {
				t.Fatalf("errors = %v, want one with %q", errs, tt.want)
			}
		})
	}
}

func TestValidateProjectName(t *testing.T) {
	for name, valid := range map[string]bool{"ab": true, "a": false, "my-app": true, "My-app": false, "a.b": false, strings.Repeat("a", 63): true, strings.Repeat("a", 64): false} {
		if got := len(ValidateProjectName(name, false)) == 0; got != valid {
			t.Errorf("ValidateProjectName(%q) valid = %v, want %v", name, got, valid)
		}
	}
}

func TestTable(t *testing.T) {
	list := &projectv1.ProjectList{Items: []projectv1.Project{{
		ObjectMeta: metav1.ObjectMeta{Name: "demo", Annotations: map[string]string{"openshift.io/display-name": "Demo App"}},
		Status:     projectv1.ProjectStatus{Phase: corev1.NamespaceActive},
	}}}
	table, err := TableConvertor.ConvertToTable(context.Background(), list, nil)
	if err != nil {
		t.Fatal(err)
	}
	if names := []string{table.ColumnDefinitions[0].Name, table.ColumnDefinitions[1].Name, table.ColumnDefinitions[2].Name}; strings.Join(names, ",") != "Name,Display Name,Status" {
		t.Errorf("columns = %v", names)
	}
	if cells := table.Rows[0].Cells; cells[0] != "demo" || cells[1] != "Demo App" || cells[2] != "Active" {
		t.Errorf("cells = %v", cells)
	}
}
