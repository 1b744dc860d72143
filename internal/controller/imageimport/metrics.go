package imageimport

import (
	"sync"

	"k8s.io/component-base/metrics"
	"k8s.io/component-base/metrics/legacyregistry"
)

// Metrics of scheduled and notified checks, on the API server's /metrics
// through component-base's legacy registry.
var (
	checksTotal = metrics.NewCounterVec(&metrics.CounterOpts{
		Namespace:      "slipway",
		Subsystem:      "image_import",
		Name:           "checks_total",
		Help:           "Tags checked by scheduled import or registry notifications, by result (success or failure).",
		StabilityLevel: metrics.ALPHA,
	}, []string{"result"})
	changesTotal = metrics.NewCounter(&metrics.CounterOpts{
		Namespace:      "slipway",
		Subsystem:      "image_import",
		Name:           "changes_total",
		Help:           "Checked tags whose image changed.",
		StabilityLevel: metrics.ALPHA,
	})
	errorsTotal = metrics.NewCounterVec(&metrics.CounterOpts{
		Namespace:      "slipway",
		Subsystem:      "image_import",
		Name:           "errors_total",
		Help:           "Failed tag checks and imports, by reason (Unauthorized, NotFound, TooManyRequests, InternalError, or RequestFailed when the API refused the import).",
		StabilityLevel: metrics.ALPHA,
	}, []string{"reason"})
	scheduledTagsGauge = metrics.NewGauge(&metrics.GaugeOpts{
		Namespace:      "slipway",
		Subsystem:      "image_import",
		Name:           "scheduled_tags",
		Help:           "Image stream tags with importPolicy.scheduled that the scheduler checks.",
		StabilityLevel: metrics.ALPHA,
	})
	registerMetrics sync.Once
)

// reasonRequestFailed labels errors of the import request itself.
const reasonRequestFailed = "RequestFailed"

// register adds the metrics to the legacy registry the first time a
// controller is made (a second controller in one process shares them).
func register() {
	registerMetrics.Do(func() {
		legacyregistry.MustRegister(checksTotal, changesTotal, errorsTotal, scheduledTagsGauge)
	})
}
