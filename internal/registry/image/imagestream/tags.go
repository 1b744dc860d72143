package imagestream

import (
	"strings"

	imagev1 "github.com/openshift/api/image/v1"

	"github.com/slipway-dev/slipway/internal/registry/image/imageref"
)

// Tag source kinds an image stream spec tag's from may have.
const (
	KindDockerImage      = "DockerImage"
	KindImageStreamTag   = "ImageStreamTag"
	KindImageStreamImage = "ImageStreamImage"
)

// SpecTag returns the spec tag named tag, or nil.
func SpecTag(stream *imagev1.ImageStream, tag string) *imagev1.TagReference {
	for i := range stream.Spec.Tags {
		if stream.Spec.Tags[i].Name == tag {
			return &stream.Spec.Tags[i]
		}
	}
	return nil
}

// StatusTag returns the status tag history named tag, or nil.
func StatusTag(stream *imagev1.ImageStream, tag string) *imagev1.NamedTagEventList {
	for i := range stream.Status.Tags {
		if stream.Status.Tags[i].Tag == tag {
			return &stream.Status.Tags[i]
		}
	}
	return nil
}

// LatestTagEvent returns a copy of the newest status event of tag, or nil
// when the tag has none.
func LatestTagEvent(stream *imagev1.ImageStream, tag string) *imagev1.TagEvent {
	list := StatusTag(stream, tag)
	if list == nil || len(list.Items) == 0 {
		return nil
	}
	event := list.Items[0]
	return &event
}

// FindImageEvent returns a copy of the newest status event, across all tags,
// whose image is id or starts with id (a digest prefix, as ImageStreamImage
// names allow), or nil when none matches.
func FindImageEvent(stream *imagev1.ImageStream, id string) *imagev1.TagEvent {
	if id == "" {
		return nil
	}
	var found *imagev1.TagEvent
	for _, list := range stream.Status.Tags {
		for i := range list.Items {
			event := list.Items[i]
			if event.Image == "" || !strings.HasPrefix(event.Image, id) {
				continue
			}
			if found == nil || event.Created.After(found.Created.Time) {
				found = &event
			}
		}
	}
	return found
}

// MatchingImages returns, once each and in the order first seen, the
// images of the stream's status events whose name is id or starts with id,
// so a caller can tell an unknown prefix from an ambiguous one.
func MatchingImages(stream *imagev1.ImageStream, id string) []string {
	if id == "" {
		return nil
	}
	seen := map[string]bool{}
	var images []string
	for _, list := range stream.Status.Tags {
		for _, event := range list.Items {
			if event.Image == "" || seen[event.Image] || !strings.HasPrefix(event.Image, id) {
				continue
			}
			seen[event.Image] = true
			images = append(images, event.Image)
		}
	}
	return images
}

// AddTagEvent records next as the newest event of tag and reports whether the
// stream's status changed. It follows OpenShift's rule: when the newest event
// already has the same reference, image and generation nothing happens; the
// same reference or the same image updates that event in place; anything else
// is a new image, prepended to the history, and clears the tag's conditions
// (they described the previous import).
func AddTagEvent(stream *imagev1.ImageStream, tag string, next imagev1.TagEvent) bool {
	list := StatusTag(stream, tag)
	if list == nil {
		stream.Status.Tags = append(stream.Status.Tags, imagev1.NamedTagEventList{Tag: tag, Items: []imagev1.TagEvent{next}})
		return true
	}
	if len(list.Items) == 0 {
		list.Items = []imagev1.TagEvent{next}
		list.Conditions = nil
		return true
	}
	newest := &list.Items[0]
	sameRef := newest.DockerImageReference == next.DockerImageReference
	sameImage := newest.Image == next.Image
	switch {
	case sameRef && sameImage && newest.Generation == next.Generation:
		return false
	case sameRef && sameImage:
	case sameRef:
		newest.Image = next.Image
	case sameImage:
		newest.DockerImageReference = next.DockerImageReference
	default:
		list.Items = append([]imagev1.TagEvent{next}, list.Items...)
		list.Conditions = nil
		return true
	}
	newest.Generation = next.Generation
	return true
}

// RemoveTag deletes tag from both spec and status and reports whether it
// existed in either.
func RemoveTag(stream *imagev1.ImageStream, tag string) bool {
	removed := false
	specTags := stream.Spec.Tags[:0:0]
	for _, t := range stream.Spec.Tags {
		if t.Name == tag {
			removed = true
			continue
		}
		specTags = append(specTags, t)
	}
	statusTags := stream.Status.Tags[:0:0]
	for _, t := range stream.Status.Tags {
		if t.Tag == tag {
			removed = true
			continue
		}
		statusTags = append(statusTags, t)
	}
	if removed {
		stream.Spec.Tags = nilIfEmpty(specTags)
		stream.Status.Tags = nilIfEmpty(statusTags)
	}
	return removed
}

