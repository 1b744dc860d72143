package deploymentconfig

import (
	"fmt"
	"slices"
	"strings"

	appsv1 "github.com/openshift/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/slipway-dev/slipway/internal/registry/printing"
)

// TableConvertor prints DeploymentConfigs as oc does:
// NAME REVISION DESIRED CURRENT TRIGGERED BY.
var TableConvertor = printing.TableConvertor[*appsv1.DeploymentConfig]{
	Columns: []metav1.TableColumnDefinition{
		printing.NameColumn,
		{Name: "Revision", Type: "integer", Description: "The latest version rolled out."},
		{Name: "Desired", Type: "integer", Description: "The desired number of replicas."},
		{Name: "Current", Type: "integer", Description: "The number of replicas running."},
		{Name: "Triggered By", Type: "string", Description: "The triggers that start a rollout."},
	},
	Cells: func(dc *appsv1.DeploymentConfig) []interface{} {
		return []interface{}{dc.Name, dc.Status.LatestVersion, dc.Spec.Replicas, dc.Status.Replicas, DescribeTriggers(dc)}
	},
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
