package imagestreamimport

import (
	"strings"
	"testing"

	imagev1 "github.com/openshift/api/image/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestValidateImageStreamImport(t *testing.T) {
	docker := func(name string) corev1.ObjectReference {
		return corev1.ObjectReference{Kind: "DockerImage", Name: name}
	}
	isi := func(mutate func(*imagev1.ImageStreamImport)) *imagev1.ImageStreamImport {
		i := &imagev1.ImageStreamImport{
			ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "app"},
			Spec: imagev1.ImageStreamImportSpec{Import: true, Images: []imagev1.ImageImportSpec{
				{From: docker("registry.example.com/team/app:v1"), To: &corev1.LocalObjectReference{Name: "v1"}},
			}},
		}
		mutate(i)
		return i
	}
	tests := []struct {
		name      string
		isi       *imagev1.ImageStreamImport
		wantField string // "" means valid
	}{
		{"valid by tag", isi(func(*imagev1.ImageStreamImport) {}), ""},
		{"valid by digest", isi(func(i *imagev1.ImageStreamImport) {
			i.Spec.Images[0].From.Name = "registry.example.com/app@sha256:" + strings.Repeat("a", 64)
		}), ""},
		{"valid repository", isi(func(i *imagev1.ImageStreamImport) {
			i.Spec.Images = nil
			i.Spec.Repository = &imagev1.RepositoryImportSpec{From: docker("registry.example.com/team/app")}
		}), ""},
		{"no stream name", isi(func(i *imagev1.ImageStreamImport) { i.Name = "" }), "metadata.name"},
		{"bad stream name", isi(func(i *imagev1.ImageStreamImport) { i.Name = "Not_A_Name" }), "metadata.name"},
		{"nothing to import", isi(func(i *imagev1.ImageStreamImport) { i.Spec.Images = nil }), "spec.images"},
		{"other kind", isi(func(i *imagev1.ImageStreamImport) { i.Spec.Images[0].From.Kind = "ImageStreamTag" }), "spec.images[0].from.kind"},
		{"no from name", isi(func(i *imagev1.ImageStreamImport) { i.Spec.Images[0].From.Name = "" }), "spec.images[0].from.name"},
		{"unparseable from", isi(func(i *imagev1.ImageStreamImport) { i.Spec.Images[0].From.Name = "Bad Name!" }), "spec.images[0].from.name"},
		{"empty target tag", isi(func(i *imagev1.ImageStreamImport) { i.Spec.Images[0].To.Name = "" }), "spec.images[0].to.name"},
		{"bad target tag", isi(func(i *imagev1.ImageStreamImport) { i.Spec.Images[0].To.Name = "-x" }), "spec.images[0].to.name"},
		{"scheduled digest", isi(func(i *imagev1.ImageStreamImport) {
			i.Spec.Images[0].From.Name = "registry.example.com/app@sha256:" + strings.Repeat("a", 64)
			i.Spec.Images[0].ImportPolicy.Scheduled = true
		}), "spec.images[0].from.name"},
		{"repository with a tag", isi(func(i *imagev1.ImageStreamImport) {
			i.Spec.Repository = &imagev1.RepositoryImportSpec{From: docker("registry.example.com/app:v1")}
		}), "spec.repository.from.name"},
		{"repository of another kind", isi(func(i *imagev1.ImageStreamImport) {
			i.Spec.Repository = &imagev1.RepositoryImportSpec{From: corev1.ObjectReference{Kind: "ImageStreamTag", Name: "app"}}
		}), "spec.repository.from.kind"},
		{"repository without a name", isi(func(i *imagev1.ImageStreamImport) {
			i.Spec.Repository = &imagev1.RepositoryImportSpec{From: docker("")}
		}), "spec.repository.from.name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			errs := ValidateImageStreamImport(tt.isi)
			if tt.wantField == "" {
				if len(errs) > 0 {
					t.Errorf("unexpected errors: %v", errs)
				}
				return
			}
			if len(errs) != 1 || errs[0].Field != tt.wantField {
				t.Errorf("errors = %v, want one on %s", errs, tt.wantField)
			}
		})
	}
}
