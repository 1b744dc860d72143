package deploymentconfig

import (
	"context"
	"fmt"
	"net/http"
	"slices"

	appsv1 "github.com/openshift/api/apps/v1"
	imagev1client "github.com/openshift/client-go/image/clientset/versioned/typed/image/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	genericregistry "k8s.io/apiserver/pkg/registry/generic/registry"
	"k8s.io/apiserver/pkg/registry/rest"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/util/retry"

	"github.com/slipway-dev/slipway/internal/buildgenerator"
	"github.com/slipway-dev/slipway/internal/deployutil"
	"github.com/slipway-dev/slipway/internal/serialwrite"
)

// InstantiateREST serves POST deploymentconfigs/<name>/instantiate: a
// DeploymentRequest in, the DeploymentConfig with its new latestVersion
// out (or a 204 Status when there is nothing to roll out). `oc rollout
// latest` sends {latest: true, force: true}.
type InstantiateREST struct {
	store   *genericregistry.Store
	streams imagev1client.ImageStreamsGetter
	rcs     corev1client.ReplicationControllersGetter
	// turns serializes this server's rollouts of one config.
	turns serialwrite.Turns
}

var _ rest.NamedCreater = &InstantiateREST{}

// New returns an empty DeploymentRequest, the request body.
func (*InstantiateREST) New() runtime.Object { return &appsv1.DeploymentRequest{} }

// Destroy does nothing: the main store owns the storage.
func (*InstantiateREST) Destroy() {}

// ProducesObject tells the OpenAPI document the answer is a
// DeploymentConfig.
func (*InstantiateREST) ProducesObject(string) any { return appsv1.DeploymentConfig{} }

// ProducesMIMETypes uses the group's defaults.
func (*InstantiateREST) ProducesMIMETypes(string) []string { return nil }

// Create rolls DeploymentConfig name out if the request allows it:
// paused configs and configs whose latest deployment still runs, or is yet
// to be created, are refused (400), latest re-resolves the image triggers
// first, force rolls out even when nothing changed (cause Manual),
// unresolved image triggers are refused (400). Concurrent requests take
// turns, and a write that conflicts with the controller's is decided again
// on a fresh read (serialwrite.Backoff): each version is rolled out once,
// and none is skipped.
func (r *InstantiateREST) Create(ctx context.Context, name string, obj runtime.Object, createValidation rest.ValidateObjectFunc, _ *metav1.CreateOptions) (runtime.Object, error) {
	req, ok := obj.(*appsv1.DeploymentRequest)
	if !ok {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("not a DeploymentRequest: %T", obj))
	}
	if req.Name == "" {
		req.Name = name
	}
	if req.Name != name {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("name %q of the deployment request does not match %q", req.Name, name))
	}
	if createValidation != nil {
		if err := createValidation(ctx, req); err != nil {
			return nil, err
		}
	}
	release, _, err := r.turns.Take(ctx, "deploymentconfigs/"+genericapirequest.NamespaceValue(ctx)+"/"+name)
	if err != nil {
		return nil, err
	}
	defer release()
	var result runtime.Object
	retriable := func(err error) bool { return apierrors.IsConflict(err) || serialwrite.Unavailable(err) }
	err = retry.OnError(serialwrite.Backoff, retriable, func() error {
		var err error
		result, err = r.instantiate(ctx, req)
		return err
	})
	return result, err
}

func (r *InstantiateREST) instantiate(ctx context.Context, req *appsv1.DeploymentRequest) (runtime.Object, error) {
	obj, err := r.store.Get(ctx, req.Name, &metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	dc := obj.(*appsv1.DeploymentConfig).DeepCopy()
	if dc.Spec.Paused {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("cannot trigger a deployment for %q because it is paused", dc.Name))
	}
	latest, err := r.latestDeployment(ctx, dc)
	if err != nil {
		return nil, err
	}
	// A version whose deployment the controller has not created yet is in
	// progress too: rolling out over it would skip it.
	if dc.Status.LatestVersion > 0 && (latest == nil || !deployutil.IsTerminated(latest)) {
		phase := appsv1.DeploymentStatusNew
		if latest != nil && deployutil.PhaseFor(latest) != "" {
			phase = deployutil.PhaseFor(latest)
		}
		return nil, apierrors.NewBadRequest(fmt.Sprintf("#%d is already in progress (%s).", dc.Status.LatestVersion, phase))
	}
	if req.Latest {
		if err := r.resolveImageTriggers(ctx, dc, req.Force, req.ExcludeTriggers); err != nil {
			return nil, err
		}
	}
	details, err := rolloutDetails(dc, latest, req.Force)
	if err != nil {
		return nil, err
	}
	if details == nil {
		return &metav1.Status{
			Status:  metav1.StatusSuccess,
			Code:    http.StatusNoContent,
			Message: "DeploymentConfig does not need to be updated",
		}, nil
	}
	dc.Status.Details = details
	dc.Status.LatestVersion++
	updated, _, err := r.store.Update(ctx, dc.Name, rest.DefaultUpdatedObjectInfo(dc), nil, nil, false, &metav1.UpdateOptions{})
	return updated, err
}

