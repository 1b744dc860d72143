// Package imagestreammapping serves image.openshift.io/v1
// imagestreammappings: a create-only resource the internal registry posts
// when a manifest is pushed by tag. Creating one records the Image and adds
// the tag event to the image stream, creating the stream when needed.
package imagestreammapping

import (
	"context"
	"fmt"

	imagev1 "github.com/openshift/api/image/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/registry/rest"

	"github.com/slipway-dev/slipway/internal/registry/image/image"
	"github.com/slipway-dev/slipway/internal/registry/image/imagestream"
	"github.com/slipway-dev/slipway/internal/registry/storebase"

	imagemeta "github.com/slipway-dev/slipway/internal/image"
)

// REST serves imagestreammappings.
type REST struct {
	images  rest.Creater
	streams imagestream.InternalStore
	now     func() metav1.Time
}

var (
	_ rest.Creater              = &REST{}
	_ rest.Scoper               = &REST{}
	_ rest.SingularNameProvider = &REST{}
	_ rest.Storage              = &REST{}
)

// NewREST returns the imagestreammappings storage over images (the images
// store) and streams (the internal image stream store).
func NewREST(images rest.Creater, streams imagestream.InternalStore) *REST {
	return &REST{images: images, streams: streams, now: metav1.Now}
}

// New returns an empty ImageStreamMapping.
func (r *REST) New() runtime.Object { return &imagev1.ImageStreamMapping{} }

// Destroy does nothing: the stores behind belong to their own resources.
func (r *REST) Destroy() {}

// NamespaceScoped is true: a mapping names a stream in a namespace.
func (r *REST) NamespaceScoped() bool { return true }

// GetSingularName is "imagestreammapping".
func (r *REST) GetSingularName() string { return "imagestreammapping" }

var (
	resource = imagev1.Resource("imagestreammappings")
	kind     = schema.GroupKind{Group: imagev1.GroupName, Kind: "ImageStreamMapping"}
)

// Create records mapping.image as an Image (one that already exists is
// fine: the same digest pushed again or to another stream) and makes it the
// newest event of mapping.tag in the stream mapping.metadata.name, creating
// the stream when it does not exist. Tags tracking that tag follow. It
// answers a Success status, as OpenShift does.
func (r *REST) Create(ctx context.Context, obj runtime.Object, createValidation rest.ValidateObjectFunc, options *metav1.CreateOptions) (runtime.Object, error) {
	mapping, ok := obj.(*imagev1.ImageStreamMapping)
	if !ok {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("not an ImageStreamMapping: %T", obj))
	}
	if err := storebase.RequestNamespace(ctx, &mapping.ObjectMeta); err != nil {
		return nil, err
	}
	if errs := ValidateImageStreamMapping(mapping); len(errs) > 0 {
		return nil, apierrors.NewInvalid(kind, mapping.Name, errs)
	}
	if createValidation != nil {
		if err := createValidation(ctx, mapping.DeepCopy()); err != nil {
			return nil, err
		}
	}
	var dryRun []string
	if options != nil {
		dryRun = options.DryRun
	}

	img, err := PrepareImage(&mapping.Image)
	if err != nil {
		return nil, apierrors.NewInvalid(kind, mapping.Name, field.ErrorList{
			field.Invalid(field.NewPath("image", "dockerImageManifest"), "", err.Error()),
		})
	}
	_, err = r.images.Create(genericapirequest.WithNamespace(ctx, ""), img, rest.ValidateAllObjectFunc, &metav1.CreateOptions{DryRun: dryRun})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return nil, err
	}

	// The event points at this stream even when the image was first pushed
	// elsewhere: pulls of this tag then go through this repository.
	event := imagev1.TagEvent{
		Created:              r.now(),
		DockerImageReference: mapping.Image.DockerImageReference,
		Image:                mapping.Image.Name,
	}
	release, attempts, err := r.streams.Turn(ctx, mapping.Name)
	if err != nil {
		return nil, err
	}
	defer release()
	// A write that lost a race with a writer outside the turns is
	// recomputed on a fresh read.
	for {
		err := r.addEvent(ctx, mapping, event, dryRun)
		if imagestream.IsWriteConflict(err) && attempts.Again(ctx) {
			continue
		}
		if err != nil {
			return nil, err
		}
		return &metav1.Status{Status: metav1.StatusSuccess}, nil
	}
}

// addEvent writes event as the newest of mapping.tag, in one read and one
// conditional write of the stream.
func (r *REST) addEvent(ctx context.Context, mapping *imagev1.ImageStreamMapping, event imagev1.TagEvent, dryRun []string) error {
	stream, err := imagestream.GetStream(ctx, r.streams, mapping.Name)
	if err != nil {
		return err
	}
	if stream == nil {
		// A generation of 0 is stamped with the new stream's generation.
		stream := &imagev1.ImageStream{ObjectMeta: metav1.ObjectMeta{Namespace: mapping.Namespace, Name: mapping.Name}}
		imagestream.AddTagEvent(stream, mapping.Tag, event)
		if _, err := imagestream.SaveStream(ctx, r.streams, stream, dryRun); err != nil {
			return fmt.Errorf("creating image stream %s/%s: %w", mapping.Namespace, mapping.Name, err)
		}
		return nil
	}
	stream = stream.DeepCopy()
	event.Generation = stream.Generation
	if !imagestream.AddTagEvent(stream, mapping.Tag, event) {
		return nil
	}
	imagestream.UpdateTrackingTags(stream, []string{mapping.Tag})
	_, err = imagestream.SaveStream(ctx, r.streams, stream, dryRun)
	return err
}

// PrepareImage returns the Image to store for a pushed image: its metadata
// filled from its manifest and config (image.ImageWithMetadata), and, when the
// registry keeps the blobs (annotation image.openshift.io/manifestBlobStored
// "true"), without the raw manifest and config, as OpenShift stores it.
func PrepareImage(in *imagev1.Image) (*imagev1.Image, error) {
	img := in.DeepCopy()
	img.Namespace = ""
	img.ResourceVersion = ""
	img.UID = ""
	if err := imagemeta.ImageWithMetadata(img); err != nil {
		return nil, err
	}
	if img.Annotations[imagev1.ImageManifestBlobStoredAnnotation] == "true" {
		img.DockerImageManifest = ""
		img.DockerImageConfig = ""
	}
	return img, nil
}

// ValidateImageStreamMapping checks a mapping's stream name, tag and image.
func ValidateImageStreamMapping(mapping *imagev1.ImageStreamMapping) field.ErrorList {
	var errs field.ErrorList
	namePath := field.NewPath("metadata", "name")
	if mapping.Name == "" {
		errs = append(errs, field.Required(namePath, ""))
	} else {
		for _, msg := range imagestream.ValidateImageStreamName(mapping.Name, false) {
			errs = append(errs, field.Invalid(namePath, mapping.Name, msg))
		}
	}
	if mapping.Namespace == "" {
		errs = append(errs, field.Required(field.NewPath("metadata", "namespace"), ""))
	}
	tagPath := field.NewPath("tag")
	switch {
	case mapping.Tag == "":
		errs = append(errs, field.Required(tagPath, ""))
	case !imagestream.ValidTagName(mapping.Tag):
		errs = append(errs, field.Invalid(tagPath, mapping.Tag, `must match "[\w][\w.-]{0,127}"`))
	}
	for _, err := range image.ValidateImage(&mapping.Image) {
		err.Field = "image." + err.Field
		errs = append(errs, err)
	}
	return errs
}
