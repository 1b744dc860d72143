package project

import (
	"context"
	"errors"
	"fmt"

	"github.com/openshift/api/annotations"
	projectv1 "github.com/openshift/api/project/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metainternalversion "k8s.io/apimachinery/pkg/apis/meta/internalversion"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	genericregistry "k8s.io/apiserver/pkg/registry/generic/registry"
	"k8s.io/apiserver/pkg/registry/rest"

	"github.com/slipway-dev/slipway/internal/registry/printing"
)

// Namespaces is what projects need of the namespace storage
// (ClientNamespaces provides it).
type Namespaces interface {
	rest.Getter
	rest.Lister
	rest.Watcher
	rest.Creater
	rest.Updater
	rest.GracefulDeleter
}

// REST serves projects from the namespace storage.
type REST struct {
	namespaces Namespaces
}

var (
	_ rest.Getter               = &REST{}
	_ rest.Lister               = &REST{}
	_ rest.Watcher              = &REST{}
	_ rest.Creater              = &REST{}
	_ rest.Updater              = &REST{}
	_ rest.GracefulDeleter      = &REST{}
	_ rest.Scoper               = &REST{}
	_ rest.SingularNameProvider = &REST{}
	_ rest.TableConvertor       = &REST{}
)

// NewREST returns the storage of projects over namespaces.
func NewREST(namespaces Namespaces) *REST {
	return &REST{namespaces: namespaces}
}

// New returns an empty Project.
func (r *REST) New() runtime.Object { return &projectv1.Project{} }

// NewList returns an empty ProjectList.
func (r *REST) NewList() runtime.Object { return &projectv1.ProjectList{} }

// Destroy does nothing: the namespace storage owns the store.
func (r *REST) Destroy() {}

// NamespaceScoped is false.
func (r *REST) NamespaceScoped() bool { return false }

// GetSingularName returns "project".
func (r *REST) GetSingularName() string { return "project" }

// Get returns the project of a namespace.
func (r *REST) Get(ctx context.Context, name string, options *metav1.GetOptions) (runtime.Object, error) {
	obj, err := r.namespaces.Get(ctx, name, options)
	if err != nil {
		return nil, projectError(err, name)
	}
	return ConvertNamespace(obj.(*corev1.Namespace)), nil
}

// List returns the projects of the namespaces matching options (labels,
// metadata.name, status.phase).
func (r *REST) List(ctx context.Context, options *metainternalversion.ListOptions) (runtime.Object, error) {
	obj, err := r.namespaces.List(ctx, options)
	if err != nil {
		return nil, err
	}
	list, ok := obj.(*corev1.NamespaceList)
	if !ok {
		return nil, fmt.Errorf("listing namespaces for projects: got %T", obj)
	}
	return ConvertNamespaceList(list), nil
}

// Watch watches namespaces and reports them as projects.
func (r *REST) Watch(ctx context.Context, options *metainternalversion.ListOptions) (watch.Interface, error) {
	w, err := r.namespaces.Watch(ctx, options)
	if err != nil {
		return nil, err
	}
	return watch.Filter(w, ConvertWatchEvent), nil
}

// ConvertWatchEvent turns a namespace watch event (bookmarks included) into
// a project event; errors pass through unchanged.
func ConvertWatchEvent(in watch.Event) (watch.Event, bool) {
	if ns, ok := in.Object.(*corev1.Namespace); ok {
		in.Object = ConvertNamespace(ns)
	}
	return in, true
}

// Create refuses: projects are requested through projectrequests, which
// set the requester and description (`oc new-project`).
func (r *REST) Create(_ context.Context, obj runtime.Object, _ rest.ValidateObjectFunc, _ *metav1.CreateOptions) (runtime.Object, error) {
	name := ""
	if p, ok := obj.(*projectv1.Project); ok {
		name = p.Name
	}
	return nil, apierrors.NewForbidden(projectv1.Resource("projects"), name,
		fmt.Errorf("projects cannot be created directly; request one with projectrequests (oc new-project)"))
}