// latestDeployment is the RC of dc's latestVersion, nil when there is none
// (no rollout yet, or the controller has not created it yet).
func (r *InstantiateREST) latestDeployment(ctx context.Context, dc *appsv1.DeploymentConfig) (*corev1.ReplicationController, error) {
	if dc.Status.LatestVersion == 0 {
		return nil, nil
	}
	name := deployutil.DeploymentName(dc.Name, dc.Status.LatestVersion)
	rc, err := r.rcs.ReplicationControllers(dc.Namespace).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading deployment %s: %w", name, err)
	}
	return rc, nil
}

// resolveImageTriggers points dc's image change triggers, and the
// containers they name, at the image their tag resolves to now. Only
// automatic triggers count unless force is set, as in OpenShift.
func (r *InstantiateREST) resolveImageTriggers(ctx context.Context, dc *appsv1.DeploymentConfig, force bool, exclude []appsv1.DeploymentTriggerType) error {
	if slices.Contains(exclude, appsv1.DeploymentTriggerOnImageChange) {
		return nil
	}
	include := func(p *appsv1.DeploymentTriggerImageChangeParams) bool { return force || p.Automatic }
	_, err := deployutil.ResolveImageTriggers(dc, include, func(from corev1.ObjectReference) (string, error) {
		streamName, tag, err := buildgenerator.SplitImageStreamTag(from.Name)
		if err != nil {
			return "", apierrors.NewBadRequest(err.Error())
		}
		stream, err := r.streams.ImageStreams(from.Namespace).Get(ctx, streamName, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return "", nil
		}
		if err != nil {
			return "", fmt.Errorf("reading image stream %s/%s: %w", from.Namespace, streamName, err)
		}
		return buildgenerator.LatestTaggedImage(stream, tag), nil
	})
	return err
}

// rolloutDetails decides whether dc rolls out and why: every image trigger
// must be resolved (400 otherwise); force always rolls out (cause Manual);
// otherwise automatic triggers whose image the latest deployment does not
// run yet do (cause ImageChange). nil means nothing to do.
func rolloutDetails(dc *appsv1.DeploymentConfig, latest *corev1.ReplicationController, force bool) (*appsv1.DeploymentDetails, error) {
	// What runs now: the latest deployment's config; nothing before the
	// first rollout (every resolved image is new then).
	var running *appsv1.DeploymentConfig
	if latest != nil {
		decoded, err := deployutil.DecodeConfig(latest)
		if err != nil {
			return nil, apierrors.NewInternalError(err)
		}
		running = decoded
	}
	var changed []string
	for _, t := range dc.Spec.Triggers {
		p := t.ImageChangeParams
		if t.Type != appsv1.DeploymentTriggerOnImageChange || p == nil {
			continue
		}
		if p.LastTriggeredImage == "" {
			return nil, apierrors.NewBadRequest(fmt.Sprintf("cannot trigger a deployment for %q because it contains unresolved images", dc.Name))
		}
		if p.Automatic && !runsImage(running, p.LastTriggeredImage) {
			changed = append(changed, p.LastTriggeredImage)
		}
	}
	switch {
	case force:
		return deployutil.ManualDetails(), nil
	case len(changed) > 0:
		return deployutil.ImageChangeDetails(changed), nil
	}
	return nil, nil
}

func runsImage(dc *appsv1.DeploymentConfig, image string) bool {
	if dc == nil || dc.Spec.Template == nil {
		return false
	}
	spec := dc.Spec.Template.Spec
	has := func(c corev1.Container) bool { return c.Image == image }
	return slices.ContainsFunc(spec.Containers, has) || slices.ContainsFunc(spec.InitContainers, has)
}

// instantiateStrategy writes what instantiate computed on the server: the
// resolved images and the new latestVersion with its details.
type instantiateStrategy struct {
	strategy
}

// PrepareForUpdate keeps the computed status and raises the generation
// when the spec or latestVersion changed.
func (instantiateStrategy) PrepareForUpdate(_ context.Context, obj, old runtime.Object) {
	dc, oldDC := obj.(*appsv1.DeploymentConfig), old.(*appsv1.DeploymentConfig)
	SetDefaults(dc)
	if !equality.Semantic.DeepEqual(dc.Spec, oldDC.Spec) || dc.Status.LatestVersion != oldDC.Status.LatestVersion {
		dc.Generation = oldDC.Generation + 1
	}
}
