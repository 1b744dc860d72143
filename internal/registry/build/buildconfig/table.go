package buildconfig

import (
	buildv1 "github.com/openshift/api/build/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/slipway-dev/slipway/internal/registry/build/buildspec"
	"github.com/slipway-dev/slipway/internal/registry/printing"
)

// TableConvertor prints BuildConfigs as oc does: NAME TYPE FROM LATEST.
var TableConvertor = printing.TableConvertor[*buildv1.BuildConfig]{
	Columns: []metav1.TableColumnDefinition{
		printing.NameColumn,
		{Name: "Type", Type: "string", Description: "The build strategy type."},
		{Name: "From", Type: "string", Description: "The source type, with the git ref when one is set."},
		{Name: "Latest", Type: "integer", Description: "The number of the latest build of this configuration."},
	},
	Cells: cells,
}

func cells(bc *buildv1.BuildConfig) []interface{} {
	ref := ""
	if bc.Spec.Source.Git != nil {
		ref = bc.Spec.Source.Git.Ref
	}
	return []interface{}{
		bc.Name,
		buildspec.DescribeStrategy(bc.Spec.Strategy),
		buildspec.DescribeSource(bc.Spec.Source, ref),
		bc.Status.LastVersion,
	}
}
