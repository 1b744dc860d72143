package imageimport

import (
	"testing"

	imagev1 "github.com/openshift/api/image/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

const digestA = "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"

func gen(n int64) *int64 { return &n }

func dockerTag(name, from string, generation *int64) imagev1.TagReference {
	return imagev1.TagReference{Name: name, From: &corev1.ObjectReference{Kind: "DockerImage", Name: from}, Generation: generation}
}

func statusTag(tag string, eventGen int64, condGen int64) imagev1.NamedTagEventList {
	list := imagev1.NamedTagEventList{Tag: tag}
	if eventGen > 0 {
		list.Items = []imagev1.TagEvent{{DockerImageReference: "reg.test/a@" + digestA, Image: digestA, Generation: eventGen}}
	}
	if condGen > 0 {
		list.Conditions = []imagev1.TagEventCondition{{Type: imagev1.ImportSuccess, Status: corev1.ConditionFalse, Reason: "NotFound", Generation: condGen}}
	}
	return list
}

func TestTagNeedsImport(t *testing.T) {
	tests := []struct {
		name   string
		tag    imagev1.TagReference
		status []imagev1.NamedTagEventList
		want   bool
	}{
		{"new DockerImage tag", dockerTag("latest", "reg.test/a:latest", gen(1)), nil, true},
		{"imported at its generation", dockerTag("latest", "reg.test/a:latest", gen(2)), []imagev1.NamedTagEventList{statusTag("latest", 2, 0)}, false},
		{"spec newer than the event", dockerTag("latest", "reg.test/a:latest", gen(3)), []imagev1.NamedTagEventList{statusTag("latest", 2, 0)}, true},
		{"failed import at its generation is not retried", dockerTag("latest", "reg.test/a:latest", gen(3)), []imagev1.NamedTagEventList{statusTag("latest", 2, 3)}, false},
		{"spec newer than the failure", dockerTag("latest", "reg.test/a:latest", gen(4)), []imagev1.NamedTagEventList{statusTag("latest", 2, 3)}, true},
		{"another tag's status does not count", dockerTag("latest", "reg.test/a:latest", gen(2)), []imagev1.NamedTagEventList{statusTag("v1", 5, 0)}, true},
		{"reference only", func() imagev1.TagReference {
			t := dockerTag("latest", "reg.test/a:latest", gen(1))
			t.Reference = true
			return t
		}(), nil, false},
		{"ImageStreamTag source", imagev1.TagReference{Name: "b", From: &corev1.ObjectReference{Kind: "ImageStreamTag", Name: "x:latest"}, Generation: gen(1)}, nil, false},
		{"no from", imagev1.TagReference{Name: "c", Generation: gen(1)}, nil, false},
		{"no generation, never imported", dockerTag("latest", "reg.test/a:latest", nil), nil, true},
		{"no generation, imported", dockerTag("latest", "reg.test/a:latest", nil), []imagev1.NamedTagEventList{statusTag("latest", 1, 0)}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stream := &imagev1.ImageStream{Spec: imagev1.ImageStreamSpec{Tags: []imagev1.TagReference{tt.tag}}, Status: imagev1.ImageStreamStatus{Tags: tt.status}}
			if got := tagNeedsImport(stream, tt.tag); got != tt.want {
				t.Errorf("tagNeedsImport = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestRepositoryNeedsImport(t *testing.T) {
	stream := &imagev1.ImageStream{Spec: imagev1.ImageStreamSpec{DockerImageRepository: "reg.test/a"}}
	if !repositoryNeedsImport(stream) {
		t.Error("unchecked repository: no import")
	}
	stream.Annotations = map[string]string{imagev1.DockerImageRepositoryCheckAnnotation: "2026-01-01T00:00:00Z"}
	if repositoryNeedsImport(stream) {
		t.Error("checked repository imported again")
	}
	if repositoryNeedsImport(&imagev1.ImageStream{}) {
		t.Error("stream without repository imported")
	}
}

func TestTagScheduled(t *testing.T) {
	scheduled := func(tag imagev1.TagReference) imagev1.TagReference {
		tag.ImportPolicy.Scheduled = true
		return tag
	}
	tests := []struct {
		name   string
		tag    imagev1.TagReference
		status []imagev1.NamedTagEventList
		want   bool
	}{
		{"scheduled tag", scheduled(dockerTag("latest", "reg.test/a:latest", gen(1))), []imagev1.NamedTagEventList{statusTag("latest", 1, 0)}, true},
		{"not scheduled", dockerTag("latest", "reg.test/a:latest", gen(1)), nil, false},
		{"digest not imported yet", scheduled(dockerTag("pinned", "reg.test/a@"+digestA, gen(1))), nil, true},
		{"digest imported", scheduled(dockerTag("pinned", "reg.test/a@"+digestA, gen(1))), []imagev1.NamedTagEventList{statusTag("pinned", 1, 0)}, false},
		{"bad reference", scheduled(dockerTag("bad", "Not A Reference", gen(1))), nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stream := &imagev1.ImageStream{Spec: imagev1.ImageStreamSpec{Tags: []imagev1.TagReference{tt.tag}}, Status: imagev1.ImageStreamStatus{Tags: tt.status}}
			if got := tagScheduled(stream, tt.tag); got != tt.want {
				t.Errorf("tagScheduled = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestParseSource(t *testing.T) {
	tests := []struct {
		in   string
		want source
	}{
		{"busybox", source{Registry: "docker.io", Repository: "library/busybox", Tag: "latest"}},
		{"veer/time:v2", source{Registry: "docker.io", Repository: "veer/time", Tag: "v2"}},
		{"index.docker.io/library/busybox:1", source{Registry: "docker.io", Repository: "library/busybox", Tag: "1"}},
		{"127.0.0.1:5000/veer/time", source{Registry: "127.0.0.1:5000", Repository: "veer/time", Tag: "latest"}},
		{"localhost/time:v1", source{Registry: "localhost", Repository: "time", Tag: "v1"}},
		{"reg.test/a@" + digestA, source{Registry: "reg.test", Repository: "a", Digest: digestA}},
	}
	for _, tt := range tests {
		got, err := parseSource(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("parseSource(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
		}
	}
}

func TestNewImport(t *testing.T) {
	tag := dockerTag("latest", "reg.test/a:latest", gen(3))
	tag.ImportPolicy = imagev1.TagImportPolicy{Insecure: true, Scheduled: true}
	tag.ReferencePolicy = imagev1.TagReferencePolicy{Type: imagev1.LocalTagReferencePolicy}
	stream := &imagev1.ImageStream{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "is", ResourceVersion: "42", UID: "uid-1",
			Annotations: map[string]string{imagev1.InsecureRepositoryAnnotation: "true"}},
		Spec: imagev1.ImageStreamSpec{DockerImageRepository: "reg.test/all", Tags: []imagev1.TagReference{tag}},
	}
	isi := newImport(stream, []imagev1.TagReference{tag}, true)
	if isi.Name != "is" || isi.Namespace != "ns" || isi.ResourceVersion != "42" || isi.UID != "uid-1" || !isi.Spec.Import {
		t.Errorf("metadata/spec = %+v %+v", isi.ObjectMeta, isi.Spec)
	}
	if len(isi.Spec.Images) != 1 {
		t.Fatalf("images = %+v", isi.Spec.Images)
	}
	img := isi.Spec.Images[0]
	if img.From.Kind != "DockerImage" || img.From.Name != "reg.test/a:latest" || img.To == nil || img.To.Name != "latest" ||
		!img.ImportPolicy.Insecure || !img.ImportPolicy.Scheduled || img.ReferencePolicy.Type != imagev1.LocalTagReferencePolicy {
		t.Errorf("image = %+v", img)
	}
	if r := isi.Spec.Repository; r == nil || r.From.Name != "reg.test/all" || !r.ImportPolicy.Insecure {
		t.Errorf("repository = %+v", r)
	}
}
