package imagestreammapping

import (
	imagev1 "github.com/openshift/api/image/v1"

	imagemetadata "github.com/slipway-dev/slipway/internal/image"
)

// MetadataVersion is the dockerImageMetadataVersion ImageWithMetadata writes.
const MetadataVersion = imagemetadata.MetadataVersion

// ImageWithMetadata fills an image's metadata from its raw manifest and
// config; see image.ImageWithMetadata, which imports share.
func ImageWithMetadata(image *imagev1.Image) error {
	return imagemetadata.ImageWithMetadata(image)
}
