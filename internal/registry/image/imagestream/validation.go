package imagestream

import (
	"fmt"
	"strings"

	imagev1 "github.com/openshift/api/image/v1"
	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/slipway-dev/slipway/internal/registry/image/imageref"
)

// SetDefaultsImageStream applies OpenShift's spec tag defaults: reference
// policy Source and import mode Legacy. from.kind is not defaulted.
func SetDefaultsImageStream(stream *imagev1.ImageStream) {
	for i := range stream.Spec.Tags {
		SetDefaultsTagReference(&stream.Spec.Tags[i])
	}
}

// SetDefaultsTagReference applies the spec tag defaults to one tag.
func SetDefaultsTagReference(tagRef *imagev1.TagReference) {
	if tagRef.ReferencePolicy.Type == "" {
		tagRef.ReferencePolicy.Type = imagev1.SourceTagReferencePolicy
	}
	if tagRef.ImportPolicy.ImportMode == "" {
		tagRef.ImportPolicy.ImportMode = imagev1.ImportModeLegacy
	}
}

// ValidateImageStreamName checks an image stream name: a DNS subdomain, which
// also keeps it a valid repository path component of the internal registry
// when lowercase.
func ValidateImageStreamName(name string, prefix bool) []string {
	return apimachineryvalidation.NameIsDNSSubdomain(name, prefix)
}

// ValidateImageStream validates a stream's metadata and spec.
func ValidateImageStream(stream *imagev1.ImageStream) field.ErrorList {
	errs := apimachineryvalidation.ValidateObjectMeta(&stream.ObjectMeta, true, ValidateImageStreamName, field.NewPath("metadata"))
	errs = append(errs, validateSpec(&stream.Spec, field.NewPath("spec"))...)
	return errs
}

// ValidateImageStreamUpdate validates an update of a stream's metadata and spec.
func ValidateImageStreamUpdate(stream, old *imagev1.ImageStream) field.ErrorList {
	errs := apimachineryvalidation.ValidateObjectMetaUpdate(&stream.ObjectMeta, &old.ObjectMeta, field.NewPath("metadata"))
	errs = append(errs, validateSpec(&stream.Spec, field.NewPath("spec"))...)
	return errs
}

// ValidateImageStreamStatusUpdate validates an update through the status
// subresource.
func ValidateImageStreamStatusUpdate(stream, old *imagev1.ImageStream) field.ErrorList {
	errs := apimachineryvalidation.ValidateObjectMetaUpdate(&stream.ObjectMeta, &old.ObjectMeta, field.NewPath("metadata"))
	tagsPath := field.NewPath("status", "tags")
	seen := map[string]bool{}
	for i, list := range stream.Status.Tags {
		path := tagsPath.Index(i)
		switch {
		case list.Tag == "":
			errs = append(errs, field.Required(path.Child("tag"), ""))
		case seen[list.Tag]:
			errs = append(errs, field.Duplicate(path.Child("tag"), list.Tag))
		}
		seen[list.Tag] = true
		for j, event := range list.Items {
			if event.DockerImageReference == "" {
				errs = append(errs, field.Required(path.Child("items").Index(j).Child("dockerImageReference"), ""))
			}
		}
	}
	return errs
}

func validateSpec(spec *imagev1.ImageStreamSpec, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	if spec.DockerImageRepository != "" {
		repoPath := path.Child("dockerImageRepository")
		ref, err := imageref.Parse(spec.DockerImageRepository)
		switch {
		case err != nil:
			errs = append(errs, field.Invalid(repoPath, spec.DockerImageRepository, err.Error()))
		case ref.Tag != "":
			errs = append(errs, field.Invalid(repoPath, spec.DockerImageRepository, "the repository name may not contain a tag"))
		case ref.Digest != "":
			errs = append(errs, field.Invalid(repoPath, spec.DockerImageRepository, "the repository name may not contain a digest"))
		}
	}
	seen := map[string]bool{}
	for i := range spec.Tags {
		tagRef := &spec.Tags[i]
		tagPath := path.Child("tags").Index(i)
		switch {
		case tagRef.Name == "":
			errs = append(errs, field.Required(tagPath.Child("name"), ""))
		case !imageref.TagRE.MatchString(tagRef.Name):
			errs = append(errs, field.Invalid(tagPath.Child("name"), tagRef.Name, `must match "[\w][\w.-]{0,127}"`))
		case seen[tagRef.Name]:
			errs = append(errs, field.Duplicate(tagPath.Child("name"), tagRef.Name))
		}
		seen[tagRef.Name] = true
		errs = append(errs, ValidateTagReference(tagRef, tagPath)...)
	}
	return errs
}

var (
	validFromKinds         = []string{KindDockerImage, KindImageStreamImage, KindImageStreamTag}
	validReferencePolicies = []string{string(imagev1.SourceTagReferencePolicy), string(imagev1.LocalTagReferencePolicy)}
	validImportModes       = []string{string(imagev1.ImportModeLegacy), string(imagev1.ImportModePreserveOriginal)}
)

