package service

import (
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

func newService(ports ...corev1.ServicePort) *corev1.Service {
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "ns"},
		Spec:       corev1.ServiceSpec{Ports: ports, Selector: map[string]string{"app": "web"}},
	}
}

func TestPrepareForCreateDefaults(t *testing.T) {
	s := newService(corev1.ServicePort{Name: "http", Port: 80}, corev1.ServicePort{Name: "alt", Port: 81, TargetPort: intstr.FromString("web")})
	s.Spec.ClusterIP = "None"
	s.Status.LoadBalancer.Ingress = []corev1.LoadBalancerIngress{{IP: "1.2.3.4"}}
	Strategy.PrepareForCreate(context.Background(), s)
	if s.Spec.Type != corev1.ServiceTypeClusterIP || s.Spec.SessionAffinity != corev1.ServiceAffinityNone {
		t.Errorf("type %q affinity %q", s.Spec.Type, s.Spec.SessionAffinity)
	}
	if p := s.Spec.Ports[0]; p.Protocol != corev1.ProtocolTCP || p.TargetPort != intstr.FromInt32(80) {
		t.Errorf("port 0 = %+v", p)
	}
	if p := s.Spec.Ports[1]; p.TargetPort != intstr.FromString("web") {
		t.Errorf("named target port overwritten: %+v", p)
	}
	if len(s.Spec.ClusterIPs) != 1 || s.Spec.ClusterIPs[0] != "None" {
		t.Errorf("clusterIPs = %v", s.Spec.ClusterIPs)
	}
	if len(s.Status.LoadBalancer.Ingress) != 0 {
		t.Error("status not cleared on create")
	}
	if errs := Strategy.Validate(context.Background(), s); len(errs) != 0 {
		t.Errorf("defaulted service invalid: %v", errs)
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		svc  *corev1.Service
		want string
	}{
		{name: "valid", svc: newService(corev1.ServicePort{Port: 8080})},
		{name: "no ports", svc: newService(), want: "spec.ports: Required value"},
		{name: "headless without ports", svc: func() *corev1.Service { s := newService(); s.Spec.ClusterIP = "None"; return s }()},
		{name: "unnamed of two", svc: newService(corev1.ServicePort{Name: "a", Port: 1}, corev1.ServicePort{Port: 2}), want: "spec.ports[1].name: Required value"},
		{name: "duplicate names", svc: newService(corev1.ServicePort{Name: "a", Port: 1}, corev1.ServicePort{Name: "a", Port: 2}), want: "spec.ports[1].name: Duplicate value"},
		{name: "bad port", svc: newService(corev1.ServicePort{Port: 0}), want: "spec.ports[0].port: Invalid value"},
		{name: "bad protocol", svc: newService(corev1.ServicePort{Port: 1, Protocol: "ICMP"}), want: "spec.ports[0].protocol: Unsupported value"},
		{name: "node port on cluster IP", svc: newService(corev1.ServicePort{Port: 1, NodePort: 30000}), want: "spec.ports[0].nodePort: Forbidden"},
		{name: "bad name", svc: func() *corev1.Service { s := newService(corev1.ServicePort{Port: 1}); s.Name = "1web"; return s }(), want: "metadata.name: Invalid value"},
		{name: "external name missing", svc: func() *corev1.Service { s := newService(); s.Spec.Type = corev1.ServiceTypeExternalName; return s }(), want: "spec.externalName: Required value"},
		{name: "bad cluster IP", svc: func() *corev1.Service { s := newService(corev1.ServicePort{Port: 1}); s.Spec.ClusterIP = "x"; return s }(), want: "spec.clusterIP: Invalid value"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			Strategy.PrepareForCreate(context.Background(), tt.svc)
			errs := Strategy.Validate(context.Background(), tt.svc)
			if tt.want == "" {
				if len(errs) != 0 {
					t.Fatalf("errors = %v", errs)
				}
				return
			}
			if len(errs) == 0 || !strings.Contains(errs.ToAggregate().Error(), tt.want) {
				t.Fatalf("errors = %v, want %q", errs, tt.want)
			}
		})
	}
}

func TestClusterIPImmutable(t *testing.T) {
	old := newService(corev1.ServicePort{Port: 80})
	old.Spec.ClusterIP = "10.0.0.1"
	old.ResourceVersion = "1"
	Strategy.PrepareForCreate(context.Background(), old)
	s := old.DeepCopy()
	s.Spec.ClusterIP, s.Spec.ClusterIPs = "10.0.0.2", nil
	Strategy.PrepareForUpdate(context.Background(), s, old)
	if errs := Strategy.ValidateUpdate(context.Background(), s, old); len(errs) == 0 || !strings.Contains(errs.ToAggregate().Error(), "spec.clusterIP") {
		t.Errorf("errors = %v", errs)
	}
}

func TestTable(t *testing.T) {
	tests := []struct {
		name  string
		svc   *corev1.Service
		cells []interface{}
	}{
		{
			name: "cluster IP",
			svc: func() *corev1.Service {
				s := newService(corev1.ServicePort{Port: 8080})
				s.Spec.ClusterIP = "10.0.0.1"
				return s
			}(),
			cells: []interface{}{"web", "ClusterIP", "10.0.0.1", "<none>", "8080/TCP"},
		},
		{
			name: "node port",
			svc: func() *corev1.Service {
				s := newService(corev1.ServicePort{Port: 80, NodePort: 30080})
				s.Spec.Type = corev1.ServiceTypeNodePort
				return s
			}(),
			cells: []interface{}{"web", "NodePort", "<none>", "<none>", "80:30080/TCP"},
		},
		{
			name: "pending load balancer",
			svc: func() *corev1.Service {
				s := newService(corev1.ServicePort{Port: 80})
				s.Spec.Type = corev1.ServiceTypeLoadBalancer
				return s
			}(),
			cells: []interface{}{"web", "LoadBalancer", "<none>", "<pending>", "80/TCP"},
		},
		{
			name: "external name",
			svc: func() *corev1.Service {
				s := newService()
				s.Spec.Type, s.Spec.ExternalName = corev1.ServiceTypeExternalName, "db.example.com"
				return s
			}(),
			cells: []interface{}{"web", "ExternalName", "<none>", "db.example.com", "<none>"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			Strategy.PrepareForCreate(context.Background(), tt.svc)
			table, err := TableConvertor.ConvertToTable(context.Background(), tt.svc, nil)
			if err != nil {
				t.Fatal(err)
			}
			cells := table.Rows[0].Cells
			for i, want := range tt.cells {
				if cells[i] != want {
					t.Errorf("cell %d (%s) = %v, want %v", i, table.ColumnDefinitions[i].Name, cells[i], want)
				}
			}
			if cells[6] != "app=web" {
				t.Errorf("selector = %v", cells[6])
			}
		})
	}
}
