package deploymentconfig

import (
	"context"
	"fmt"

	appsv1 "github.com/openshift/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/slipway-dev/slipway/internal/deployutil"
)

// Messages of the Available condition, in OpenShift's words.
const (
	messageAvailable   = "Deployment config has minimum availability."
	messageUnavailable = "Deployment config does not have minimum availability."
	messagePaused      = "Deployment config is paused"
	messageResumed     = "Deployment config is resumed"
)

// condition returns a condition stamped now.
func (c *Controller) condition(t appsv1.DeploymentConditionType, status corev1.ConditionStatus, reason, message string) appsv1.DeploymentCondition {
	now := metav1.NewTime(c.now())
	return appsv1.DeploymentCondition{Type: t, Status: status, Reason: reason, Message: message, LastUpdateTime: now, LastTransitionTime: now}
}

// writeStatus writes dc's status as it is (a new latestVersion and its
// details).
func (c *Controller) writeStatus(ctx context.Context, dc *appsv1.DeploymentConfig) error {
	_, err := c.apps.AppsV1().DeploymentConfigs(dc.Namespace).UpdateStatus(ctx, dc, metav1.UpdateOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("updating status of DeploymentConfig %s/%s: %w", dc.Namespace, dc.Name, err)
	}
	return nil
}

// updateStatus computes dc's status from its deployments (observing its
// generation when observe) with the extra conditions, and writes it when
// it changed: writing an unchanged status would wake the controller again.
func (c *Controller) updateStatus(ctx context.Context, dc *appsv1.DeploymentConfig, deployments []*corev1.ReplicationController, observe bool, extra ...appsv1.DeploymentCondition) error {
	status := c.calculateStatus(dc, deployments, observe)
	for _, cond := range extra {
		deployutil.SetCondition(&status, cond)
	}
	if apiequality.Semantic.DeepEqual(status, dc.Status) {
		return nil
	}
	updated := dc.DeepCopy()
	updated.Status = status
	return c.writeStatus(ctx, updated)
}

// calculateStatus returns dc's status for its deployments: replicas of all
// of them, updatedReplicas of the latest, the Available condition against
// the rolling strategy's maxUnavailable, and Progressing from the latest
// deployment's phase.
func (c *Controller) calculateStatus(dc *appsv1.DeploymentConfig, deployments []*corev1.ReplicationController, observe bool) appsv1.DeploymentConfigStatus {
	status := *dc.Status.DeepCopy()
	status.Replicas, status.AvailableReplicas, status.ReadyReplicas, status.UpdatedReplicas = 0, 0, 0, 0
	var specReplicas int32
	for _, rc := range deployments {
		status.Replicas += rc.Status.Replicas
		status.AvailableReplicas += rc.Status.AvailableReplicas
		status.ReadyReplicas += rc.Status.ReadyReplicas
		if rc.Spec.Replicas != nil {
			specReplicas += *rc.Spec.Replicas
		}
	}
	status.UnavailableReplicas = max(specReplicas-status.AvailableReplicas, 0)
	latest, latestExists := deployutil.LatestDeployment(dc, deployments)
	if latestExists {
		status.UpdatedReplicas = latest.Status.Replicas
	} else {
		latest = nil
	}
	if observe {
		status.ObservedGeneration = dc.Generation
	}

	if status.AvailableReplicas > 0 && status.AvailableReplicas >= dc.Spec.Replicas-deployutil.MaxUnavailable(dc) {
		deployutil.SetCondition(&status, c.condition(appsv1.DeploymentAvailable, corev1.ConditionTrue, "", messageAvailable))
	} else {
		deployutil.SetCondition(&status, c.condition(appsv1.DeploymentAvailable, corev1.ConditionFalse, "", messageUnavailable))
	}

	progressing := deployutil.Condition(&status, appsv1.DeploymentProgressing)
	wasPaused := progressing != nil && progressing.Reason == string(appsv1.DeploymentConfigPausedReason)
	switch {
	case dc.Spec.Paused:
		deployutil.SetCondition(&status, c.condition(appsv1.DeploymentProgressing, corev1.ConditionUnknown, string(appsv1.DeploymentConfigPausedReason), messagePaused))
		return status
	case wasPaused:
		deployutil.SetCondition(&status, c.condition(appsv1.DeploymentProgressing, corev1.ConditionUnknown, string(appsv1.DeploymentConfigResumedReason), messageResumed))
	}
	if latest == nil {
		return status
	}
	switch deployutil.PhaseFor(latest) {
	case appsv1.DeploymentStatusPending:
		deployutil.SetCondition(&status, c.condition(appsv1.DeploymentProgressing, corev1.ConditionUnknown, "",
			fmt.Sprintf("replication controller %q is waiting for pod %q to run", latest.Name, deployutil.DeployerPodName(latest.Name))))
	case appsv1.DeploymentStatusRunning:
		oldBefore := dc.Status.Replicas - dc.Status.UpdatedReplicas
		oldNow := status.Replicas - status.UpdatedReplicas
		if status.UpdatedReplicas > dc.Status.UpdatedReplicas || oldNow < oldBefore {
			cond := c.condition(appsv1.DeploymentProgressing, corev1.ConditionTrue, string(appsv1.ReplicationControllerUpdatedReason),
				fmt.Sprintf("replication controller %q is progressing", latest.Name))
			// Its time is the last progress, so it is renewed on each.
			if current := deployutil.Condition(&status, appsv1.DeploymentProgressing); current != nil {
				*current = cond
			} else {
				deployutil.SetCondition(&status, cond)
			}
		}
	case appsv1.DeploymentStatusFailed:
		if deployutil.IsCancelled(latest) {
			deployutil.SetCondition(&status, c.condition(appsv1.DeploymentProgressing, corev1.ConditionFalse, string(appsv1.RolloutCancelledReason),
				fmt.Sprintf("rollout of replication controller %q was cancelled", latest.Name)))
		} else {
			msg := fmt.Sprintf("replication controller %q has failed progressing", latest.Name)
			if deployutil.StatusReasonFor(latest) == deployutil.ReasonDeployerPodLost {
				msg += ": " + deployutil.ReasonDeployerPodLost
			}
			deployutil.SetCondition(&status, c.condition(appsv1.DeploymentProgressing, corev1.ConditionFalse, string(appsv1.ProgressDeadlineExceededReason), msg))
		}
	case appsv1.DeploymentStatusComplete:
		deployutil.SetCondition(&status, c.condition(appsv1.DeploymentProgressing, corev1.ConditionTrue, string(appsv1.NewReplicationControllerAvailableReason),
			fmt.Sprintf("replication controller %q successfully rolled out", latest.Name)))
	}
	return status
}
