package deploymentconfig

import (
	"context"
	"errors"
	"fmt"
	"strings"

	appsv1 "github.com/openshift/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/slipway-dev/slipway/internal/controller/worker"
	"github.com/slipway-dev/slipway/internal/deployutil"
)

// syncConfig reconciles the DeploymentConfig named by key. Each pass does
// at most one step of a rollout (raise latestVersion, or create the
// deployment), so every step is written before the next is decided.
func (c *Controller) syncConfig(ctx context.Context, key string) error {
	cached, err := worker.Lookup(key, func(namespace, name string) (*appsv1.DeploymentConfig, error) {
		return c.dcLister.DeploymentConfigs(namespace).Get(name)
	})
	if cached == nil {
		return err
	}
	dc := cached.DeepCopy()

	// Nothing to do before a trigger or a manual rollout.
	if dc.Status.LatestVersion == 0 && !deployutil.HasTrigger(dc) {
		return c.updateStatus(ctx, dc, nil, true)
	}
	deployments, err := c.claimDeployments(ctx, dc)
	if err != nil {
		return err
	}
	if dc.DeletionTimestamp != nil {
		return c.updateStatus(ctx, dc, deployments, true)
	}
	if dc.Spec.Paused {
		c.cleanupOldDeployments(ctx, dc, deployments)
		return c.updateStatus(ctx, dc, deployments, true)
	}

	latest, latestExists := deployutil.LatestDeployment(dc, deployments)
	// A deployment newer than latestVersion (a restored or hand-made
	// one): catch up one version at a time, as validation allows.
	if latest != nil && deployutil.VersionFor(latest) > dc.Status.LatestVersion {
		dc.Status.LatestVersion++
		return c.writeStatus(ctx, dc)
	}
	if !latestExists {
		waiting, err := c.cancelRunningRollouts(ctx, dc, deployments)
		if err != nil || waiting {
			// The cancelled deployments' phase changes bring dc back.
			return err
		}
	}
	// Never roll out without a template or with a container without an
	// image (an image trigger has not resolved yet).
	if dc.Spec.Template == nil {
		return c.updateStatus(ctx, dc, deployments, true)
	}
	for _, container := range dc.Spec.Template.Spec.Containers {
		if strings.TrimSpace(container.Image) == "" {
			return c.updateStatus(ctx, dc, deployments, true)
		}
	}

	trigger, wait, err := triggered(dc, latest, latestExists)
	if err != nil {
		return err
	}
	if wait {
		return c.updateStatus(ctx, dc, deployments, true)
	}
	if trigger {
		dc.Status.LatestVersion++
		c.log.Info("rolling out", "deploymentconfig", key, "version", dc.Status.LatestVersion, "cause", dc.Status.Details.Message)
		return c.writeStatus(ctx, dc)
	}

	if latestExists {
		// The deployer owns the replicas of a running rollout.
		if !deployutil.IsTerminated(latest) {
			return c.updateStatus(ctx, dc, deployments, false)
		}
		deployments, err = c.scaleDeployments(ctx, dc, deployments)
		if err != nil {
			return err
		}
		c.cleanupOldDeployments(ctx, dc, deployments)
		return c.updateStatus(ctx, dc, deployments, true)
	}
	return c.createDeployment(ctx, dc, deployments)
}

// triggered decides whether dc rolls out now (and records the cause in its
// status.details) or waits for its image triggers to resolve.
func triggered(dc *appsv1.DeploymentConfig, latest *corev1.ReplicationController, latestExists bool) (trigger, wait bool, err error) {
	imageTrigger, configTrigger := deployutil.HasImageChangeTrigger(dc), deployutil.HasConfigChangeTrigger(dc)
	if !imageTrigger && !configTrigger {
		return false, false, nil
	}
	if dc.Status.LatestVersion == 0 {
		if imageTrigger && !deployutil.ImageTriggersResolved(dc) {
			return false, true, nil
		}
		dc.Status.Details = deployutil.ConfigChangeDetails()
		return true, false, nil
	}
	if !latestExists {
		// The current version's deployment is still to be created.
		return false, false, nil
	}
	if images := deployutil.NewImages(dc, latest); len(images) > 0 {
		dc.Status.Details = deployutil.ImageChangeDetails(images)
		return true, false, nil
	}
	if configTrigger {
		deployed, err := deployutil.DecodeConfig(latest)
		if err != nil {
			return false, false, err
		}
		if !apiequality.Semantic.DeepEqual(dc.Spec.Template, deployed.Spec.Template) {
			dc.Status.Details = deployutil.ConfigChangeDetails()
			return true, false, nil
		}
	}
	return false, false, nil
}

