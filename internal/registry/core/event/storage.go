package event

import (
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apiserver/pkg/registry/generic"
	genericregistry "k8s.io/apiserver/pkg/registry/generic/registry"

	"github.com/slipway-dev/slipway/internal/registry/core/printing"
	"github.com/slipway-dev/slipway/internal/registry/storebase"
)

// TTL is how long an event is kept after its last write, Kubernetes' default.
const TTL = time.Hour

// NewREST returns the storage of events.
func NewREST(optsGetter generic.RESTOptionsGetter) (*genericregistry.Store, error) {
	return storebase.NewStore(optsGetter, storebase.Resource{
		Plural:   "events",
		Singular: "event",
		New:      func() runtime.Object { return &corev1.Event{} },
		NewList:  func() runtime.Object { return &corev1.EventList{} },
		Strategy: Strategy,
		Table:    TableConvertor,
		Attrs:    GetAttrs,
		Customize: func(store *genericregistry.Store) {
			store.TTLFunc = func(runtime.Object, uint64, bool) (uint64, error) {
				return uint64(TTL.Seconds()), nil
			}
		},
	})
}

// TableConvertor prints events as kubectl does: LAST SEEN TYPE REASON
// OBJECT MESSAGE, with SUBOBJECT SOURCE FIRST SEEN COUNT NAME for -o wide.
var TableConvertor = printing.TableConvertor[*corev1.Event]{
	Columns: []metav1.TableColumnDefinition{
		{Name: "Last Seen", Type: "string", Description: "The time at which the most recent occurrence of this event was recorded."},
		{Name: "Type", Type: "string", Description: "Type of this event (Normal, Warning)."},
		{Name: "Reason", Type: "string", Description: "A short, machine understandable string that gives the reason for the transition into the object's current status."},
		{Name: "Object", Type: "string", Description: "The object this event is about."},
		{Name: "Subobject", Type: "string", Priority: 1, Description: "The field of the object this event is about."},
		{Name: "Source", Type: "string", Priority: 1, Description: "The component reporting this event."},
		{Name: "Message", Type: "string", Description: "A human-readable description of the status of this operation."},
		{Name: "First Seen", Type: "string", Priority: 1, Description: "The time at which the event was first recorded."},
		{Name: "Count", Type: "string", Priority: 1, Description: "The number of times this event has occurred."},
		{Name: "Name", Type: "string", Priority: 1, Format: "name", Description: "Name of the event."},
	},
	Cells: eventCells,
}

func eventCells(ev *corev1.Event) []interface{} {
	firstSeen := printing.Age(ev.FirstTimestamp)
	if ev.FirstTimestamp.IsZero() {
		firstSeen = printing.Age(metav1.Time(ev.EventTime))
	}
	lastSeen := printing.Age(ev.LastTimestamp)
	if ev.LastTimestamp.IsZero() {
		lastSeen = firstSeen
	}
	count := ev.Count
	if ev.Series != nil {
		lastSeen = printing.Age(metav1.Time(ev.Series.LastObservedTime))
		count = ev.Series.Count
	} else if count == 0 {
		count = 1
	}
	object := strings.ToLower(ev.InvolvedObject.Kind)
	if ev.InvolvedObject.Name != "" {
		object = fmt.Sprintf("%s/%s", object, ev.InvolvedObject.Name)
	}
	return []interface{}{
		lastSeen, ev.Type, ev.Reason, object, ev.InvolvedObject.FieldPath,
		eventSource(ev), strings.TrimSpace(ev.Message), firstSeen, int64(count), ev.Name,
	}
}

// eventSource prints "component, host", falling back to the reporting
// controller and instance of new-style events.
func eventSource(ev *corev1.Event) string {
	component, host := ev.Source.Component, ev.Source.Host
	if component == "" {
		component, host = ev.ReportingController, ev.ReportingInstance
	}
	if host == "" {
		return component
	}
	return component + ", " + host
}
