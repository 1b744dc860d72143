package namespace

import (
	"cmp"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Resource is a namespaced resource whose objects the controller deletes.
type Resource struct {
	schema.GroupVersionResource
	// DeleteCollection is true when the resource supports deletecollection,
	// which removes a namespace's objects in one request.
	DeleteCollection bool
}

// DeletableResources picks, from discovery's resource lists, the namespaced
// resources whose objects can be listed and deleted (one by one or as a
// collection). Subresources are skipped: they go with their parent. The
// result is sorted for a stable order.
func DeletableResources(lists []*metav1.APIResourceList) []Resource {
	var out []Resource
	seen := map[schema.GroupVersionResource]bool{}
	for _, list := range lists {
		if list == nil {
			continue
		}
		gv, err := schema.ParseGroupVersion(list.GroupVersion)
		if err != nil {
			continue // a malformed group cannot be addressed anyway
		}
		for _, r := range list.APIResources {
			if !r.Namespaced || strings.Contains(r.Name, "/") {
				continue
			}
			verbs := r.Verbs
			collection := slices.Contains(verbs, "deletecollection")
			if !slices.Contains(verbs, "list") || !(collection || slices.Contains(verbs, "delete")) {
				continue
			}
			gvr := gv.WithResource(r.Name)
			if seen[gvr] {
				continue
			}
			seen[gvr] = true
			out = append(out, Resource{GroupVersionResource: gvr, DeleteCollection: collection})
		}
	}
	slices.SortFunc(out, func(a, b Resource) int {
		return cmp.Or(cmp.Compare(a.Group, b.Group), cmp.Compare(a.Resource, b.Resource), cmp.Compare(a.Version, b.Version))
	})
	return out
}

// RemoveFinalizer returns finalizers without name, and whether it was there.
// The input slice is not modified.
func RemoveFinalizer(finalizers []corev1.FinalizerName, name corev1.FinalizerName) ([]corev1.FinalizerName, bool) {
	if !slices.Contains(finalizers, name) {
		return finalizers, false
	}
	out := make([]corev1.FinalizerName, 0, len(finalizers)-1)
	for _, f := range finalizers {
		if f != name {
			out = append(out, f)
		}
	}
	return out, true
}

// NeedsContentDeletion reports whether ns is being deleted and still waits for
// this controller: it has a deletion timestamp and the kubernetes finalizer.
func NeedsContentDeletion(ns *corev1.Namespace) bool {
	return ns.DeletionTimestamp != nil && slices.Contains(ns.Spec.Finalizers, corev1.FinalizerKubernetes)
}
