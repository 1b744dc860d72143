package image

import (
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Limits on what a registry may make Slipway read into memory (and store
// in an Image object) for one image: the OCI distribution spec's 4 MiB
// for a manifest, and 8 MiB for a config blob, which no real image comes
// near. They hold for imports and for the node's pulls.
const (
	MaxManifestSize = 4 << 20
	MaxConfigSize   = 8 << 20
)

// CheckManifestSize refuses a manifest (or list) over MaxManifestSize.
func CheckManifestSize(digest string, manifest []byte) error {
	if len(manifest) > MaxManifestSize {
		return fmt.Errorf("the manifest %s is %d bytes, over the limit of %d MiB", digest, len(manifest), MaxManifestSize>>20)
	}
	return nil
}

// CheckLimits refuses img when its manifest, or the config blob the
// manifest declares, is over the limits; the blob is not fetched.
func CheckLimits(digest string, img v1.Image) error {
	raw, err := img.RawManifest()
	if err != nil {
		return err
	}
	if err := CheckManifestSize(digest, raw); err != nil {
		return err
	}
	m, err := img.Manifest()
	if err != nil {
		return err
	}
	if m.Config.Size > MaxConfigSize {
		return fmt.Errorf("the config blob of %s is %d bytes, over the limit of %d MiB", digest, m.Config.Size, MaxConfigSize>>20)
	}
	return nil
}
