// Package appsregistry assembles the REST storage of the
// apps.openshift.io/v1 API group.
package appsregistry

import (
	"fmt"

	imageclient "github.com/openshift/client-go/image/clientset/versioned"
	"k8s.io/apiserver/pkg/registry/generic"
	"k8s.io/apiserver/pkg/registry/rest"
	"k8s.io/client-go/kubernetes"
	restclient "k8s.io/client-go/rest"

	"github.com/slipway-dev/slipway/internal/registry/apps/deploymentconfig"
)

// Option configures NewStorage.
type Option func(*options)

type options struct {
	loopback *restclient.Config
}

// WithLoopbackConfig gives the subresources that read other resources
// (deployments, pods, image streams) a privileged client of this API
// server. They work through the API, like a controller, so they also run
// against a cluster. Without it, deploymentconfigs/instantiate, /rollback
// and /log are not served.
func WithLoopbackConfig(config *restclient.Config) Option {
	return func(o *options) { o.loopback = config }
}

// NewStorage returns the group's resources keyed by their path under
// /apis/apps.openshift.io/v1, ready for VersionedResourcesStorageMap["v1"].
func NewStorage(optsGetter generic.RESTOptionsGetter, opts ...Option) (map[string]rest.Storage, error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	var clients *deploymentconfig.Clients
	if o.loopback != nil {
		var err error
		if clients, err = newClients(o.loopback); err != nil {
			return nil, err
		}
	}
	dc, err := deploymentconfig.NewStorage(optsGetter, clients)
	if err != nil {
		return nil, fmt.Errorf("creating deploymentconfig storage: %w", err)
	}
	storage := map[string]rest.Storage{
		"deploymentconfigs":        dc.DeploymentConfig,
		"deploymentconfigs/status": dc.Status,
		"deploymentconfigs/scale":  dc.Scale,
	}
	if clients != nil {
		storage["deploymentconfigs/instantiate"] = dc.Instantiate
		storage["deploymentconfigs/rollback"] = dc.Rollback
		storage["deploymentconfigs/log"] = dc.Log
	}
	return storage, nil
}

func newClients(loopback *restclient.Config) (*deploymentconfig.Clients, error) {
	config := restclient.CopyConfig(loopback)
	config.UserAgent = "slipway-deploymentconfigs"
	core, err := kubernetes.NewForConfig(config)
	if err != nil {
		return nil, fmt.Errorf("core client for deploymentconfigs: %w", err)
	}
	images, err := imageclient.NewForConfig(config)
	if err != nil {
		return nil, fmt.Errorf("image client for deploymentconfigs: %w", err)
	}
	return &deploymentconfig.Clients{Core: core.CoreV1(), Images: images.ImageV1()}, nil
}
