// Package pod stores Pods with Kubernetes' defaults, validation, graceful
// deletion and kubectl's table, and exports the pod spec defaults and
// validation that pod templates (replication controllers) reuse.
package pod

import (
	"reflect"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// Defaults Kubernetes applies to pod specs.
const (
	DefaultSchedulerName                 = corev1.DefaultSchedulerName
	DefaultTerminationGracePeriodSeconds = int64(corev1.DefaultTerminationGracePeriodSeconds)
	DefaultServiceAccountName            = "default"
	// DefaultVolumeMode is the file mode of secret and config map volumes.
	DefaultVolumeMode = int32(0o644)
)

// SetDefaultsPod applies the pod spec defaults and starts an unset status
// phase as Pending.
func SetDefaultsPod(p *corev1.Pod) {
	SetDefaultsPodSpec(&p.Spec)
	if p.Spec.ServiceAccountName == "" {
		p.Spec.ServiceAccountName = DefaultServiceAccountName
	}
	// The deprecated field mirrors the real one for old clients.
	p.Spec.DeprecatedServiceAccount = p.Spec.ServiceAccountName
}

// SetDefaultsPodSpec applies Kubernetes' defaults to a pod spec (also used
// for pod templates): restart and DNS policy, scheduler, grace period,
// container and volume defaults.
func SetDefaultsPodSpec(spec *corev1.PodSpec) {
	if spec.RestartPolicy == "" {
		spec.RestartPolicy = corev1.RestartPolicyAlways
	}
	if spec.DNSPolicy == "" {
		spec.DNSPolicy = corev1.DNSClusterFirst
	}
	if spec.SchedulerName == "" {
		spec.SchedulerName = DefaultSchedulerName
	}
	if spec.TerminationGracePeriodSeconds == nil {
		period := DefaultTerminationGracePeriodSeconds
		spec.TerminationGracePeriodSeconds = &period
	}
	if spec.SecurityContext == nil {
		spec.SecurityContext = &corev1.PodSecurityContext{}
	}
	if spec.EnableServiceLinks == nil {
		enable := corev1.DefaultEnableServiceLinks
		spec.EnableServiceLinks = &enable
	}
	if spec.ServiceAccountName == "" && spec.DeprecatedServiceAccount != "" {
		spec.ServiceAccountName = spec.DeprecatedServiceAccount
	}
	for i := range spec.InitContainers {
		SetDefaultsContainer(&spec.InitContainers[i])
	}
	for i := range spec.Containers {
		SetDefaultsContainer(&spec.Containers[i])
	}
	for i := range spec.Volumes {
		setDefaultsVolume(&spec.Volumes[i])
	}
}

// SetDefaultsContainer defaults the pull policy from the image tag (Always
// for ":latest" or no tag, IfNotPresent otherwise), the termination message
// path and policy, and port protocols.
func SetDefaultsContainer(c *corev1.Container) {
	if c.ImagePullPolicy == "" {
		if ImageTag(c.Image) == "latest" {
			c.ImagePullPolicy = corev1.PullAlways
		} else {
			c.ImagePullPolicy = corev1.PullIfNotPresent
		}
	}
	if c.TerminationMessagePath == "" {
		c.TerminationMessagePath = corev1.TerminationMessagePathDefault
	}
	if c.TerminationMessagePolicy == "" {
		c.TerminationMessagePolicy = corev1.TerminationMessageReadFile
	}
	for i := range c.Ports {
		if c.Ports[i].Protocol == "" {
			c.Ports[i].Protocol = corev1.ProtocolTCP
		}
	}
	for i := range c.Env {
		if ref := c.Env[i].ValueFrom; ref != nil && ref.FieldRef != nil && ref.FieldRef.APIVersion == "" {
			ref.FieldRef.APIVersion = "v1"
		}
	}
}

// ImageTag returns the tag of an image reference: "" when it is pinned by
// digest, "latest" when it has neither tag nor digest.
func ImageTag(image string) string {
	if strings.Contains(image, "@") {
		return ""
	}
	name := image
	if slash := strings.LastIndex(name, "/"); slash >= 0 {
		name = name[slash+1:]
	}
	if colon := strings.LastIndex(name, ":"); colon >= 0 {
		return name[colon+1:]
	}
	return "latest"
}

func setDefaultsVolume(v *corev1.Volume) {
	src := &v.VolumeSource
	switch {
	case src.Secret != nil:
		if src.Secret.DefaultMode == nil {
			mode := DefaultVolumeMode
			src.Secret.DefaultMode = &mode
		}
	case src.ConfigMap != nil:
		if src.ConfigMap.DefaultMode == nil {
			mode := DefaultVolumeMode
			src.ConfigMap.DefaultMode = &mode
		}
	case src.Projected != nil:
		if src.Projected.DefaultMode == nil {
			mode := DefaultVolumeMode
			src.Projected.DefaultMode = &mode
		}
	case src.DownwardAPI != nil:
		if src.DownwardAPI.DefaultMode == nil {
			mode := DefaultVolumeMode
			src.DownwardAPI.DefaultMode = &mode
		}
	case src.HostPath != nil:
		if src.HostPath.Type == nil {
			unset := corev1.HostPathUnset
			src.HostPath.Type = &unset
		}
	case isEmptyVolumeSource(src):
		// A volume without a source is an emptyDir, as in Kubernetes.
		src.EmptyDir = &corev1.EmptyDirVolumeSource{}
	}
}

func isEmptyVolumeSource(src *corev1.VolumeSource) bool {
	return reflect.DeepEqual(*src, corev1.VolumeSource{})
}
