package imagestream

import (
	"context"
	"fmt"

	imagev1 "github.com/openshift/api/image/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apiserver/pkg/registry/generic"
	genericregistry "k8s.io/apiserver/pkg/registry/generic/registry"
	"k8s.io/apiserver/pkg/registry/rest"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"

	"github.com/slipway-dev/slipway/internal/registry/storebase"
)

// REST is the imagestreams storage.
type REST struct {
	*genericregistry.Store
	// Strategy is the strategy the store uses; imagestreamtags and later
	// writers (mappings, imports) share its tag helpers and host name.
	Strategy *Strategy
}

var (
	_ rest.ShortNamesProvider = &REST{}
	_ rest.CategoriesProvider = &REST{}
)

// ShortNames gives `is`, as oc and kubectl know it.
func (*REST) ShortNames() []string { return []string{"is"} }

// Categories puts image streams in `get all`, as OpenShift does.
func (*REST) Categories() []string { return []string{"all"} }

// Storage is everything NewREST builds over the one imagestreams etcd
// prefix.
type Storage struct {
	// ImageStream serves imagestreams.
	ImageStream *REST
	// Status serves imagestreams/status.
	Status *StatusREST
	// Internal is not served over HTTP: it is the store in-process writers
	// use (imagestreamtags, mappings and imports) to write spec and
	// status in one update, with the same generation rules and tag
	// materialisation as the main endpoint, taking turns per stream.
	Internal *InternalREST
}

// NewREST returns the imagestreams storage, its status subresource and the
// internal store. registryHostname is the internal registry's host[:port]
// ("" when none); it makes status.dockerImageRepository.
func NewREST(optsGetter generic.RESTOptionsGetter, registryHostname string) (*Storage, error) {
	strategy := NewStrategy(registryHostname)
	store, err := storebase.NewStore(optsGetter, storebase.Resource{
		Group:     imagev1.GroupName,
		Plural:    "imagestreams",
		Singular:  "imagestream",
		New:       func() runtime.Object { return &imagev1.ImageStream{} },
		NewList:   func() runtime.Object { return &imagev1.ImageStreamList{} },
		Strategy:  strategy,
		Table:     TableConvertor{},
		Attrs:     GetAttrs,
		Customize: func(store *genericregistry.Store) { store.Decorator = strategy.Decorate },
	})
	if err != nil {
		return nil, err
	}
	strategy.SetStreamGetter(store)

	statusStore := *store
	statusStrategy := NewStatusStrategy(strategy)
	statusStore.UpdateStrategy = statusStrategy
	statusStore.ResetFieldsStrategy = statusStrategy

	internalStore := *store
	internalStrategy := NewInternalStrategy(strategy)
	internalStore.CreateStrategy = internalStrategy
	internalStore.UpdateStrategy = internalStrategy
	internalStore.ResetFieldsStrategy = nil

	return &Storage{
		ImageStream: &REST{Store: store, Strategy: strategy},
		Status:      &StatusREST{store: &statusStore},
		Internal:    &InternalREST{Store: &internalStore},
	}, nil
}

// GetAttrs returns the labels and selectable fields of an image stream:
// metadata.name, metadata.namespace, spec.dockerImageRepository and
// status.dockerImageRepository.
func GetAttrs(obj runtime.Object) (labels.Set, fields.Set, error) {
	stream, ok := obj.(*imagev1.ImageStream)
	if !ok {
		return nil, nil, fmt.Errorf("not an ImageStream: %T", obj)
	}
	set := generic.ObjectMetaFieldsSet(&stream.ObjectMeta, true)
	set["spec.dockerImageRepository"] = stream.Spec.DockerImageRepository
	set["status.dockerImageRepository"] = stream.Status.DockerImageRepository
	return labels.Set(stream.Labels), set, nil
}

// GetResetFields says that the main endpoint does not write status.
func (*Strategy) GetResetFields() map[fieldpath.APIVersion]*fieldpath.Set {
	return map[fieldpath.APIVersion]*fieldpath.Set{
		"image.openshift.io/v1": fieldpath.NewSet(fieldpath.MakePathOrDie("status")),
	}
}

// GetResetFields says that the status endpoint does not write spec.
func (*StatusStrategy) GetResetFields() map[fieldpath.APIVersion]*fieldpath.Set {
	return map[fieldpath.APIVersion]*fieldpath.Set{
		"image.openshift.io/v1": fieldpath.NewSet(fieldpath.MakePathOrDie("spec")),
	}
}

// StatusREST is the imagestreams/status storage: get and update only.
type StatusREST struct {
	store *genericregistry.Store
}

var _ rest.Patcher = &StatusREST{}

// New returns an empty ImageStream.
func (r *StatusREST) New() runtime.Object { return &imagev1.ImageStream{} }

// Destroy does nothing: the main store owns the shared storage.
func (r *StatusREST) Destroy() {}

// Get reads the stream.
func (r *StatusREST) Get(ctx context.Context, name string, options *metav1.GetOptions) (runtime.Object, error) {
	return r.store.Get(ctx, name, options)
}

// Update writes the status of a stream.
func (r *StatusREST) Update(ctx context.Context, name string, objInfo rest.UpdatedObjectInfo, createValidation rest.ValidateObjectFunc, updateValidation rest.ValidateObjectUpdateFunc, forceAllowCreate bool, options *metav1.UpdateOptions) (runtime.Object, bool, error) {
	// Status writes never create a stream.
	return r.store.Update(ctx, name, objInfo, createValidation, updateValidation, false, options)
}

// GetResetFields returns the fields the status endpoint does not write.
func (r *StatusREST) GetResetFields() map[fieldpath.APIVersion]*fieldpath.Set {
	return r.store.GetResetFields()
}

// ConvertToTable renders the stream as the main endpoint does.
func (r *StatusREST) ConvertToTable(ctx context.Context, object runtime.Object, tableOptions runtime.Object) (*metav1.Table, error) {
	return r.store.ConvertToTable(ctx, object, tableOptions)
}
