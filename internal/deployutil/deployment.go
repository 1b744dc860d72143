package deployutil

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	appsv1 "github.com/openshift/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// ControllerRef is the owner reference of a deployment to its
// DeploymentConfig.
func ControllerRef(dc *appsv1.DeploymentConfig) metav1.OwnerReference {
	yes := true
	return metav1.OwnerReference{
		APIVersion:         appsv1.GroupVersion.String(),
		Kind:               "DeploymentConfig",
		Name:               dc.Name,
		UID:                dc.UID,
		Controller:         &yes,
		BlockOwnerDeletion: &yes,
	}
}

// MakeDeployment returns the deployment of dc's status.latestVersion: RC
// "<dc>-<n>" at 0 replicas (the deployer scales it), labelled and
// annotated as openshift-semantics.md 3.3 says, with dc encoded in it and
// owned by dc.
func MakeDeployment(dc *appsv1.DeploymentConfig) (*corev1.ReplicationController, error) {
	if dc.Spec.Template == nil {
		return nil, fmt.Errorf("DeploymentConfig %s/%s has no template", dc.Namespace, dc.Name)
	}
	encoded, err := EncodeConfig(dc)
	if err != nil {
		return nil, err
	}
	name := DeploymentName(dc.Name, dc.Status.LatestVersion)
	version := strconv.FormatInt(dc.Status.LatestVersion, 10)

	podSpec := dc.Spec.Template.Spec.DeepCopy()
	// Older configs may carry blanks around images, which pods refuse.
	for i := range podSpec.Containers {
		podSpec.Containers[i].Image = strings.TrimSpace(podSpec.Containers[i].Image)
	}
	for i := range podSpec.InitContainers {
		podSpec.InitContainers[i].Image = strings.TrimSpace(podSpec.InitContainers[i].Image)
	}

	rcLabels := copyMap(dc.Labels)
	rcLabels[appsv1.DeploymentConfigAnnotation] = dc.Name
	selector := copyMap(dc.Spec.Selector)
	selector[DeploymentConfigLabel] = dc.Name
	selector[DeploymentLabel] = name
	podLabels := copyMap(dc.Spec.Template.Labels)
	podLabels[DeploymentConfigLabel] = dc.Name
	podLabels[DeploymentLabel] = name
	podAnnotations := copyMap(dc.Spec.Template.Annotations)
	podAnnotations[appsv1.DeploymentAnnotation] = name
	podAnnotations[appsv1.DeploymentConfigAnnotation] = dc.Name
	podAnnotations[appsv1.DeploymentVersionAnnotation] = version

	zero := int32(0)
	rc := &corev1.ReplicationController{
		ObjectMeta: metav1.ObjectMeta{
			Name:      name,
			Namespace: dc.Namespace,
			Labels:    rcLabels,
			Annotations: map[string]string{
				appsv1.DeploymentConfigAnnotation:        dc.Name,
				appsv1.DeploymentEncodedConfigAnnotation: string(encoded),
				appsv1.DeploymentStatusAnnotation:        string(appsv1.DeploymentStatusNew),
				appsv1.DeploymentVersionAnnotation:       version,
				appsv1.DesiredReplicasAnnotation:         strconv.Itoa(int(dc.Spec.Replicas)),
				DeploymentReplicasAnnotation:             "0",
			},
			OwnerReferences: []metav1.OwnerReference{ControllerRef(dc)},
		},
		Spec: corev1.ReplicationControllerSpec{
			Replicas:        &zero,
			Selector:        selector,
			MinReadySeconds: dc.Spec.MinReadySeconds,
			Template: &corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: podLabels, Annotations: podAnnotations},
				Spec:       *podSpec,
			},
		},
	}
	if d := dc.Status.Details; d != nil && d.Message != "" {
		rc.Annotations[appsv1.DeploymentStatusReasonAnnotation] = d.Message
	}
	return rc, nil
}

func copyMap(m map[string]string) map[string]string {
	out := make(map[string]string, len(m)+2)
	for k, v := range m {
		out[k] = v
	}
	return out
}

