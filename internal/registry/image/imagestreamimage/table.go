package imagestreamimage

import (
	"context"
	"fmt"
	"time"

	imagev1 "github.com/openshift/api/image/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/duration"
)

var columns = []metav1.TableColumnDefinition{
	{Name: "Name", Type: "string", Format: "name", Description: "<stream>@<digest>."},
	{Name: "Updated", Type: "string", Description: "Time since the image was recorded."},
	{Name: "Image Reference", Type: "string", Priority: 1, Description: "Pull spec of the image."},
	{Name: "Image Name", Type: "string", Priority: 1, Description: "Digest of the image."},
}

// TableConvertor renders image stream images the way `oc get isimage` does
// (NAME, UPDATED; -o wide adds the reference and the digest).
type TableConvertor struct {
	// Now is the reference time for UPDATED; nil means time.Now.
	Now func() time.Time
}

// ConvertToTable renders an ImageStreamImage.
func (c TableConvertor) ConvertToTable(ctx context.Context, obj runtime.Object, tableOptions runtime.Object) (*metav1.Table, error) {
	now := time.Now
	if c.Now != nil {
		now = c.Now
	}
	isimage, ok := obj.(*imagev1.ImageStreamImage)
	if !ok {
		return nil, fmt.Errorf("image stream image table: unexpected object %T", obj)
	}
	table := &metav1.Table{}
	if opt, ok := tableOptions.(*metav1.TableOptions); !ok || !opt.NoHeaders {
		table.ColumnDefinitions = columns
	}
	updated := ""
	if !isimage.CreationTimestamp.IsZero() {
		updated = duration.HumanDuration(now().Sub(isimage.CreationTimestamp.Time)) + " ago"
	}
	table.Rows = append(table.Rows, metav1.TableRow{
		Cells:  []interface{}{isimage.Name, updated, isimage.Image.DockerImageReference, isimage.Image.Name},
		Object: runtime.RawExtension{Object: isimage},
	})
	return table, nil
}
