package pod

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

var (
	restartPolicies = []corev1.RestartPolicy{corev1.RestartPolicyAlways, corev1.RestartPolicyOnFailure, corev1.RestartPolicyNever}
	dnsPolicies     = []corev1.DNSPolicy{corev1.DNSClusterFirstWithHostNet, corev1.DNSClusterFirst, corev1.DNSDefault, corev1.DNSNone}
	pullPolicies    = []corev1.PullPolicy{corev1.PullAlways, corev1.PullNever, corev1.PullIfNotPresent}
	protocols       = []corev1.Protocol{corev1.ProtocolTCP, corev1.ProtocolUDP, corev1.ProtocolSCTP}
)

// ValidatePod checks a pod: its metadata, its spec, and that container
// images carry no surrounding whitespace (templates may, pods may not).
func ValidatePod(p *corev1.Pod) field.ErrorList {
	errs := apivalidation.ValidateObjectMeta(&p.ObjectMeta, true, apivalidation.NameIsDNSSubdomain, field.NewPath("metadata"))
	specPath := field.NewPath("spec")
	errs = append(errs, ValidatePodSpec(&p.Spec, specPath)...)
	for i, c := range p.Spec.Containers {
		errs = append(errs, validateImageWhitespace(c.Image, specPath.Child("containers").Index(i).Child("image"))...)
	}
	for i, c := range p.Spec.InitContainers {
		errs = append(errs, validateImageWhitespace(c.Image, specPath.Child("initContainers").Index(i).Child("image"))...)
	}
	return errs
}

func validateImageWhitespace(image string, path *field.Path) field.ErrorList {
	if image != strings.TrimSpace(image) {
		return field.ErrorList{field.Invalid(path, image, "must not have leading or trailing whitespace")}
	}
	return nil
}

// ValidatePodSpec checks the parts of a pod spec Slipway relies on:
// containers (at least one, named uniquely, with images), volumes and their
// mounts, ports, policies, the deadline and the service account name.
func ValidatePodSpec(spec *corev1.PodSpec, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	volumes := map[string]bool{}
	for i, v := range spec.Volumes {
		vPath := path.Child("volumes").Index(i).Child("name")
		switch {
		case v.Name == "":
			errs = append(errs, field.Required(vPath, ""))
		case volumes[v.Name]:
			errs = append(errs, field.Duplicate(vPath, v.Name))
		default:
			for _, msg := range validation.IsDNS1123Label(v.Name) {
				errs = append(errs, field.Invalid(vPath, v.Name, msg))
			}
		}
		volumes[v.Name] = true
	}

	if len(spec.Containers) == 0 {
		errs = append(errs, field.Required(path.Child("containers"), ""))
	}
	names := map[string]bool{}
	for i := range spec.InitContainers {
		errs = append(errs, validateContainer(&spec.InitContainers[i], path.Child("initContainers").Index(i), names, volumes)...)
	}
	for i := range spec.Containers {
		errs = append(errs, validateContainer(&spec.Containers[i], path.Child("containers").Index(i), names, volumes)...)
	}

	if !oneOf(spec.RestartPolicy, restartPolicies) {
		errs = append(errs, field.NotSupported(path.Child("restartPolicy"), spec.RestartPolicy, restartPolicies))
	}
	if !oneOf(spec.DNSPolicy, dnsPolicies) {
		errs = append(errs, field.NotSupported(path.Child("dnsPolicy"), spec.DNSPolicy, dnsPolicies))
	}
	if d := spec.ActiveDeadlineSeconds; d != nil && *d <= 0 {
		errs = append(errs, field.Invalid(path.Child("activeDeadlineSeconds"), *d, "must be greater than 0"))
	}
	if g := spec.TerminationGracePeriodSeconds; g != nil && *g < 0 {
		errs = append(errs, field.Invalid(path.Child("terminationGracePeriodSeconds"), *g, "must be greater than or equal to 0"))
	}
	if sa := spec.ServiceAccountName; sa != "" {
		for _, msg := range apivalidation.NameIsDNSSubdomain(sa, false) {
			errs = append(errs, field.Invalid(path.Child("serviceAccountName"), sa, msg))
		}
	}
	if n := spec.NodeName; n != "" {
		for _, msg := range apivalidation.NameIsDNSSubdomain(n, false) {
			errs = append(errs, field.Invalid(path.Child("nodeName"), n, msg))
		}
	}
	for i, ref := range spec.ImagePullSecrets {
		if ref.Name == "" {
			errs = append(errs, field.Required(path.Child("imagePullSecrets").Index(i).Child("name"), ""))
		}
	}
	return errs
}

