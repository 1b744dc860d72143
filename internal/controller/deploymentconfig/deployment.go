package deploymentconfig

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"time"

	appsv1 "github.com/openshift/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/slipway-dev/slipway/internal/controller/worker"
	"github.com/slipway-dev/slipway/internal/deployutil"
	"github.com/slipway-dev/slipway/internal/node"
)

// syncDeployment moves the deployment named by key along with its deployer
// pod (OpenShift's deployer controller): it creates the pod of a New
// deployment, follows the pod's phase to Pending, Running, Complete or
// Failed, fails a deployment whose pod vanished, and deletes the deployer
// pods of cancelled ones.
func (c *Controller) syncDeployment(ctx context.Context, key string) error {
	cached, err := worker.Lookup(key, func(namespace, name string) (*corev1.ReplicationController, error) {
		return c.rcLister.ReplicationControllers(namespace).Get(name)
	})
	if cached == nil {
		return err
	}
	namespace := cached.Namespace
	if deployutil.ConfigNameFor(cached) == "" {
		return nil
	}
	rc := cached.DeepCopy()
	annotations := maps.Clone(rc.Annotations)
	current := deployutil.PhaseFor(rc)
	next := current

	podName := deployutil.DeployerPodName(rc.Name)
	pod, podErr := c.podLister.Pods(namespace).Get(podName)
	if podErr == nil {
		next = c.phaseOfPod(pod, rc, annotations)
	} else if !apierrors.IsNotFound(podErr) {
		return podErr
	}

	switch current {
	case appsv1.DeploymentStatusNew:
		if deployutil.IsCancelled(rc) {
			// Pending until the deployer pods are gone; then Failed below.
			next = appsv1.DeploymentStatusPending
			if err := c.deleteDeployerPods(ctx, rc); err != nil {
				return err
			}
			break
		}
		switch {
		case pod == nil && c.timedOut(rc):
			next = appsv1.DeploymentStatusFailed
			annotations[appsv1.DeploymentStatusReasonAnnotation] = deployutil.ReasonUnableToCreateDeployer
			c.event(rc, corev1.EventTypeWarning, "RolloutTimeout", fmt.Sprintf("Rollout for %q failed to create deployer pod", key))
		case pod == nil:
			created, err := c.createDeployerPod(ctx, rc)
			if err != nil {
				return err
			}
			annotations[appsv1.DeploymentPodAnnotation] = created.Name
			annotations[appsv1.DeployerPodCreatedAtAnnotation] = created.CreationTimestamp.String()
			next = appsv1.DeploymentStatusPending
		case deployutil.DeploymentNameFor(pod) != rc.Name:
			next = appsv1.DeploymentStatusFailed
			annotations[appsv1.DeploymentStatusReasonAnnotation] = deployutil.ReasonUnrelatedPodExists
			c.event(rc, corev1.EventTypeWarning, "FailedCreate", fmt.Sprintf("Error creating deployer pod since another pod with the same name (%q) exists", pod.Name))
		default:
			annotations[appsv1.DeploymentPodAnnotation] = pod.Name
			if !deployutil.CanTransitionPhase(appsv1.DeploymentStatusPending, next) {
				next = appsv1.DeploymentStatusPending
			}
		}

	case appsv1.DeploymentStatusPending, appsv1.DeploymentStatusRunning:
		switch {
		case pod == nil:
			gone, err := c.deployerPodGone(ctx, namespace, podName)
			if err != nil || !gone {
				// Not in the cache yet: its event brings rc back.
				return err
			}
			next = appsv1.DeploymentStatusFailed
			if !deployutil.IsCancelled(rc) {
				annotations[appsv1.DeploymentStatusReasonAnnotation] = deployutil.ReasonDeployerPodGone
				c.event(rc, corev1.EventTypeWarning, "Failed", fmt.Sprintf("Deployer pod %q has gone missing", podName))
			}
		case deployutil.IsCancelled(rc):
			if err := c.deleteDeployerPods(ctx, rc); err != nil {
				return err
			}
		}

	case appsv1.DeploymentStatusFailed:
		// Hook pods may have started after the first cleanup.
		if deployutil.IsCancelled(rc) {
			if err := c.deleteDeployerPods(ctx, rc); err != nil {
				return err
			}
		}
	}

	if !deployutil.CanTransitionPhase(current, next) {
		return nil
	}
	annotations[appsv1.DeploymentStatusAnnotation] = string(next)
	rc.Annotations = annotations
	if deployutil.IsTerminated(rc) && rc.Spec.Replicas != nil && *rc.Spec.Replicas != 0 {
		// A test config's deployment never keeps pods once done.
		if dc, err := deployutil.DecodeConfig(rc); err == nil && dc.Spec.Test {
			zero := int32(0)
			rc.Spec.Replicas = &zero
		}
	}
	if _, err := c.kube.CoreV1().ReplicationControllers(namespace).Update(ctx, rc, metav1.UpdateOptions{}); err != nil {
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("updating the phase of deployment %s from %s to %s: %w", key, current, next, err)
	}
	if next == appsv1.DeploymentStatusFailed && deployutil.IsCancelled(rc) {
		c.event(rc, corev1.EventTypeNormal, "RolloutCancelled", fmt.Sprintf("Rollout for %q cancelled", key))
	}
	return nil
}

