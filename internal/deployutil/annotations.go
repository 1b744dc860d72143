package deployutil

import (
	"strconv"
	"strings"

	appsv1 "github.com/openshift/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// Labels and annotations of deployments and their pods that
// github.com/openshift/api/apps/v1 does not name (it names the rest:
// appsv1.DeploymentConfigAnnotation, DeploymentStatusAnnotation, ...).
const (
	// DeploymentConfigLabel on a deployment's selector and pods names the
	// DeploymentConfig.
	DeploymentConfigLabel = "deploymentconfig"
	// DeploymentLabel on a deployment's selector and pods names the
	// deployment.
	DeploymentLabel = "deployment"
	// DeploymentReplicasAnnotation is the replica count the deployer last
	// set; it tells a deployer scale from someone else's.
	DeploymentReplicasAnnotation = "openshift.io/deployment.replicas"
)

// Reasons written to appsv1.DeploymentStatusReasonAnnotation, in
// OpenShift's words.
const (
	ReasonCancelledByUser        = "cancelled by the user"
	ReasonCancelledNewerExists   = "newer deployment was found running"
	ReasonDeployerPodGone        = "deployer pod no longer exists"
	ReasonUnrelatedPodExists     = "unrelated pod with the same name as this deployment is already running"
	ReasonUnableToCreateDeployer = "unable to create deployer pod"
	// ReasonDeployerPodLost is Slipway's: the node (slipway server) stopped
	// while the deployer pod ran, and the pod was failed with it.
	ReasonDeployerPodLost = "deployer pod was lost: the node stopped while it ran (slipway server was stopped or killed); roll out again"
)

// annotation returns obj's annotation key ("" when absent).
func annotation(obj metav1.Object, key string) string {
	return obj.GetAnnotations()[key]
}

// ConfigNameFor is the DeploymentConfig a deployment or deployer pod
// belongs to.
func ConfigNameFor(obj metav1.Object) string {
	return annotation(obj, appsv1.DeploymentConfigAnnotation)
}

// DeploymentNameFor is the deployment a deployer or application pod
// belongs to.
func DeploymentNameFor(obj metav1.Object) string {
	return annotation(obj, appsv1.DeploymentAnnotation)
}

// VersionFor is the DeploymentConfig version a deployment rolls out, -1
// when the annotation is missing or not a number.
func VersionFor(obj metav1.Object) int64 {
	v, err := strconv.ParseInt(annotation(obj, appsv1.DeploymentVersionAnnotation), 10, 64)
	if err != nil {
		return -1
	}
	return v
}

// PhaseFor is a deployment's phase (New, Pending, Running, Complete,
// Failed; "" when unset).
func PhaseFor(obj metav1.Object) appsv1.DeploymentStatus {
	return appsv1.DeploymentStatus(annotation(obj, appsv1.DeploymentStatusAnnotation))
}

// StatusReasonFor is why a deployment is in its phase (a cancellation or a
// failure), or the message of its cause.
func StatusReasonFor(obj metav1.Object) string {
	return annotation(obj, appsv1.DeploymentStatusReasonAnnotation)
}

// IsComplete reports whether the deployment finished successfully.
func IsComplete(obj metav1.Object) bool {
	return PhaseFor(obj) == appsv1.DeploymentStatusComplete
}

// IsFailed reports whether the deployment failed (cancelled ones too).
func IsFailed(obj metav1.Object) bool {
	return PhaseFor(obj) == appsv1.DeploymentStatusFailed
}

// IsTerminated reports whether the deployment is Complete or Failed.
func IsTerminated(obj metav1.Object) bool {
	return IsComplete(obj) || IsFailed(obj)
}

// IsCancelled reports whether the deployment was asked to stop.
func IsCancelled(obj metav1.Object) bool {
	return strings.EqualFold(annotation(obj, appsv1.DeploymentCancelledAnnotation), "true")
}

// SetCancelledByUser marks rc cancelled as `rollout cancel` does.
func SetCancelledByUser(rc *corev1.ReplicationController) {
	setCancelled(rc, ReasonCancelledByUser)
}

// SetCancelledByNewer marks rc cancelled because a newer version exists.
func SetCancelledByNewer(rc *corev1.ReplicationController) {
	setCancelled(rc, ReasonCancelledNewerExists)
}

func setCancelled(rc *corev1.ReplicationController, reason string) {
	if rc.Annotations == nil {
		rc.Annotations = map[string]string{}
	}
	rc.Annotations[appsv1.DeploymentCancelledAnnotation] = "true"
	rc.Annotations[appsv1.DeploymentStatusReasonAnnotation] = reason
}

// ClearCancellation removes the cancellation and its reason from rc (a
// deployment that completed before its cancellation was seen, or a retry).
func ClearCancellation(rc *corev1.ReplicationController) {
	delete(rc.Annotations, appsv1.DeploymentCancelledAnnotation)
	delete(rc.Annotations, appsv1.DeploymentStatusReasonAnnotation)
}

// CanTransitionPhase reports whether a deployment may move from current to
// next: phases only move forward, and Complete and Failed are final.
func CanTransitionPhase(current, next appsv1.DeploymentStatus) bool {
	order := map[appsv1.DeploymentStatus]int{
		appsv1.DeploymentStatusNew:      0,
		appsv1.DeploymentStatusPending:  1,
		appsv1.DeploymentStatusRunning:  2,
		appsv1.DeploymentStatusComplete: 3,
		appsv1.DeploymentStatusFailed:   3,
	}
	from, okFrom := order[current]
	to, okTo := order[next]
	return okFrom && okTo && from < 3 && to > from
}

// ConfigSelector selects the deployments of DeploymentConfig name.
func ConfigSelector(name string) labels.Selector {
	return labels.SelectorFromSet(labels.Set{appsv1.DeploymentConfigAnnotation: name})
}

// DeployerPodSelector selects the deployer and hook pods of deployment.
func DeployerPodSelector(deployment string) labels.Selector {
	return labels.SelectorFromSet(labels.Set{appsv1.DeployerPodForDeploymentLabel: deployment})
}
