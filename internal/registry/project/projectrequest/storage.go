// Package projectrequest serves project.openshift.io/v1 ProjectRequests:
// `oc new-project` posts one and gets back the new Project, whose namespace
// records the display name, description and requesting user.
package projectrequest

import (
	"context"
	"fmt"
	"strings"

	"github.com/openshift/api/annotations"
	projectv1 "github.com/openshift/api/project/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	metainternalversion "k8s.io/apimachinery/pkg/apis/meta/internalversion"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/registry/rest"

	"github.com/slipway-dev/slipway/internal/registry/project/project"
)

// ReservedPrefixes start the project names OpenShift keeps for itself.
var ReservedPrefixes = []string{"openshift-", "kube-"}

// REST creates projects on request.
type REST struct {
	namespaces rest.Creater
	populate   func(ctx context.Context, namespace string) error
}

var (
	_ rest.Creater              = &REST{}
	_ rest.Lister               = &REST{}
	_ rest.Scoper               = &REST{}
	_ rest.SingularNameProvider = &REST{}
	_ rest.TableConvertor       = &REST{}
)

// NewREST returns the storage of projectrequests, creating namespaces;
// populate, when not nil, then fills each new project (OpenShift's project
// template: its default service accounts), before the request answers.
func NewREST(namespaces rest.Creater, populate func(ctx context.Context, namespace string) error) *REST {
	return &REST{namespaces: namespaces, populate: populate}
}

// New returns an empty ProjectRequest.
func (r *REST) New() runtime.Object { return &projectv1.ProjectRequest{} }

// Destroy does nothing.
func (r *REST) Destroy() {}

// NamespaceScoped is false.
func (r *REST) NamespaceScoped() bool { return false }

// GetSingularName returns "projectrequest".
func (r *REST) GetSingularName() string { return "projectrequest" }

// NewList returns what List returns: a Status.
func (r *REST) NewList() runtime.Object { return &metav1.Status{} }

// List answers with a Status success: that is how OpenShift tells oc the
// caller may request projects (there is nothing stored to list).
func (r *REST) List(context.Context, *metainternalversion.ListOptions) (runtime.Object, error) {
	return &metav1.Status{Status: metav1.StatusSuccess}, nil
}

// ConvertToTable prints an empty NAME table: there are no stored requests.
func (r *REST) ConvertToTable(context.Context, runtime.Object, runtime.Object) (*metav1.Table, error) {
	return &metav1.Table{ColumnDefinitions: []metav1.TableColumnDefinition{
		{Name: "Name", Type: "string", Format: "name"},
	}}, nil
}

// Create validates the request, creates its namespace annotated with the
// display name, description and requester, and returns the new Project.
func (r *REST) Create(ctx context.Context, obj runtime.Object, createValidation rest.ValidateObjectFunc, options *metav1.CreateOptions) (runtime.Object, error) {
	req, ok := obj.(*projectv1.ProjectRequest)
	if !ok {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("not a ProjectRequest: %T", obj))
	}
	if errs := ValidateProjectRequest(req); len(errs) > 0 {
		return nil, apierrors.NewInvalid(projectv1.GroupVersion.WithKind("ProjectRequest").GroupKind(), req.Name, errs)
	}
	if prefix, reserved := ReservedPrefix(req.Name); reserved {
		return nil, apierrors.NewForbidden(projectv1.Resource("project"), req.Name,
			fmt.Errorf("cannot request a project starting with %q", prefix))
	}
	if createValidation != nil {
		if err := createValidation(ctx, req.DeepCopy()); err != nil {
			return nil, err
		}
	}

	requester := ""
	if user, ok := genericapirequest.UserFrom(ctx); ok {
		requester = user.GetName()
	}
	created, err := r.namespaces.Create(ctx, NewNamespace(req, requester), rest.ValidateAllObjectFunc, createOptions(options))
	if err != nil {
		if apierrors.IsAlreadyExists(err) {
			return nil, apierrors.NewAlreadyExists(projectv1.Resource("project"), req.Name)
		}
		return nil, err
	}
	ns, ok := created.(*corev1.Namespace)
	if !ok {
		return nil, fmt.Errorf("creating namespace %s: got %T", req.Name, created)
	}
	if r.populate != nil && (options == nil || len(options.DryRun) == 0) {
		if err := r.populate(ctx, ns.Name); err != nil {
			return nil, err
		}
	}
	return project.ConvertNamespace(ns), nil
}

func createOptions(options *metav1.CreateOptions) *metav1.CreateOptions {
	if options == nil {
		return &metav1.CreateOptions{}
	}
	return &metav1.CreateOptions{DryRun: options.DryRun, FieldManager: options.FieldManager}
}

// NewNamespace returns the namespace a request asks for: its labels, and
// annotations recording display name, description and requester (the
// request's other annotations are kept underneath).
func NewNamespace(req *projectv1.ProjectRequest, requester string) *corev1.Namespace {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{
		Name:        req.Name,
		Labels:      req.Labels,
		Annotations: map[string]string{},
	}}
	for k, v := range req.Annotations {
		ns.Annotations[k] = v
	}
	ns.Annotations[annotations.OpenShiftDisplayName] = req.DisplayName
	ns.Annotations[annotations.OpenShiftDescription] = req.Description
	ns.Annotations[projectv1.ProjectRequesterAnnotation] = requester
	return ns
}

// ValidateProjectRequest checks the name (a DNS label of 2 to 63
// characters) and that the display name is one line.
func ValidateProjectRequest(req *projectv1.ProjectRequest) field.ErrorList {
	errs := apivalidation.ValidateObjectMeta(&req.ObjectMeta, false, project.ValidateProjectName, field.NewPath("metadata"))
	if !project.ValidDisplayName(req.DisplayName) {
		errs = append(errs, field.Invalid(field.NewPath("displayName"), req.DisplayName, "may not contain a new line or tab"))
	}
	return errs
}

// ReservedPrefix returns the reserved prefix name starts with, if any.
func ReservedPrefix(name string) (string, bool) {
	for _, prefix := range ReservedPrefixes {
		if strings.HasPrefix(name, prefix) {
			return prefix, true
		}
	}
	return "", false
}
