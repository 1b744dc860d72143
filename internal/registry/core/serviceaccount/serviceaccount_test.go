package serviceaccount

import (
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		sa   corev1.ServiceAccount
		want string
	}{
		{name: "valid", sa: corev1.ServiceAccount{Secrets: []corev1.ObjectReference{{Name: "builder-dockercfg-x"}}, ImagePullSecrets: []corev1.LocalObjectReference{{Name: "pull"}}}},
		{name: "unnamed secret", sa: corev1.ServiceAccount{Secrets: []corev1.ObjectReference{{Kind: "Secret"}}}, want: "secrets[0].name: Required value"},
		{name: "unnamed pull secret", sa: corev1.ServiceAccount{ImagePullSecrets: []corev1.LocalObjectReference{{Name: "ok"}, {}}}, want: "imagePullSecrets[1].name: Required value"},
		{name: "bad secret name", sa: corev1.ServiceAccount{Secrets: []corev1.ObjectReference{{Name: "Bad_Name"}}}, want: "secrets[0].name: Invalid value"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.sa.ObjectMeta = metav1.ObjectMeta{Name: "builder", Namespace: "ns"}
			errs := Strategy.Validate(context.Background(), &tt.sa)
			if tt.want == "" {
				if len(errs) != 0 {
					t.Fatalf("errors = %v", errs)
				}
				return
			}
			if len(errs) != 1 || !strings.Contains(errs[0].Error(), tt.want) {
				t.Fatalf("errors = %v, want %q", errs, tt.want)
			}
		})
	}
}

func TestTable(t *testing.T) {
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "builder"}, Secrets: []corev1.ObjectReference{{Name: "a"}, {Name: "b"}}}
	table, err := TableConvertor.ConvertToTable(context.Background(), sa, nil)
	if err != nil {
		t.Fatal(err)
	}
	if cells := table.Rows[0].Cells; cells[0] != "builder" || cells[1] != int64(2) || cells[2] != "<unknown>" {
		t.Errorf("cells = %v", cells)
	}
}
