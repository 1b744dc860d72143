package namespace

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metainternalversion "k8s.io/apimachinery/pkg/apis/meta/internalversion"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/apiserver/pkg/registry/generic"
	genericregistry "k8s.io/apiserver/pkg/registry/generic/registry"
	"k8s.io/apiserver/pkg/registry/rest"
	"k8s.io/apiserver/pkg/storage"
	storeerr "k8s.io/apiserver/pkg/storage/errors"
	"k8s.io/apiserver/pkg/util/dryrun"

	"github.com/slipway-dev/slipway/internal/registry/core/printing"
	"github.com/slipway-dev/slipway/internal/registry/storebase"
)

// REST is the storage of namespaces. It wraps a generic store to make
// deletion two-phase, and has no DeleteCollection so nothing bypasses that.
type REST struct {
	store *genericregistry.Store
}

var (
	_ rest.Storage              = &REST{}
	_ rest.Getter               = &REST{}
	_ rest.Lister               = &REST{}
	_ rest.Watcher              = &REST{}
	_ rest.Creater              = &REST{}
	_ rest.Updater              = &REST{}
	_ rest.GracefulDeleter      = &REST{}
	_ rest.TableConvertor       = &REST{}
	_ rest.Scoper               = &REST{}
	_ rest.ShortNamesProvider   = &REST{}
	_ rest.SingularNameProvider = &REST{}
)

// NewREST returns the storage of namespaces, namespaces/status and
// namespaces/finalize.
func NewREST(optsGetter generic.RESTOptionsGetter) (*REST, *storebase.SubresourceREST, *storebase.SubresourceREST, error) {
	store, err := storebase.NewStore(optsGetter, storebase.Resource{
		Plural:   "namespaces",
		Singular: "namespace",
		New:      func() runtime.Object { return &corev1.Namespace{} },
		NewList:  func() runtime.Object { return &corev1.NamespaceList{} },
		Strategy: Strategy,
		Table:    TableConvertor,
		Attrs:    GetAttrs,
		Customize: func(store *genericregistry.Store) {
			store.ReturnDeletedObject = true
			store.ShouldDeleteDuringUpdate = shouldDeleteDuringUpdate
		},
	})
	if err != nil {
		return nil, nil, nil, err
	}
	status := storebase.NewSubresourceREST(store, StatusStrategy)
	finalize := storebase.NewSubresourceREST(store, FinalizeStrategy)
	return &REST{store: store}, status, finalize, nil
}

// shouldDeleteDuringUpdate lets the generic store remove a namespace on
// update only once its spec finalizers are gone too.
func shouldDeleteDuringUpdate(ctx context.Context, key string, obj, existing runtime.Object) bool {
	ns, ok := obj.(*corev1.Namespace)
	return ok && len(ns.Spec.Finalizers) == 0 && genericregistry.ShouldDeleteDuringUpdate(ctx, key, obj, existing)
}

// New returns an empty Namespace.
func (r *REST) New() runtime.Object { return r.store.New() }

// NewList returns an empty NamespaceList.
func (r *REST) NewList() runtime.Object { return r.store.NewList() }

// Destroy releases the storage.
func (r *REST) Destroy() { r.store.Destroy() }

// NamespaceScoped is false.
func (r *REST) NamespaceScoped() bool { return false }

// ShortNames lets kubectl accept "ns".
func (r *REST) ShortNames() []string { return []string{"ns"} }

// GetSingularName returns "namespace".
func (r *REST) GetSingularName() string { return "namespace" }

// Get returns one namespace.
func (r *REST) Get(ctx context.Context, name string, options *metav1.GetOptions) (runtime.Object, error) {
	return r.store.Get(ctx, name, options)
}

// List returns the namespaces matching options.
func (r *REST) List(ctx context.Context, options *metainternalversion.ListOptions) (runtime.Object, error) {
	return r.store.List(ctx, options)
}

// Watch watches the namespaces matching options.
func (r *REST) Watch(ctx context.Context, options *metainternalversion.ListOptions) (watch.Interface, error) {
	return r.store.Watch(ctx, options)
}

// Create stores a new namespace.
func (r *REST) Create(ctx context.Context, obj runtime.Object, createValidation rest.ValidateObjectFunc, options *metav1.CreateOptions) (runtime.Object, error) {
	return r.store.Create(ctx, obj, createValidation, options)
}

// Update changes a namespace's metadata and spec (not its finalizers or status).
func (r *REST) Update(ctx context.Context, name string, objInfo rest.UpdatedObjectInfo, createValidation rest.ValidateObjectFunc, updateValidation rest.ValidateObjectUpdateFunc, forceAllowCreate bool, options *metav1.UpdateOptions) (runtime.Object, bool, error) {
	return r.store.Update(ctx, name, objInfo, createValidation, updateValidation, forceAllowCreate, options)
}

