package deploymentconfig

import (
	"context"
	"fmt"

	appsv1 "github.com/openshift/api/apps/v1"
	extensionsv1beta1 "k8s.io/api/extensions/v1beta1"
	"k8s.io/apimachinery/pkg/api/errors"
	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
	genericregistry "k8s.io/apiserver/pkg/registry/generic/registry"
	"k8s.io/apiserver/pkg/registry/rest"
)

// ScaleREST serves deploymentconfigs/scale as an extensions/v1beta1 Scale, as
// openshift-apiserver does, so `oc scale dc/x` and autoscalers work.
type ScaleREST struct {
	store *genericregistry.Store
}

var (
	_ rest.Patcher                  = &ScaleREST{}
	_ rest.GroupVersionKindProvider = &ScaleREST{}
)

// GroupVersionKind tells the API installer the subresource speaks
// extensions/v1beta1's Scale struct under apps.openshift.io/v1, as
// openshift/api registers it and openshift-apiserver serves it (and so what
// openshift/client-go sends).
func (r *ScaleREST) GroupVersionKind(schema.GroupVersion) schema.GroupVersionKind {
	return appsv1.GroupVersion.WithKind("Scale")
}

// New returns an empty Scale.
func (r *ScaleREST) New() runtime.Object { return &extensionsv1beta1.Scale{} }

// Destroy does nothing: the main store owns the storage.
func (r *ScaleREST) Destroy() {}

// Get returns the DeploymentConfig's scale.
func (r *ScaleREST) Get(ctx context.Context, name string, options *metav1.GetOptions) (runtime.Object, error) {
	obj, err := r.store.Get(ctx, name, options)
	if err != nil {
		return nil, err
	}
	return ScaleFromDeploymentConfig(obj.(*appsv1.DeploymentConfig)), nil
}

// Update sets the DeploymentConfig's spec.replicas from a Scale. A Scale
// carrying a resourceVersion only applies to that version of the
// DeploymentConfig (409 Conflict otherwise).
func (r *ScaleREST) Update(ctx context.Context, name string, objInfo rest.UpdatedObjectInfo, createValidation rest.ValidateObjectFunc, updateValidation rest.ValidateObjectUpdateFunc, _ bool, options *metav1.UpdateOptions) (runtime.Object, bool, error) {
	obj, _, err := r.store.Update(ctx, name,
		&scaleUpdate{objInfo: objInfo},
		scaleCreateValidation(createValidation),
		scaleUpdateValidation(updateValidation),
		false, options)
	if err != nil {
		return nil, false, err
	}
	return ScaleFromDeploymentConfig(obj.(*appsv1.DeploymentConfig)), false, nil
}

// ScaleFromDeploymentConfig returns the Scale view of a DeploymentConfig:
// desired replicas from the spec, current replicas and the selector (as a
// label selector string) from the status and spec.
func ScaleFromDeploymentConfig(dc *appsv1.DeploymentConfig) *extensionsv1beta1.Scale {
	return &extensionsv1beta1.Scale{
		ObjectMeta: metav1.ObjectMeta{
			Name:              dc.Name,
			Namespace:         dc.Namespace,
			UID:               dc.UID,
			ResourceVersion:   dc.ResourceVersion,
			CreationTimestamp: dc.CreationTimestamp,
		},
		Spec: extensionsv1beta1.ScaleSpec{Replicas: dc.Spec.Replicas},
		Status: extensionsv1beta1.ScaleStatus{
			Replicas:       dc.Status.Replicas,
			Selector:       dc.Spec.Selector,
			TargetSelector: labels.SelectorFromSet(dc.Spec.Selector).String(),
		},
	}
}

// ApplyScale returns a copy of dc with the Scale's replicas, or the
// validation error a client gets for a bad Scale. The Scale's
// resourceVersion, when set, becomes the copy's so the store's optimistic
// concurrency check compares it with the stored DeploymentConfig.
func ApplyScale(dc *appsv1.DeploymentConfig, scale *extensionsv1beta1.Scale) (*appsv1.DeploymentConfig, error) {
	allErrs := apimachineryvalidation.ValidateNonnegativeField(int64(scale.Spec.Replicas), field.NewPath("spec", "replicas"))
	if scale.Name != "" && scale.Name != dc.Name {
		allErrs = append(allErrs, field.Invalid(field.NewPath("metadata", "name"), scale.Name, fmt.Sprintf("must be %q, the name of the DeploymentConfig", dc.Name)))
	}
	if len(allErrs) > 0 {
		return nil, errors.NewInvalid(extensionsv1beta1.SchemeGroupVersion.WithKind("Scale").GroupKind(), dc.Name, allErrs)
	}
	updated := dc.DeepCopy()
	updated.Spec.Replicas = scale.Spec.Replicas
	if scale.ResourceVersion != "" {
		updated.ResourceVersion = scale.ResourceVersion
	}
	return updated, nil
}

// scaleUpdate turns a client's Scale update into a DeploymentConfig update
// inside the store's read-modify-write loop.
type scaleUpdate struct {
	objInfo rest.UpdatedObjectInfo
}

// Preconditions passes the client's preconditions on.
func (u *scaleUpdate) Preconditions() *metav1.Preconditions { return u.objInfo.Preconditions() }

// UpdatedObject applies the client's Scale to the stored DeploymentConfig.
func (u *scaleUpdate) UpdatedObject(ctx context.Context, oldObj runtime.Object) (runtime.Object, error) {
	dc, ok := oldObj.(*appsv1.DeploymentConfig)
	if !ok {
		return nil, fmt.Errorf("scaling: expected a DeploymentConfig, got %T", oldObj)
	}
	obj, err := u.objInfo.UpdatedObject(ctx, ScaleFromDeploymentConfig(dc))
	if err != nil {
		return nil, err
	}
	scale, ok := obj.(*extensionsv1beta1.Scale)
	if !ok {
		return nil, errors.NewBadRequest(fmt.Sprintf("expected an extensions/v1beta1 Scale, got %T", obj))
	}
	return ApplyScale(dc, scale)
}

// scaleCreateValidation and scaleUpdateValidation let admission see Scales,
// the kind the client sent, rather than DeploymentConfigs.
func scaleCreateValidation(validate rest.ValidateObjectFunc) rest.ValidateObjectFunc {
	if validate == nil {
		return nil
	}
	return func(ctx context.Context, obj runtime.Object) error {
		return validate(ctx, ScaleFromDeploymentConfig(obj.(*appsv1.DeploymentConfig)))
	}
}

func scaleUpdateValidation(validate rest.ValidateObjectUpdateFunc) rest.ValidateObjectUpdateFunc {
	if validate == nil {
		return nil
	}
	return func(ctx context.Context, obj, old runtime.Object) error {
		return validate(ctx, ScaleFromDeploymentConfig(obj.(*appsv1.DeploymentConfig)), ScaleFromDeploymentConfig(old.(*appsv1.DeploymentConfig)))
	}
}
