package imageimport

import (
	"strings"

	imagev1 "github.com/openshift/api/image/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/slipway-dev/slipway/internal/registry/image/imageref"
)

// dockerHub is the registry an image reference without a host names.
const dockerHub = "docker.io"

// tagImportable reports whether the importer owns tag: it follows an
// external image (kind DockerImage) rather than only referencing it.
func tagImportable(tag imagev1.TagReference) bool {
	return tag.From != nil && tag.From.Kind == "DockerImage" && !tag.Reference
}

// observedGeneration is the newest spec generation an import of tag has
// answered: the larger of its newest status event's generation and its
// ImportSuccess condition's generation (0 when never imported).
func observedGeneration(stream *imagev1.ImageStream, tag string) int64 {
	var observed int64
	for _, list := range stream.Status.Tags {
		if list.Tag != tag {
			continue
		}
		if len(list.Items) > 0 {
			observed = list.Items[0].Generation
		}
		for _, cond := range list.Conditions {
			if cond.Type == imagev1.ImportSuccess && cond.Generation > observed {
				observed = cond.Generation
			}
		}
	}
	return observed
}

// hasStatus reports whether tag has any status event or condition.
func hasStatus(stream *imagev1.ImageStream, tag string) bool {
	for _, list := range stream.Status.Tags {
		if list.Tag == tag && (len(list.Items) > 0 || len(list.Conditions) > 0) {
			return true
		}
	}
	return false
}

// tagNeedsImport reports whether tag's spec is newer than its last import.
// A tag without a generation (the server always sets one) is imported once,
// when it has no status yet.
func tagNeedsImport(stream *imagev1.ImageStream, tag imagev1.TagReference) bool {
	if !tagImportable(tag) {
		return false
	}
	if tag.Generation == nil {
		return !hasStatus(stream, tag.Name)
	}
	return *tag.Generation > observedGeneration(stream, tag.Name)
}

// repositoryNeedsImport reports whether spec.dockerImageRepository has never
// been imported (no dockerRepositoryCheck annotation yet).
func repositoryNeedsImport(stream *imagev1.ImageStream) bool {
	return stream.Spec.DockerImageRepository != "" && stream.Annotations[imagev1.DockerImageRepositoryCheckAnnotation] == ""
}

// tagsNeedingImport returns the spec tags whose generation is newer than
// their last import.
func tagsNeedingImport(stream *imagev1.ImageStream) []imagev1.TagReference {
	return specTagsWhere(stream, tagNeedsImport)
}

// specTagsWhere returns the spec tags of stream that keep accepts.
func specTagsWhere(stream *imagev1.ImageStream, keep func(*imagev1.ImageStream, imagev1.TagReference) bool) []imagev1.TagReference {
	var out []imagev1.TagReference
	for _, tag := range stream.Spec.Tags {
		if keep(stream, tag) {
			out = append(out, tag)
		}
	}
	return out
}

// tagScheduled reports whether the scheduler checks tag: importable, with
// importPolicy.scheduled, and not pinned to a digest that was already
// imported (a digest never moves, so checking it again is wasted work).
func tagScheduled(stream *imagev1.ImageStream, tag imagev1.TagReference) bool {
	if !tagImportable(tag) || !tag.ImportPolicy.Scheduled {
		return false
	}
	ref, err := imageref.Parse(tag.From.Name)
	if err != nil {
		return false
	}
	if ref.Digest != "" && !tagNeedsImport(stream, tag) {
		return false
	}
	return true
}

// scheduledTags returns the spec tags the scheduler checks.
func scheduledTags(stream *imagev1.ImageStream) []imagev1.TagReference {
	return specTagsWhere(stream, tagScheduled)
}

// source is where a tag's image comes from, normalised the way registries
// name it: registry host, repository path, tag.
type source struct {
	Registry   string
	Repository string
	Tag        string
	Digest     string
}

// parseSource parses a DockerImage reference. Docker Hub names are
// normalised ("busybox" -> docker.io, library/busybox) and the tag defaults
// to "latest" unless the reference is by digest.
func parseSource(name string) (source, error) {
	ref, err := imageref.Parse(name)
	if err != nil {
		return source{}, err
	}
	s := source{Registry: ref.Registry, Repository: ref.Path, Tag: ref.Tag, Digest: ref.Digest}
	s.Registry, s.Repository = normaliseRepository(s.Registry, s.Repository)
	if s.Tag == "" && s.Digest == "" {
		s.Tag = "latest"
	}
	return s, nil
}

// normaliseRepository applies Docker Hub's naming: no host means docker.io,
// and a one-component path there lives under library/.
func normaliseRepository(registry, repository string) (string, string) {
	switch registry {
	case "", "index.docker.io", "registry-1.docker.io":
		registry = dockerHub
	}
	if registry == dockerHub && !strings.Contains(repository, "/") {
		repository = "library/" + repository
	}
	return registry, repository
}

// registryOf returns the registry host a tag imports from ("" when its
// reference does not parse; the import then fails with its own message).
func registryOf(tag imagev1.TagReference) string {
	if tag.From == nil {
		return ""
	}
	s, err := parseSource(tag.From.Name)
	if err != nil {
		return ""
	}
	return s.Registry
}

// newImport returns the ImageStreamImport that imports tags (and the whole
// spec.dockerImageRepository when repository is set) into stream, guarded
// by the stream's resourceVersion and UID so an import computed from a
// stale copy fails with a conflict instead of undoing someone's change.
func newImport(stream *imagev1.ImageStream, tags []imagev1.TagReference, repository bool) *imagev1.ImageStreamImport {
	isi := &imagev1.ImageStreamImport{
		ObjectMeta: metav1.ObjectMeta{
			Name:            stream.Name,
			Namespace:       stream.Namespace,
			ResourceVersion: stream.ResourceVersion,
			UID:             stream.UID,
		},
		Spec: imagev1.ImageStreamImportSpec{Import: true},
	}
	for _, tag := range tags {
		isi.Spec.Images = append(isi.Spec.Images, imagev1.ImageImportSpec{
			From:            corev1.ObjectReference{Kind: "DockerImage", Name: tag.From.Name},
			To:              &corev1.LocalObjectReference{Name: tag.Name},
			ImportPolicy:    tag.ImportPolicy,
			ReferencePolicy: tag.ReferencePolicy,
		})
	}
	if repository {
		isi.Spec.Repository = &imagev1.RepositoryImportSpec{
			From:         corev1.ObjectReference{Kind: "DockerImage", Name: stream.Spec.DockerImageRepository},
			ImportPolicy: imagev1.TagImportPolicy{Insecure: stream.Annotations[imagev1.InsecureRepositoryAnnotation] == "true"},
		}
	}
	return isi
}
