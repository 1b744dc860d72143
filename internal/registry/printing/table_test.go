package printing

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

var names = TableConvertor[*corev1.ConfigMap]{
	Columns: []metav1.TableColumnDefinition{NameColumn},
	Cells:   func(cm *corev1.ConfigMap) []interface{} { return []interface{}{cm.Name} },
}

func TestConvertList(t *testing.T) {
	list := &corev1.ConfigMapList{
		ListMeta: metav1.ListMeta{ResourceVersion: "42", Continue: "next"},
		Items:    []corev1.ConfigMap{{ObjectMeta: metav1.ObjectMeta{Name: "a"}}, {ObjectMeta: metav1.ObjectMeta{Name: "b"}}},
	}
	table, err := names.ConvertToTable(context.Background(), list, &metav1.TableOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if table.ResourceVersion != "42" || table.Continue != "next" || len(table.ColumnDefinitions) != 1 {
		t.Errorf("table meta = %+v, columns %d", table.ListMeta, len(table.ColumnDefinitions))
	}
	if len(table.Rows) != 2 || table.Rows[1].Cells[0] != "b" || table.Rows[1].Object.Object.(*corev1.ConfigMap).Name != "b" {
		t.Errorf("rows = %+v", table.Rows)
	}
	empty, err := names.ConvertToTable(context.Background(), &corev1.ConfigMapList{}, nil)
	if err != nil || empty.Rows == nil || len(empty.Rows) != 0 {
		t.Errorf("empty list: rows %v err %v", empty.Rows, err)
	}
}

func TestConvertWrongType(t *testing.T) {
	if _, err := names.ConvertToTable(context.Background(), &corev1.Secret{}, nil); err == nil {
		t.Error("a Secret was printed by a ConfigMap table")
	}
}

func TestSince(t *testing.T) {
	now := time.Now()
	tests := []struct {
		at   metav1.Time
		want string
	}{
		{metav1.Time{}, "<unknown>"},
		{metav1.NewTime(now.Add(-30 * time.Second)), "30s"},
		{metav1.NewTime(now.Add(-15 * time.Minute)), "15m"},
		{metav1.NewTime(now.Add(-72 * time.Hour)), "3d"},
	}
	for _, tt := range tests {
		if got := Since(tt.at, now); got != tt.want {
			t.Errorf("Since(%v) = %q, want %q", tt.at, got, tt.want)
		}
	}
}
