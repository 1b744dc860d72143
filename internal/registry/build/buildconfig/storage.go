package buildconfig

import (
	buildv1 "github.com/openshift/api/build/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apiserver/pkg/registry/generic"
	genericregistry "k8s.io/apiserver/pkg/registry/generic/registry"
	"k8s.io/apiserver/pkg/registry/rest"

	"github.com/slipway-dev/slipway/internal/registry/storebase"
)

// REST is the storage of buildconfigs.
type REST struct {
	*genericregistry.Store
}

var (
	_ rest.ShortNamesProvider = &REST{}
	_ rest.CategoriesProvider = &REST{}
)

// ShortNames lets clients say "bc".
func (*REST) ShortNames() []string { return []string{"bc"} }

// Categories puts BuildConfigs in "oc get all".
func (*REST) Categories() []string { return []string{"all"} }

// NewREST returns the storage of buildconfigs and of buildconfigs/status.
func NewREST(optsGetter generic.RESTOptionsGetter) (*REST, *storebase.SubresourceREST, error) {
	store, err := storebase.NewStore(optsGetter, storebase.Resource{
		Group:    buildv1.GroupName,
		Plural:   "buildconfigs",
		Singular: "buildconfig",
		New:      func() runtime.Object { return &buildv1.BuildConfig{} },
		NewList:  func() runtime.Object { return &buildv1.BuildConfigList{} },
		Strategy: Strategy,
		Table:    TableConvertor,
		Attrs:    GetAttrs,
	})
	if err != nil {
		return nil, nil, err
	}
	return &REST{store}, storebase.NewSubresourceREST(store, StatusStrategy), nil
}
