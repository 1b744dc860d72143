package deploymentconfig

import (
	"context"
	"fmt"
	"slices"
	"strings"

	appsv1 "github.com/openshift/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// columns are oc's DeploymentConfig columns:
// NAME REVISION DESIRED CURRENT TRIGGERED BY.
var columns = []metav1.TableColumnDefinition{
	{Name: "Name", Type: "string", Format: "name", Description: "Name must be unique within a namespace."},
	{Name: "Revision", Type: "integer", Description: "The latest version rolled out."},
	{Name: "Desired", Type: "integer", Description: "The desired number of replicas."},
	{Name: "Current", Type: "integer", Description: "The number of replicas running."},
	{Name: "Triggered By", Type: "string", Description: "The triggers that start a rollout."},
}

// TableConvertor prints DeploymentConfigs as oc does.
type TableConvertor struct{}

// ConvertToTable converts a DeploymentConfig or a DeploymentConfigList to a
// table.
func (TableConvertor) ConvertToTable(_ context.Context, obj runtime.Object, tableOptions runtime.Object) (*metav1.Table, error) {
	table := &metav1.Table{}
	if opts, ok := tableOptions.(*metav1.TableOptions); !ok || !opts.NoHeaders {
		table.ColumnDefinitions = columns
	}
	var items []appsv1.DeploymentConfig
	switch o := obj.(type) {
	case *appsv1.DeploymentConfig:
		items = []appsv1.DeploymentConfig{*o}
		table.ResourceVersion = o.ResourceVersion
	case *appsv1.DeploymentConfigList:
		items = o.Items
		table.ResourceVersion, table.Continue, table.RemainingItemCount = o.ResourceVersion, o.Continue, o.RemainingItemCount
	default:
		return nil, fmt.Errorf("cannot print %T as a DeploymentConfig table", obj)
	}
	table.Rows = make([]metav1.TableRow, 0, len(items))
	for i := range items {
		dc := &items[i]
		table.Rows = append(table.Rows, metav1.TableRow{
			Cells:  []interface{}{dc.Name, dc.Status.LatestVersion, dc.Spec.Replicas, dc.Status.Replicas, DescribeTriggers(dc)},
			Object: runtime.RawExtension{Object: dc},
		})
	}
	return table, nil
}

// DescribeTriggers returns the TRIGGERED BY column as oc prints it:
// "config" for a ConfigChange trigger and "image(<stream>:<tag>)" for each
// automatic ImageChange trigger, comma separated. When the template has
// several containers and a trigger updates only some, their names prefix
// the tag: "image(web,sidecar:app:latest)".
func DescribeTriggers(dc *appsv1.DeploymentConfig) string {
	var containers []string
	if dc.Spec.Template != nil {
		for _, c := range dc.Spec.Template.Spec.Containers {
			containers = append(containers, c.Name)
		}
	}
	var triggers []string
	for _, t := range dc.Spec.Triggers {
		switch t.Type {
		case appsv1.DeploymentTriggerOnConfigChange:
			triggers = append(triggers, "config")
		case appsv1.DeploymentTriggerOnImageChange:
			p := t.ImageChangeParams
			if p == nil || !p.Automatic {
				continue
			}
			prefix := ""
			if len(containers) != 1 && !coversAll(p.ContainerNames, containers) {
				names := slices.Clone(p.ContainerNames)
				slices.Sort(names)
				prefix = strings.Join(names, ",") + ":"
			}
			triggers = append(triggers, fmt.Sprintf("image(%s%s)", prefix, p.From.Name))
		default:
			triggers = append(triggers, string(t.Type))
		}
	}
	return strings.Join(triggers, ",")
}

// coversAll reports whether names includes every container.
func coversAll(names, containers []string) bool {
	for _, c := range containers {
		if !slices.Contains(names, c) {
			return false
		}
	}
	return true
}
