package image

import (
	"context"
	"strings"
	"testing"

	imagev1 "github.com/openshift/api/image/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

const digest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func TestValidateImage(t *testing.T) {
	tests := []struct {
		name  string
		image imagev1.Image
		want  []string
	}{
		{name: "valid", image: imagev1.Image{ObjectMeta: metav1.ObjectMeta{Name: digest}, DockerImageReference: "registry:5000/ns/app@" + digest}},
		{name: "name not a digest", image: imagev1.Image{ObjectMeta: metav1.ObjectMeta{Name: "latest"}, DockerImageReference: "nginx"},
			want: []string{"metadata.name: Invalid value"}},
		{name: "short digest", image: imagev1.Image{ObjectMeta: metav1.ObjectMeta{Name: "sha256:0123"}, DockerImageReference: "nginx"},
			want: []string{"metadata.name: Invalid value"}},
		{name: "missing reference", image: imagev1.Image{ObjectMeta: metav1.ObjectMeta{Name: digest}},
			want: []string{"dockerImageReference: Required value"}},
		{name: "bad reference", image: imagev1.Image{ObjectMeta: metav1.ObjectMeta{Name: digest}, DockerImageReference: "Not A Ref"},
			want: []string{"dockerImageReference: Invalid value"}},
		{name: "layer without name", image: imagev1.Image{ObjectMeta: metav1.ObjectMeta{Name: digest}, DockerImageReference: "nginx",
			DockerImageLayers: []imagev1.ImageLayer{{Name: "sha256:l"}, {}}},
			want: []string{"dockerImageLayers[1].name: Required value"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			errs := NewStrategy().Validate(context.Background(), &tt.image)
			if len(errs) != len(tt.want) {
				t.Fatalf("errors = %v, want %v", errs, tt.want)
			}
			for i, want := range tt.want {
				if !strings.HasPrefix(errs[i].Error(), want) {
					t.Errorf("error %d = %q, want prefix %q", i, errs[i].Error(), want)
				}
			}
		})
	}
}

func TestValidateImageUpdateKeepsName(t *testing.T) {
	old := &imagev1.Image{ObjectMeta: metav1.ObjectMeta{Name: digest, ResourceVersion: "1"}, DockerImageReference: "a"}
	changed := old.DeepCopy()
	changed.DockerImageReference = ""
	errs := NewStrategy().ValidateUpdate(context.Background(), changed, old)
	if len(errs) != 1 || errs[0].Field != "dockerImageReference" {
		t.Errorf("errors = %v, want dockerImageReference required", errs)
	}
}

func TestTableConvertor(t *testing.T) {
	list := &imagev1.ImageList{Items: []imagev1.Image{
		{ObjectMeta: metav1.ObjectMeta{Name: digest}, DockerImageReference: "quay.io/a/b@" + digest},
	}}
	table, err := TableConvertor{}.ConvertToTable(context.Background(), list, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(table.ColumnDefinitions) != 2 || table.ColumnDefinitions[0].Name != "Name" || table.ColumnDefinitions[1].Name != "Image Reference" {
		t.Errorf("columns = %+v", table.ColumnDefinitions)
	}
	if len(table.Rows) != 1 || table.Rows[0].Cells[0] != digest || table.Rows[0].Cells[1] != "quay.io/a/b@"+digest {
		t.Errorf("rows = %+v", table.Rows)
	}
	if _, err := (TableConvertor{}).ConvertToTable(context.Background(), &imagev1.ImageStream{}, nil); err == nil {
		t.Error("expected an error for a non-image object")
	}
}
