// Package scc makes project pods run as OpenShift's security context
// constraints make them: by default as restricted-v2 does (a UID from the
// project's range, no privilege escalation, every capability dropped but
// NET_BIND_SERVICE, seccomp RuntimeDefault, no host namespaces, ports or
// paths), and with more only where an admin granted it, as
// `oc adm policy add-scc-to-user anyuid -z NAME` does: RBAC's "use" of
// securitycontextconstraints/<name> (ClusterRole system:openshift:scc:<name>).
//
// Slipway serves no SecurityContextConstraints objects: the three
// constraints OpenShift's users ask for most, anyuid, restricted-v2 and
// privileged, are built in, tried in OpenShift's order (priority, then
// most restrictive first), and the first one the pod's creator or service
// account may use and the pod satisfies (after its defaults) admits it;
// the pod records it in the openshift.io/scc annotation.
package scc

import (
	"fmt"
	"strconv"
	"strings"

	"k8s.io/utils/ptr"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// The namespace annotations OpenShift's allocation controller writes and
// its SCC admission reads, and the pod annotation naming the constraint
// that admitted a pod.
const (
	UIDRangeAnnotation           = "openshift.io/sa.scc.uid-range"
	SupplementalGroupsAnnotation = "openshift.io/sa.scc.supplemental-groups"
	MCSAnnotation                = "openshift.io/sa.scc.mcs"
	PodAnnotation                = "openshift.io/scc"
)

// The constraints, by name.
const (
	AnyUID       = "anyuid"
	RestrictedV2 = "restricted-v2"
	Privileged   = "privileged"
)

// Names lists the constraints in the order admission tries them:
// OpenShift's (anyuid has priority 10; then the most restrictive first).
var Names = []string{AnyUID, RestrictedV2, Privileged}

// ClusterRoleName is the ClusterRole whose binding grants the use of a
// constraint, as OpenShift 4 names it.
func ClusterRoleName(scc string) string { return "system:openshift:scc:" + scc }

// Range is a block of IDs: Size IDs from First, written "First/Size".
type Range struct{ First, Size int64 }

func (r Range) String() string { return fmt.Sprintf("%d/%d", r.First, r.Size) }

// Last is the range's last ID.
func (r Range) Last() int64 { return r.First + r.Size - 1 }

func (r Range) contains(id int64) bool { return id >= r.First && id <= r.Last() }

// ParseRange reads "First/Size" (OpenShift's form) or "First-Last".
func ParseRange(s string) (Range, error) {
	if first, size, ok := strings.Cut(s, "/"); ok {
		f, err1 := strconv.ParseInt(first, 10, 64)
		n, err2 := strconv.ParseInt(size, 10, 64)
		if err1 == nil && err2 == nil && f >= 0 && n > 0 {
			return Range{First: f, Size: n}, nil
		}
	}
	if first, last, ok := strings.Cut(s, "-"); ok {
		f, err1 := strconv.ParseInt(first, 10, 64)
		l, err2 := strconv.ParseInt(last, 10, 64)
		if err1 == nil && err2 == nil && f >= 0 && l >= f {
			return Range{First: f, Size: l - f + 1}, nil
		}
	}
	return Range{}, fmt.Errorf("%q is not an ID range (first/size)", s)
}

// Ranges are a namespace's UID and group ranges, from its annotations.
type Ranges struct{ UIDs, Groups Range }

// NamespaceRanges reads ns's ranges; supplemental groups default to the
// UID range, as OpenShift's admission does.
func NamespaceRanges(ns *corev1.Namespace) (Ranges, error) {
	uids, ok := ns.Annotations[UIDRangeAnnotation]
	if !ok {
		return Ranges{}, fmt.Errorf("unable to find annotation %s on namespace %s", UIDRangeAnnotation, ns.Name)
	}
	u, err := ParseRange(uids)
	if err != nil {
		return Ranges{}, fmt.Errorf("namespace %s: %s: %w", ns.Name, UIDRangeAnnotation, err)
	}
	g := u
	if groups, ok := ns.Annotations[SupplementalGroupsAnnotation]; ok {
		// OpenShift allows a comma-separated list; the first block is the
		// one fsGroup defaults from.
		first, _, _ := strings.Cut(groups, ",")
		if g, err = ParseRange(first); err != nil {
			return Ranges{}, fmt.Errorf("namespace %s: %s: %w", ns.Name, SupplementalGroupsAnnotation, err)
		}
	}
	return Ranges{UIDs: u, Groups: g}, nil
}

// Apply defaults pod as constraint name does and validates it against the
// constraint; pod is changed only when the result is empty.
func Apply(name string, pod *corev1.Pod, r Ranges) field.ErrorList {
	if name == Privileged {
		return nil
	}
	trial := pod.DeepCopy()
	errs := hostAccess(trial)
	switch name {
	case AnyUID:
		errs = append(errs, capabilities(trial, "MKNOD", nil)...)
	case RestrictedV2:
		errs = append(errs, capabilities(trial, "ALL", []corev1.Capability{"NET_BIND_SERVICE"})...)
		errs = append(errs, restricted(trial, r)...)
	default:
		return field.ErrorList{field.NotSupported(field.NewPath("metadata", "annotations").Key(PodAnnotation), name, Names)}
	}
	if len(errs) == 0 {
		*pod = *trial
	}
	return errs
}

// allowedVolumes are the volume types restricted-v2 and anyuid allow.
func allowedVolume(v corev1.Volume) bool {
	s := v.VolumeSource
	return s.ConfigMap != nil || s.CSI != nil || s.DownwardAPI != nil || s.EmptyDir != nil || s.Ephemeral != nil ||
		s.PersistentVolumeClaim != nil || s.Projected != nil || s.Secret != nil
}

// hostAccess refuses what neither anyuid nor restricted-v2 allows: host
// namespaces, ports and volumes, and privileged containers.
func hostAccess(pod *corev1.Pod) field.ErrorList {
	var errs field.ErrorList
	spec := field.NewPath("spec")
	if pod.Spec.HostNetwork {
		errs = append(errs, field.Invalid(spec.Child("securityContext", "hostNetwork"), true, "Host network is not allowed to be used"))
	}
	if pod.Spec.HostPID {
		errs = append(errs, field.Invalid(spec.Child("securityContext", "hostPID"), true, "Host PID is not allowed to be used"))
	}
	if pod.Spec.HostIPC {
		errs = append(errs, field.Invalid(spec.Child("securityContext", "hostIPC"), true, "Host IPC is not allowed to be used"))
	}
	for i, v := range pod.Spec.Volumes {
		if !allowedVolume(v) {
			errs = append(errs, field.Invalid(spec.Child("volumes").Index(i), v.Name, "this volume type is not allowed to be used"))
		}
	}
	eachContainer(pod, func(path *field.Path, c *corev1.Container) {
		for j, p := range c.Ports {
			if p.HostPort != 0 {
				errs = append(errs, field.Invalid(path.Child("ports").Index(j).Child("hostPort"), p.HostPort, "Host ports are not allowed to be used"))
			}
		}
		if sc := c.SecurityContext; sc != nil && sc.Privileged != nil && *sc.Privileged {
			errs = append(errs, field.Invalid(path.Child("securityContext", "privileged"), true, "Privileged containers are not allowed"))
		}
	})
	return errs
}

// capabilities makes every container drop required (a capability name, or
// ALL) and refuses adding any capability but allowed.
func capabilities(pod *corev1.Pod, required corev1.Capability, allowed []corev1.Capability) field.ErrorList {
	var errs field.ErrorList
	eachContainer(pod, func(path *field.Path, c *corev1.Container) {
		if c.SecurityContext == nil {
			c.SecurityContext = &corev1.SecurityContext{}
		}
		if c.SecurityContext.Capabilities == nil {
			c.SecurityContext.Capabilities = &corev1.Capabilities{}
		}
		caps := c.SecurityContext.Capabilities
		for j, add := range caps.Add {
			ok := false
			for _, a := range allowed {
				ok = ok || strings.EqualFold(strings.TrimPrefix(string(add), "CAP_"), string(a))
			}
			if !ok {
				errs = append(errs, field.Invalid(path.Child("securityContext", "capabilities", "add").Index(j), add, "capability may not be added"))
			}
		}
		dropped := false
		for _, d := range caps.Drop {
			dropped = dropped || strings.EqualFold(string(d), string(required)) || strings.EqualFold(string(d), "ALL")
		}
		if !dropped {
			caps.Drop = append(caps.Drop, required)
		}
	})
	return errs
}

// restricted applies restricted-v2's user, group, escalation and seccomp
// rules.
func restricted(pod *corev1.Pod, r Ranges) field.ErrorList {
	var errs field.ErrorList
	spec := field.NewPath("spec")
	if pod.Spec.SecurityContext == nil {
		pod.Spec.SecurityContext = &corev1.PodSecurityContext{}
	}
	psc := pod.Spec.SecurityContext
	uidMessage := fmt.Sprintf("must be in the ranges: [%d, %d]", r.UIDs.First, r.UIDs.Last())
	if psc.RunAsUser != nil && !r.UIDs.contains(*psc.RunAsUser) {
		errs = append(errs, field.Invalid(spec.Child("securityContext", "runAsUser"), *psc.RunAsUser, uidMessage))
	}
	if psc.FSGroup == nil {
		psc.FSGroup = ptr.To(r.Groups.First)
	} else if !r.Groups.contains(*psc.FSGroup) {
		errs = append(errs, field.Invalid(spec.Child("securityContext", "fsGroup"), *psc.FSGroup, fmt.Sprintf("%d is not an allowed group (range %d-%d)", *psc.FSGroup, r.Groups.First, r.Groups.Last())))
	}
	if psc.SeccompProfile == nil {
		psc.SeccompProfile = &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}
	} else if psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		errs = append(errs, field.Invalid(spec.Child("securityContext", "seccompProfile", "type"), psc.SeccompProfile.Type, "seccomp may only be RuntimeDefault"))
	}
	eachContainer(pod, func(path *field.Path, c *corev1.Container) {
		sc := c.SecurityContext // capabilities made it
		switch {
		case sc.RunAsUser != nil && !r.UIDs.contains(*sc.RunAsUser):
			errs = append(errs, field.Invalid(path.Child("securityContext", "runAsUser"), *sc.RunAsUser, uidMessage))
		case sc.RunAsUser == nil && psc.RunAsUser == nil:
			sc.RunAsUser = ptr.To(r.UIDs.First)
		}
		if sc.AllowPrivilegeEscalation == nil {
			sc.AllowPrivilegeEscalation = ptr.To(false)
		} else if *sc.AllowPrivilegeEscalation {
			errs = append(errs, field.Invalid(path.Child("securityContext", "allowPrivilegeEscalation"), true, "Allowing privilege escalation for containers is not allowed"))
		}
		if sc.SeccompProfile != nil && sc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
			errs = append(errs, field.Invalid(path.Child("securityContext", "seccompProfile", "type"), sc.SeccompProfile.Type, "seccomp may only be RuntimeDefault"))
		}
	})
	return errs
}

// eachContainer calls f with each init and app container and its path.
func eachContainer(pod *corev1.Pod, f func(*field.Path, *corev1.Container)) {
	for i := range pod.Spec.InitContainers {
		f(field.NewPath("spec", "initContainers").Index(i), &pod.Spec.InitContainers[i])
	}
	for i := range pod.Spec.Containers {
		f(field.NewPath("spec", "containers").Index(i), &pod.Spec.Containers[i])
	}
}
