package imagestreamimport

import (
	imagev1 "github.com/openshift/api/image/v1"
	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/slipway-dev/slipway/internal/image"
	"github.com/slipway-dev/slipway/internal/registry/image/imagestream"
)

// ValidateImageStreamImport checks an import request as OpenShift does:
// a valid stream name; at least one image or a repository; every source of
// kind DockerImage with a parseable name; a repository without tag or
// digest; no scheduled import of a digest; target tags that are valid tag
// names.
func ValidateImageStreamImport(isi *imagev1.ImageStreamImport) field.ErrorList {
	errs := apimachineryvalidation.ValidateObjectMeta(&isi.ObjectMeta, true, imagestream.ValidateImageStreamName, field.NewPath("metadata"))
	imagesPath := field.NewPath("spec", "images")
	for i, spec := range isi.Spec.Images {
		path := imagesPath.Index(i)
		if spec.From.Kind != imagestream.KindDockerImage {
			errs = append(errs, field.NotSupported(path.Child("from", "kind"), spec.From.Kind, []string{imagestream.KindDockerImage}))
			continue
		}
		if spec.To != nil {
			switch {
			case spec.To.Name == "":
				errs = append(errs, field.Required(path.Child("to", "name"), "the name of the target tag must be specified"))
			case !imagestream.ValidTagName(spec.To.Name):
				errs = append(errs, field.Invalid(path.Child("to", "name"), spec.To.Name, `must match "[\w][\w.-]{0,127}"`))
			}
		}
		namePath := path.Child("from", "name")
		if spec.From.Name == "" {
			errs = append(errs, field.Required(namePath, ""))
			continue
		}
		ref, err := image.ParseReference(spec.From.Name)
		if err != nil {
			errs = append(errs, field.Invalid(namePath, spec.From.Name, err.Error()))
			continue
		}
		if ref.Digest != "" && spec.ImportPolicy.Scheduled {
			errs = append(errs, field.Invalid(namePath, spec.From.Name, "only tags can be scheduled for import"))
		}
	}
	if spec := isi.Spec.Repository; spec != nil {
		path := field.NewPath("spec", "repository", "from")
		switch {
		case spec.From.Kind != imagestream.KindDockerImage:
			errs = append(errs, field.NotSupported(path.Child("kind"), spec.From.Kind, []string{imagestream.KindDockerImage}))
		case spec.From.Name == "":
			errs = append(errs, field.Required(path.Child("name"), "a repository to import from is required"))
		default:
			if ref, err := image.ParseReference(spec.From.Name); err != nil {
				errs = append(errs, field.Invalid(path.Child("name"), spec.From.Name, err.Error()))
			} else if ref.Digest != "" || ref.Tag != "" {
				errs = append(errs, field.Invalid(path.Child("name"), spec.From.Name, "you must specify an image repository, not a tag or ID"))
			}
		}
	}
	if len(isi.Spec.Images) == 0 && isi.Spec.Repository == nil {
		errs = append(errs, field.Required(imagesPath, "you must specify at least one image or a repository import"))
	}
	return errs
}
