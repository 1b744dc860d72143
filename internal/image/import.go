package image

import (
	"context"
	"fmt"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	imagev1 "github.com/openshift/api/image/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Import fetches ref's manifest and config and returns the images to store.
// A manifest list in Legacy mode gives its entry for PreferOS/PreferArch
// (default linux/amd64, else the first entry); in PreserveOriginal mode the
// list itself plus every entry.
func (c *Client) Import(ctx context.Context, ref Reference, o ImportOptions) (*Result, error) {
	var result *Result
	err := c.call(ctx, "importing", ref, o, func(s *session) error {
		var err error
		result, err = importImage(ctx, s, ref, o)
		return err
	})
	return result, err
}

// importImage does one Import attempt with one session.
func importImage(ctx context.Context, s *session, ref Reference, o ImportOptions) (*Result, error) {
	desc, err := s.puller.Get(ctx, s.ref)
	if err != nil {
		return nil, err
	}
	if err := CheckManifestSize(desc.Digest.String(), desc.Manifest); err != nil {
		return nil, err
	}
	if !desc.MediaType.IsIndex() {
		img, err := imageFromDescriptor(ref, desc)
		if err != nil {
			return nil, err
		}
		return &Result{Image: img, Reference: img.DockerImageReference}, nil
	}
	list := &imagev1.Image{
		ObjectMeta:                   metav1.ObjectMeta{Name: desc.Digest.String()},
		DockerImageReference:         ref.RepositoryName() + "@" + desc.Digest.String(),
		DockerImageManifest:          string(desc.Manifest),
		DockerImageManifestMediaType: string(desc.MediaType),
	}
	if err := ImageWithMetadata(list); err != nil {
		return nil, err
	}
	repo := s.ref.Context()
	if o.ImportMode != imagev1.ImportModePreserveOriginal {
		chosen, err := choosePlatform(list.DockerImageManifests, o)
		if err != nil {
			return nil, fmt.Errorf("manifest list %s: %w", list.Name, err)
		}
		img, err := fetchImage(ctx, s, ref, repo.Digest(chosen.Digest))
		if err != nil {
			return nil, err
		}
		return &Result{Image: img, Reference: img.DockerImageReference}, nil
	}
	result := &Result{Image: list, Reference: list.DockerImageReference}
	for _, m := range list.DockerImageManifests {
		img, err := fetchImage(ctx, s, ref, repo.Digest(m.Digest))
		if err != nil {
			return nil, fmt.Errorf("manifest list %s, entry %s: %w", list.Name, m.Digest, err)
		}
		result.Manifests = append(result.Manifests, img)
	}
	return result, nil
}

// fetchImage gets one image manifest by digest.
func fetchImage(ctx context.Context, s *session, ref Reference, digest name.Digest) (*imagev1.Image, error) {
	desc, err := s.puller.Get(ctx, digest)
	if err != nil {
		return nil, err
	}
	if desc.MediaType.IsIndex() {
		return nil, fmt.Errorf("%s is a nested manifest list, which is not supported", digest.DigestStr())
	}
	return imageFromDescriptor(ref, desc)
}

// imageFromDescriptor fetches an image manifest's config blob and fills
// the Image as the registry hook does for pushed images (ImageWithMetadata).
func imageFromDescriptor(ref Reference, desc *remote.Descriptor) (*imagev1.Image, error) {
	if !desc.MediaType.IsImage() {
		return nil, fmt.Errorf("%s has media type %s, not an image manifest", desc.Digest, desc.MediaType)
	}
	img, err := desc.Image()
	if err != nil {
		return nil, err
	}
	if err := CheckLimits(desc.Digest.String(), img); err != nil {
		return nil, err
	}
	config, err := img.RawConfigFile()
	if err != nil {
		return nil, fmt.Errorf("fetching the config of %s: %w", desc.Digest, err)
	}
	out := &imagev1.Image{
		ObjectMeta: metav1.ObjectMeta{
			Name:        desc.Digest.String(),
			Annotations: map[string]string{imagev1.DockerImageLayersOrderAnnotation: imagev1.DockerImageLayersOrderAscending},
		},
		DockerImageReference:         ref.RepositoryName() + "@" + desc.Digest.String(),
		DockerImageManifest:          string(desc.Manifest),
		DockerImageManifestMediaType: string(desc.MediaType),
		DockerImageConfig:            string(config),
	}
	if err := ImageWithMetadata(out); err != nil {
		return nil, err
	}
	return out, nil
}

// choosePlatform picks a list entry: PreferOS/PreferArch (default
// linux/amd64), then linux/amd64, then the first entry.
func choosePlatform(entries []imagev1.ImageManifest, o ImportOptions) (imagev1.ImageManifest, error) {
	if len(entries) == 0 {
		return imagev1.ImageManifest{}, fmt.Errorf("the list has no entries")
	}
	wantOS, wantArch := o.PreferOS, o.PreferArch
	if wantOS == "" {
		wantOS = "linux"
	}
	if wantArch == "" {
		wantArch = "amd64"
	}
	for _, want := range [][2]string{{wantOS, wantArch}, {"linux", "amd64"}} {
		for _, m := range entries {
			if m.OS == want[0] && m.Architecture == want[1] {
				return m, nil
			}
		}
	}
	return entries[0], nil
}
