package buildconfig

import (
	"context"
	"fmt"

	buildv1 "github.com/openshift/api/build/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/slipway-dev/slipway/internal/registry/build/buildspec"
)

// columns are oc's BuildConfig columns: NAME TYPE FROM LATEST.
var columns = []metav1.TableColumnDefinition{
	{Name: "Name", Type: "string", Format: "name", Description: "Name must be unique within a namespace."},
	{Name: "Type", Type: "string", Description: "The build strategy type."},
	{Name: "From", Type: "string", Description: "The source type, with the git ref when one is set."},
	{Name: "Latest", Type: "integer", Description: "The number of the latest build of this configuration."},
}

// TableConvertor prints BuildConfigs as oc does.
type TableConvertor struct{}

// ConvertToTable converts a BuildConfig or a BuildConfigList to a table.
func (TableConvertor) ConvertToTable(_ context.Context, obj runtime.Object, tableOptions runtime.Object) (*metav1.Table, error) {
	table := &metav1.Table{}
	if opts, ok := tableOptions.(*metav1.TableOptions); !ok || !opts.NoHeaders {
		table.ColumnDefinitions = columns
	}
	var items []buildv1.BuildConfig
	switch o := obj.(type) {
	case *buildv1.BuildConfig:
		items = []buildv1.BuildConfig{*o}
		table.ResourceVersion = o.ResourceVersion
	case *buildv1.BuildConfigList:
		items = o.Items
		table.ResourceVersion, table.Continue, table.RemainingItemCount = o.ResourceVersion, o.Continue, o.RemainingItemCount
	default:
		return nil, fmt.Errorf("cannot print %T as a BuildConfig table", obj)
	}
	table.Rows = make([]metav1.TableRow, 0, len(items))
	for i := range items {
		table.Rows = append(table.Rows, row(&items[i]))
	}
	return table, nil
}

func row(bc *buildv1.BuildConfig) metav1.TableRow {
	ref := ""
	if bc.Spec.Source.Git != nil {
		ref = bc.Spec.Source.Git.Ref
	}
	return metav1.TableRow{
		Cells: []interface{}{
			bc.Name,
			buildspec.DescribeStrategy(bc.Spec.Strategy),
			buildspec.DescribeSource(bc.Spec.Source, ref),
			bc.Status.LastVersion,
		},
		Object: runtime.RawExtension{Object: bc},
	}
}
