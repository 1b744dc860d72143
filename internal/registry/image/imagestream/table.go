package imagestream

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	imagev1 "github.com/openshift/api/image/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/duration"
)

// maxTagsShown is how many tag names the TAGS column lists before "+ N more...".
const maxTagsShown = 3

var columns = []metav1.TableColumnDefinition{
	{Name: "Name", Type: "string", Format: "name", Description: "Name of the image stream."},
	{Name: "Image Repository", Type: "string", Description: "Pull spec of the stream: the public or the internal registry repository."},
	{Name: "Tags", Type: "string", Description: "Tags that have images."},
	{Name: "Updated", Type: "string", Description: "Time since the newest tag event."},
}

// TableConvertor renders image streams the way `oc get is` does.
type TableConvertor struct {
	// Now is the reference time for UPDATED; nil means time.Now.
	Now func() time.Time
}

// ConvertToTable renders an ImageStream or an ImageStreamList.
func (c TableConvertor) ConvertToTable(ctx context.Context, obj runtime.Object, tableOptions runtime.Object) (*metav1.Table, error) {
	now := time.Now
	if c.Now != nil {
		now = c.Now
	}
	table := &metav1.Table{}
	if opt, ok := tableOptions.(*metav1.TableOptions); !ok || !opt.NoHeaders {
		table.ColumnDefinitions = columns
	}
	var streams []imagev1.ImageStream
	switch t := obj.(type) {
	case *imagev1.ImageStream:
		streams = []imagev1.ImageStream{*t}
	case *imagev1.ImageStreamList:
		streams = t.Items
		table.ResourceVersion = t.ResourceVersion
		table.Continue = t.Continue
		table.RemainingItemCount = t.RemainingItemCount
	default:
		return nil, fmt.Errorf("image stream table: unexpected object %T", obj)
	}
	for i := range streams {
		stream := &streams[i]
		table.Rows = append(table.Rows, metav1.TableRow{
			Cells:  []interface{}{stream.Name, imageRepository(stream), tagSummary(stream), updated(stream, now())},
			Object: runtime.RawExtension{Object: stream},
		})
	}
	if m, err := meta.ListAccessor(obj); err == nil {
		table.SelfLink = m.GetSelfLink()
	}
	return table, nil
}

// imageRepository is the public repository when exposed, else the internal
// one, else the spec's external source.
func imageRepository(stream *imagev1.ImageStream) string {
	switch {
	case stream.Status.PublicDockerImageRepository != "":
		return stream.Status.PublicDockerImageRepository
	case stream.Status.DockerImageRepository != "":
		return stream.Status.DockerImageRepository
	default:
		return stream.Spec.DockerImageRepository
	}
}

// tagSummary lists the status tags that have events, "latest" first then
// alphabetically, at most maxTagsShown of them.
func tagSummary(stream *imagev1.ImageStream) string {
	var names []string
	for _, list := range stream.Status.Tags {
		if len(list.Items) > 0 {
			names = append(names, list.Tag)
		}
	}
	sort.Slice(names, func(i, j int) bool {
		if (names[i] == "latest") != (names[j] == "latest") {
			return names[i] == "latest"
		}
		return names[i] < names[j]
	})
	if len(names) > maxTagsShown {
		return strings.Join(names[:maxTagsShown], ",") + fmt.Sprintf(" + %d more...", len(names)-maxTagsShown)
	}
	return strings.Join(names, ",")
}

// updated is the age of the newest event of any tag, "" when there is none.
func updated(stream *imagev1.ImageStream, now time.Time) string {
	var newest time.Time
	for _, list := range stream.Status.Tags {
		if len(list.Items) > 0 && list.Items[0].Created.After(newest) {
			newest = list.Items[0].Created.Time
		}
	}
	if newest.IsZero() {
		return ""
	}
	return duration.HumanDuration(now.Sub(newest)) + " ago"
}
