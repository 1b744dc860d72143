package worker

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/tools/record"
)

// Events is a controller's event recorder. What it records reaches the API
// from Start on.
type Events struct {
	record.EventRecorder
	broadcaster record.EventBroadcaster
}

// NewEvents returns the event recorder of component; scheme knows the
// kinds of the objects the events are about.
func NewEvents(scheme *runtime.Scheme, component string) *Events {
	broadcaster := record.NewBroadcaster()
	return &Events{
		EventRecorder: broadcaster.NewRecorder(scheme, corev1.EventSource{Component: component}),
		broadcaster:   broadcaster,
	}
}

// Start sends the recorded events to sink (a client's Events("")) until
// the func it returns is called.
func (e *Events) Start(sink typedcorev1.EventInterface) (stop func()) {
	e.broadcaster.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: sink})
	return e.broadcaster.Shutdown
}