// validateContainer checks one container; names collects the container
// names seen so far (init and regular containers share one name space).
func validateContainer(c *corev1.Container, path *field.Path, names, volumes map[string]bool) field.ErrorList {
	var errs field.ErrorList
	namePath := path.Child("name")
	switch {
	case c.Name == "":
		errs = append(errs, field.Required(namePath, ""))
	case names[c.Name]:
		errs = append(errs, field.Duplicate(namePath, c.Name))
	default:
		for _, msg := range validation.IsDNS1123Label(c.Name) {
			errs = append(errs, field.Invalid(namePath, c.Name, msg))
		}
	}
	names[c.Name] = true

	if c.Image == "" {
		errs = append(errs, field.Required(path.Child("image"), ""))
	}
	if c.ImagePullPolicy != "" && !oneOf(c.ImagePullPolicy, pullPolicies) {
		errs = append(errs, field.NotSupported(path.Child("imagePullPolicy"), c.ImagePullPolicy, pullPolicies))
	}
	for i, port := range c.Ports {
		pPath := path.Child("ports").Index(i)
		for _, msg := range validation.IsValidPortNum(int(port.ContainerPort)) {
			errs = append(errs, field.Invalid(pPath.Child("containerPort"), port.ContainerPort, msg))
		}
		if port.HostPort != 0 {
			for _, msg := range validation.IsValidPortNum(int(port.HostPort)) {
				errs = append(errs, field.Invalid(pPath.Child("hostPort"), port.HostPort, msg))
			}
		}
		if port.Name != "" {
			for _, msg := range validation.IsValidPortName(port.Name) {
				errs = append(errs, field.Invalid(pPath.Child("name"), port.Name, msg))
			}
		}
		if !oneOf(port.Protocol, protocols) {
			errs = append(errs, field.NotSupported(pPath.Child("protocol"), port.Protocol, protocols))
		}
	}
	for i, env := range c.Env {
		if env.Name == "" {
			errs = append(errs, field.Required(path.Child("env").Index(i).Child("name"), ""))
		}
	}
	for i, m := range c.VolumeMounts {
		mPath := path.Child("volumeMounts").Index(i)
		if m.Name == "" {
			errs = append(errs, field.Required(mPath.Child("name"), ""))
		} else if !volumes[m.Name] {
			errs = append(errs, field.NotFound(mPath.Child("name"), m.Name))
		}
		if m.MountPath == "" {
			errs = append(errs, field.Required(mPath.Child("mountPath"), ""))
		}
	}
	return errs
}

func oneOf[T comparable](v T, allowed []T) bool {
	for _, a := range allowed {
		if v == a {
			return true
		}
	}
	return false
}

// podUpdateForbidden is Kubernetes' message for a change to an immutable
// part of a pod spec.
const podUpdateForbidden = "pod updates may not change fields other than `spec.containers[*].image`, `spec.initContainers[*].image`, `spec.activeDeadlineSeconds`, `spec.tolerations` (only additions to existing tolerations), `spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)"

