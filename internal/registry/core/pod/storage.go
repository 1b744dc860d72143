package pod

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apiserver/pkg/registry/generic"
	genericregistry "k8s.io/apiserver/pkg/registry/generic/registry"

	"github.com/slipway-dev/slipway/internal/registry/storebase"
)

// NewREST returns the storage of pods and pods/status. pods/log is added by
// its own issue (a rest.GetterWithOptions reading from the node agent).
func NewREST(optsGetter generic.RESTOptionsGetter) (*genericregistry.Store, *storebase.SubresourceREST, error) {
	store, err := storebase.NewStore(optsGetter, storebase.Resource{
		Plural:   "pods",
		Singular: "pod",
		New:      func() runtime.Object { return &corev1.Pod{} },
		NewList:  func() runtime.Object { return &corev1.PodList{} },
		Strategy: Strategy,
		Table:    TableConvertor,
		Attrs:    GetAttrs,
	})
	if err != nil {
		return nil, nil, err
	}
	return store, storebase.NewSubresourceREST(store, StatusStrategy), nil
}
