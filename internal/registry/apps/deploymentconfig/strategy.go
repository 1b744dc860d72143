package deploymentconfig

import (
	"context"
	"fmt"

	appsv1 "github.com/openshift/api/apps/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apiserver/pkg/registry/generic"

	"github.com/slipway-dev/slipway/internal/registry/storebase"
)

// strategy implements create, update and delete of DeploymentConfigs; storebase.Strategy
// answers what every resource answers alike (no create on update,
// unconditional updates, no warnings, no canonical form).
type strategy struct {
	storebase.Strategy
}

// Strategy is the main DeploymentConfig strategy.
var Strategy = strategy{storebase.NewStrategy()}

// NamespaceScoped is true: DeploymentConfigs live in a project.
func (strategy) NamespaceScoped() bool { return true }

// PrepareForCreate applies the defaults, clears the status and every
// trigger's lastTriggeredImage (so image triggers resolve afresh), and
// starts the generation at 1.
func (strategy) PrepareForCreate(_ context.Context, obj runtime.Object) {
	dc := obj.(*appsv1.DeploymentConfig)
	SetDefaults(dc)
	dc.Status = appsv1.DeploymentConfigStatus{}
	for i := range dc.Spec.Triggers {
		if params := dc.Spec.Triggers[i].ImageChangeParams; params != nil {
			params.LastTriggeredImage = ""
		}
	}
	dc.Generation = 1
}

// PrepareForUpdate applies the defaults and keeps the stored status with one
// exception OpenShift makes: status.latestVersion may be raised by exactly
// one, which is how `oc rollout undo` (rollback, then PUT) starts a rollout.
// The generation grows when the spec or latestVersion changes.
func (strategy) PrepareForUpdate(_ context.Context, obj, old runtime.Object) {
	dc, oldDC := obj.(*appsv1.DeploymentConfig), old.(*appsv1.DeploymentConfig)
	SetDefaults(dc)
	requested := dc.Status.LatestVersion
	dc.Status = oldDC.Status
	if requested == oldDC.Status.LatestVersion+1 {
		dc.Status.LatestVersion = requested
	}
	if !equality.Semantic.DeepEqual(dc.Spec, oldDC.Spec) || dc.Status.LatestVersion != oldDC.Status.LatestVersion {
		dc.Generation = oldDC.Generation + 1
	}
}

// Validate validates a new DeploymentConfig.
func (strategy) Validate(_ context.Context, obj runtime.Object) field.ErrorList {
	return Validate(obj.(*appsv1.DeploymentConfig))
}

// ValidateUpdate validates an update of the main resource.
func (strategy) ValidateUpdate(_ context.Context, obj, old runtime.Object) field.ErrorList {
	return ValidateUpdate(obj.(*appsv1.DeploymentConfig), old.(*appsv1.DeploymentConfig))
}

// statusStrategy implements updates through deploymentconfigs/status.
type statusStrategy struct {
	strategy
}

// StatusStrategy is the strategy of deploymentconfigs/status, written by
// the deploymentconfig controller: only the status changes.
var StatusStrategy = statusStrategy{Strategy}

// PrepareForUpdate keeps the stored spec and metadata.
func (statusStrategy) PrepareForUpdate(_ context.Context, obj, old runtime.Object) {
	dc, oldDC := obj.(*appsv1.DeploymentConfig), old.(*appsv1.DeploymentConfig)
	dc.Spec = oldDC.Spec
	metav1.ResetObjectMetaForStatus(dc, oldDC)
}

// ValidateUpdate validates a status write.
func (statusStrategy) ValidateUpdate(_ context.Context, obj, old runtime.Object) field.ErrorList {
	return ValidateStatusUpdate(obj.(*appsv1.DeploymentConfig), old.(*appsv1.DeploymentConfig))
}

// GetAttrs returns the labels and fields of a DeploymentConfig for list and
// watch filtering.
func GetAttrs(obj runtime.Object) (labels.Set, fields.Set, error) {
	dc, ok := obj.(*appsv1.DeploymentConfig)
	if !ok {
		return nil, nil, fmt.Errorf("not a DeploymentConfig: %T", obj)
	}
	return labels.Set(dc.Labels), generic.ObjectMetaFieldsSet(&dc.ObjectMeta, true), nil
}
