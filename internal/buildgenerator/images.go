package buildgenerator

import (
	"fmt"
	"strings"

	imagev1 "github.com/openshift/api/image/v1"
)

// SplitImageStreamTag splits "stream:tag" into its parts; the tag defaults
// to "latest".
func SplitImageStreamTag(name string) (stream, tag string, err error) {
	stream, tag, found := strings.Cut(name, ":")
	if stream == "" || strings.Contains(tag, ":") || (found && tag == "") {
		return "", "", fmt.Errorf("invalid ImageStreamTag %q: expected <stream>:<tag>", name)
	}
	if !found {
		tag = "latest"
	}
	return stream, tag, nil
}

// LatestTaggedImage returns the pull spec of tag's newest status event in
// stream, honouring the spec tag's referencePolicy: Local pulls through the
// stream's own repository by digest, Source uses the event's reference.
// It returns "" when the tag has no event yet.
func LatestTaggedImage(stream *imagev1.ImageStream, tag string) string {
	for _, t := range stream.Status.Tags {
		if t.Tag != tag || len(t.Items) == 0 {
			continue
		}
		event := t.Items[0]
		if referencePolicy(stream, tag) == imagev1.LocalTagReferencePolicy && stream.Status.DockerImageRepository != "" && event.Image != "" {
			return stream.Status.DockerImageRepository + "@" + event.Image
		}
		return event.DockerImageReference
	}
	return ""
}

// ImageByDigest returns the pull spec of the image stream image
// "<stream>@<digest>": the reference of the newest event carrying that
// digest (or a unique digest prefix), or "" when the stream has none.
func ImageByDigest(stream *imagev1.ImageStream, digest string) string {
	for _, t := range stream.Status.Tags {
		for _, event := range t.Items {
			if event.Image == digest || (len(digest) > len("sha256:") && strings.HasPrefix(event.Image, digest)) {
				if referencePolicy(stream, t.Tag) == imagev1.LocalTagReferencePolicy && stream.Status.DockerImageRepository != "" {
					return stream.Status.DockerImageRepository + "@" + event.Image
				}
				return event.DockerImageReference
			}
		}
	}
	return ""
}

func referencePolicy(stream *imagev1.ImageStream, tag string) imagev1.TagReferencePolicyType {
	for _, t := range stream.Spec.Tags {
		if t.Name == tag {
			return t.ReferencePolicy.Type
		}
	}
	return imagev1.SourceTagReferencePolicy
}