// claimDeployments returns the deployments dc controls: RCs labelled with
// its name that it owns, adopting the ones nobody controls.
func (c *Controller) claimDeployments(ctx context.Context, dc *appsv1.DeploymentConfig) ([]*corev1.ReplicationController, error) {
	rcs, err := c.rcLister.ReplicationControllers(dc.Namespace).List(deployutil.ConfigSelector(dc.Name))
	if err != nil {
		return nil, fmt.Errorf("listing the deployments of %s/%s: %w", dc.Namespace, dc.Name, err)
	}
	var out []*corev1.ReplicationController
	for _, rc := range rcs {
		ref := metav1.GetControllerOf(rc)
		switch {
		case ref != nil && ref.UID == dc.UID:
			out = append(out, rc)
		case ref == nil && dc.DeletionTimestamp == nil && rc.DeletionTimestamp == nil:
			owner := deployutil.ControllerRef(dc)
			patch := fmt.Sprintf(`{"metadata":{"ownerReferences":[{"apiVersion":%q,"kind":%q,"name":%q,"uid":%q,"controller":true,"blockOwnerDeletion":true}],"uid":%q}}`,
				owner.APIVersion, owner.Kind, owner.Name, owner.UID, rc.UID)
			adopted, err := c.kube.CoreV1().ReplicationControllers(rc.Namespace).Patch(ctx, rc.Name, types.StrategicMergePatchType, []byte(patch), metav1.PatchOptions{})
			if err != nil {
				return nil, fmt.Errorf("adopting deployment %s/%s: %w", rc.Namespace, rc.Name, err)
			}
			out = append(out, adopted)
		}
	}
	return out, nil
}

// cancelRunningRollouts cancels dc's unfinished deployments before the
// deployment of a newer version is created, and reports whether any is
// still to finish.
func (c *Controller) cancelRunningRollouts(ctx context.Context, dc *appsv1.DeploymentConfig, deployments []*corev1.ReplicationController) (bool, error) {
	waiting := false
	for _, rc := range deployments {
		if deployutil.IsTerminated(rc) {
			continue
		}
		waiting = true
		if deployutil.IsCancelled(rc) {
			continue
		}
		cancelled := rc.DeepCopy()
		deployutil.SetCancelledByNewer(cancelled)
		if _, err := c.kube.CoreV1().ReplicationControllers(rc.Namespace).Update(ctx, cancelled, metav1.UpdateOptions{}); err != nil {
			if apierrors.IsNotFound(err) {
				continue
			}
			c.recorder.Eventf(dc, corev1.EventTypeWarning, "DeploymentCancellationFailed", "Failed to cancel deployment %q superseded by version %d: %v", rc.Name, dc.Status.LatestVersion, err)
			return true, fmt.Errorf("cancelling deployment %s/%s: %w", rc.Namespace, rc.Name, err)
		}
		c.recorder.Eventf(dc, corev1.EventTypeNormal, "DeploymentCancelled", "Cancelled deployment %q superseded by version %d", rc.Name, dc.Status.LatestVersion)
	}
	if waiting {
		c.recorder.Eventf(dc, corev1.EventTypeNormal, "DeploymentAwaitingCancellation", "Deployment of version %d awaiting cancellation of older running deployments", dc.Status.LatestVersion)
	}
	return waiting, nil
}

// createDeployment creates the deployment of dc's latestVersion.
func (c *Controller) createDeployment(ctx context.Context, dc *appsv1.DeploymentConfig, deployments []*corev1.ReplicationController) error {
	rc, err := deployutil.MakeDeployment(dc)
	if err != nil {
		// A config that cannot be encoded will not encode on a retry either.
		c.recorder.Eventf(dc, corev1.EventTypeWarning, "DeploymentCreationFailed", "Couldn't deploy version %d: %v", dc.Status.LatestVersion, err)
		return nil
	}
	created, err := c.kube.CoreV1().ReplicationControllers(dc.Namespace).Create(ctx, rc, metav1.CreateOptions{})
	if err != nil {
		if apierrors.IsAlreadyExists(err) {
			existing, getErr := c.kube.CoreV1().ReplicationControllers(dc.Namespace).Get(ctx, rc.Name, metav1.GetOptions{})
			if getErr == nil && metav1.IsControlledBy(existing, dc) {
				// Ours, from a pass the cache has not seen yet.
				return fmt.Errorf("deployment %s/%s exists but is not in the cache yet", rc.Namespace, rc.Name)
			}
			err = fmt.Errorf("deployment %s/%s already exists and is not controlled by the DeploymentConfig", rc.Namespace, rc.Name)
		}
		c.recorder.Eventf(dc, corev1.EventTypeWarning, "DeploymentCreationFailed", "Couldn't deploy version %d: %v", dc.Status.LatestVersion, err)
		cond := c.condition(appsv1.DeploymentProgressing, corev1.ConditionFalse, string(appsv1.ReplicationControllerCreateErrorReason), err.Error())
		return errors.Join(fmt.Errorf("creating deployment %s/%s: %w", rc.Namespace, rc.Name, err), c.updateStatus(ctx, dc, deployments, true, cond))
	}
	msg := fmt.Sprintf("Created new replication controller %q for version %d", created.Name, dc.Status.LatestVersion)
	c.recorder.Event(dc, corev1.EventTypeNormal, "DeploymentCreated", msg)
	deployments = append(deployments, created)
	c.cleanupOldDeployments(ctx, dc, deployments)
	cond := c.condition(appsv1.DeploymentProgressing, corev1.ConditionTrue, string(appsv1.NewReplicationControllerCreatedReason), msg)
	return c.updateStatus(ctx, dc, deployments, true, cond)
}

