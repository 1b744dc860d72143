// Package service stores Services with Kubernetes' defaults and a lean
// validation. Slipway allocates no cluster IPs: clusterIP stays as given
// (an address, "None" for headless, or empty).
package service

import (
	"context"
	"fmt"
	"net"

	corev1 "k8s.io/api/core/v1"
	apivalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apiserver/pkg/registry/generic"

	"github.com/slipway-dev/slipway/internal/registry/storebase"
)

type strategy struct{ storebase.Strategy }

// statusStrategy is the update strategy of services/status.
type statusStrategy struct{ strategy }

var (
	// Strategy applies defaults and validation to services.
	Strategy = strategy{storebase.NewStrategy()}
	// StatusStrategy lets services/status change only the status.
	StatusStrategy = statusStrategy{Strategy}
)

var (
	serviceTypes = []corev1.ServiceType{corev1.ServiceTypeClusterIP, corev1.ServiceTypeNodePort, corev1.ServiceTypeLoadBalancer, corev1.ServiceTypeExternalName}
	protocols    = []corev1.Protocol{corev1.ProtocolTCP, corev1.ProtocolUDP, corev1.ProtocolSCTP}
	affinities   = []corev1.ServiceAffinity{corev1.ServiceAffinityNone, corev1.ServiceAffinityClientIP}
)

// SetDefaultsService defaults the type to ClusterIP, session affinity to
// None, port protocols to TCP, target ports to the port, the traffic
// policies to Cluster, and mirrors clusterIP into clusterIPs.
func SetDefaultsService(s *corev1.Service) {
	spec := &s.Spec
	if spec.Type == "" {
		spec.Type = corev1.ServiceTypeClusterIP
	}
	if spec.SessionAffinity == "" {
		spec.SessionAffinity = corev1.ServiceAffinityNone
	}
	for i := range spec.Ports {
		port := &spec.Ports[i]
		if port.Protocol == "" {
			port.Protocol = corev1.ProtocolTCP
		}
		if port.TargetPort == intstr.FromInt32(0) || port.TargetPort == intstr.FromString("") {
			port.TargetPort = intstr.FromInt32(port.Port)
		}
	}
	if spec.Type != corev1.ServiceTypeExternalName && spec.InternalTrafficPolicy == nil {
		policy := corev1.ServiceInternalTrafficPolicyCluster
		spec.InternalTrafficPolicy = &policy
	}
	if (spec.Type == corev1.ServiceTypeNodePort || spec.Type == corev1.ServiceTypeLoadBalancer) && spec.ExternalTrafficPolicy == "" {
		spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyCluster
	}
	if spec.ClusterIP != "" && len(spec.ClusterIPs) == 0 {
		spec.ClusterIPs = []string{spec.ClusterIP}
	}
	if spec.ClusterIP == "" && len(spec.ClusterIPs) > 0 {
		spec.ClusterIP = spec.ClusterIPs[0]
	}
}

func (strategy) NamespaceScoped() bool { return true }

// PrepareForCreate clears the status and applies the defaults.
func (strategy) PrepareForCreate(_ context.Context, obj runtime.Object) {
	s := obj.(*corev1.Service)
	s.Status = corev1.ServiceStatus{}
	SetDefaultsService(s)
}

// PrepareForUpdate keeps the stored status and applies the defaults.
func (strategy) PrepareForUpdate(_ context.Context, obj, old runtime.Object) {
	s := obj.(*corev1.Service)
	s.Status = old.(*corev1.Service).Status
	SetDefaultsService(s)
}

// Validate checks a new service.
func (strategy) Validate(_ context.Context, obj runtime.Object) field.ErrorList {
	return ValidateService(obj.(*corev1.Service))
}

// ValidateUpdate checks a service update: a set cluster IP cannot change.
func (strategy) ValidateUpdate(_ context.Context, obj, old runtime.Object) field.ErrorList {
	s, oldS := obj.(*corev1.Service), old.(*corev1.Service)
	errs := apivalidation.ValidateObjectMetaUpdate(&s.ObjectMeta, &oldS.ObjectMeta, field.NewPath("metadata"))
	if oldS.Spec.ClusterIP != "" && s.Spec.Type != corev1.ServiceTypeExternalName && s.Spec.ClusterIP != oldS.Spec.ClusterIP {
		errs = append(errs, field.Invalid(field.NewPath("spec", "clusterIP"), s.Spec.ClusterIP, "field is immutable"))
	}
	return append(errs, ValidateService(s)...)
}

// PrepareForUpdate keeps the stored spec: only the status changes.
func (statusStrategy) PrepareForUpdate(_ context.Context, obj, old runtime.Object) {
	obj.(*corev1.Service).Spec = old.(*corev1.Service).Spec
}

// ValidateUpdate checks the metadata of a status write.
func (statusStrategy) ValidateUpdate(_ context.Context, obj, old runtime.Object) field.ErrorList {
	s, oldS := obj.(*corev1.Service), old.(*corev1.Service)
	return apivalidation.ValidateObjectMetaUpdate(&s.ObjectMeta, &oldS.ObjectMeta, field.NewPath("metadata"))
}

