package configmap

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
		cm   corev1.ConfigMap
		want string
	}{
		{name: "valid", cm: corev1.ConfigMap{Data: map[string]string{"app.properties": "x"}, BinaryData: map[string][]byte{"logo.png": {1}}}},
		{name: "bad key", cm: corev1.ConfigMap{Data: map[string]string{"a b": "x"}}, want: "data[a b]: Invalid value"},
		{name: "key in both", cm: corev1.ConfigMap{Data: map[string]string{"k": "x"}, BinaryData: map[string][]byte{"k": {1}}}, want: "duplicate of key present in binaryData"},
		{name: "too large", cm: corev1.ConfigMap{Data: map[string]string{"k": strings.Repeat("x", MaxConfigMapSize+1)}}, want: "Too long"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.cm.ObjectMeta = metav1.ObjectMeta{Name: "cm", Namespace: "ns"}
			errs := Strategy.Validate(context.Background(), &tt.cm)
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

func TestImmutable(t *testing.T) {
	yes := true
	old := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "cm", Namespace: "ns", ResourceVersion: "1"}, Data: map[string]string{"a": "1"}, Immutable: &yes}
	cm := old.DeepCopy()
	cm.Data["a"] = "2"
	if errs := Strategy.ValidateUpdate(context.Background(), cm, old); len(errs) != 1 || !strings.Contains(errs[0].Error(), "data: Forbidden") {
		t.Errorf("errors = %v", errs)
	}
	cm = old.DeepCopy()
	cm.Labels = map[string]string{"a": "b"}
	if errs := Strategy.ValidateUpdate(context.Background(), cm, old); len(errs) != 0 {
		t.Errorf("label change on immutable: %v", errs)
	}
}

func TestTable(t *testing.T) {
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "cm"}, Data: map[string]string{"a": "1", "b": "2"}, BinaryData: map[string][]byte{"c": nil}}
	table, err := TableConvertor.ConvertToTable(context.Background(), cm, nil)
	if err != nil {
		t.Fatal(err)
	}
	if cells := table.Rows[0].Cells; cells[0] != "cm" || cells[1] != int64(3) {
		t.Errorf("cells = %v", cells)
	}
}
