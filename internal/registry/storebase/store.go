package storebase

import (
	"fmt"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apiserver/pkg/registry/generic"
	genericregistry "k8s.io/apiserver/pkg/registry/generic/registry"
	"k8s.io/apiserver/pkg/registry/rest"
	"k8s.io/apiserver/pkg/storage"
)

// FullStrategy is a strategy for create, update and delete.
type FullStrategy interface {
	rest.RESTCreateStrategy
	rest.RESTUpdateStrategy
	rest.RESTDeleteStrategy
}

// Resource describes the store of one resource.
type Resource struct {
	// Group is the API group; "" is the core group.
	Group string
	// Plural and Singular name the resource: "secrets", "secret".
	Plural, Singular string
	// New and NewList return empty objects of the resource.
	New, NewList func() runtime.Object
	Strategy     FullStrategy
	Table        rest.TableConvertor
	// Attrs returns the labels and selectable fields of an object.
	Attrs storage.AttrFunc
	// Customize, when set, adjusts the store (TTL, deletion behaviour)
	// before it is completed.
	Customize func(*genericregistry.Store)
}

// NewStore builds and completes the generic store of r.
func NewStore(optsGetter generic.RESTOptionsGetter, r Resource) (*genericregistry.Store, error) {
	store := &genericregistry.Store{
		NewFunc:                   r.New,
		NewListFunc:               r.NewList,
		DefaultQualifiedResource:  schema.GroupResource{Group: r.Group, Resource: r.Plural},
		SingularQualifiedResource: schema.GroupResource{Group: r.Group, Resource: r.Singular},
		CreateStrategy:            r.Strategy,
		UpdateStrategy:            r.Strategy,
		DeleteStrategy:            r.Strategy,
		TableConvertor:            r.Table,
	}
	if r.Customize != nil {
		r.Customize(store)
	}
	if err := store.CompleteWithOptions(&generic.StoreOptions{RESTOptions: optsGetter, AttrFunc: r.Attrs}); err != nil {
		return nil, fmt.Errorf("completing %s storage: %w", r.Plural, err)
	}
	return store, nil
}

// Named serves a store under kubectl's short names and categories
// (`sa`, `po`, `all`); the embedded store keeps every REST verb.
type Named struct {
	*genericregistry.Store
	shortNames, categories []string
}

// WithNames wraps store with short names and categories.
func WithNames(store *genericregistry.Store, shortNames []string, categories ...string) *Named {
	return &Named{Store: store, shortNames: shortNames, categories: categories}
}

// ShortNames implements rest.ShortNamesProvider.
func (n *Named) ShortNames() []string { return n.shortNames }

// Categories implements rest.CategoriesProvider.
func (n *Named) Categories() []string { return n.categories }
