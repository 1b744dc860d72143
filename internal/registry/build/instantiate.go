package buildregistry

import (
	"context"
	"fmt"

	buildv1 "github.com/openshift/api/build/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/registry/rest"

	"github.com/slipway-dev/slipway/internal/buildgenerator"
)

// InstantiateREST serves POST buildconfigs/<name>/instantiate: a
// BuildRequest in, the new Build out.
type InstantiateREST struct {
	generator *buildgenerator.Generator
}

var _ rest.NamedCreater = &InstantiateREST{}

// New returns an empty BuildRequest, the request body.
func (*InstantiateREST) New() runtime.Object { return &buildv1.BuildRequest{} }

// Destroy does nothing: the generator holds no storage.
func (*InstantiateREST) Destroy() {}

// ProducesObject tells the OpenAPI document the answer is a Build.
func (*InstantiateREST) ProducesObject(string) any { return buildv1.Build{} }

// ProducesMIMETypes uses the group's defaults.
func (*InstantiateREST) ProducesMIMETypes(string) []string { return nil }

// Create instantiates BuildConfig name.
func (r *InstantiateREST) Create(ctx context.Context, name string, obj runtime.Object, createValidation rest.ValidateObjectFunc, _ *metav1.CreateOptions) (runtime.Object, error) {
	req, err := buildRequest(ctx, name, obj, createValidation)
	if err != nil {
		return nil, err
	}
	return r.generator.Instantiate(ctx, req.Namespace, name, req)
}

// CloneREST serves POST builds/<name>/clone: a BuildRequest in, a new
// Build with the same spec out.
type CloneREST struct {
	generator *buildgenerator.Generator
}

var _ rest.NamedCreater = &CloneREST{}

// New returns an empty BuildRequest, the request body.
func (*CloneREST) New() runtime.Object { return &buildv1.BuildRequest{} }

// Destroy does nothing: the generator holds no storage.
func (*CloneREST) Destroy() {}

// ProducesObject tells the OpenAPI document the answer is a Build.
func (*CloneREST) ProducesObject(string) any { return buildv1.Build{} }

// ProducesMIMETypes uses the group's defaults.
func (*CloneREST) ProducesMIMETypes(string) []string { return nil }

// Create clones Build name.
func (r *CloneREST) Create(ctx context.Context, name string, obj runtime.Object, createValidation rest.ValidateObjectFunc, _ *metav1.CreateOptions) (runtime.Object, error) {
	req, err := buildRequest(ctx, name, obj, createValidation)
	if err != nil {
		return nil, err
	}
	return r.generator.Clone(ctx, req.Namespace, name, req)
}

// buildRequest checks a BuildRequest posted to the subresource of name: its
// metadata.name, when given, must be name (as OpenShift validates it).
func buildRequest(ctx context.Context, name string, obj runtime.Object, createValidation rest.ValidateObjectFunc) (*buildv1.BuildRequest, error) {
	req, ok := obj.(*buildv1.BuildRequest)
	if !ok {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("not a BuildRequest: %T", obj))
	}
	namespace, ok := genericapirequest.NamespaceFrom(ctx)
	if !ok || namespace == "" {
		return nil, apierrors.NewBadRequest("a namespace is required")
	}
	if req.Name == "" {
		req.Name = name
	}
	if req.Name != name {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("metadata.name %q of the build request does not match %q", req.Name, name))
	}
	req.Namespace = namespace
	if createValidation != nil {
		if err := createValidation(ctx, req); err != nil {
			return nil, err
		}
	}
	return req, nil
}
