// Package buildregistry assembles the REST storage of the
// build.openshift.io/v1 API group.
package buildregistry

import (
	"fmt"

	"k8s.io/apiserver/pkg/registry/generic"
	"k8s.io/apiserver/pkg/registry/rest"

	"github.com/slipway-dev/slipway/internal/registry/build/build"
	"github.com/slipway-dev/slipway/internal/registry/build/buildconfig"
	"github.com/slipway-dev/slipway/internal/scheme"
)

// NewStorage returns the group's resources keyed by their path under
// /apis/build.openshift.io/v1, ready for VersionedResourcesStorageMap["v1"].
// It also registers the Build field selectors (status, status.phase) on
// scheme.Scheme, without which the server refuses them.
func NewStorage(optsGetter generic.RESTOptionsGetter) (map[string]rest.Storage, error) {
	if err := build.AddFieldLabelConversions(scheme.Scheme); err != nil {
		return nil, fmt.Errorf("registering build field selectors: %w", err)
	}
	buildConfigs, buildConfigStatus, err := buildconfig.NewREST(optsGetter)
	if err != nil {
		return nil, fmt.Errorf("creating buildconfig storage: %w", err)
	}
	builds, buildStatus, err := build.NewREST(optsGetter)
	if err != nil {
		return nil, fmt.Errorf("creating build storage: %w", err)
	}
	storage := map[string]rest.Storage{
		"buildconfigs":        buildConfigs,
		"buildconfigs/status": buildConfigStatus,
		"builds":              builds,
		"builds/status":       buildStatus,
	}
	// Subresources later issues add here:
	//   buildconfigs/instantiate, buildconfigs/instantiatebinary,
	//   buildconfigs/webhooks (the build generator and webhook handlers),
	//   builds/clone, builds/log, builds/details (the builder's status writes).
	return storage, nil
}
