package storebase

import (
	"context"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	genericregistry "k8s.io/apiserver/pkg/registry/generic/registry"
	"k8s.io/apiserver/pkg/registry/rest"
)

// SubresourceREST serves a subresource such as "status" that reads the whole
// object and writes it through a copy of the main store whose update
// strategy decides which part of the object the subresource may change.
type SubresourceREST struct {
	Store *genericregistry.Store
}

var (
	_ rest.Getter  = &SubresourceREST{}
	_ rest.Updater = &SubresourceREST{}
)

// NewSubresourceREST copies main and replaces its update strategy, so the
// subresource shares main's storage and keys but not its update rules.
func NewSubresourceREST(main *genericregistry.Store, update rest.RESTUpdateStrategy) *SubresourceREST {
	store := *main
	store.UpdateStrategy = update
	return &SubresourceREST{Store: &store}
}

// New returns an empty object of the main resource.
func (r *SubresourceREST) New() runtime.Object { return r.Store.New() }

// Destroy does nothing: the main store owns the storage.
func (r *SubresourceREST) Destroy() {}

// Get returns the whole object.
func (r *SubresourceREST) Get(ctx context.Context, name string, options *metav1.GetOptions) (runtime.Object, error) {
	return r.Store.Get(ctx, name, options)
}

// Update writes the object through the subresource's strategy. A
// subresource never creates its object.
func (r *SubresourceREST) Update(ctx context.Context, name string, objInfo rest.UpdatedObjectInfo, createValidation rest.ValidateObjectFunc, updateValidation rest.ValidateObjectUpdateFunc, _ bool, options *metav1.UpdateOptions) (runtime.Object, bool, error) {
	return r.Store.Update(ctx, name, objInfo, createValidation, updateValidation, false, options)
}
