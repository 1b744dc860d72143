// Package imagegroup assembles the REST storage of the image.openshift.io/v1
// API group for the server wiring.
package imagegroup

import (
	"fmt"

	"k8s.io/apiserver/pkg/authorization/authorizer"
	"k8s.io/apiserver/pkg/registry/generic"
	"k8s.io/apiserver/pkg/registry/rest"

	"github.com/slipway-dev/slipway/internal/registry/image/image"
	"github.com/slipway-dev/slipway/internal/registry/image/imagestream"
	"github.com/slipway-dev/slipway/internal/registry/image/imagestreamimage"
	"github.com/slipway-dev/slipway/internal/registry/image/imagestreamimport"
	"github.com/slipway-dev/slipway/internal/registry/image/imagestreammapping"
	"github.com/slipway-dev/slipway/internal/registry/image/imagestreamsecrets"
	"github.com/slipway-dev/slipway/internal/registry/image/imagestreamtag"
)

// Option configures NewStorage.
type Option func(*options)

type options struct {
	secrets  imagestreamsecrets.SecretsGetter
	importer imagestreamimport.Importer
	authz    authorizer.Authorizer
}

// WithAuthorizer makes a spec tag that points into another namespace need
// the requester's right to read that image stream's layers, as OpenShift
// checks it. Without it, such tags are resolved for anyone.
func WithAuthorizer(a authorizer.Authorizer) Option {
	return func(o *options) { o.authz = a }
}

// WithSecrets gives the group a way to read a namespace's secrets, e.g.
// imagestreamsecrets.FromLister(the core secrets store). Without it,
// imagestreams/secrets and imagestreamimports are not served.
func WithSecrets(secrets imagestreamsecrets.SecretsGetter) Option {
	return func(o *options) { o.secrets = secrets }
}

// WithImporter gives the group the registry client imports use (an
// *image.Client). Without it, imagestreamimports is not served.
func WithImporter(importer imagestreamimport.Importer) Option {
	return func(o *options) { o.importer = importer }
}

// NewStorage returns the image.openshift.io/v1 resources keyed by resource
// path, as apiGroupInfo.VersionedResourcesStorageMap["v1"] wants them.
// registryHostname is the internal registry's host[:port] that
// imagestreams' status.dockerImageRepository is made of; "" means no
// registry is configured and leaves that field empty.
func NewStorage(optsGetter generic.RESTOptionsGetter, registryHostname string, opts ...Option) (map[string]rest.Storage, error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	images, err := image.NewREST(optsGetter)
	if err != nil {
		return nil, fmt.Errorf("images storage: %w", err)
	}
	streams, err := imagestream.NewREST(optsGetter, registryHostname)
	if err != nil {
		return nil, fmt.Errorf("imagestreams storage: %w", err)
	}
	if o.authz != nil {
		streams.ImageStream.Strategy.SetAuthorizer(o.authz)
	}
	storage := map[string]rest.Storage{
		"images":              images,
		"imagestreams":        streams.ImageStream,
		"imagestreams/status": streams.Status,
		// Tags are written through the internal stream store, which keeps
		// status in the same write (deleting a tag drops its history).
		"imagestreamtags": imagestreamtag.NewREST(streams.Internal, images),
		// The internal registry posts these on a manifest PUT by tag.
		"imagestreammappings": imagestreammapping.NewREST(images, streams.Internal),
		"imagestreamimages":   imagestreamimage.NewREST(streams.ImageStream, images),
	}
	if o.secrets != nil {
		storage["imagestreams/secrets"] = imagestreamsecrets.NewREST(o.secrets)
		if o.importer != nil {
			storage["imagestreamimports"] = imagestreamimport.NewREST(streams.Internal, images, o.secrets, o.importer)
		}
	}
	// A later issue adds "imagestreams/layers" (registry authorisation,
	// blobs per stream) on top of streams.Internal and images.
	return storage, nil
}
