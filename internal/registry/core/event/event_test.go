package event

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func newEvent() *corev1.Event {
	return &corev1.Event{
		ObjectMeta:     metav1.ObjectMeta{Name: "app-1.abc", Namespace: "ns"},
		InvolvedObject: corev1.ObjectReference{Kind: "Pod", Name: "app-1", Namespace: "ns", UID: "u1", FieldPath: "spec.containers{app}"},
		Reason:         "Pulled",
		Type:           corev1.EventTypeNormal,
		Message:        "  Pulled image  ",
		Source:         corev1.EventSource{Component: "kubelet", Host: "node1"},
	}
}

func TestValidate(t *testing.T) {
	if errs := Strategy.Validate(context.Background(), newEvent()); len(errs) != 0 {
		t.Errorf("valid event: %v", errs)
	}
	ev := newEvent()
	ev.InvolvedObject.Namespace = "other"
	if errs := Strategy.Validate(context.Background(), ev); len(errs) != 1 || !strings.Contains(errs[0].Error(), "involvedObject.namespace") {
		t.Errorf("mismatched namespace: %v", errs)
	}
	ev = newEvent()
	ev.Namespace, ev.InvolvedObject.Namespace = "default", "" // a cluster-scoped object
	if errs := Strategy.Validate(context.Background(), ev); len(errs) != 0 {
		t.Errorf("cluster-scoped object event: %v", errs)
	}
}

func TestSelectableFields(t *testing.T) {
	set := SelectableFields(newEvent())
	want := map[string]string{
		"involvedObject.kind": "Pod", "involvedObject.name": "app-1", "involvedObject.namespace": "ns",
		"involvedObject.uid": "u1", "reason": "Pulled", "type": "Normal", "source": "kubelet", "metadata.name": "app-1.abc",
	}
	for k, v := range want {
		if set[k] != v {
			t.Errorf("%s = %q, want %q", k, set[k], v)
		}
	}
}

func TestTable(t *testing.T) {
	ev := newEvent()
	ev.FirstTimestamp = metav1.NewTime(time.Now().Add(-20 * time.Minute))
	ev.LastTimestamp = metav1.NewTime(time.Now().Add(-15 * time.Minute))
	ev.Count = 4
	table, err := TableConvertor.ConvertToTable(context.Background(), ev, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []interface{}{"15m", "Normal", "Pulled", "pod/app-1", "spec.containers{app}", "kubelet, node1", "Pulled image", "20m", int64(4), "app-1.abc"}
	for i, w := range want {
		if got := table.Rows[0].Cells[i]; got != w {
			t.Errorf("%s = %v, want %v", table.ColumnDefinitions[i].Name, got, w)
		}
	}

	ev = newEvent() // no timestamps, no count
	table, _ = TableConvertor.ConvertToTable(context.Background(), ev, nil)
	if cells := table.Rows[0].Cells; cells[0] != "<unknown>" || cells[8] != int64(1) {
		t.Errorf("cells = %v", cells)
	}
}
