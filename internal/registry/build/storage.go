// Package buildregistry assembles the REST storage of the
// build.openshift.io/v1 API group.
package buildregistry

import (
	"fmt"

	buildclient "github.com/openshift/client-go/build/clientset/versioned"
	imageclient "github.com/openshift/client-go/image/clientset/versioned"
	"k8s.io/apiserver/pkg/registry/generic"
	"k8s.io/apiserver/pkg/registry/rest"
	"k8s.io/client-go/kubernetes"
	restclient "k8s.io/client-go/rest"

	"github.com/slipway-dev/slipway/internal/buildgenerator"
	"github.com/slipway-dev/slipway/internal/podlogs"
	"github.com/slipway-dev/slipway/internal/registry/build/build"
	"github.com/slipway-dev/slipway/internal/registry/build/buildconfig"
	"github.com/slipway-dev/slipway/internal/registry/build/webhook"
	"github.com/slipway-dev/slipway/internal/registry/storebase"
	"github.com/slipway-dev/slipway/internal/scheme"
)

// Option configures NewStorage.
type Option func(*options)

type options struct {
	loopback      *restclient.Config
	maxBinarySize int64
}

// WithMaxBinarySize bounds the input of buildconfigs/instantiatebinary
// to n bytes: a larger upload is answered 413 (default
// DefaultMaxBinarySize; zero or less is no bound).
func WithMaxBinarySize(n int64) Option {
	return func(o *options) { o.maxBinarySize = n }
}

// WithLoopbackConfig gives the build generator a privileged client of this
// API server (the server's loopback configuration). The generator works
// through the API, like a controller, so it also runs against a cluster.
// Without it, buildconfigs/instantiate, builds/clone and the webhooks are
// not served.
func WithLoopbackConfig(config *restclient.Config) Option {
	return func(o *options) { o.loopback = config }
}

// NewStorage returns the group's resources keyed by their path under
// /apis/build.openshift.io/v1, ready for VersionedResourcesStorageMap["v1"].
// It also registers the Build field selectors (status, status.phase) on
// scheme.Scheme, without which the server refuses them.
func NewStorage(optsGetter generic.RESTOptionsGetter, opts ...Option) (map[string]rest.Storage, error) {
	o := options{maxBinarySize: DefaultMaxBinarySize}
	for _, opt := range opts {
		opt(&o)
	}
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
		"builds/details":      storebase.NewSubresourceREST(builds.Store, DetailsStrategy),
	}
	if o.loopback != nil {
		c, err := newClients(o.loopback)
		if err != nil {
			return nil, err
		}
		generator := buildgenerator.New(c.builds.BuildV1(), c.images.ImageV1(), c.core.CoreV1())
		storage["buildconfigs/instantiate"] = &InstantiateREST{generator: generator}
		storage["builds/clone"] = &CloneREST{generator: generator}
		if err := webhook.AddConversions(scheme.Scheme); err != nil {
			return nil, fmt.Errorf("registering webhook options: %w", err)
		}
		storage["buildconfigs/webhooks"] = webhook.NewREST(c.builds.BuildV1(), c.core.CoreV1(), generator)
		// instantiatebinary writes the input into the build pod's stdin,
		// a FIFO of the node agent under the server's data directory.
		if dir, ok := podlogs.DirOf(optsGetter); ok {
			storage["buildconfigs/instantiatebinary"] = &InstantiateBinaryREST{generator: generator,
				builds: c.builds.BuildV1(), pods: c.core.CoreV1(), dir: dir, timeout: binaryTimeout, maxSize: o.maxBinarySize}
		}
	}
	// builds/log reads the build pod's log from the node agent's files,
	// found through the directory optsGetter carries (podlogs.WithDir).
	storage["builds/log"] = build.NewLogREST(builds.Store, optsGetter)
	return storage, nil
}

type clients struct {
	builds buildclient.Interface
	images imageclient.Interface
	core   kubernetes.Interface
}

func newClients(loopback *restclient.Config) (*clients, error) {
	config := restclient.CopyConfig(loopback)
	config.UserAgent = "slipway-build-generator"
	var c clients
	var err error
	if c.builds, err = buildclient.NewForConfig(config); err != nil {
		return nil, fmt.Errorf("build client for the generator: %w", err)
	}
	if c.images, err = imageclient.NewForConfig(config); err != nil {
		return nil, fmt.Errorf("image client for the generator: %w", err)
	}
	if c.core, err = kubernetes.NewForConfig(config); err != nil {
		return nil, fmt.Errorf("core client for the generator: %w", err)
	}
	return &c, nil
}
