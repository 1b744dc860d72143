package namespace

import (
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestDeletableResources(t *testing.T) {
	all := []string{"create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"}
	lists := []*metav1.APIResourceList{
		{GroupVersion: "v1", APIResources: []metav1.APIResource{
			{Name: "pods", Namespaced: true, Verbs: all},
			{Name: "pods/log", Namespaced: true, Verbs: []string{"get"}},
			{Name: "pods/status", Namespaced: true, Verbs: []string{"get", "update"}},
			{Name: "bindings", Namespaced: true, Verbs: []string{"create"}},
			{Name: "configmaps", Namespaced: true, Verbs: []string{"get", "list", "delete"}},
			{Name: "events", Namespaced: true, Verbs: []string{"list", "deletecollection"}},
			{Name: "readonly", Namespaced: true, Verbs: []string{"get", "list", "watch"}},
			{Name: "nodes", Namespaced: false, Verbs: all},
		}},
		{GroupVersion: "build.openshift.io/v1", APIResources: []metav1.APIResource{
			{Name: "builds", Namespaced: true, Verbs: all},
			{Name: "buildconfigs/instantiate", Namespaced: true, Verbs: []string{"create"}},
		}},
		{GroupVersion: "image.openshift.io/v1", APIResources: []metav1.APIResource{
			{Name: "imagestreamimages", Namespaced: true, Verbs: []string{"get"}},
			{Name: "imagestreamtags", Namespaced: true, Verbs: []string{"create", "delete", "get", "list", "update"}},
		}},
		{GroupVersion: "not/a/group/version", APIResources: []metav1.APIResource{{Name: "x", Namespaced: true, Verbs: all}}},
		nil,
	}
	var got []string
	for _, r := range DeletableResources(lists) {
		s := r.GroupVersionResource.String()
		if r.DeleteCollection {
			s += " (collection)"
		}
		got = append(got, s)
	}
	want := []string{
		"/v1, Resource=configmaps",
		"/v1, Resource=events (collection)",
		"/v1, Resource=pods (collection)",
		"build.openshift.io/v1, Resource=builds (collection)",
		"image.openshift.io/v1, Resource=imagestreamtags",
	}
	if !slices.Equal(got, want) {
		t.Errorf("DeletableResources =\n%q\nwant\n%q", got, want)
	}
}

func TestRemoveFinalizer(t *testing.T) {
	k := corev1.FinalizerKubernetes
	tests := []struct {
		in        []corev1.FinalizerName
		want      []corev1.FinalizerName
		wantFound bool
	}{
		{[]corev1.FinalizerName{k}, []corev1.FinalizerName{}, true},
		{[]corev1.FinalizerName{"openshift.io/origin", k}, []corev1.FinalizerName{"openshift.io/origin"}, true},
		{[]corev1.FinalizerName{"openshift.io/origin"}, []corev1.FinalizerName{"openshift.io/origin"}, false},
		{nil, nil, false},
	}
	for _, tt := range tests {
		orig := slices.Clone(tt.in)
		got, found := RemoveFinalizer(tt.in, k)
		if !slices.Equal(got, tt.want) || found != tt.wantFound {
			t.Errorf("RemoveFinalizer(%v) = %v, %v; want %v, %v", tt.in, got, found, tt.want, tt.wantFound)
		}
		if !slices.Equal(tt.in, orig) {
			t.Errorf("RemoveFinalizer modified its input: %v", tt.in)
		}
	}
}

func TestNeedsContentDeletion(t *testing.T) {
	now := metav1.Now()
	tests := []struct {
		name string
		ns   corev1.Namespace
		want bool
	}{
		{"active", corev1.Namespace{Spec: corev1.NamespaceSpec{Finalizers: []corev1.FinalizerName{corev1.FinalizerKubernetes}}}, false},
		{"terminating", corev1.Namespace{ObjectMeta: metav1.ObjectMeta{DeletionTimestamp: &now},
			Spec: corev1.NamespaceSpec{Finalizers: []corev1.FinalizerName{corev1.FinalizerKubernetes}}}, true},
		{"finalized", corev1.Namespace{ObjectMeta: metav1.ObjectMeta{DeletionTimestamp: &now}}, false},
	}
	for _, tt := range tests {
		if got := NeedsContentDeletion(&tt.ns); got != tt.want {
			t.Errorf("%s: NeedsContentDeletion = %v, want %v", tt.name, got, tt.want)
		}
	}
}
