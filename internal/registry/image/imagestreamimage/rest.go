// Package imagestreamimage serves image.openshift.io/v1 imagestreamimages:
// a read-only view "<stream>@<digest>" of an Image that one of the stream's
// tags has pointed at, found by its digest or a unique prefix of it.
package imagestreamimage

import (
	"context"
	"fmt"
	"strings"

	imagev1 "github.com/openshift/api/image/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/registry/rest"

	imagemeta "github.com/slipway-dev/slipway/internal/image"
	"github.com/slipway-dev/slipway/internal/registry/image/imagestream"
)

// REST serves imagestreamimages.
type REST struct {
	streams rest.Getter
	images  rest.Getter
	table   TableConvertor
}

var (
	_ rest.Getter               = &REST{}
	_ rest.Scoper               = &REST{}
	_ rest.SingularNameProvider = &REST{}
	_ rest.ShortNamesProvider   = &REST{}
	_ rest.TableConvertor       = &REST{}
	_ rest.Storage              = &REST{}
)

// NewREST returns the imagestreamimages storage over streams (an image
// stream store) and images (the images store).
func NewREST(streams, images rest.Getter) *REST {
	return &REST{streams: streams, images: images}
}

// New returns an empty ImageStreamImage.
func (r *REST) New() runtime.Object { return &imagev1.ImageStreamImage{} }

// Destroy does nothing: the stores behind belong to their own resources.
func (r *REST) Destroy() {}

// NamespaceScoped is true: the view belongs to a stream.
func (r *REST) NamespaceScoped() bool { return true }

// GetSingularName is "imagestreamimage".
func (r *REST) GetSingularName() string { return "imagestreamimage" }

// ShortNames gives `isimage`, as oc knows it.
func (r *REST) ShortNames() []string { return []string{"isimage"} }

// ConvertToTable renders the view as `oc get isimage` does.
func (r *REST) ConvertToTable(ctx context.Context, obj runtime.Object, tableOptions runtime.Object) (*metav1.Table, error) {
	return r.table.ConvertToTable(ctx, obj, tableOptions)
}

var resource = imagev1.Resource("imagestreamimages")

// splitName splits "<stream>@<id>" or answers 400 as OpenShift does.
func splitName(name string) (stream, id string, err error) {
	stream, id, found := strings.Cut(name, "@")
	if !found || stream == "" || id == "" || strings.Contains(id, "@") {
		return "", "", apierrors.NewBadRequest("ImageStreamImages must be retrieved with <name>@<id>")
	}
	return stream, id, nil
}

// Get returns the Image one of the stream's status events names, by digest
// or unique digest prefix: 404 when no event matches (or the Image is gone),
// 409 when the prefix matches several images.
func (r *REST) Get(ctx context.Context, name string, options *metav1.GetOptions) (runtime.Object, error) {
	streamName, id, err := splitName(name)
	if err != nil {
		return nil, err
	}
	stream, err := imagestream.GetStream(ctx, r.streams, streamName)
	if err != nil {
		return nil, err
	}
	if stream == nil {
		return nil, apierrors.NewNotFound(resource, name)
	}
	matches := imagestream.MatchingImages(stream, id)
	switch len(matches) {
	case 0:
		return nil, apierrors.NewNotFound(resource, name)
	case 1:
	default:
		return nil, apierrors.NewConflict(resource, name, fmt.Errorf("multiple images match the prefix %q: %s", id, strings.Join(matches, ", ")))
	}
	event := imagestream.FindImageEvent(stream, matches[0])

	obj, err := r.images.Get(genericapirequest.WithNamespace(ctx, ""), matches[0], &metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, apierrors.NewNotFound(resource, name)
	}
	if err != nil {
		return nil, fmt.Errorf("reading image %s: %w", matches[0], err)
	}
	stored, ok := obj.(*imagev1.Image)
	if !ok {
		return nil, fmt.Errorf("image store returned %T", obj)
	}
	image := stored.DeepCopy()
	if image.DockerImageMetadata.Object == nil && len(image.DockerImageMetadata.Raw) == 0 {
		// Images stored with their raw manifest and config but without
		// metadata (written by an older client) still show it.
		if err := imagemeta.ImageWithMetadata(image); err != nil {
			return nil, apierrors.NewInternalError(fmt.Errorf("reading the metadata of image %s: %w", image.Name, err))
		}
	}
	// The raw manifest and config are for the registry, as in OpenShift.
	image.DockerImageManifest = ""
	image.DockerImageConfig = ""
	if image.DockerImageReference == "" && event != nil {
		image.DockerImageReference = event.DockerImageReference
	}
	return &imagev1.ImageStreamImage{
		ObjectMeta: metav1.ObjectMeta{
			Namespace:         stream.Namespace,
			Name:              streamName + "@" + image.Name,
			CreationTimestamp: image.CreationTimestamp,
			UID:               image.UID,
			ResourceVersion:   image.ResourceVersion,
		},
		Image: *image,
	}, nil
}