func nilIfEmpty[T any](s []T) []T {
	if len(s) == 0 {
		return nil
	}
	return s
}

// JoinTag returns the ImageStreamTag name "<stream>:<tag>".
func JoinTag(stream, tag string) string {
	return stream + ":" + tag
}

// SplitTag splits an ImageStreamTag name "<stream>:<tag>"; ok is false unless
// both parts are present and there is exactly one ':'.
func SplitTag(name string) (stream, tag string, ok bool) {
	stream, tag, found := strings.Cut(name, ":")
	if !found || stream == "" || tag == "" || strings.Contains(tag, ":") {
		return "", "", false
	}
	return stream, tag, true
}

// SourceOf splits a spec tag's ImageStreamTag or ImageStreamImage from name
// into the source stream name and the tag or image id. A bare "<tag>" or
// "<id>" refers to stream itself. ok is false for other kinds or malformed
// names.
func SourceOf(stream *imagev1.ImageStream, tagRef *imagev1.TagReference) (streamName, tagOrID string, ok bool) {
	if tagRef.From == nil {
		return "", "", false
	}
	sep := ""
	switch tagRef.From.Kind {
	case KindImageStreamTag:
		sep = ":"
	case KindImageStreamImage:
		sep = "@"
	default:
		return "", "", false
	}
	parts := strings.Split(tagRef.From.Name, sep)
	switch {
	case len(parts) == 1 && parts[0] != "":
		return stream.Name, parts[0], true
	case len(parts) == 2 && parts[0] != "" && parts[1] != "":
		return parts[0], parts[1], true
	default:
		return "", "", false
	}
}

// sourceNamespace is the namespace a spec tag's from refers to.
func sourceNamespace(stream *imagev1.ImageStream, tagRef *imagev1.TagReference) string {
	if tagRef.From != nil && tagRef.From.Namespace != "" {
		return tagRef.From.Namespace
	}
	return stream.Namespace
}

// UpdateTrackingTags copies the newest event of each tag in changed to every
// spec tag that tracks it (from kind ImageStreamTag naming a tag of this same
// stream), repeating for tags that track those, and returns how many tags
// changed. This is what `oc tag --alias` relies on.
func UpdateTrackingTags(stream *imagev1.ImageStream, changed []string) int {
	updated := 0
	queue := append([]string(nil), changed...)
	// Every AddTagEvent that returns true makes the history different, and a
	// tag re-queued with an identical event is a no-op, so cycles end; the
	// bound is a guard against surprises.
	for steps := 0; len(queue) > 0 && steps < 1000; steps++ {
		source := queue[0]
		queue = queue[1:]
		event := LatestTagEvent(stream, source)
		if event == nil {
			continue
		}
		for i := range stream.Spec.Tags {
			tagRef := &stream.Spec.Tags[i]
			if tagRef.Name == source || tagRef.From == nil || tagRef.From.Kind != KindImageStreamTag {
				continue
			}
			if sourceNamespace(stream, tagRef) != stream.Namespace {
				continue
			}
			streamName, tag, ok := SourceOf(stream, tagRef)
			if !ok || streamName != stream.Name || tag != source {
				continue
			}
			if AddTagEvent(stream, tagRef.Name, *event) {
				updated++
				queue = append(queue, tagRef.Name)
			}
		}
	}
	return updated
}

// changedTags lists the status tags whose newest event differs between old
// (nil for a new stream) and stream.
func changedTags(old, stream *imagev1.ImageStream) []string {
	var changed []string
	for _, list := range stream.Status.Tags {
		if len(list.Items) == 0 {
			continue
		}
		if old != nil {
			if prev := LatestTagEvent(old, list.Tag); prev != nil && sameEvent(*prev, list.Items[0]) {
				continue
			}
		}
		changed = append(changed, list.Tag)
	}
	return changed
}

// sameEvent compares the fields that identify what a tag event points at.
func sameEvent(a, b imagev1.TagEvent) bool {
	return a.DockerImageReference == b.DockerImageReference && a.Image == b.Image && a.Generation == b.Generation
}

// ValidTagName reports whether name is a valid tag name ([\w][\w.-]{0,127}).
func ValidTagName(name string) bool {
	return imageref.TagRE.MatchString(name)
}

// ResolvePullSpec returns the pull spec a tag's event resolves to: the
// event's reference, or with referencePolicy Local (and a registry configured
// and a known image) the stream's internal repository by digest, so pulls go
// through the internal registry.
func ResolvePullSpec(stream *imagev1.ImageStream, tag string, event *imagev1.TagEvent) string {
	spec := SpecTag(stream, tag)
	if spec != nil && spec.ReferencePolicy.Type == imagev1.LocalTagReferencePolicy &&
		stream.Status.DockerImageRepository != "" && event.Image != "" {
		return stream.Status.DockerImageRepository + "@" + event.Image
	}
	return event.DockerImageReference
}