// Update changes a project's labels, display name and description, and
// writes them to the namespace.
func (r *REST) Update(ctx context.Context, name string, objInfo rest.UpdatedObjectInfo, _ rest.ValidateObjectFunc, updateValidation rest.ValidateObjectUpdateFunc, _ bool, options *metav1.UpdateOptions) (runtime.Object, bool, error) {
	oldObj, err := r.Get(ctx, name, &metav1.GetOptions{})
	if err != nil {
		return nil, false, err
	}
	old := oldObj.(*projectv1.Project)
	obj, err := objInfo.UpdatedObject(ctx, old.DeepCopy())
	if err != nil {
		return nil, false, err
	}
	p, ok := obj.(*projectv1.Project)
	if !ok {
		return nil, false, apierrors.NewBadRequest(fmt.Sprintf("not a Project: %T", obj))
	}
	// An update made on an older copy is a conflict, as the namespace's
	// own update would answer, before its annotations (which controllers
	// add, such as the SCC ranges) would read as removed.
	if p.ResourceVersion != "" && p.ResourceVersion != old.ResourceVersion {
		return nil, false, apierrors.NewConflict(projectv1.Resource("projects"), name, errors.New(genericregistry.OptimisticLockErrorMsg))
	}
	// Finalizers and status belong to the namespace machinery.
	p.Spec.Finalizers = old.Spec.Finalizers
	p.Status = old.Status
	if errs := ValidateProjectUpdate(p, old); len(errs) > 0 {
		return nil, false, apierrors.NewInvalid(projectv1.GroupVersion.WithKind("Project").GroupKind(), name, errs)
	}
	if updateValidation != nil {
		if err := updateValidation(ctx, p.DeepCopy(), old.DeepCopy()); err != nil {
			return nil, false, err
		}
	}
	updated, _, err := r.namespaces.Update(ctx, name, rest.DefaultUpdatedObjectInfo(ConvertProject(p)),
		rest.ValidateAllObjectFunc, rest.ValidateAllObjectUpdateFunc, false, options)
	if err != nil {
		return nil, false, projectError(err, name)
	}
	return ConvertNamespace(updated.(*corev1.Namespace)), false, nil
}

// Delete deletes the namespace (which then terminates as namespaces do) and
// answers with a Status success, as OpenShift does.
func (r *REST) Delete(ctx context.Context, name string, deleteValidation rest.ValidateObjectFunc, options *metav1.DeleteOptions) (runtime.Object, bool, error) {
	validate := func(ctx context.Context, obj runtime.Object) error {
		if deleteValidation == nil {
			return nil
		}
		if ns, ok := obj.(*corev1.Namespace); ok {
			obj = ConvertNamespace(ns)
		}
		return deleteValidation(ctx, obj)
	}
	if _, _, err := r.namespaces.Delete(ctx, name, validate, options); err != nil {
		return nil, false, projectError(err, name)
	}
	return &metav1.Status{Status: metav1.StatusSuccess}, false, nil
}

// projectError renames namespace NotFound errors to the project resource,
// so clients read `project.project.openshift.io "x" not found`.
func projectError(err error, name string) error {
	if apierrors.IsNotFound(err) {
		return apierrors.NewNotFound(projectv1.Resource("projects"), name)
	}
	return err
}

// ConvertToTable prints projects as NAME DISPLAY NAME STATUS.
func (r *REST) ConvertToTable(ctx context.Context, obj runtime.Object, tableOptions runtime.Object) (*metav1.Table, error) {
	return TableConvertor.ConvertToTable(ctx, obj, tableOptions)
}

// TableConvertor prints projects as oc does: NAME DISPLAY NAME STATUS.
var TableConvertor = printing.TableConvertor[*projectv1.Project]{
	Columns: []metav1.TableColumnDefinition{
		printing.NameColumn,
		{Name: "Display Name", Type: "string", Description: "The project's display name."},
		{Name: "Status", Type: "string", Description: "The project's phase."},
	},
	Cells: func(p *projectv1.Project) []interface{} {
		return []interface{}{p.Name, p.Annotations[annotations.OpenShiftDisplayName], string(p.Status.Phase)}
	},
}
