package buildconfig

import (
	"context"

	buildv1 "github.com/openshift/api/build/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apiserver/pkg/registry/generic"
	genericregistry "k8s.io/apiserver/pkg/registry/generic/registry"
	"k8s.io/apiserver/pkg/registry/rest"
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
func NewREST(optsGetter generic.RESTOptionsGetter) (*REST, *StatusREST, error) {
	store := &genericregistry.Store{
		NewFunc:                   func() runtime.Object { return &buildv1.BuildConfig{} },
		NewListFunc:               func() runtime.Object { return &buildv1.BuildConfigList{} },
		DefaultQualifiedResource:  buildv1.Resource("buildconfigs"),
		SingularQualifiedResource: buildv1.Resource("buildconfig"),

		CreateStrategy: Strategy,
		UpdateStrategy: Strategy,
		DeleteStrategy: Strategy,

		TableConvertor: TableConvertor{},
	}
	if err := store.CompleteWithOptions(&generic.StoreOptions{RESTOptions: optsGetter, AttrFunc: GetAttrs}); err != nil {
		return nil, nil, err
	}
	statusStore := *store
	statusStore.UpdateStrategy = StatusStrategy
	return &REST{store}, &StatusREST{store: &statusStore}, nil
}

// StatusREST serves buildconfigs/status: GET returns the whole object, PUT
// and PATCH change only its status.
type StatusREST struct {
	store *genericregistry.Store
}

var (
	_ rest.Patcher        = &StatusREST{}
	_ rest.TableConvertor = &StatusREST{}
)

// New returns an empty BuildConfig.
func (r *StatusREST) New() runtime.Object { return &buildv1.BuildConfig{} }

// Destroy does nothing: the main store owns the storage.
func (r *StatusREST) Destroy() {}

// Get returns the BuildConfig.
func (r *StatusREST) Get(ctx context.Context, name string, options *metav1.GetOptions) (runtime.Object, error) {
	return r.store.Get(ctx, name, options)
}

// Update writes the BuildConfig's status; it never creates one.
func (r *StatusREST) Update(ctx context.Context, name string, objInfo rest.UpdatedObjectInfo, createValidation rest.ValidateObjectFunc, updateValidation rest.ValidateObjectUpdateFunc, _ bool, options *metav1.UpdateOptions) (runtime.Object, bool, error) {
	return r.store.Update(ctx, name, objInfo, createValidation, updateValidation, false, options)
}

// ConvertToTable prints the BuildConfig like the main resource.
func (r *StatusREST) ConvertToTable(ctx context.Context, obj, tableOptions runtime.Object) (*metav1.Table, error) {
	return r.store.ConvertToTable(ctx, obj, tableOptions)
}
