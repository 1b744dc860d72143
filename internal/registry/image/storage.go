// Package imagegroup assembles the REST storage of the image.openshift.io/v1
// API group for the server wiring.
package imagegroup

import (
	"fmt"

	"k8s.io/apiserver/pkg/registry/generic"
	"k8s.io/apiserver/pkg/registry/rest"

	"github.com/slipway-dev/slipway/internal/registry/image/image"
	"github.com/slipway-dev/slipway/internal/registry/image/imagestream"
	"github.com/slipway-dev/slipway/internal/registry/image/imagestreammapping"
	"github.com/slipway-dev/slipway/internal/registry/image/imagestreamtag"
)

// NewStorage returns the image.openshift.io/v1 resources keyed by resource
// path, as apiGroupInfo.VersionedResourcesStorageMap["v1"] wants them.
// registryHostname is the internal registry's host[:port] that
// imagestreams' status.dockerImageRepository is made of; "" means no
// registry is configured and leaves that field empty.
func NewStorage(optsGetter generic.RESTOptionsGetter, registryHostname string) (map[string]rest.Storage, error) {
	images, err := image.NewREST(optsGetter)
	if err != nil {
		return nil, fmt.Errorf("images storage: %w", err)
	}
	streams, err := imagestream.NewREST(optsGetter, registryHostname)
	if err != nil {
		return nil, fmt.Errorf("imagestreams storage: %w", err)
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
	}
	// Later issues add, all on top of streams.Internal and images:
	//   "imagestreamimages"      (GET <stream>@<digest-or-prefix>)
	//   "imagestreamimports"     (create-only; the importer)
	//   "imagestreams/secrets"   (pull secrets of the namespace for imports)
	//   "imagestreams/layers"    (registry authorisation, blobs per stream)
	return storage, nil
}