// ValidateService checks the name (a DNS-1035 label), the type, the ports
// (named when several, unique, valid numbers and protocols), the selector,
// the cluster IP and the external name.
func ValidateService(s *corev1.Service) field.ErrorList {
	errs := apivalidation.ValidateObjectMeta(&s.ObjectMeta, true, apivalidation.NameIsDNS1035Label, field.NewPath("metadata"))
	spec := field.NewPath("spec")

	if !oneOf(s.Spec.Type, serviceTypes) {
		errs = append(errs, field.NotSupported(spec.Child("type"), s.Spec.Type, serviceTypes))
	}
	if !oneOf(s.Spec.SessionAffinity, affinities) {
		errs = append(errs, field.NotSupported(spec.Child("sessionAffinity"), s.Spec.SessionAffinity, affinities))
	}

	headless := s.Spec.ClusterIP == corev1.ClusterIPNone
	switch s.Spec.Type {
	case corev1.ServiceTypeExternalName:
		name := s.Spec.ExternalName
		if name == "" {
			errs = append(errs, field.Required(spec.Child("externalName"), ""))
		} else {
			for _, msg := range validation.IsDNS1123Subdomain(name) {
				errs = append(errs, field.Invalid(spec.Child("externalName"), name, msg))
			}
		}
	default:
		if len(s.Spec.Ports) == 0 && !headless {
			errs = append(errs, field.Required(spec.Child("ports"), ""))
		}
	}

	if ip := s.Spec.ClusterIP; ip != "" && !headless && net.ParseIP(ip) == nil {
		errs = append(errs, field.Invalid(spec.Child("clusterIP"), ip, "must be empty, 'None', or a valid IP address"))
	}
	for i, ip := range s.Spec.ExternalIPs {
		if net.ParseIP(ip) == nil {
			errs = append(errs, field.Invalid(spec.Child("externalIPs").Index(i), ip, "must be a valid IP address"))
		}
	}

	names := map[string]bool{}
	for i, port := range s.Spec.Ports {
		errs = append(errs, validatePort(s, port, len(s.Spec.Ports) > 1, names, spec.Child("ports").Index(i))...)
	}
	errs = append(errs, validateSelector(s.Spec.Selector, spec.Child("selector"))...)
	return errs
}

func validatePort(s *corev1.Service, port corev1.ServicePort, requireName bool, names map[string]bool, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	switch {
	case port.Name == "" && requireName:
		errs = append(errs, field.Required(path.Child("name"), ""))
	case port.Name != "":
		for _, msg := range validation.IsDNS1123Label(port.Name) {
			errs = append(errs, field.Invalid(path.Child("name"), port.Name, msg))
		}
		if names[port.Name] {
			errs = append(errs, field.Duplicate(path.Child("name"), port.Name))
		}
		names[port.Name] = true
	}
	for _, msg := range validation.IsValidPortNum(int(port.Port)) {
		errs = append(errs, field.Invalid(path.Child("port"), port.Port, msg))
	}
	if !oneOf(port.Protocol, protocols) {
		errs = append(errs, field.NotSupported(path.Child("protocol"), port.Protocol, protocols))
	}
	if port.TargetPort.Type == intstr.String {
		for _, msg := range validation.IsValidPortName(port.TargetPort.StrVal) {
			errs = append(errs, field.Invalid(path.Child("targetPort"), port.TargetPort.StrVal, msg))
		}
	} else {
		for _, msg := range validation.IsValidPortNum(int(port.TargetPort.IntVal)) {
			errs = append(errs, field.Invalid(path.Child("targetPort"), port.TargetPort.IntVal, msg))
		}
	}
	if port.NodePort != 0 {
		if s.Spec.Type != corev1.ServiceTypeNodePort && s.Spec.Type != corev1.ServiceTypeLoadBalancer {
			errs = append(errs, field.Forbidden(path.Child("nodePort"), "may not be used when `type` is 'ClusterIP'"))
		}
		for _, msg := range validation.IsValidPortNum(int(port.NodePort)) {
			errs = append(errs, field.Invalid(path.Child("nodePort"), port.NodePort, msg))
		}
	}
	return errs
}

func validateSelector(selector map[string]string, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	for k, v := range selector {
		for _, msg := range validation.IsQualifiedName(k) {
			errs = append(errs, field.Invalid(path.Key(k), k, msg))
		}
		for _, msg := range validation.IsValidLabelValue(v) {
			errs = append(errs, field.Invalid(path.Key(k), v, msg))
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

// GetAttrs returns the labels and selectable fields (metadata,
// spec.clusterIP, spec.type) of a service.
func GetAttrs(obj runtime.Object) (labels.Set, fields.Set, error) {
	s, ok := obj.(*corev1.Service)
	if !ok {
		return nil, nil, fmt.Errorf("not a Service: %T", obj)
	}
	set := fields.Set{"spec.clusterIP": s.Spec.ClusterIP, "spec.type": string(s.Spec.Type)}
	return labels.Set(s.Labels), generic.AddObjectMetaFieldsSet(set, &s.ObjectMeta, true), nil
}
