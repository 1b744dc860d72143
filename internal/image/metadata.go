package image

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"strings"

	ggcrv1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/openshift/api/image/docker10"
	imagev1 "github.com/openshift/api/image/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// MetadataVersion is the dockerImageMetadataVersion of the metadata
// ImageWithMetadata writes: docker10.DockerImage, as OpenShift writes it.
const MetadataVersion = "1.0"

// ImageWithMetadata fills an image's dockerImageLayers,
// dockerImageManifestMediaType, dockerImageManifests (for a manifest list or
// OCI index) and dockerImageMetadata (a docker10.DockerImage made from the
// config blob) from its raw dockerImageManifest and dockerImageConfig, as
// OpenShift's API server does for images the registry reports. An image
// without a manifest is left as it is.
func ImageWithMetadata(image *imagev1.Image) error {
	if image.DockerImageManifest == "" {
		return nil
	}
	var probe struct {
		SchemaVersion int             `json:"schemaVersion"`
		MediaType     string          `json:"mediaType"`
		Manifests     json.RawMessage `json:"manifests"`
		Config        json.RawMessage `json:"config"`
	}
	if err := json.Unmarshal([]byte(image.DockerImageManifest), &probe); err != nil {
		return fmt.Errorf("decoding the manifest of image %s: %w", image.Name, err)
	}
	if probe.SchemaVersion != 2 {
		return fmt.Errorf("image %s: manifest schemaVersion %d is not supported, only 2", image.Name, probe.SchemaVersion)
	}
	// OCI manifests may leave mediaType out; the registry's Content-Type,
	// when the caller knows it, is the next best.
	mediaType := cmp.Or(probe.MediaType, image.DockerImageManifestMediaType)
	if len(probe.Manifests) > 0 && len(probe.Config) == 0 {
		return indexWithMetadata(image, mediaType)
	}
	return manifestWithMetadata(image, mediaType)
}

// indexWithMetadata lists the sub-manifests of a manifest list or OCI index.
func indexWithMetadata(image *imagev1.Image, mediaType string) error {
	index, err := ggcrv1.ParseIndexManifest(strings.NewReader(image.DockerImageManifest))
	if err != nil {
		return fmt.Errorf("decoding the manifest list of image %s: %w", image.Name, err)
	}
	if mediaType == "" {
		mediaType = string(types.OCIImageIndex)
	}
	image.DockerImageManifestMediaType = mediaType
	image.DockerImageManifests = nil
	for _, m := range index.Manifests {
		entry := imagev1.ImageManifest{
			Digest:       m.Digest.String(),
			MediaType:    string(m.MediaType),
			ManifestSize: m.Size,
		}
		if m.Platform != nil {
			entry.Architecture, entry.OS, entry.Variant = m.Platform.Architecture, m.Platform.OS, m.Platform.Variant
		}
		image.DockerImageManifests = append(image.DockerImageManifests, entry)
	}
	image.DockerImageLayers = nil
	image.DockerImageMetadata = runtime.RawExtension{}
	image.DockerImageMetadataVersion = ""
	return nil
}

// manifestWithMetadata reads the layers from an image manifest and the
// metadata from its config blob.
func manifestWithMetadata(image *imagev1.Image, mediaType string) error {
	manifest, err := ggcrv1.ParseManifest(strings.NewReader(image.DockerImageManifest))
	if err != nil {
		return fmt.Errorf("decoding the manifest of image %s: %w", image.Name, err)
	}
	if mediaType == "" {
		mediaType = string(types.OCIManifestSchema1)
	}
	image.DockerImageManifestMediaType = mediaType
	image.DockerImageManifests = nil
	image.DockerImageLayers = make([]imagev1.ImageLayer, 0, len(manifest.Layers))
	for _, layer := range manifest.Layers {
		image.DockerImageLayers = append(image.DockerImageLayers, imagev1.ImageLayer{
			Name:      layer.Digest.String(),
			LayerSize: layer.Size,
			MediaType: string(layer.MediaType),
		})
	}
	if image.DockerImageConfig == "" {
		return fmt.Errorf("image %s: dockerImageConfig is required with a manifest", image.Name)
	}
	config, err := ggcrv1.ParseConfigFile(strings.NewReader(image.DockerImageConfig))
	if err != nil {
		return fmt.Errorf("decoding the config of image %s: %w", image.Name, err)
	}
	docker := &docker10.DockerImage{
		TypeMeta:      metav1.TypeMeta{Kind: "DockerImage", APIVersion: docker10.GroupVersion.String()},
		ID:            manifest.Config.Digest.String(),
		Created:       metav1.NewTime(config.Created.Time),
		Container:     config.Container,
		DockerVersion: config.DockerVersion,
		Author:        config.Author,
		Architecture:  config.Architecture,
		Config:        dockerConfig(config.Config),
	}
	// Size as OpenShift counts it: the config blob plus each distinct layer.
	docker.Size = int64(len(image.DockerImageConfig))
	seen := map[string]bool{}
	for _, layer := range image.DockerImageLayers {
		if !seen[layer.Name] {
			seen[layer.Name] = true
			docker.Size += layer.LayerSize
		}
	}
	var raw bytes.Buffer
	if err := json.NewEncoder(&raw).Encode(docker); err != nil {
		return fmt.Errorf("encoding the metadata of image %s: %w", image.Name, err)
	}
	image.DockerImageMetadata = runtime.RawExtension{Raw: bytes.TrimSpace(raw.Bytes())}
	image.DockerImageMetadataVersion = MetadataVersion
	return nil
}

// dockerConfig converts an OCI/Docker image config's runtime section.
func dockerConfig(c ggcrv1.Config) *docker10.DockerConfig {
	return &docker10.DockerConfig{
		Hostname:        c.Hostname,
		Domainname:      c.Domainname,
		User:            c.User,
		AttachStdin:     c.AttachStdin,
		AttachStdout:    c.AttachStdout,
		AttachStderr:    c.AttachStderr,
		ExposedPorts:    c.ExposedPorts,
		Tty:             c.Tty,
		OpenStdin:       c.OpenStdin,
		StdinOnce:       c.StdinOnce,
		Env:             c.Env,
		Cmd:             c.Cmd,
		Image:           c.Image,
		Volumes:         c.Volumes,
		WorkingDir:      c.WorkingDir,
		Entrypoint:      c.Entrypoint,
		NetworkDisabled: c.NetworkDisabled,
		OnBuild:         c.OnBuild,
		Labels:          c.Labels,
	}
}
