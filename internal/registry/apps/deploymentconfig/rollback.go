package deploymentconfig

import (
	"context"
	"fmt"

	appsv1 "github.com/openshift/api/apps/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apiserver/pkg/registry/rest"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"

	"github.com/slipway-dev/slipway/internal/deployutil"
)

// RollbackREST serves POST deploymentconfigs/<name>/rollback: a
// DeploymentConfigRollback in, the DeploymentConfig as it would be rolled
// back out. Nothing is stored; the client PUTs the answer (`oc rollout
// undo`).
type RollbackREST struct {
	dcs rest.Getter
	rcs corev1client.ReplicationControllersGetter
}

var _ rest.NamedCreater = &RollbackREST{}

// New returns an empty DeploymentConfigRollback, the request body.
func (*RollbackREST) New() runtime.Object { return &appsv1.DeploymentConfigRollback{} }

// Destroy does nothing: the main store owns the storage.
func (*RollbackREST) Destroy() {}

// ProducesObject tells the OpenAPI document the answer is a
// DeploymentConfig.
func (*RollbackREST) ProducesObject(string) any { return appsv1.DeploymentConfig{} }

// ProducesMIMETypes uses the group's defaults.
func (*RollbackREST) ProducesMIMETypes(string) []string { return nil }

// Create returns DeploymentConfig name with the parts the request includes
// (template, triggers, replicas and selector, strategy) taken from the
// config encoded in the target deployment: spec.from, else
// spec.revision, else the version before the latest. Every image change
// trigger comes back with automatic: false, so the rollback is not undone
// by the next image change, and latestVersion is one higher, so the PUT
// rolls it out.
func (r *RollbackREST) Create(ctx context.Context, name string, obj runtime.Object, createValidation rest.ValidateObjectFunc, _ *metav1.CreateOptions) (runtime.Object, error) {
	req, ok := obj.(*appsv1.DeploymentConfigRollback)
	if !ok {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("not a DeploymentConfigRollback: %T", obj))
	}
	if req.Name == "" {
		req.Name = name
	}
	if errs := validateRollback(req, name); len(errs) > 0 {
		return nil, apierrors.NewInvalid(appsv1.GroupVersion.WithKind("DeploymentConfigRollback").GroupKind(), name, errs)
	}
	if createValidation != nil {
		if err := createValidation(ctx, req); err != nil {
			return nil, err
		}
	}
	current, err := r.dcs.Get(ctx, name, &metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	dc := current.(*appsv1.DeploymentConfig)

	target := req.Spec.From.Name
	if target == "" {
		revision := req.Spec.Revision
		if revision == 0 {
			revision = dc.Status.LatestVersion - 1
		}
		if revision < 1 {
			return nil, apierrors.NewBadRequest(fmt.Sprintf("deploymentconfig %q has no deployment to roll back to", name))
		}
		target = deployutil.DeploymentName(name, revision)
	}
	rc, err := r.rcs.ReplicationControllers(dc.Namespace).Get(ctx, target, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("couldn't find deployment %s to roll back to", target))
	}
	if err != nil {
		return nil, fmt.Errorf("reading deployment %s: %w", target, err)
	}
	if deployutil.ConfigNameFor(rc) != name {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("deployment %s does not belong to deploymentconfig %q", target, name))
	}
	from, err := deployutil.DecodeConfig(rc)
	if err != nil {
		return nil, apierrors.NewBadRequest(err.Error())
	}
	return Rollback(dc, from, req.Spec), nil
}

// Rollback returns a copy of dc with what spec includes taken from from,
// image change triggers set to manual and latestVersion raised by one.
func Rollback(dc, from *appsv1.DeploymentConfig, spec appsv1.DeploymentConfigRollbackSpec) *appsv1.DeploymentConfig {
	out := dc.DeepCopy()
	if spec.IncludeTriggers {
		out.Spec.Triggers = from.Spec.DeepCopy().Triggers
	}
	if spec.IncludeTemplate {
		out.Spec.Template = from.Spec.Template.DeepCopy()
	}
	if spec.IncludeReplicationMeta {
		out.Spec.Replicas = from.Spec.Replicas
		out.Spec.Selector = from.Spec.DeepCopy().Selector
	}
	if spec.IncludeStrategy {
		out.Spec.Strategy = *from.Spec.Strategy.DeepCopy()
	}
	for i := range out.Spec.Triggers {
		if p := out.Spec.Triggers[i].ImageChangeParams; p != nil {
			p.Automatic = false
		}
	}
	out.Status.LatestVersion++
	return out
}

func validateRollback(req *appsv1.DeploymentConfigRollback, name string) field.ErrorList {
	var errs field.ErrorList
	if req.Name != name {
		errs = append(errs, field.Invalid(field.NewPath("name"), req.Name, fmt.Sprintf("must be %q, the deploymentconfig of the request", name)))
	}
	spec := field.NewPath("spec")
	if req.Spec.Revision < 0 {
		errs = append(errs, field.Invalid(spec.Child("revision"), req.Spec.Revision, "must be greater than or equal to 0"))
	}
	if from := req.Spec.From; from.Name != "" && from.Kind != "" && from.Kind != "ReplicationController" {
		errs = append(errs, field.Invalid(spec.Child("from", "kind"), from.Kind, "must be ReplicationController"))
	}
	return errs
}