// SortByVersion sorts deployments oldest version first.
func SortByVersion(deployments []*corev1.ReplicationController) {
	slices.SortStableFunc(deployments, func(a, b *corev1.ReplicationController) int {
		return int(VersionFor(a) - VersionFor(b))
	})
}

// LatestDeployment returns the deployment with the highest version and
// whether it is the one of dc's status.latestVersion (false while that one
// is still to be created).
func LatestDeployment(dc *appsv1.DeploymentConfig, deployments []*corev1.ReplicationController) (*corev1.ReplicationController, bool) {
	var latest *corev1.ReplicationController
	for _, rc := range deployments {
		if latest == nil || VersionFor(rc) > VersionFor(latest) {
			latest = rc
		}
	}
	if latest == nil || dc.Status.LatestVersion == 0 {
		return latest, false
	}
	return latest, VersionFor(latest) == dc.Status.LatestVersion
}

// ActiveDeployment returns the Complete deployment with the highest
// version, the one serving (nil if none completed).
func ActiveDeployment(deployments []*corev1.ReplicationController) *corev1.ReplicationController {
	var active *corev1.ReplicationController
	for _, rc := range deployments {
		if IsComplete(rc) && (active == nil || VersionFor(rc) > VersionFor(active)) {
			active = rc
		}
	}
	return active
}

// DeploymentsForCleanup returns, oldest first, the deployments that count
// against dc's revisionHistoryLimit: those older than the active one, or,
// when none completed, all but the latest version.
func DeploymentsForCleanup(dc *appsv1.DeploymentConfig, deployments []*corev1.ReplicationController) []*corev1.ReplicationController {
	active := ActiveDeployment(deployments)
	var out []*corev1.ReplicationController
	for _, rc := range deployments {
		v := VersionFor(rc)
		if (active == nil && v != dc.Status.LatestVersion) || (active != nil && v < VersionFor(active)) {
			out = append(out, rc)
		}
	}
	SortByVersion(out)
	return out
}

// HasConfigChangeTrigger reports whether dc rolls out on template changes.
func HasConfigChangeTrigger(dc *appsv1.DeploymentConfig) bool {
	return slices.ContainsFunc(dc.Spec.Triggers, func(t appsv1.DeploymentTriggerPolicy) bool {
		return t.Type == appsv1.DeploymentTriggerOnConfigChange
	})
}

// HasImageChangeTrigger reports whether dc follows image stream tags.
func HasImageChangeTrigger(dc *appsv1.DeploymentConfig) bool {
	return slices.ContainsFunc(dc.Spec.Triggers, func(t appsv1.DeploymentTriggerPolicy) bool {
		return t.Type == appsv1.DeploymentTriggerOnImageChange
	})
}

// HasTrigger reports whether anything but a manual request rolls dc out.
func HasTrigger(dc *appsv1.DeploymentConfig) bool {
	return HasConfigChangeTrigger(dc) || HasImageChangeTrigger(dc)
}

// ImageTriggersResolved reports whether dc has image change triggers and
// every one of them has a lastTriggeredImage: the initial rollout waits for
// that.
func ImageTriggersResolved(dc *appsv1.DeploymentConfig) bool {
	found := false
	for _, t := range dc.Spec.Triggers {
		if t.Type != appsv1.DeploymentTriggerOnImageChange {
			continue
		}
		found = true
		if t.ImageChangeParams == nil || t.ImageChangeParams.LastTriggeredImage == "" {
			return false
		}
	}
	return found
}

// Messages of status.details for each cause.
const (
	MessageConfigChange = "config change"
	MessageImageChange  = "image change"
	MessageManualChange = "manual change"
)

// ConfigChangeDetails are the details of a rollout caused by the template.
func ConfigChangeDetails() *appsv1.DeploymentDetails {
	return &appsv1.DeploymentDetails{
		Message: MessageConfigChange,
		Causes:  []appsv1.DeploymentCause{{Type: appsv1.DeploymentTriggerOnConfigChange}},
	}
}

