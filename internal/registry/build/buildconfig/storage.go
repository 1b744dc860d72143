package buildconfig

import (
	buildv1 "github.com/openshift/api/build/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apiserver/pkg/registry/generic"

	"github.com/slipway-dev/slipway/internal/registry/storebase"
)

// REST is the storage of buildconfigs, which clients may call "bc" and
// which "oc get all" lists.
type REST = storebase.Named

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
	return storebase.WithNames(store, []string{"bc"}, "all"), storebase.NewSubresourceREST(store, StatusStrategy), nil
}
