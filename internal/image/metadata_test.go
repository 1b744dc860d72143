package image

import (
	"strings"
	"testing"

	imagev1 "github.com/openshift/api/image/v1"
)

func TestImageWithMetadataIndex(t *testing.T) {
	index := `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[` +
		`{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:` + strings.Repeat("1", 64) + `","size":500,"platform":{"architecture":"amd64","os":"linux"}},` +
		`{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:` + strings.Repeat("2", 64) + `","size":501,"platform":{"architecture":"arm64","os":"linux","variant":"v8"}}]}`
	img := &imagev1.Image{DockerImageManifest: index}
	if err := ImageWithMetadata(img); err != nil {
		t.Fatal(err)
	}
	if img.DockerImageManifestMediaType != "application/vnd.oci.image.index.v1+json" || len(img.DockerImageLayers) != 0 || len(img.DockerImageMetadata.Raw) != 0 {
		t.Errorf("index image = %+v", img)
	}
	want := []imagev1.ImageManifest{
		{Digest: "sha256:" + strings.Repeat("1", 64), MediaType: "application/vnd.oci.image.manifest.v1+json", ManifestSize: 500, Architecture: "amd64", OS: "linux"},
		{Digest: "sha256:" + strings.Repeat("2", 64), MediaType: "application/vnd.oci.image.manifest.v1+json", ManifestSize: 501, Architecture: "arm64", OS: "linux", Variant: "v8"},
	}
	if len(img.DockerImageManifests) != 2 || img.DockerImageManifests[0] != want[0] || img.DockerImageManifests[1] != want[1] {
		t.Errorf("manifests = %+v, want %+v", img.DockerImageManifests, want)
	}
}

func TestImageWithMetadataErrors(t *testing.T) {
	tests := map[string]imagev1.Image{
		"schema 1":           {DockerImageManifest: `{"schemaVersion":1}`},
		"not json":           {DockerImageManifest: `{`},
		"manifest no config": {DockerImageManifest: `{"schemaVersion":2,"config":{"digest":"sha256:` + strings.Repeat("3", 64) + `"},"layers":[]}`},
	}
	for name, img := range tests {
		if err := ImageWithMetadata(&img); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	empty := imagev1.Image{}
	if err := ImageWithMetadata(&empty); err != nil {
		t.Errorf("an image without a manifest: %v", err)
	}
}
