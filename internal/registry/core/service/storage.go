package service

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apiserver/pkg/registry/generic"
	genericregistry "k8s.io/apiserver/pkg/registry/generic/registry"

	"github.com/slipway-dev/slipway/internal/registry/core/printing"
	"github.com/slipway-dev/slipway/internal/registry/storebase"
)

// NewREST returns the storage of services and services/status.
func NewREST(optsGetter generic.RESTOptionsGetter) (*genericregistry.Store, *storebase.SubresourceREST, error) {
	store, err := storebase.NewStore(optsGetter, storebase.Resource{
		Plural:   "services",
		Singular: "service",
		New:      func() runtime.Object { return &corev1.Service{} },
		NewList:  func() runtime.Object { return &corev1.ServiceList{} },
		Strategy: Strategy,
		Table:    TableConvertor,
		Attrs:    GetAttrs,
	})
	if err != nil {
		return nil, nil, err
	}
	return store, storebase.NewSubresourceREST(store, StatusStrategy), nil
}

// TableConvertor prints services as NAME TYPE CLUSTER-IP EXTERNAL-IP
// PORT(S) AGE, with SELECTOR for -o wide.
var TableConvertor = printing.TableConvertor[*corev1.Service]{
	Columns: []metav1.TableColumnDefinition{
		printing.NameColumn,
		{Name: "Type", Type: "string", Description: "How the service is exposed."},
		{Name: "Cluster-IP", Type: "string", Description: "The IP address of the service."},
		{Name: "External-IP", Type: "string", Description: "The external addresses of the service."},
		{Name: "Port(s)", Type: "string", Description: "The ports exposed by the service."},
		printing.AgeColumn,
		{Name: "Selector", Type: "string", Priority: 1, Description: "Pods with these labels back the service."},
	},
	Cells: func(s *corev1.Service) []interface{} {
		clusterIP := "<none>"
		if len(s.Spec.ClusterIPs) > 0 {
			clusterIP = s.Spec.ClusterIPs[0]
		} else if s.Spec.ClusterIP != "" {
			clusterIP = s.Spec.ClusterIP
		}
		return []interface{}{s.Name, string(s.Spec.Type), clusterIP, externalIP(s), ports(s.Spec.Ports),
			printing.Age(s.CreationTimestamp), labels.FormatLabels(s.Spec.Selector)}
	},
}

// externalIP is kubectl's EXTERNAL-IP: external IPs, load balancer
// ingress ("<pending>" before it exists), or the external name.
func externalIP(s *corev1.Service) string {
	switch s.Spec.Type {
	case corev1.ServiceTypeClusterIP, corev1.ServiceTypeNodePort:
		if len(s.Spec.ExternalIPs) > 0 {
			return strings.Join(s.Spec.ExternalIPs, ",")
		}
		return "<none>"
	case corev1.ServiceTypeLoadBalancer:
		var addrs []string
		for _, ing := range s.Status.LoadBalancer.Ingress {
			if ing.IP != "" {
				addrs = append(addrs, ing.IP)
			} else if ing.Hostname != "" {
				addrs = append(addrs, ing.Hostname)
			}
		}
		addrs = append(addrs, s.Spec.ExternalIPs...)
		if len(addrs) == 0 {
			return "<pending>"
		}
		return strings.Join(addrs, ",")
	case corev1.ServiceTypeExternalName:
		return s.Spec.ExternalName
	}
	return "<unknown>"
}

// ports prints "80/TCP,30080:8080/TCP" (node port after the colon).
func ports(ports []corev1.ServicePort) string {
	if len(ports) == 0 {
		return "<none>"
	}
	out := make([]string, len(ports))
	for i, p := range ports {
		if p.NodePort > 0 {
			out[i] = fmt.Sprintf("%d:%d/%s", p.Port, p.NodePort, p.Protocol)
		} else {
			out[i] = fmt.Sprintf("%d/%s", p.Port, p.Protocol)
		}
	}
	return strings.Join(out, ",")
}
