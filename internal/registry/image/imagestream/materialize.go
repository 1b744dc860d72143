package imagestream

import (
	"context"
	"fmt"

	imagev1 "github.com/openshift/api/image/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"

	"github.com/slipway-dev/slipway/internal/admission/imageaccess"
	"github.com/slipway-dev/slipway/internal/registry/image/imageref"
)

// MaterializeTags writes status events for the spec tags that need no import
// (OpenShift does the same on every stream write): a DockerImage tag with
// reference: true records its pull spec as is; an ImageStreamTag or
// ImageStreamImage tag copies the source's event. Only tags that are new or
// whose source or generation changed since old (nil on create) are resolved;
// afterwards every tag tracking a changed tag of this stream follows it.
// DockerImage tags without reference are the importer's job.
func (s *Strategy) MaterializeTags(ctx context.Context, old, stream *imagev1.ImageStream) field.ErrorList {
	var errs field.ErrorList
	for i := range stream.Spec.Tags {
		tagRef := &stream.Spec.Tags[i]
		if tagRef.From == nil {
			continue
		}
		if old != nil {
			if oldRef := SpecTag(old, tagRef.Name); oldRef != nil && !tagSourceChanged(oldRef, tagRef, stream.Namespace) &&
				equalGenerations(oldRef.Generation, tagRef.Generation) {
				continue
			}
		}
		var generation int64
		if tagRef.Generation != nil {
			generation = *tagRef.Generation
		}
		namePath := field.NewPath("spec", "tags").Index(i).Child("from", "name")

		if tagRef.From.Kind == KindDockerImage {
			if tagRef.Reference {
				AddTagEvent(stream, tagRef.Name, imagev1.TagEvent{
					Created:              s.now(),
					DockerImageReference: tagRef.From.Name,
					Generation:           generation,
				})
			}
			continue
		}

		streamName, tagOrID, ok := SourceOf(stream, tagRef)
		if !ok {
			errs = append(errs, field.Invalid(namePath, tagRef.From.Name, "must be of the form <tag>, <stream>:<tag>, <id>, or <stream>@<id>"))
			continue
		}
		source := stream
		namespace := sourceNamespace(stream, tagRef)
		if namespace != stream.Namespace || streamName != stream.Name {
			if namespace != stream.Namespace {
				if err := s.mayRead(ctx, namespace, streamName); err != nil {
					errs = append(errs, field.Forbidden(namePath, err.Error()))
					continue
				}
			}
			if s.streams == nil {
				continue
			}
			obj, err := s.streams.Get(genericapirequest.WithNamespace(ctx, namespace), streamName, &metav1.GetOptions{})
			if err != nil {
				if apierrors.IsNotFound(err) {
					errs = append(errs, field.NotFound(namePath, tagRef.From.Name))
				} else {
					errs = append(errs, field.Invalid(namePath, tagRef.From.Name, fmt.Sprintf("unable to retrieve image stream: %v", err)))
				}
				continue
			}
			if source, err = AsStream(obj); err != nil {
				errs = append(errs, field.InternalError(namePath, err))
				continue
			}
		}

		var event *imagev1.TagEvent
		if tagRef.From.Kind == KindImageStreamImage {
			if event = FindImageEvent(source, tagOrID); event == nil {
				errs = append(errs, field.Invalid(namePath, tagRef.From.Name, fmt.Sprintf("error generating tag event: no image %q in image stream %s/%s", tagOrID, source.Namespace, source.Name)))
				continue
			}
		} else if event = LatestTagEvent(source, tagOrID); event == nil {
			// The source tag has no image yet; tracking picks it up later
			// when the source is in this stream.
			continue
		}
		event.Generation = generation
		if !tagRef.Reference && source != stream {
			event.DockerImageReference = s.rewriteToStream(event.DockerImageReference, source, stream)
		}
		AddTagEvent(stream, tagRef.Name, *event)
	}
	UpdateTrackingTags(stream, changedTags(old, stream))
	return errs
}

func equalGenerations(a, b *int64) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

// rewriteToStream makes a pull spec that points at source in the internal
// registry point at stream instead, so that pulling the tagged image goes
// through (and is authorised by) the stream that now holds it.
func (s *Strategy) rewriteToStream(pullSpec string, source, stream *imagev1.ImageStream) string {
	if s.registryHostname == "" {
		return pullSpec
	}
	ref, err := imageref.Parse(pullSpec)
	if err != nil || ref.Registry != s.registryHostname || ref.Path != source.Namespace+"/"+source.Name {
		return pullSpec
	}
	ref.Path = stream.Namespace + "/" + stream.Name
	return ref.Exact()
}

// mayRead checks that the requester may read image stream
// namespace/name before a tag copies from it.
func (s *Strategy) mayRead(ctx context.Context, namespace, name string) error {
	if s.authz == nil {
		return nil
	}
	user, ok := genericapirequest.UserFrom(ctx)
	if !ok {
		return fmt.Errorf("no user to check the read of image stream %s/%s for", namespace, name)
	}
	return imageaccess.MayRead(ctx, s.authz, user, namespace, name)
}