// ValidateTagReference validates a spec tag's source and policies (not its
// name, which the caller owns: a stream's spec tag or an ImageStreamTag's).
func ValidateTagReference(tagRef *imagev1.TagReference, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	if from := tagRef.From; from != nil {
		fromPath := path.Child("from")
		if from.Name == "" {
			errs = append(errs, field.Required(fromPath.Child("name"), ""))
		}
		switch from.Kind {
		case KindDockerImage:
			if from.Name != "" {
				ref, err := imageref.Parse(from.Name)
				switch {
				case err != nil:
					errs = append(errs, field.Invalid(fromPath.Child("name"), from.Name, err.Error()))
				case tagRef.ImportPolicy.Scheduled && ref.Digest != "":
					// A digest never changes: nothing to import again.
					errs = append(errs, field.Invalid(fromPath.Child("name"), from.Name, "only tags can be scheduled for import"))
				}
			}
		case KindImageStreamTag:
			if from.Name != "" {
				errs = append(errs, validateStreamTagName(from.Name, fromPath.Child("name"))...)
			}
			errs = append(errs, validateNotScheduled(tagRef, path)...)
		case KindImageStreamImage:
			if from.Name != "" {
				errs = append(errs, validateStreamImageName(from.Name, fromPath.Child("name"))...)
			}
			errs = append(errs, validateNotScheduled(tagRef, path)...)
		case "":
			errs = append(errs, field.Required(fromPath.Child("kind"), ""))
		default:
			errs = append(errs, field.NotSupported(fromPath.Child("kind"), from.Kind, validFromKinds))
		}
		if from.Namespace != "" {
			for _, msg := range validation.IsDNS1123Label(from.Namespace) {
				errs = append(errs, field.Invalid(fromPath.Child("namespace"), from.Namespace, msg))
			}
		}
	}
	switch tagRef.ReferencePolicy.Type {
	case imagev1.SourceTagReferencePolicy, imagev1.LocalTagReferencePolicy:
	case "":
		errs = append(errs, field.Required(path.Child("referencePolicy", "type"), ""))
	default:
		errs = append(errs, field.NotSupported(path.Child("referencePolicy", "type"), tagRef.ReferencePolicy.Type, validReferencePolicies))
	}
	switch tagRef.ImportPolicy.ImportMode {
	case "", imagev1.ImportModeLegacy, imagev1.ImportModePreserveOriginal:
	default:
		errs = append(errs, field.NotSupported(path.Child("importPolicy", "importMode"), tagRef.ImportPolicy.ImportMode, validImportModes))
	}
	return errs
}

// validateNotScheduled refuses a scheduled import of a tag that tracks
// another image stream: only a registry has something to import, as
// OpenShift rules.
func validateNotScheduled(tagRef *imagev1.TagReference, path *field.Path) field.ErrorList {
	if !tagRef.ImportPolicy.Scheduled {
		return nil
	}
	return field.ErrorList{field.Invalid(path.Child("importPolicy", "scheduled"), true,
		"only tags pointing to Docker repositories may be scheduled for background import")}
}

// validateStreamTagName checks "<tag>" or "<stream>:<tag>".
func validateStreamTagName(name string, path *field.Path) field.ErrorList {
	parts := strings.Split(name, ":")
	tag := parts[len(parts)-1]
	switch {
	case len(parts) > 2 || tag == "" || (len(parts) == 2 && parts[0] == ""):
		return field.ErrorList{field.Invalid(path, name, "must be of the form <tag> or <stream>:<tag>")}
	case len(parts) == 2 && len(ValidateImageStreamName(parts[0], false)) > 0:
		return field.ErrorList{field.Invalid(path, name, fmt.Sprintf("invalid image stream name %q: %s", parts[0], strings.Join(ValidateImageStreamName(parts[0], false), "; ")))}
	case !imageref.TagRE.MatchString(tag):
		return field.ErrorList{field.Invalid(path, name, fmt.Sprintf(`invalid tag %q: must match "[\w][\w.-]{0,127}"`, tag))}
	}
	return nil
}

// validateStreamImageName checks "<id>" or "<stream>@<id>", where id is a
// digest or a prefix of one.
func validateStreamImageName(name string, path *field.Path) field.ErrorList {
	parts := strings.Split(name, "@")
	id := parts[len(parts)-1]
	switch {
	case len(parts) > 2 || id == "" || (len(parts) == 2 && parts[0] == ""):
		return field.ErrorList{field.Invalid(path, name, "must be of the form <id> or <stream>@<id>")}
	case len(parts) == 2 && len(ValidateImageStreamName(parts[0], false)) > 0:
		return field.ErrorList{field.Invalid(path, name, fmt.Sprintf("invalid image stream name %q: %s", parts[0], strings.Join(ValidateImageStreamName(parts[0], false), "; ")))}
	}
	return nil
}
