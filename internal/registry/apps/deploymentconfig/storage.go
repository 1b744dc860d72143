package deploymentconfig

import (
	appsv1 "github.com/openshift/api/apps/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apiserver/pkg/registry/generic"

	"github.com/slipway-dev/slipway/internal/registry/storebase"
)

// REST is the storage of deploymentconfigs, which clients may call "dc"
// and which "oc get all" lists.
type REST = storebase.Named

// Storage holds the REST storage of deploymentconfigs and their
// subresources.
type Storage struct {
	DeploymentConfig *REST
	Status           *storebase.SubresourceREST
	Scale            *ScaleREST
}

// NewStorage returns the storage of deploymentconfigs,
// deploymentconfigs/status and deploymentconfigs/scale.
func NewStorage(optsGetter generic.RESTOptionsGetter) (*Storage, error) {
	store, err := storebase.NewStore(optsGetter, storebase.Resource{
		Group:    appsv1.GroupName,
		Plural:   "deploymentconfigs",
		Singular: "deploymentconfig",
		New:      func() runtime.Object { return &appsv1.DeploymentConfig{} },
		NewList:  func() runtime.Object { return &appsv1.DeploymentConfigList{} },
		Strategy: Strategy,
		Table:    TableConvertor,
		Attrs:    GetAttrs,
	})
	if err != nil {
		return nil, err
	}
	return &Storage{
		DeploymentConfig: storebase.WithNames(store, []string{"dc"}, "all"),
		Status:           storebase.NewSubresourceREST(store, StatusStrategy),
		Scale:            &ScaleREST{store: store},
	}, nil
}