// ImageChangeDetails are the details of a rollout caused by new images.
func ImageChangeDetails(images []string) *appsv1.DeploymentDetails {
	d := &appsv1.DeploymentDetails{Message: MessageImageChange}
	for _, image := range images {
		d.Causes = append(d.Causes, appsv1.DeploymentCause{
			Type:         appsv1.DeploymentTriggerOnImageChange,
			ImageTrigger: &appsv1.DeploymentCauseImageTrigger{From: corev1.ObjectReference{Kind: "DockerImage", Name: image}},
		})
	}
	return d
}

// TriggerManual is the cause type of a rollout a user asked for;
// openshift/api names only the trigger types.
const TriggerManual appsv1.DeploymentTriggerType = "Manual"

// ManualDetails are the details of a rollout a user asked for
// (instantiate with force, `rollout latest`).
func ManualDetails() *appsv1.DeploymentDetails {
	return &appsv1.DeploymentDetails{
		Message: MessageManualChange,
		Causes:  []appsv1.DeploymentCause{{Type: TriggerManual}},
	}
}

// NewImages returns the images of dc's containers that no container of
// deployment rc runs: the images an image change brought.
func NewImages(dc *appsv1.DeploymentConfig, rc *corev1.ReplicationController) []string {
	if dc.Spec.Template == nil || rc.Spec.Template == nil {
		return nil
	}
	have := map[string]bool{}
	for _, c := range rc.Spec.Template.Spec.Containers {
		have[c.Image] = true
	}
	var out []string
	for _, c := range dc.Spec.Template.Spec.Containers {
		if !have[c.Image] {
			out = append(out, c.Image)
		}
	}
	return out
}

// MaxUnavailable is how many of dc's replicas may be unavailable while it
// counts as Available: the rolling strategy's maxUnavailable, 0 otherwise.
func MaxUnavailable(dc *appsv1.DeploymentConfig) int32 {
	p := dc.Spec.Strategy.RollingParams
	if dc.Spec.Strategy.Type != appsv1.DeploymentStrategyTypeRolling || p == nil {
		return 0
	}
	_, unavailable, err := ResolveFenceposts(p.MaxSurge, p.MaxUnavailable, dc.Spec.Replicas)
	if err != nil {
		return 0
	}
	return unavailable
}

// ResolveFenceposts turns maxSurge and maxUnavailable into pod counts for
// desired replicas: surge rounds up, unavailable down, and when both come
// to 0 unavailable becomes 1 so a rollout can progress.
func ResolveFenceposts(maxSurge, maxUnavailable *intstr.IntOrString, desired int32) (surge, unavailable int32, err error) {
	zero := intstr.FromInt32(0)
	if maxSurge == nil {
		maxSurge = &zero
	}
	if maxUnavailable == nil {
		maxUnavailable = &zero
	}
	s, err := intstr.GetScaledValueFromIntOrPercent(maxSurge, int(desired), true)
	if err != nil {
		return 0, 0, fmt.Errorf("maxSurge: %w", err)
	}
	u, err := intstr.GetScaledValueFromIntOrPercent(maxUnavailable, int(desired), false)
	if err != nil {
		return 0, 0, fmt.Errorf("maxUnavailable: %w", err)
	}
	if s == 0 && u == 0 {
		u = 1
	}
	return int32(s), int32(u), nil
}

// Condition returns dc status's condition of type t, or nil.
func Condition(status *appsv1.DeploymentConfigStatus, t appsv1.DeploymentConditionType) *appsv1.DeploymentCondition {
	for i := range status.Conditions {
		if status.Conditions[i].Type == t {
			return &status.Conditions[i]
		}
	}
	return nil
}

// SetCondition records cond in status. An existing condition with the same
// status and reason is left alone (its times too); one whose status does
// not change keeps its lastTransitionTime.
func SetCondition(status *appsv1.DeploymentConfigStatus, cond appsv1.DeploymentCondition) {
	current := Condition(status, cond.Type)
	if current != nil && current.Status == cond.Status && current.Reason == cond.Reason && current.Message == cond.Message {
		return
	}
	if current != nil && current.Status == cond.Status {
		cond.LastTransitionTime = current.LastTransitionTime
	}
	if current != nil {
		*current = cond
		return
	}
	status.Conditions = append(status.Conditions, cond)
}
