// Package deploymentconfig is the REST storage of apps.openshift.io/v1
// DeploymentConfigs: defaults, validation, the main and status strategies,
// the scale subresource, the table oc prints and the store itself.
package deploymentconfig

import (
	"strings"

	appsv1 "github.com/openshift/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// Defaults OpenShift's apps.openshift.io/v1 API applies.
const (
	DefaultRevisionHistoryLimit int32 = 10
	DefaultUpdatePeriodSeconds  int64 = 1
	DefaultIntervalSeconds      int64 = 1
	DefaultTimeoutSeconds       int64 = 600
	// DefaultActiveDeadlineSeconds bounds a deployer pod: six hours.
	DefaultActiveDeadlineSeconds int64 = 21600
	// DefaultMaxSurgeOrUnavailable is the rolling update's default surge
	// and unavailability.
	DefaultMaxSurgeOrUnavailable = "25%"
	// ImageStreamTagKind is the default kind of an image trigger's from.
	ImageStreamTagKind = "ImageStreamTag"
)

// Kubernetes' pod template defaults, applied so stored DeploymentConfigs
// read back as they do from OpenShift.
const (
	defaultTerminationMessagePath        = "/dev/termination-log"
	defaultTerminationGracePeriodSeconds = int64(corev1.DefaultTerminationGracePeriodSeconds)
	defaultVolumeMode                    = int32(0o644)
)

// SetDefaults applies OpenShift's DeploymentConfig defaults: triggers
// [ConfigChange] when absent (an empty list stays: manual only), the
// selector from the template labels, a revision history of 10, the rolling
// or recreate strategy parameters, image trigger references of kind
// ImageStreamTag in the DeploymentConfig's namespace, and Kubernetes' pod
// template defaults.
func SetDefaults(dc *appsv1.DeploymentConfig) {
	spec := &dc.Spec
	if spec.Triggers == nil {
		spec.Triggers = appsv1.DeploymentTriggerPolicies{{Type: appsv1.DeploymentTriggerOnConfigChange}}
	}
	if len(spec.Selector) == 0 && spec.Template != nil && len(spec.Template.Labels) > 0 {
		spec.Selector = make(map[string]string, len(spec.Template.Labels))
		for k, v := range spec.Template.Labels {
			spec.Selector[k] = v
		}
	}
	if spec.RevisionHistoryLimit == nil {
		limit := DefaultRevisionHistoryLimit
		spec.RevisionHistoryLimit = &limit
	}
	for i := range spec.Triggers {
		if params := spec.Triggers[i].ImageChangeParams; params != nil {
			if params.From.Kind == "" {
				params.From.Kind = ImageStreamTagKind
			}
			if params.From.Namespace == "" {
				params.From.Namespace = dc.Namespace
			}
		}
	}
	setStrategyDefaults(&spec.Strategy)
	if spec.Template != nil {
		if containers := spec.Template.Spec.Containers; len(containers) == 1 {
			defaultTagImagesContainer(&spec.Strategy, containers[0].Name)
		}
		SetPodSpecDefaults(&spec.Template.Spec)
	}
}

func setStrategyDefaults(s *appsv1.DeploymentStrategy) {
	if s.Type == "" {
		s.Type = appsv1.DeploymentStrategyTypeRolling
	}
	if s.Type == appsv1.DeploymentStrategyTypeRolling && s.RollingParams == nil {
		s.RollingParams = &appsv1.RollingDeploymentStrategyParams{}
	}
	if s.Type == appsv1.DeploymentStrategyTypeRecreate && s.RecreateParams == nil {
		s.RecreateParams = &appsv1.RecreateDeploymentStrategyParams{}
	}
	if s.ActiveDeadlineSeconds == nil {
		s.ActiveDeadlineSeconds = int64Ptr(DefaultActiveDeadlineSeconds)
	}
	if p := s.RecreateParams; p != nil && p.TimeoutSeconds == nil {
		p.TimeoutSeconds = int64Ptr(DefaultTimeoutSeconds)
	}
	if p := s.RollingParams; p != nil {
		if p.UpdatePeriodSeconds == nil {
			p.UpdatePeriodSeconds = int64Ptr(DefaultUpdatePeriodSeconds)
		}
		if p.IntervalSeconds == nil {
			p.IntervalSeconds = int64Ptr(DefaultIntervalSeconds)
		}
		if p.TimeoutSeconds == nil {
			p.TimeoutSeconds = int64Ptr(DefaultTimeoutSeconds)
		}
		setSurgeDefaults(p)
	}
}

// setSurgeDefaults gives both limits 25% when neither is set, and the unset
// one 25% when the other is zero (both zero would never progress); an unset
// limit next to a non-zero one reads back as 0, as in OpenShift.
func setSurgeDefaults(p *appsv1.RollingDeploymentStrategyParams) {
	switch {
	case p.MaxSurge == nil && p.MaxUnavailable == nil:
		p.MaxSurge = intOrStringPtr(intstr.FromString(DefaultMaxSurgeOrUnavailable))
		p.MaxUnavailable = intOrStringPtr(intstr.FromString(DefaultMaxSurgeOrUnavailable))
	case p.MaxUnavailable == nil:
		p.MaxUnavailable = intOrStringPtr(intstr.FromInt32(0))
		if isZero(*p.MaxSurge) {
			p.MaxUnavailable = intOrStringPtr(intstr.FromString(DefaultMaxSurgeOrUnavailable))
		}
	case p.MaxSurge == nil:
		p.MaxSurge = intOrStringPtr(intstr.FromInt32(0))
		if isZero(*p.MaxUnavailable) {
			p.MaxSurge = intOrStringPtr(intstr.FromString(DefaultMaxSurgeOrUnavailable))
		}
	}
}

// isZero reports whether v is 0 or "0%".
func isZero(v intstr.IntOrString) bool {
	if v.Type == intstr.Int {
		return v.IntVal == 0
	}
	return strings.TrimSuffix(v.StrVal, "%") == "0"
}

// defaultTagImagesContainer names the sole container in tagImages hooks
// that name none.
func defaultTagImagesContainer(s *appsv1.DeploymentStrategy, container string) {
	var hooks []*appsv1.LifecycleHook
	if p := s.RecreateParams; p != nil {
		hooks = append(hooks, p.Pre, p.Mid, p.Post)
	}
	if p := s.RollingParams; p != nil {
		hooks = append(hooks, p.Pre, p.Post)
	}
	for _, hook := range hooks {
		if hook == nil {
			continue
		}
		for i := range hook.TagImages {
			if hook.TagImages[i].ContainerName == "" {
				hook.TagImages[i].ContainerName = container
			}
		}
	}
}

// SetPodSpecDefaults applies the defaults Kubernetes gives a pod template:
// restart policy Always, DNS policy ClusterFirst, the default scheduler, a
// 30 s grace period, an empty security context, and per container the
// termination message path and policy, the pull policy, TCP ports, probe
// timings and volume modes.
func SetPodSpecDefaults(spec *corev1.PodSpec) {
	if spec.RestartPolicy == "" {
		spec.RestartPolicy = corev1.RestartPolicyAlways
	}
	if spec.DNSPolicy == "" {
		spec.DNSPolicy = corev1.DNSClusterFirst
	}
	if spec.SchedulerName == "" {
		spec.SchedulerName = corev1.DefaultSchedulerName
	}
	if spec.TerminationGracePeriodSeconds == nil {
		spec.TerminationGracePeriodSeconds = int64Ptr(defaultTerminationGracePeriodSeconds)
	}
	if spec.SecurityContext == nil {
		spec.SecurityContext = &corev1.PodSecurityContext{}
	}
	for i := range spec.InitContainers {
		setContainerDefaults(&spec.InitContainers[i])
	}
	for i := range spec.Containers {
		setContainerDefaults(&spec.Containers[i])
	}
	for i := range spec.Volumes {
		setVolumeDefaults(&spec.Volumes[i].VolumeSource)
	}
}

func setContainerDefaults(c *corev1.Container) {
	if c.TerminationMessagePath == "" {
		c.TerminationMessagePath = defaultTerminationMessagePath
	}
	if c.TerminationMessagePolicy == "" {
		c.TerminationMessagePolicy = corev1.TerminationMessageReadFile
	}
	if c.ImagePullPolicy == "" {
		c.ImagePullPolicy = DefaultPullPolicy(c.Image)
	}
	for i := range c.Ports {
		if c.Ports[i].Protocol == "" {
			c.Ports[i].Protocol = corev1.ProtocolTCP
		}
	}
	for i := range c.Env {
		if from := c.Env[i].ValueFrom; from != nil && from.FieldRef != nil && from.FieldRef.APIVersion == "" {
			from.FieldRef.APIVersion = "v1"
		}
	}
	for _, probe := range []*corev1.Probe{c.LivenessProbe, c.ReadinessProbe, c.StartupProbe} {
		setProbeDefaults(probe)
	}
	if l := c.Lifecycle; l != nil {
		for _, h := range []*corev1.LifecycleHandler{l.PostStart, l.PreStop} {
			if h != nil {
				setHTTPGetDefaults(h.HTTPGet)
			}
		}
	}
}

func setProbeDefaults(p *corev1.Probe) {
	if p == nil {
		return
	}
	if p.TimeoutSeconds == 0 {
		p.TimeoutSeconds = 1
	}
	if p.PeriodSeconds == 0 {
		p.PeriodSeconds = 10
	}
	if p.SuccessThreshold == 0 {
		p.SuccessThreshold = 1
	}
	if p.FailureThreshold == 0 {
		p.FailureThreshold = 3
	}
	setHTTPGetDefaults(p.HTTPGet)
}

func setHTTPGetDefaults(h *corev1.HTTPGetAction) {
	if h == nil {
		return
	}
	if h.Path == "" {
		h.Path = "/"
	}
	if h.Scheme == "" {
		h.Scheme = corev1.URISchemeHTTP
	}
}

func setVolumeDefaults(v *corev1.VolumeSource) {
	mode := func(m **int32) {
		if *m == nil {
			value := defaultVolumeMode
			*m = &value
		}
	}
	switch {
	case v.Secret != nil:
		mode(&v.Secret.DefaultMode)
	case v.ConfigMap != nil:
		mode(&v.ConfigMap.DefaultMode)
	case v.DownwardAPI != nil:
		mode(&v.DownwardAPI.DefaultMode)
	case v.Projected != nil:
		mode(&v.Projected.DefaultMode)
	}
}

// DefaultPullPolicy is Kubernetes' pull policy for an image: Always for
// ":latest" or an untagged, undigested name, IfNotPresent otherwise,
// including for a blank image an image trigger fills in later.
func DefaultPullPolicy(image string) corev1.PullPolicy {
	if strings.TrimSpace(image) == "" || strings.ContainsAny(image, " \t") || strings.Contains(image, "@") {
		return corev1.PullIfNotPresent
	}
	tag := ""
	if colon := strings.LastIndex(image, ":"); colon > strings.LastIndex(image, "/") {
		tag = image[colon+1:]
	}
	if tag == "" || tag == "latest" {
		return corev1.PullAlways
	}
	return corev1.PullIfNotPresent
}

func int64Ptr(v int64) *int64 { return &v }

func intOrStringPtr(v intstr.IntOrString) *intstr.IntOrString { return &v }
