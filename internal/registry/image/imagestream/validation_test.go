package imagestream

import (
	"context"
	"strings"
	"testing"
	"time"

	imagev1 "github.com/openshift/api/image/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

func TestValidateImageStream(t *testing.T) {
	tag := func(name string, from *corev1.ObjectReference) imagev1.TagReference {
		return imagev1.TagReference{Name: name, From: from}
	}
	tests := []struct {
		name   string
		mutate func(*imagev1.ImageStream)
		want   []string // "field: type" prefixes, in order
	}{
		{name: "valid", mutate: func(is *imagev1.ImageStream) {
			is.Spec.DockerImageRepository = "quay.io/org/app"
			is.Spec.Tags = []imagev1.TagReference{
				tag("latest", docker("quay.io/org/app:1.0")),
				tag("pinned", docker("quay.io/org/app@"+digestA)),
				tag("alias", istag("latest")),
				tag("other", istag("base:1.0")),
				tag("img", &corev1.ObjectReference{Kind: KindImageStreamImage, Name: "base@sha256:abc"}),
				{Name: "nofrom"},
			}
		}},
		{name: "uppercase name", mutate: func(is *imagev1.ImageStream) { is.Name = "App" },
			want: []string{"metadata.name: Invalid value"}},
		{name: "missing from name", mutate: func(is *imagev1.ImageStream) {
			is.Spec.Tags = []imagev1.TagReference{tag("latest", &corev1.ObjectReference{Kind: KindDockerImage})}
		}, want: []string{"spec.tags[0].from.name: Required value"}},
		{name: "missing from kind", mutate: func(is *imagev1.ImageStream) {
			is.Spec.Tags = []imagev1.TagReference{tag("latest", &corev1.ObjectReference{Name: "nginx"})}
		}, want: []string{"spec.tags[0].from.kind: Required value"}},
		{name: "unsupported from kind", mutate: func(is *imagev1.ImageStream) {
			is.Spec.Tags = []imagev1.TagReference{tag("latest", &corev1.ObjectReference{Kind: "Pod", Name: "nginx"})}
		}, want: []string{"spec.tags[0].from.kind: Unsupported value"}},
		{name: "bad docker reference", mutate: func(is *imagev1.ImageStream) {
			is.Spec.Tags = []imagev1.TagReference{tag("ok", docker("nginx")), tag("latest", docker("Quay.io/Org/App"))}
		}, want: []string{"spec.tags[1].from.name: Invalid value"}},
		{name: "bad docker digest", mutate: func(is *imagev1.ImageStream) {
			is.Spec.Tags = []imagev1.TagReference{tag("latest", docker("nginx@sha256:123"))}
		}, want: []string{"spec.tags[0].from.name: Invalid value"}},
		{name: "istag with two colons", mutate: func(is *imagev1.ImageStream) {
			is.Spec.Tags = []imagev1.TagReference{tag("latest", istag("a:b:c"))}
		}, want: []string{"spec.tags[0].from.name: Invalid value"}},
		{name: "istag with bad stream", mutate: func(is *imagev1.ImageStream) {
			is.Spec.Tags = []imagev1.TagReference{tag("latest", istag("Bad_Stream:1"))}
		}, want: []string{"spec.tags[0].from.name: Invalid value"}},
		{name: "bad from namespace", mutate: func(is *imagev1.ImageStream) {
			is.Spec.Tags = []imagev1.TagReference{tag("latest", &corev1.ObjectReference{Kind: KindImageStreamTag, Name: "a:b", Namespace: "Not_OK"})}
		}, want: []string{"spec.tags[0].from.namespace: Invalid value"}},
		{name: "bad tag name", mutate: func(is *imagev1.ImageStream) {
			is.Spec.Tags = []imagev1.TagReference{tag("-bad", docker("nginx"))}
		}, want: []string{"spec.tags[0].name: Invalid value"}},
		{name: "missing tag name", mutate: func(is *imagev1.ImageStream) {
			is.Spec.Tags = []imagev1.TagReference{tag("", docker("nginx"))}
		}, want: []string{"spec.tags[0].name: Required value"}},
		{name: "duplicate tag", mutate: func(is *imagev1.ImageStream) {
			is.Spec.Tags = []imagev1.TagReference{tag("a", docker("nginx")), tag("a", docker("nginx"))}
		}, want: []string{"spec.tags[1].name: Duplicate value"}},
		{name: "bad reference policy", mutate: func(is *imagev1.ImageStream) {
			is.Spec.Tags = []imagev1.TagReference{{Name: "a", ReferencePolicy: imagev1.TagReferencePolicy{Type: "Remote"}}}
		}, want: []string{"spec.tags[0].referencePolicy.type: Unsupported value"}},
		{name: "bad import mode", mutate: func(is *imagev1.ImageStream) {
			is.Spec.Tags = []imagev1.TagReference{{Name: "a", ImportPolicy: imagev1.TagImportPolicy{ImportMode: "Everything"}}}
		}, want: []string{"spec.tags[0].importPolicy.importMode: Unsupported value"}},
		{name: "docker image repository with tag", mutate: func(is *imagev1.ImageStream) {
			is.Spec.DockerImageRepository = "quay.io/org/app:latest"
		}, want: []string{"spec.dockerImageRepository: Invalid value"}},
		{name: "docker image repository unparsable", mutate: func(is *imagev1.ImageStream) {
			is.Spec.DockerImageRepository = "UPPER/case"
		}, want: []string{"spec.dockerImageRepository: Invalid value"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			is := stream()
			tt.mutate(is)
			SetDefaultsImageStream(is)
			errs := ValidateImageStream(is)
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

func TestTableConvertor(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	at := func(d time.Duration) metav1.Time { return metav1.NewTime(now.Add(-d)) }
	events := func(d time.Duration) []imagev1.TagEvent {
		return []imagev1.TagEvent{{Created: at(d), DockerImageReference: "x"}}
	}
	full := imagev1.ImageStream{
		ObjectMeta: metav1.ObjectMeta{Name: "app", Namespace: "ns"},
		Status: imagev1.ImageStreamStatus{
			DockerImageRepository: host + "/ns/app",
			Tags: []imagev1.NamedTagEventList{
				{Tag: "v2", Items: events(3 * time.Hour)},
				{Tag: "latest", Items: events(5 * time.Minute)},
				{Tag: "a", Items: events(2 * time.Hour)},
				{Tag: "v1", Items: events(4 * time.Hour)},
				{Tag: "empty"},
			},
		},
	}
	public := imagev1.ImageStream{
		ObjectMeta: metav1.ObjectMeta{Name: "pub"},
		Status: imagev1.ImageStreamStatus{
			DockerImageRepository:       host + "/ns/pub",
			PublicDockerImageRepository: "registry.example.com/ns/pub",
			Tags:                        []imagev1.NamedTagEventList{{Tag: "b", Items: events(time.Minute)}, {Tag: "latest", Items: events(2 * time.Minute)}},
		},
	}
	bare := imagev1.ImageStream{ObjectMeta: metav1.ObjectMeta{Name: "bare"}, Spec: imagev1.ImageStreamSpec{DockerImageRepository: "quay.io/a/b"}}

	table, err := TableConvertor{Now: func() time.Time { return now }}.ConvertToTable(context.Background(),
		&imagev1.ImageStreamList{ListMeta: metav1.ListMeta{ResourceVersion: "42"}, Items: []imagev1.ImageStream{full, public, bare}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var headers []string
	for _, c := range table.ColumnDefinitions {
		headers = append(headers, c.Name)
	}
	if got := strings.Join(headers, ","); got != "Name,Image Repository,Tags,Updated" {
		t.Errorf("columns = %s", got)
	}
	if table.ResourceVersion != "42" {
		t.Errorf("resourceVersion = %q", table.ResourceVersion)
	}
	want := [][]interface{}{
		{"app", host + "/ns/app", "latest,a,v1 + 1 more...", "5m ago"},
		{"pub", "registry.example.com/ns/pub", "latest,b", "60s ago"},
		{"bare", "quay.io/a/b", "", ""},
	}
	if len(table.Rows) != len(want) {
		t.Fatalf("rows = %d, want %d", len(table.Rows), len(want))
	}
	for i, row := range table.Rows {
		for j := range want[i] {
			if row.Cells[j] != want[i][j] {
				t.Errorf("row %d cell %d = %q, want %q", i, j, row.Cells[j], want[i][j])
			}
		}
		if row.Object.Object == nil {
			t.Errorf("row %d has no object", i)
		}
	}

	noHeaders, err := TableConvertor{}.ConvertToTable(context.Background(), &full, &metav1.TableOptions{NoHeaders: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(noHeaders.ColumnDefinitions) != 0 || len(noHeaders.Rows) != 1 {
		t.Errorf("noHeaders table = %+v", noHeaders)
	}
}

// TestScheduledImport: only a tag of a registry repository may be
// scheduled for import, as OpenShift rules.
func TestScheduledImport(t *testing.T) {
	const digest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	for _, tc := range []struct {
		kind, name, wantField string
	}{
		{KindDockerImage, "busybox:latest", ""},
		{KindDockerImage, "busybox@" + digest, "spec.tags[0].from.name"},
		{KindImageStreamTag, "other:latest", "spec.tags[0].importPolicy.scheduled"},
		{KindImageStreamImage, "other@" + digest, "spec.tags[0].importPolicy.scheduled"},
	} {
		tagRef := imagev1.TagReference{Name: "a", From: &corev1.ObjectReference{Kind: tc.kind, Name: tc.name},
			ImportPolicy: imagev1.TagImportPolicy{Scheduled: true}, ReferencePolicy: imagev1.TagReferencePolicy{Type: imagev1.SourceTagReferencePolicy}}
		errs := ValidateTagReference(&tagRef, field.NewPath("spec", "tags").Index(0))
		switch {
		case tc.wantField == "" && len(errs) > 0:
			t.Errorf("%s %s: %v, want valid", tc.kind, tc.name, errs)
		case tc.wantField != "" && (len(errs) != 1 || errs[0].Field != tc.wantField):
			t.Errorf("%s %s: %v, want one error at %s", tc.kind, tc.name, errs, tc.wantField)
		}
	}
}