// phaseOfPod is the deployment phase the deployer pod's phase means, with
// the annotations a finished pod adds to annotations.
func (c *Controller) phaseOfPod(pod *corev1.Pod, rc *corev1.ReplicationController, annotations map[string]string) appsv1.DeploymentStatus {
	switch pod.Status.Phase {
	case corev1.PodPending:
		return appsv1.DeploymentStatusPending
	case corev1.PodRunning:
		return appsv1.DeploymentStatusRunning
	case corev1.PodSucceeded:
		if deployutil.IsCancelled(rc) {
			// Done before the cancellation arrived: it stands.
			delete(annotations, appsv1.DeploymentCancelledAnnotation)
			delete(annotations, appsv1.DeploymentStatusReasonAnnotation)
			c.event(rc, corev1.EventTypeWarning, "FailedCancellation", "Succeeded before cancel recorded")
		}
		if finished := terminatedAt(pod); finished != nil {
			annotations[appsv1.DeployerPodCompletedAtAnnotation] = finished.String()
		}
		// From now on the replicas annotation tells the deployer's scale
		// from anyone else's.
		if desired, ok := annotations[appsv1.DesiredReplicasAnnotation]; ok {
			annotations[deployutil.DeploymentReplicasAnnotation] = desired
			delete(annotations, appsv1.DesiredReplicasAnnotation)
		}
		return appsv1.DeploymentStatusComplete
	case corev1.PodFailed:
		if finished := terminatedAt(pod); finished != nil {
			annotations[appsv1.DeployerPodCompletedAtAnnotation] = finished.String()
		}
		if pod.Status.Reason == podReasonNodeLost && !deployutil.IsCancelled(rc) {
			// The cause the annotation held would read as the failure's.
			annotations[appsv1.DeploymentStatusReasonAnnotation] = deployutil.ReasonDeployerPodLost
		}
		return appsv1.DeploymentStatusFailed
	}
	return appsv1.DeploymentStatusNew
}

// podReasonNodeLost is the reason the node agent gives a pod whose
// processes it lost when it stopped (the Kubernetes node controller's
// word too).
const podReasonNodeLost = "NodeLost"

func terminatedAt(pod *corev1.Pod) *metav1.Time {
	for _, s := range pod.Status.ContainerStatuses {
		if t := s.State.Terminated; t != nil {
			return &t.FinishedAt
		}
	}
	return nil
}

// deployerPodGone asks the API (not the cache, which may lag behind a
// pod just created) whether the deployer pod is gone.
func (c *Controller) deployerPodGone(ctx context.Context, namespace, name string) (bool, error) {
	_, err := c.kube.CoreV1().Pods(namespace).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("reading deployer pod %s/%s: %w", namespace, name, err)
	}
	return false, nil
}

// timedOut reports whether a deployment still without a deployer pod has
// waited longer than its strategy's timeoutSeconds.
func (c *Controller) timedOut(rc *corev1.ReplicationController) bool {
	dc, err := deployutil.DecodeConfig(rc)
	if err != nil {
		return false
	}
	var timeout *int64
	switch s := dc.Spec.Strategy; {
	case s.RollingParams != nil && s.Type == appsv1.DeploymentStrategyTypeRolling:
		timeout = s.RollingParams.TimeoutSeconds
	case s.RecreateParams != nil && s.Type == appsv1.DeploymentStrategyTypeRecreate:
		timeout = s.RecreateParams.TimeoutSeconds
	}
	if timeout == nil || *timeout <= 0 {
		return false
	}
	return c.now().Sub(rc.CreationTimestamp.Time) > time.Duration(*timeout)*time.Second
}

// createDeployerPod creates rc's deployer pod; an existing one of rc (a
// pass whose phase update failed) is taken as it is.
func (c *Controller) createDeployerPod(ctx context.Context, rc *corev1.ReplicationController) (*corev1.Pod, error) {
	dc, err := deployutil.DecodeConfig(rc)
	if err != nil {
		return nil, err
	}
	pod := DeployerPod(rc, dc)
	if c.signer != nil && pod.Annotations[node.HostProcessAnnotation] == "true" {
		if err := c.signer.Sign(pod); err != nil {
			return nil, err
		}
	}
	created, err := c.kube.CoreV1().Pods(rc.Namespace).Create(ctx, pod, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		existing, getErr := c.kube.CoreV1().Pods(rc.Namespace).Get(ctx, pod.Name, metav1.GetOptions{})
		if getErr == nil && deployutil.DeploymentNameFor(existing) == rc.Name {
			return existing, nil
		}
	}
	if err != nil {
		c.event(rc, corev1.EventTypeWarning, "FailedCreate", fmt.Sprintf("Error creating deployer pod: %v", err))
		return nil, fmt.Errorf("creating deployer pod for %s/%s: %w", rc.Namespace, rc.Name, err)
	}
	return created, nil
}

// deleteDeployerPods deletes the deployer and hook pods of rc.
func (c *Controller) deleteDeployerPods(ctx context.Context, rc *corev1.ReplicationController) error {
	pods, err := c.podLister.Pods(rc.Namespace).List(deployutil.DeployerPodSelector(rc.Name))
	if err != nil {
		return err
	}
	var errs []error
	for _, pod := range pods {
		err := c.kube.CoreV1().Pods(pod.Namespace).Delete(ctx, pod.Name, metav1.DeleteOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("deleting deployer pod %s/%s: %w", pod.Namespace, pod.Name, err))
		}
	}
	return errors.Join(errs...)
}

// event records an event about the DeploymentConfig of rc, where users
// look, or about rc when its config cannot be decoded.
func (c *Controller) event(rc *corev1.ReplicationController, eventType, reason, message string) {
	if dc, err := deployutil.DecodeConfig(rc); err == nil {
		c.recorder.Event(dc, eventType, reason, message)
		return
	}
	c.recorder.Event(rc, eventType, reason, message)
}
