package build

import (
	"context"
	"fmt"
	"time"

	buildv1 "github.com/openshift/api/build/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/duration"

	"github.com/slipway-dev/slipway/internal/registry/build/buildspec"
)

// columns are oc's Build columns: NAME TYPE FROM STATUS STARTED DURATION.
var columns = []metav1.TableColumnDefinition{
	{Name: "Name", Type: "string", Format: "name", Description: "Name must be unique within a namespace."},
	{Name: "Type", Type: "string", Description: "The build strategy type."},
	{Name: "From", Type: "string", Description: "The source type, with the short commit when known."},
	{Name: "Status", Type: "string", Description: "The build phase, with the reason when there is one."},
	{Name: "Started", Type: "string", Description: "How long ago the build started."},
	{Name: "Duration", Type: "string", Description: "How long the build ran."},
}

// now is the clock the STARTED column measures against; tests replace it.
var now = time.Now

// TableConvertor prints Builds as oc does.
type TableConvertor struct{}

// ConvertToTable converts a Build or a BuildList to a table.
func (TableConvertor) ConvertToTable(_ context.Context, obj runtime.Object, tableOptions runtime.Object) (*metav1.Table, error) {
	table := &metav1.Table{}
	if opts, ok := tableOptions.(*metav1.TableOptions); !ok || !opts.NoHeaders {
		table.ColumnDefinitions = columns
	}
	var items []buildv1.Build
	switch o := obj.(type) {
	case *buildv1.Build:
		items = []buildv1.Build{*o}
		table.ResourceVersion = o.ResourceVersion
	case *buildv1.BuildList:
		items = o.Items
		table.ResourceVersion, table.Continue, table.RemainingItemCount = o.ResourceVersion, o.Continue, o.RemainingItemCount
	default:
		return nil, fmt.Errorf("cannot print %T as a Build table", obj)
	}
	table.Rows = make([]metav1.TableRow, 0, len(items))
	for i := range items {
		table.Rows = append(table.Rows, row(&items[i], now()))
	}
	return table, nil
}

func row(b *buildv1.Build, at time.Time) metav1.TableRow {
	status := string(b.Status.Phase)
	if b.Status.Reason != "" {
		status = fmt.Sprintf("%s (%s)", status, b.Status.Reason)
	}
	started := ""
	if start := b.Status.StartTimestamp; start != nil {
		started = duration.HumanDuration(at.Sub(start.Time)) + " ago"
	}
	return metav1.TableRow{
		Cells: []interface{}{
			b.Name,
			buildspec.DescribeStrategy(b.Spec.Strategy),
			buildspec.DescribeSource(b.Spec.Source, buildspec.ShortCommit(b.Spec.Revision)),
			status,
			started,
			describeDuration(b.Status),
		},
		Object: runtime.RawExtension{Object: b},
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