// ConvertToTable prints NAME STATUS AGE.
func (r *REST) ConvertToTable(ctx context.Context, obj runtime.Object, tableOptions runtime.Object) (*metav1.Table, error) {
	return r.store.ConvertToTable(ctx, obj, tableOptions)
}

// Delete deletes a namespace in two phases, like Kubernetes. While
// spec.finalizers is non-empty the first call only marks the namespace
// Terminating (deletionTimestamp set) and returns it; the namespace
// controller then deletes the contents and empties spec.finalizers through
// namespaces/finalize, which removes the namespace (a DELETE after that is
// NotFound; one before it is a Conflict). A namespace without finalizers is
// deleted at once.
func (r *REST) Delete(ctx context.Context, name string, deleteValidation rest.ValidateObjectFunc, options *metav1.DeleteOptions) (runtime.Object, bool, error) {
	obj, err := r.store.Get(ctx, name, &metav1.GetOptions{})
	if err != nil {
		return nil, false, err
	}
	ns := obj.(*corev1.Namespace)

	// Pin the UID so a namespace recreated under the same name in between
	// is never the one marked or deleted.
	if options == nil {
		options = metav1.NewDeleteOptions(0)
	}
	if options.Preconditions == nil {
		options.Preconditions = &metav1.Preconditions{}
	}
	if options.Preconditions.UID == nil {
		options.Preconditions.UID = &ns.UID
	} else if *options.Preconditions.UID != ns.UID {
		return nil, false, apierrors.NewConflict(corev1.Resource("namespaces"), name,
			fmt.Errorf("precondition failed: UID in precondition: %v, UID in object meta: %v", *options.Preconditions.UID, ns.UID))
	}
	if rv := options.Preconditions.ResourceVersion; rv != nil && *rv != ns.ResourceVersion {
		return nil, false, apierrors.NewConflict(corev1.Resource("namespaces"), name,
			fmt.Errorf("precondition failed: ResourceVersion in precondition: %v, ResourceVersion in object meta: %v", *rv, ns.ResourceVersion))
	}

	if len(ns.Spec.Finalizers) == 0 {
		return r.store.Delete(ctx, name, deleteValidation, options)
	}
	if !ns.DeletionTimestamp.IsZero() {
		return nil, false, apierrors.NewConflict(corev1.Resource("namespaces"), name,
			fmt.Errorf("The system is ensuring all content is removed from this namespace.  Upon completion, this namespace will automatically be purged by the system."))
	}

	key, err := r.store.KeyFunc(ctx, name)
	if err != nil {
		return nil, false, err
	}
	preconditions := storage.Preconditions{UID: options.Preconditions.UID, ResourceVersion: options.Preconditions.ResourceVersion}
	out := r.store.NewFunc()
	err = r.store.Storage.GuaranteedUpdate(ctx, key, out, false, &preconditions,
		storage.SimpleUpdate(func(existing runtime.Object) (runtime.Object, error) {
			existingNS, ok := existing.(*corev1.Namespace)
			if !ok {
				return nil, fmt.Errorf("expected a Namespace, got %T", existing)
			}
			if err := deleteValidation(ctx, existingNS); err != nil {
				return nil, err
			}
			if existingNS.DeletionTimestamp.IsZero() {
				now := metav1.Now()
				existingNS.DeletionTimestamp = &now
			}
			existingNS.Status.Phase = corev1.NamespaceTerminating
			return existingNS, nil
		}),
		dryrun.IsDryRun(options.DryRun), nil)
	if err != nil {
		err = storeerr.InterpretGetError(err, corev1.Resource("namespaces"), name)
		err = storeerr.InterpretUpdateError(err, corev1.Resource("namespaces"), name)
		if _, ok := err.(*apierrors.StatusError); !ok {
			err = apierrors.NewInternalError(err)
		}
		return nil, false, err
	}
	return out, false, nil
}

// TableConvertor prints namespaces as NAME STATUS AGE.
var TableConvertor = printing.TableConvertor[*corev1.Namespace]{
	Columns: []metav1.TableColumnDefinition{
		printing.NameColumn,
		{Name: "Status", Type: "string", Description: "The status of the namespace"},
		printing.AgeColumn,
	},
	Cells: func(ns *corev1.Namespace) []interface{} {
		return []interface{}{ns.Name, string(ns.Status.Phase), printing.Age(ns.CreationTimestamp)}
	},
}