// ValidatePodUpdate checks a pod update: the spec is immutable except for
// container images, a shortened or newly set activeDeadlineSeconds and
// added tolerations, as in Kubernetes.
func ValidatePodUpdate(p, old *corev1.Pod) field.ErrorList {
	specPath := field.NewPath("spec")
	errs := apivalidation.ValidateObjectMetaUpdate(&p.ObjectMeta, &old.ObjectMeta, field.NewPath("metadata"))
	errs = append(errs, ValidatePod(p)...)

	if d, oldD := p.Spec.ActiveDeadlineSeconds, old.Spec.ActiveDeadlineSeconds; oldD != nil {
		switch {
		case d == nil:
			errs = append(errs, field.Invalid(specPath.Child("activeDeadlineSeconds"), d, "must not update from a positive integer to nil value"))
		case *d > *oldD:
			errs = append(errs, field.Invalid(specPath.Child("activeDeadlineSeconds"), *d, "must be less than or equal to previous value"))
		}
	}

	// Compare the specs with the mutable fields copied from the old one.
	mutated := p.Spec.DeepCopy()
	if len(mutated.Containers) != len(old.Spec.Containers) || len(mutated.InitContainers) != len(old.Spec.InitContainers) {
		return append(errs, field.Forbidden(specPath, podUpdateForbidden))
	}
	for i := range mutated.Containers {
		mutated.Containers[i].Image = old.Spec.Containers[i].Image
	}
	for i := range mutated.InitContainers {
		mutated.InitContainers[i].Image = old.Spec.InitContainers[i].Image
	}
	mutated.ActiveDeadlineSeconds = old.Spec.ActiveDeadlineSeconds
	if len(mutated.Tolerations) >= len(old.Spec.Tolerations) &&
		apiequality.Semantic.DeepEqual(mutated.Tolerations[:len(old.Spec.Tolerations)], old.Spec.Tolerations) {
		mutated.Tolerations = old.Spec.Tolerations
	}
	if g, oldG := mutated.TerminationGracePeriodSeconds, old.Spec.TerminationGracePeriodSeconds; g != nil && *g == 1 && oldG != nil && *oldG < 0 {
		mutated.TerminationGracePeriodSeconds = oldG
	}
	if !apiequality.Semantic.DeepEqual(*mutated, old.Spec) {
		errs = append(errs, field.Forbidden(specPath, podUpdateForbidden))
	}
	return errs
}

// ValidatePodStatusUpdate checks a status write: metadata rules, a known
// phase, and container statuses that name containers of the spec.
func ValidatePodStatusUpdate(p, old *corev1.Pod) field.ErrorList {
	errs := apivalidation.ValidateObjectMetaUpdate(&p.ObjectMeta, &old.ObjectMeta, field.NewPath("metadata"))
	statusPath := field.NewPath("status")
	phases := []corev1.PodPhase{corev1.PodPending, corev1.PodRunning, corev1.PodSucceeded, corev1.PodFailed, corev1.PodUnknown}
	if p.Status.Phase != "" && !oneOf(p.Status.Phase, phases) {
		errs = append(errs, field.NotSupported(statusPath.Child("phase"), p.Status.Phase, phases))
	}
	// A pod that finished stays finished, as Kubernetes enforces.
	if (old.Status.Phase == corev1.PodSucceeded || old.Status.Phase == corev1.PodFailed) && p.Status.Phase != old.Status.Phase {
		errs = append(errs, field.Forbidden(statusPath.Child("phase"), fmt.Sprintf("cannot transition from terminal phase %s to %s", old.Status.Phase, p.Status.Phase)))
	}
	errs = append(errs, validateStatusNames(p.Status.ContainerStatuses, p.Spec.Containers, statusPath.Child("containerStatuses"))...)
	errs = append(errs, validateStatusNames(p.Status.InitContainerStatuses, p.Spec.InitContainers, statusPath.Child("initContainerStatuses"))...)
	return errs
}

func validateStatusNames(statuses []corev1.ContainerStatus, containers []corev1.Container, path *field.Path) field.ErrorList {
	known := map[string]bool{}
	for _, c := range containers {
		known[c.Name] = true
	}
	var errs field.ErrorList
	for i, s := range statuses {
		if !known[s.Name] {
			errs = append(errs, field.NotFound(path.Index(i).Child("name"), s.Name))
		}
	}
	return errs
}
