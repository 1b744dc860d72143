package build

import (
	"fmt"
	"time"

	buildv1 "github.com/openshift/api/build/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/duration"

	"github.com/slipway-dev/slipway/internal/registry/build/buildspec"
	"github.com/slipway-dev/slipway/internal/registry/printing"
)

// now is the clock the STARTED column measures against; tests replace it.
var now = time.Now

// TableConvertor prints Builds as oc does:
// NAME TYPE FROM STATUS STARTED DURATION.
var TableConvertor = printing.TableConvertor[*buildv1.Build]{
	Columns: []metav1.TableColumnDefinition{
		printing.NameColumn,
		{Name: "Type", Type: "string", Description: "The build strategy type."},
		{Name: "From", Type: "string", Description: "The source type, with the short commit when known."},
		{Name: "Status", Type: "string", Description: "The build phase, with the reason when there is one."},
		{Name: "Started", Type: "string", Description: "How long ago the build started."},
		{Name: "Duration", Type: "string", Description: "How long the build ran."},
	},
	Cells: func(b *buildv1.Build) []interface{} { return cells(b, now()) },
}

func cells(b *buildv1.Build, at time.Time) []interface{} {
	status := string(b.Status.Phase)
	if b.Status.Reason != "" {
		status = fmt.Sprintf("%s (%s)", status, b.Status.Reason)
	}
	started := ""
	if start := b.Status.StartTimestamp; start != nil {
		started = duration.HumanDuration(at.Sub(start.Time)) + " ago"
	}
	return []interface{}{
		b.Name,
		buildspec.DescribeStrategy(b.Spec.Strategy),
		buildspec.DescribeSource(b.Spec.Source, buildspec.ShortCommit(b.Spec.Revision)),
		status,
		started,
		describeDuration(b.Status),
	}
}

// describeDuration prints how long a finished build ran, in whole seconds
// ("12s", "1m5s"); "" while it has not finished.
func describeDuration(s buildv1.BuildStatus) string {
	d := s.Duration
	if d == 0 && s.StartTimestamp != nil && s.CompletionTimestamp != nil {
		d = s.CompletionTimestamp.Sub(s.StartTimestamp.Time)
	}
	if d <= 0 {
		return ""
	}
	if d >= time.Second {
		d = d.Round(time.Second)
	}
	return d.String()
}
