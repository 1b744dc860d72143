package deploymentconfig

import (
	"context"

	appsv1 "github.com/openshift/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apiserver/pkg/registry/generic"
	genericregistry "k8s.io/apiserver/pkg/registry/generic/registry"
	"k8s.io/apiserver/pkg/registry/rest"
)

// REST is the storage of deploymentconfigs.
type REST struct {
	*genericregistry.Store
}

var (
	_ rest.ShortNamesProvider = &REST{}
	_ rest.CategoriesProvider = &REST{}
)

// ShortNames lets clients say "dc".
func (*REST) ShortNames() []string { return []string{"dc"} }

// Categories puts DeploymentConfigs in "oc get all".
func (*REST) Categories() []string { return []string{"all"} }

// Storage holds the REST storage of deploymentconfigs and their
// subresources.
type Storage struct {
	DeploymentConfig *REST
	Status           *StatusREST
	Scale            *ScaleREST
}

// NewStorage returns the storage of deploymentconfigs,
// deploymentconfigs/status and deploymentconfigs/scale.
func NewStorage(optsGetter generic.RESTOptionsGetter) (*Storage, error) {
	store := &genericregistry.Store{
		NewFunc:                   func() runtime.Object { return &appsv1.DeploymentConfig{} },
		NewListFunc:               func() runtime.Object { return &appsv1.DeploymentConfigList{} },
		DefaultQualifiedResource:  appsv1.Resource("deploymentconfigs"),
		SingularQualifiedResource: appsv1.Resource("deploymentconfig"),

		CreateStrategy: Strategy,
		UpdateStrategy: Strategy,
		DeleteStrategy: Strategy,

		TableConvertor: TableConvertor{},
	}
	if err := store.CompleteWithOptions(&generic.StoreOptions{RESTOptions: optsGetter, AttrFunc: GetAttrs}); err != nil {
		return nil, err
	}
	statusStore := *store
	statusStore.UpdateStrategy = StatusStrategy
	return &Storage{
		DeploymentConfig: &REST{store},
		Status:           &StatusREST{store: &statusStore},
		Scale:            &ScaleREST{store: store},
	}, nil
}

// StatusREST serves deploymentconfigs/status: GET returns the whole object,
// PUT and PATCH change only its status.
type StatusREST struct {
	store *genericregistry.Store
}

var (
	_ rest.Patcher        = &StatusREST{}
	_ rest.TableConvertor = &StatusREST{}
)

// New returns an empty DeploymentConfig.
func (r *StatusREST) New() runtime.Object { return &appsv1.DeploymentConfig{} }

// Destroy does nothing: the main store owns the storage.
func (r *StatusREST) Destroy() {}

// Get returns the DeploymentConfig.
func (r *StatusREST) Get(ctx context.Context, name string, options *metav1.GetOptions) (runtime.Object, error) {
	return r.store.Get(ctx, name, options)
}

// Update writes the DeploymentConfig's status; it never creates one.
func (r *StatusREST) Update(ctx context.Context, name string, objInfo rest.UpdatedObjectInfo, createValidation rest.ValidateObjectFunc, updateValidation rest.ValidateObjectUpdateFunc, _ bool, options *metav1.UpdateOptions) (runtime.Object, bool, error) {
	return r.store.Update(ctx, name, objInfo, createValidation, updateValidation, false, options)
}

// ConvertToTable prints the DeploymentConfig like the main resource.
func (r *StatusREST) ConvertToTable(ctx context.Context, obj, tableOptions runtime.Object) (*metav1.Table, error) {
	return r.store.ConvertToTable(ctx, obj, tableOptions)
}