// scaleDeployments gives the active deployment (the newest Complete one)
// dc's replicas and every other one 0 (all 0 for a test config), so a
// scale of dc outside a rollout reaches its pods.
func (c *Controller) scaleDeployments(ctx context.Context, dc *appsv1.DeploymentConfig, deployments []*corev1.ReplicationController) ([]*corev1.ReplicationController, error) {
	active := deployutil.ActiveDeployment(deployments)
	out := make([]*corev1.ReplicationController, 0, len(deployments))
	for _, rc := range deployments {
		want := int32(0)
		if rc == active && !dc.Spec.Test {
			want = dc.Spec.Replicas
		}
		current := int32(0)
		if rc.Spec.Replicas != nil {
			current = *rc.Spec.Replicas
		}
		if current == want {
			out = append(out, rc)
			continue
		}
		scaled := rc.DeepCopy()
		scaled.Spec.Replicas = &want
		updated, err := c.kube.CoreV1().ReplicationControllers(rc.Namespace).Update(ctx, scaled, metav1.UpdateOptions{})
		if err != nil {
			c.recorder.Eventf(dc, corev1.EventTypeWarning, "ReplicationControllerScaleFailed", "Failed to scale replication controller %q from %d to %d: %v", rc.Name, current, want, err)
			return nil, fmt.Errorf("scaling deployment %s/%s to %d: %w", rc.Namespace, rc.Name, want, err)
		}
		c.recorder.Eventf(dc, corev1.EventTypeNormal, "ReplicationControllerScaled", "Scaled replication controller %q from %d to %d", rc.Name, current, want)
		out = append(out, updated)
	}
	return out, nil
}

// cleanupOldDeployments deletes, oldest first, the scaled-down terminated
// deployments older than the active one beyond revisionHistoryLimit, with
// their deployer and hook pods. A failure is an event, not a retry: the
// next pass tries again.
func (c *Controller) cleanupOldDeployments(ctx context.Context, dc *appsv1.DeploymentConfig, deployments []*corev1.ReplicationController) {
	if dc.Spec.RevisionHistoryLimit == nil {
		return
	}
	prunable := deployutil.DeploymentsForCleanup(dc, deployments)
	excess := len(prunable) - int(*dc.Spec.RevisionHistoryLimit)
	for i := 0; i < excess; i++ {
		rc := prunable[i]
		// Scaled-up old deployments count but stay until scaled down.
		if rc.Spec.Replicas != nil && *rc.Spec.Replicas != 0 {
			continue
		}
		if err := c.deleteDeployment(ctx, rc); err != nil {
			c.recorder.Eventf(dc, corev1.EventTypeWarning, "DeploymentCleanupFailed", "Couldn't clean up deployment %q: %v", rc.Name, err)
		}
	}
}

// deleteDeployment deletes rc and, since nothing here collects garbage by
// owner references, its deployer and hook pods.
func (c *Controller) deleteDeployment(ctx context.Context, rc *corev1.ReplicationController) error {
	if err := c.deleteDeployerPods(ctx, rc); err != nil {
		return err
	}
	background := metav1.DeletePropagationBackground
	err := c.kube.CoreV1().ReplicationControllers(rc.Namespace).Delete(ctx, rc.Name, metav1.DeleteOptions{
		PropagationPolicy: &background,
		Preconditions:     &metav1.Preconditions{UID: &rc.UID},
	})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("deleting deployment %s/%s: %w", rc.Namespace, rc.Name, err)
	}
	return nil
}
