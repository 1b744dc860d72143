package deploymentconfig

import (
	"fmt"
	"slices"
	"strings"

	appsv1 "github.com/openshift/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

var (
	strategyTypes = []string{
		string(appsv1.DeploymentStrategyTypeRolling), string(appsv1.DeploymentStrategyTypeRecreate), string(appsv1.DeploymentStrategyTypeCustom),
	}
	triggerTypes    = []string{string(appsv1.DeploymentTriggerOnConfigChange), string(appsv1.DeploymentTriggerOnImageChange)}
	failurePolicies = []string{
		string(appsv1.LifecycleHookFailurePolicyAbort), string(appsv1.LifecycleHookFailurePolicyRetry), string(appsv1.LifecycleHookFailurePolicyIgnore),
	}
	protocols = []string{string(corev1.ProtocolTCP), string(corev1.ProtocolUDP), string(corev1.ProtocolSCTP)}
)

// Validate checks a DeploymentConfig as OpenShift's API server does.
func Validate(dc *appsv1.DeploymentConfig) field.ErrorList {
	allErrs := apimachineryvalidation.ValidateObjectMeta(&dc.ObjectMeta, true, apimachineryvalidation.NameIsDNSSubdomain, field.NewPath("metadata"))
	allErrs = append(allErrs, validateSpec(&dc.Spec, field.NewPath("spec"))...)
	return allErrs
}

// ValidateUpdate checks an update of the main resource: immutable metadata
// stays, the spec is valid, and latestVersion moves by at most one.
func ValidateUpdate(dc, old *appsv1.DeploymentConfig) field.ErrorList {
	allErrs := apimachineryvalidation.ValidateObjectMetaUpdate(&dc.ObjectMeta, &old.ObjectMeta, field.NewPath("metadata"))
	allErrs = append(allErrs, validateSpec(&dc.Spec, field.NewPath("spec"))...)
	allErrs = append(allErrs, validateLatestVersion(dc, old)...)
	return allErrs
}

// ValidateStatusUpdate checks a write through deploymentconfigs/status:
// counters are non-negative, and neither latestVersion nor
// observedGeneration go back.
func ValidateStatusUpdate(dc, old *appsv1.DeploymentConfig) field.ErrorList {
	allErrs := apimachineryvalidation.ValidateObjectMetaUpdate(&dc.ObjectMeta, &old.ObjectMeta, field.NewPath("metadata"))
	statusPath := field.NewPath("status")
	counters := []struct {
		name  string
		value int64
	}{
		{"latestVersion", dc.Status.LatestVersion},
		{"observedGeneration", dc.Status.ObservedGeneration},
		{"replicas", int64(dc.Status.Replicas)},
		{"updatedReplicas", int64(dc.Status.UpdatedReplicas)},
		{"availableReplicas", int64(dc.Status.AvailableReplicas)},
		{"unavailableReplicas", int64(dc.Status.UnavailableReplicas)},
		{"readyReplicas", int64(dc.Status.ReadyReplicas)},
	}
	for _, c := range counters {
		allErrs = append(allErrs, apimachineryvalidation.ValidateNonnegativeField(c.value, statusPath.Child(c.name))...)
	}
	if dc.Status.ObservedGeneration < old.Status.ObservedGeneration {
		allErrs = append(allErrs, field.Invalid(statusPath.Child("observedGeneration"), dc.Status.ObservedGeneration, "observedGeneration cannot be decremented"))
	}
	allErrs = append(allErrs, validateLatestVersion(dc, old)...)
	return allErrs
}

func validateLatestVersion(dc, old *appsv1.DeploymentConfig) field.ErrorList {
	p := field.NewPath("status", "latestVersion")
	switch v, was := dc.Status.LatestVersion, old.Status.LatestVersion; {
	case v < was:
		return field.ErrorList{field.Invalid(p, v, "latestVersion cannot be decremented")}
	case v > was+1:
		return field.ErrorList{field.Invalid(p, v, "latestVersion can only be incremented by 1")}
	}
	return nil
}

func validateSpec(spec *appsv1.DeploymentConfigSpec, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	allErrs = append(allErrs, apimachineryvalidation.ValidateNonnegativeField(int64(spec.Replicas), fldPath.Child("replicas"))...)
	allErrs = append(allErrs, apimachineryvalidation.ValidateNonnegativeField(int64(spec.MinReadySeconds), fldPath.Child("minReadySeconds"))...)
	if l := spec.RevisionHistoryLimit; l != nil {
		allErrs = append(allErrs, apimachineryvalidation.ValidateNonnegativeField(int64(*l), fldPath.Child("revisionHistoryLimit"))...)
	}

	// Containers an ImageChange trigger fills in may have a blank image.
	triggered := sets.New[string]()
	for _, t := range spec.Triggers {
		if t.ImageChangeParams != nil {
			triggered.Insert(t.ImageChangeParams.ContainerNames...)
		}
	}

	if len(spec.Selector) == 0 {
		allErrs = append(allErrs, field.Required(fldPath.Child("selector"), ""))
	} else {
		allErrs = append(allErrs, metav1validation.ValidateLabels(spec.Selector, fldPath.Child("selector"))...)
	}
	containerNames := sets.New[string]()
	if spec.Template == nil {
		allErrs = append(allErrs, field.Required(fldPath.Child("template"), ""))
	} else {
		templatePath := fldPath.Child("template")
		allErrs = append(allErrs, metav1validation.ValidateLabels(spec.Template.Labels, templatePath.Child("metadata", "labels"))...)
		if len(spec.Selector) > 0 && !labels.SelectorFromSet(spec.Selector).Matches(labels.Set(spec.Template.Labels)) {
			allErrs = append(allErrs, field.Invalid(templatePath.Child("metadata", "labels"), spec.Template.Labels, "`selector` does not match template `labels`"))
		}
		allErrs = append(allErrs, validatePodSpec(&spec.Template.Spec, triggered, containerNames, templatePath.Child("spec"))...)
	}

	allErrs = append(allErrs, validateTriggers(spec.Triggers, containerNames, spec.Template != nil, fldPath.Child("triggers"))...)
	allErrs = append(allErrs, validateStrategy(&spec.Strategy, containerNames, fldPath.Child("strategy"))...)
	return allErrs
}

// validatePodSpec checks the parts of a pod template the API server is
// responsible for here (there is no Kubernetes pod validation to reuse):
// containers with unique names and images, ports, env names and the restart
// policy. It records the container names it saw in names.
func validatePodSpec(spec *corev1.PodSpec, triggered, names sets.Set[string], fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	if len(spec.Containers) == 0 {
		allErrs = append(allErrs, field.Required(fldPath.Child("containers"), ""))
	}
	allErrs = append(allErrs, validateContainers(spec.InitContainers, triggered, names, fldPath.Child("initContainers"))...)
	allErrs = append(allErrs, validateContainers(spec.Containers, triggered, names, fldPath.Child("containers"))...)
	if spec.RestartPolicy != corev1.RestartPolicyAlways {
		allErrs = append(allErrs, field.NotSupported(fldPath.Child("restartPolicy"), spec.RestartPolicy, []string{string(corev1.RestartPolicyAlways)}))
	}
	return allErrs
}

func validateContainers(containers []corev1.Container, triggered, names sets.Set[string], fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	for i, c := range containers {
		p := fldPath.Index(i)
		switch {
		case c.Name == "":
			allErrs = append(allErrs, field.Required(p.Child("name"), ""))
		case names.Has(c.Name):
			allErrs = append(allErrs, field.Duplicate(p.Child("name"), c.Name))
		default:
			for _, msg := range validation.IsDNS1123Label(c.Name) {
				allErrs = append(allErrs, field.Invalid(p.Child("name"), c.Name, msg))
			}
		}
		names.Insert(c.Name)
		if strings.TrimSpace(c.Image) == "" && !triggered.Has(c.Name) {
			allErrs = append(allErrs, field.Required(p.Child("image"), "required unless an ImageChange trigger names this container"))
		}
		for j, port := range c.Ports {
			portPath := p.Child("ports").Index(j)
			for _, msg := range validation.IsValidPortNum(int(port.ContainerPort)) {
				allErrs = append(allErrs, field.Invalid(portPath.Child("containerPort"), port.ContainerPort, msg))
			}
			if port.Protocol != "" && !slices.Contains(protocols, string(port.Protocol)) {
				allErrs = append(allErrs, field.NotSupported(portPath.Child("protocol"), port.Protocol, protocols))
			}
		}
		allErrs = append(allErrs, validateEnv(c.Env, p.Child("env"))...)
	}
	return allErrs
}

func validateEnv(env []corev1.EnvVar, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	for i, e := range env {
		namePath := fldPath.Index(i).Child("name")
		if e.Name == "" {
			allErrs = append(allErrs, field.Required(namePath, ""))
			continue
		}
		for _, msg := range validation.IsEnvVarName(e.Name) {
			allErrs = append(allErrs, field.Invalid(namePath, e.Name, msg))
		}
	}
	return allErrs
}

func validateTriggers(triggers []appsv1.DeploymentTriggerPolicy, containers sets.Set[string], haveTemplate bool, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	for i, t := range triggers {
		p := fldPath.Index(i)
		switch t.Type {
		case appsv1.DeploymentTriggerOnConfigChange:
			if t.ImageChangeParams != nil {
				allErrs = append(allErrs, field.Invalid(p.Child("imageChangeParams"), "", "may only be set for an ImageChange trigger"))
			}
		case appsv1.DeploymentTriggerOnImageChange:
			if t.ImageChangeParams == nil {
				allErrs = append(allErrs, field.Required(p.Child("imageChangeParams"), ""))
				continue
			}
			allErrs = append(allErrs, validateImageChangeParams(t.ImageChangeParams, containers, haveTemplate, p.Child("imageChangeParams"))...)
		case "":
			allErrs = append(allErrs, field.Required(p.Child("type"), ""))
		default:
			allErrs = append(allErrs, field.NotSupported(p.Child("type"), t.Type, triggerTypes))
		}
	}
	return allErrs
}

func validateImageChangeParams(params *appsv1.DeploymentTriggerImageChangeParams, containers sets.Set[string], haveTemplate bool, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	fromPath := fldPath.Child("from")
	switch {
	case params.From.Kind != ImageStreamTagKind:
		allErrs = append(allErrs, field.NotSupported(fromPath.Child("kind"), params.From.Kind, []string{ImageStreamTagKind}))
	case params.From.Name == "":
		allErrs = append(allErrs, field.Required(fromPath.Child("name"), ""))
	default:
		if stream, tag, ok := strings.Cut(params.From.Name, ":"); !ok || stream == "" || tag == "" || strings.Contains(tag, ":") {
			allErrs = append(allErrs, field.Invalid(fromPath.Child("name"), params.From.Name, "must be of the form <stream>:<tag>"))
		}
	}
	if ns := params.From.Namespace; ns != "" {
		for _, msg := range validation.IsDNS1123Label(ns) {
			allErrs = append(allErrs, field.Invalid(fromPath.Child("namespace"), ns, msg))
		}
	}
	if len(params.ContainerNames) == 0 {
		allErrs = append(allErrs, field.Required(fldPath.Child("containerNames"), ""))
	}
	for j, name := range params.ContainerNames {
		if haveTemplate && !containers.Has(name) {
			allErrs = append(allErrs, field.Invalid(fldPath.Child("containerNames").Index(j), name, fmt.Sprintf("there is no container named %q in the template", name)))
		}
	}
	return allErrs
}

func validateStrategy(s *appsv1.DeploymentStrategy, containers sets.Set[string], fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	switch s.Type {
	case appsv1.DeploymentStrategyTypeRolling:
		if s.RollingParams == nil {
			allErrs = append(allErrs, field.Required(fldPath.Child("rollingParams"), ""))
		}
	case appsv1.DeploymentStrategyTypeRecreate:
	case appsv1.DeploymentStrategyTypeCustom:
		if s.CustomParams == nil {
			allErrs = append(allErrs, field.Required(fldPath.Child("customParams"), ""))
		}
	case "":
		allErrs = append(allErrs, field.Required(fldPath.Child("type"), ""))
	default:
		allErrs = append(allErrs, field.NotSupported(fldPath.Child("type"), s.Type, strategyTypes))
	}
	if d := s.ActiveDeadlineSeconds; d != nil && *d <= 0 {
		allErrs = append(allErrs, field.Invalid(fldPath.Child("activeDeadlineSeconds"), *d, "must be greater than 0"))
	}

	if p := s.RollingParams; p != nil {
		rp := fldPath.Child("rollingParams")
		allErrs = append(allErrs, validatePositive(p.UpdatePeriodSeconds, rp.Child("updatePeriodSeconds"))...)
		allErrs = append(allErrs, validatePositive(p.IntervalSeconds, rp.Child("intervalSeconds"))...)
		allErrs = append(allErrs, validatePositive(p.TimeoutSeconds, rp.Child("timeoutSeconds"))...)
		allErrs = append(allErrs, validateSurge(p, rp)...)
		allErrs = append(allErrs, validateHook(p.Pre, containers, rp.Child("pre"))...)
		allErrs = append(allErrs, validateHook(p.Post, containers, rp.Child("post"))...)
	}
	if p := s.RecreateParams; p != nil {
		rp := fldPath.Child("recreateParams")
		allErrs = append(allErrs, validatePositive(p.TimeoutSeconds, rp.Child("timeoutSeconds"))...)
		allErrs = append(allErrs, validateHook(p.Pre, containers, rp.Child("pre"))...)
		allErrs = append(allErrs, validateHook(p.Mid, containers, rp.Child("mid"))...)
		allErrs = append(allErrs, validateHook(p.Post, containers, rp.Child("post"))...)
	}
	if p := s.CustomParams; p != nil {
		allErrs = append(allErrs, validateEnv(p.Environment, fldPath.Child("customParams", "environment"))...)
	}
	return allErrs
}

func validatePositive(v *int64, fldPath *field.Path) field.ErrorList {
	if v != nil && *v <= 0 {
		return field.ErrorList{field.Invalid(fldPath, *v, "must be greater than 0")}
	}
	return nil
}

// validateSurge checks maxSurge and maxUnavailable: non-negative, a
// percentage of at most 100% for maxUnavailable, and not both zero (the
// rollout could never progress).
func validateSurge(p *appsv1.RollingDeploymentStrategyParams, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	check := func(v *intstr.IntOrString, name string, maxPercent bool) {
		if v == nil {
			return
		}
		path := fldPath.Child(name)
		if v.Type == intstr.Int {
			allErrs = append(allErrs, apimachineryvalidation.ValidateNonnegativeField(int64(v.IntVal), path)...)
			return
		}
		percent, ok := parsePercent(v.StrVal)
		switch {
		case !ok:
			allErrs = append(allErrs, field.Invalid(path, v.StrVal, "must be an integer or a percentage such as '25%'"))
		case percent < 0:
			allErrs = append(allErrs, field.Invalid(path, v.StrVal, "must be greater than or equal to 0"))
		case maxPercent && percent > 100:
			allErrs = append(allErrs, field.Invalid(path, v.StrVal, "must not be greater than 100%"))
		}
	}
	check(p.MaxSurge, "maxSurge", false)
	check(p.MaxUnavailable, "maxUnavailable", true)
	if (p.MaxSurge == nil || isZero(*p.MaxSurge)) && (p.MaxUnavailable == nil || isZero(*p.MaxUnavailable)) {
		allErrs = append(allErrs, field.Invalid(fldPath.Child("maxUnavailable"), p.MaxUnavailable, "cannot be 0 when maxSurge is 0"))
	}
	return allErrs
}

func parsePercent(s string) (int, bool) {
	digits, ok := strings.CutSuffix(s, "%")
	if !ok || digits == "" {
		return 0, false
	}
	var n int
	if _, err := fmt.Sscanf(digits, "%d", &n); err != nil || fmt.Sprint(n) != digits {
		return 0, false
	}
	return n, true
}

// validateHook checks a lifecycle hook: a known failure policy and exactly
// one action, execNewPod with a command and a template container, or
// tagImages naming containers and ImageStreamTags.
func validateHook(hook *appsv1.LifecycleHook, containers sets.Set[string], fldPath *field.Path) field.ErrorList {
	if hook == nil {
		return nil
	}
	var allErrs field.ErrorList
	switch {
	case hook.FailurePolicy == "":
		allErrs = append(allErrs, field.Required(fldPath.Child("failurePolicy"), ""))
	case !slices.Contains(failurePolicies, string(hook.FailurePolicy)):
		allErrs = append(allErrs, field.NotSupported(fldPath.Child("failurePolicy"), hook.FailurePolicy, failurePolicies))
	}
	switch {
	case hook.ExecNewPod == nil && len(hook.TagImages) == 0:
		allErrs = append(allErrs, field.Invalid(fldPath, "", "must provide execNewPod or tagImages"))
	case hook.ExecNewPod != nil && len(hook.TagImages) > 0:
		allErrs = append(allErrs, field.Invalid(fldPath, "", "must provide either execNewPod or tagImages, not both"))
	}
	if e := hook.ExecNewPod; e != nil {
		p := fldPath.Child("execNewPod")
		if len(e.Command) == 0 {
			allErrs = append(allErrs, field.Required(p.Child("command"), ""))
		}
		if e.ContainerName == "" {
			allErrs = append(allErrs, field.Required(p.Child("containerName"), ""))
		} else if !containers.Has(e.ContainerName) {
			allErrs = append(allErrs, field.Invalid(p.Child("containerName"), e.ContainerName, "must name a container of the template"))
		}
		allErrs = append(allErrs, validateEnv(e.Env, p.Child("env"))...)
	}
	for i, tag := range hook.TagImages {
		p := fldPath.Child("tagImages").Index(i)
		if tag.ContainerName == "" {
			allErrs = append(allErrs, field.Required(p.Child("containerName"), ""))
		} else if !containers.Has(tag.ContainerName) {
			allErrs = append(allErrs, field.Invalid(p.Child("containerName"), tag.ContainerName, "must name a container of the template"))
		}
		if tag.To.Kind != ImageStreamTagKind {
			allErrs = append(allErrs, field.NotSupported(p.Child("to", "kind"), tag.To.Kind, []string{ImageStreamTagKind}))
		}
		if tag.To.Name == "" {
			allErrs = append(allErrs, field.Required(p.Child("to", "name"), ""))
		}
	}
	return allErrs
}
