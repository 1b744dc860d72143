// Package image is the REST storage of image.openshift.io/v1 images: the
// cluster-scoped records, named by manifest digest, that the registry and
// the importer write and image streams point at.
package image

import (
	"context"
	"fmt"

	imagev1 "github.com/openshift/api/image/v1"
	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apiserver/pkg/registry/generic"

	"github.com/slipway-dev/slipway/internal/registry/image/imageref"
	"github.com/slipway-dev/slipway/internal/registry/storebase"
)

// Strategy implements create, update and delete behaviour of images;
// storebase.Strategy answers what every resource answers alike (no create
// on update, unconditional updates, no warnings, no canonical form).
type Strategy struct {
	storebase.Strategy
}

// NewStrategy returns the images strategy.
func NewStrategy() Strategy {
	return Strategy{storebase.NewStrategy()}
}

// NamespaceScoped is false: images are cluster-scoped.
func (Strategy) NamespaceScoped() bool { return false }

// PrepareForCreate does nothing: images are written by trusted components
// (registry, importer) that fill every field.
func (Strategy) PrepareForCreate(ctx context.Context, obj runtime.Object) {}

// PrepareForUpdate does nothing, as PrepareForCreate.
func (Strategy) PrepareForUpdate(ctx context.Context, obj, old runtime.Object) {}

// Validate validates a new image.
func (Strategy) Validate(ctx context.Context, obj runtime.Object) field.ErrorList {
	return ValidateImage(obj.(*imagev1.Image))
}

// ValidateUpdate validates an update of an image.
func (Strategy) ValidateUpdate(ctx context.Context, obj, old runtime.Object) field.ErrorList {
	image, oldImage := obj.(*imagev1.Image), old.(*imagev1.Image)
	errs := apimachineryvalidation.ValidateObjectMetaUpdate(&image.ObjectMeta, &oldImage.ObjectMeta, field.NewPath("metadata"))
	return append(errs, ValidateImage(image)...)
}

// ValidateImageName checks that an image name is a manifest digest.
func ValidateImageName(name string, prefix bool) []string {
	if !imageref.DigestRE.MatchString(name) {
		return []string{"must be a digest such as sha256:<64 lowercase hex digits>"}
	}
	return nil
}

// ValidateImage validates an image's name, reference and layer list.
func ValidateImage(image *imagev1.Image) field.ErrorList {
	errs := apimachineryvalidation.ValidateObjectMeta(&image.ObjectMeta, false, ValidateImageName, field.NewPath("metadata"))
	refPath := field.NewPath("dockerImageReference")
	if image.DockerImageReference == "" {
		errs = append(errs, field.Required(refPath, ""))
	} else if _, err := imageref.Parse(image.DockerImageReference); err != nil {
		errs = append(errs, field.Invalid(refPath, image.DockerImageReference, err.Error()))
	}
	for i, layer := range image.DockerImageLayers {
		if layer.Name == "" {
			errs = append(errs, field.Required(field.NewPath("dockerImageLayers").Index(i).Child("name"), ""))
		}
	}
	return errs
}

// GetAttrs returns the labels and selectable fields (metadata.name) of an image.
func GetAttrs(obj runtime.Object) (labels.Set, fields.Set, error) {
	image, ok := obj.(*imagev1.Image)
	if !ok {
		return nil, nil, fmt.Errorf("not an Image: %T", obj)
	}
	return labels.Set(image.Labels), generic.ObjectMetaFieldsSet(&image.ObjectMeta, false), nil
}
