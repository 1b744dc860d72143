package imagestreamtag

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
	{Name: "Name", Type: "string", Format: "name", Description: "<stream>:<tag>."},
	{Name: "Image Reference", Type: "string", Description: "Pull spec the tag resolves to."},
	{Name: "Updated", Type: "string", Description: "Time since the tag's newest event."},
	{Name: "Image Name", Type: "string", Priority: 1, Description: "Digest of the tag's image."},
}

// TableConvertor renders image stream tags the way `oc get istag` does.
type TableConvertor struct {
	// Now is the reference time for UPDATED; nil means time.Now.
	Now func() time.Time
}

// ConvertToTable renders an ImageStreamTag or an ImageStreamTagList.
func (c TableConvertor) ConvertToTable(ctx context.Context, obj runtime.Object, tableOptions runtime.Object) (*metav1.Table, error) {
	now := time.Now
	if c.Now != nil {
		now = c.Now
	}
	table := &metav1.Table{}
	if opt, ok := tableOptions.(*metav1.TableOptions); !ok || !opt.NoHeaders {
		table.ColumnDefinitions = columns
	}
	var tags []imagev1.ImageStreamTag
	switch t := obj.(type) {
	case *imagev1.ImageStreamTag:
		tags = []imagev1.ImageStreamTag{*t}
	case *imagev1.ImageStreamTagList:
		tags = t.Items
		table.ResourceVersion = t.ResourceVersion
	default:
		return nil, fmt.Errorf("image stream tag table: unexpected object %T", obj)
	}
	for i := range tags {
		istag := &tags[i]
		updated := ""
		// A tag without events has nothing to date; its creation time is
		// the stream's, which would mislead.
		if istag.Image.DockerImageReference != "" && !istag.CreationTimestamp.IsZero() {
			updated = duration.HumanDuration(now().Sub(istag.CreationTimestamp.Time)) + " ago"
		}
		table.Rows = append(table.Rows, metav1.TableRow{
			Cells:  []interface{}{istag.Name, istag.Image.DockerImageReference, updated, istag.Image.Name},
			Object: runtime.RawExtension{Object: istag},
		})
	}
	return table, nil
}
