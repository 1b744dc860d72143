// Package appsregistry assembles the REST storage of the
// apps.openshift.io/v1 API group.
package appsregistry

import (
	"fmt"

	"k8s.io/apiserver/pkg/registry/generic"
	"k8s.io/apiserver/pkg/registry/rest"

	"github.com/slipway-dev/slipway/internal/registry/apps/deploymentconfig"
)

// NewStorage returns the group's resources keyed by their path under
// /apis/apps.openshift.io/v1, ready for VersionedResourcesStorageMap["v1"].
func NewStorage(optsGetter generic.RESTOptionsGetter) (map[string]rest.Storage, error) {
	dc, err := deploymentconfig.NewStorage(optsGetter)
	if err != nil {
		return nil, fmt.Errorf("creating deploymentconfig storage: %w", err)
	}
	storage := map[string]rest.Storage{
		"deploymentconfigs":        dc.DeploymentConfig,
		"deploymentconfigs/status": dc.Status,
		"deploymentconfigs/scale":  dc.Scale,
	}
	// Subresources later issues add here:
	//   deploymentconfigs/instantiate (DeploymentRequest), deploymentconfigs/rollback
	//   (DeploymentConfigRollback), deploymentconfigs/log (DeploymentLog).
	return storage, nil
}
