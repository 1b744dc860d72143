package build

import (
	buildv1 "github.com/openshift/api/build/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apiserver/pkg/registry/generic"
	genericregistry "k8s.io/apiserver/pkg/registry/generic/registry"
	"k8s.io/apiserver/pkg/registry/rest"

	"github.com/slipway-dev/slipway/internal/registry/storebase"
)

// REST is the storage of builds.
type REST struct {
	*genericregistry.Store
}

var _ rest.CategoriesProvider = &REST{}

// Categories puts Builds in "oc get all".
func (*REST) Categories() []string { return []string{"all"} }

// NewREST returns the storage of builds and of builds/status.
func NewREST(optsGetter generic.RESTOptionsGetter) (*REST, *storebase.SubresourceREST, error) {
	store, err := storebase.NewStore(optsGetter, storebase.Resource{
		Group:    buildv1.GroupName,
		Plural:   "builds",
		Singular: "build",
		New:      func() runtime.Object { return &buildv1.Build{} },
		NewList:  func() runtime.Object { return &buildv1.BuildList{} },
		Strategy: Strategy,
		Table:    TableConvertor,
		Attrs:    GetAttrs,
	})
	if err != nil {
		return nil, nil, err
	}
	return &REST{store}, storebase.NewSubresourceREST(store, StatusStrategy), nil
}
