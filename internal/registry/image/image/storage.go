package image

import (
	"context"
	"fmt"

	imagev1 "github.com/openshift/api/image/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apiserver/pkg/registry/generic"
	genericregistry "k8s.io/apiserver/pkg/registry/generic/registry"

	"github.com/slipway-dev/slipway/internal/registry/storebase"
)

// REST is the images storage.
type REST struct {
	*genericregistry.Store
}

// NewREST returns the images storage.
func NewREST(optsGetter generic.RESTOptionsGetter) (*REST, error) {
	store, err := storebase.NewStore(optsGetter, storebase.Resource{
		Group:    imagev1.GroupName,
		Plural:   "images",
		Singular: "image",
		New:      func() runtime.Object { return &imagev1.Image{} },
		NewList:  func() runtime.Object { return &imagev1.ImageList{} },
		Strategy: NewStrategy(),
		Table:    TableConvertor{},
		Attrs:    GetAttrs,
	})
	if err != nil {
		return nil, err
	}
	return &REST{Store: store}, nil
}

var columns = []metav1.TableColumnDefinition{
	{Name: "Name", Type: "string", Format: "name", Description: "Manifest digest of the image."},
	{Name: "Image Reference", Type: "string", Description: "Pull spec of the image."},
}

// TableConvertor renders images the way `oc get images` does.
type TableConvertor struct{}

// ConvertToTable renders an Image or an ImageList.
func (TableConvertor) ConvertToTable(ctx context.Context, obj runtime.Object, tableOptions runtime.Object) (*metav1.Table, error) {
	table := &metav1.Table{}
	if opt, ok := tableOptions.(*metav1.TableOptions); !ok || !opt.NoHeaders {
		table.ColumnDefinitions = columns
	}
	var images []imagev1.Image
	switch t := obj.(type) {
	case *imagev1.Image:
		images = []imagev1.Image{*t}
	case *imagev1.ImageList:
		images = t.Items
		table.ResourceVersion = t.ResourceVersion
		table.Continue = t.Continue
		table.RemainingItemCount = t.RemainingItemCount
	default:
		return nil, fmt.Errorf("image table: unexpected object %T", obj)
	}
	for i := range images {
		image := &images[i]
		table.Rows = append(table.Rows, metav1.TableRow{
			Cells:  []interface{}{image.Name, image.DockerImageReference},
			Object: runtime.RawExtension{Object: image},
		})
	}
	if m, err := meta.ListAccessor(obj); err == nil {
		table.SelfLink = m.GetSelfLink()
	}
	return table, nil
}
