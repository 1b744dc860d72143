package imagestream

import (
	"context"
	"strings"
	"testing"
	"time"

	imagev1 "github.com/openshift/api/image/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
)

const (
	digestA = "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	digestB = "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
	host    = "registry.local:5000"
)

var fixedNow = metav1.NewTime(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))

func newTestStrategy() *Strategy {
	s := NewStrategy(host)
	s.now = func() metav1.Time { return fixedNow }
	return s
}

func gen(g int64) *int64 { return &g }

func docker(name string) *corev1.ObjectReference {
	return &corev1.ObjectReference{Kind: KindDockerImage, Name: name}
}

func istag(name string) *corev1.ObjectReference {
	return &corev1.ObjectReference{Kind: KindImageStreamTag, Name: name}
}

func stream(tags ...imagev1.TagReference) *imagev1.ImageStream {
	return &imagev1.ImageStream{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "app"},
		Spec:       imagev1.ImageStreamSpec{Tags: tags},
	}
}

func ctxNS(ns string) context.Context {
	return genericapirequest.WithNamespace(context.Background(), ns)
}

func tagGen(t *testing.T, s *imagev1.ImageStream, tag string) int64 {
	t.Helper()
	ref := SpecTag(s, tag)
	if ref == nil || ref.Generation == nil {
		t.Fatalf("spec tag %q missing or without generation: %+v", tag, ref)
	}
	return *ref.Generation
}

func TestPrepareForCreate(t *testing.T) {
	s := newTestStrategy()
	is := stream(
		imagev1.TagReference{Name: "latest", From: docker("nginx:latest"), Generation: gen(7)},
		imagev1.TagReference{Name: "b", From: istag("latest"), ReferencePolicy: imagev1.TagReferencePolicy{Type: imagev1.LocalTagReferencePolicy}},
	)
	is.Generation = 9
	is.Status.Tags = []imagev1.NamedTagEventList{{Tag: "x", Items: []imagev1.TagEvent{{DockerImageReference: "evil"}}}}
	s.PrepareForCreate(ctxNS("ns"), is)

	if is.Generation != 1 {
		t.Errorf("generation = %d, want 1", is.Generation)
	}
	for _, tag := range []string{"latest", "b"} {
		if g := tagGen(t, is, tag); g != 1 {
			t.Errorf("tag %s generation = %d, want 1", tag, g)
		}
	}
	if len(is.Status.Tags) != 0 {
		t.Errorf("status tags kept on create: %+v", is.Status.Tags)
	}
	if got, want := is.Status.DockerImageRepository, host+"/ns/app"; got != want {
		t.Errorf("dockerImageRepository = %q, want %q", got, want)
	}
	if got := SpecTag(is, "latest"); got.ReferencePolicy.Type != imagev1.SourceTagReferencePolicy || got.ImportPolicy.ImportMode != imagev1.ImportModeLegacy {
		t.Errorf("defaults not applied: %+v", got)
	}
	if got := SpecTag(is, "b"); got.ReferencePolicy.Type != imagev1.LocalTagReferencePolicy {
		t.Errorf("explicit referencePolicy overwritten: %+v", got.ReferencePolicy)
	}
	if got := SpecTag(is, "b").From.Kind; got != KindImageStreamTag {
		t.Errorf("from.kind changed to %q", got)
	}
}

func TestDockerImageRepositoryWithoutRegistry(t *testing.T) {
	s := NewStrategy("")
	is := stream()
	s.PrepareForCreate(ctxNS("ns"), is)
	if is.Status.DockerImageRepository != "" {
		t.Errorf("dockerImageRepository = %q, want empty", is.Status.DockerImageRepository)
	}
	list := &imagev1.ImageStreamList{Items: []imagev1.ImageStream{*stream()}}
	newTestStrategy().Decorate(list)
	if got, want := list.Items[0].Status.DockerImageRepository, host+"/ns/app"; got != want {
		t.Errorf("decorated list item = %q, want %q", got, want)
	}
}

func TestUpdateTagGenerations(t *testing.T) {
	base := func() *imagev1.ImageStream {
		is := stream(
			imagev1.TagReference{Name: "a", From: docker("nginx:1"), Generation: gen(2)},
			imagev1.TagReference{Name: "b", From: docker("nginx:2"), Generation: gen(3)},
		)
		is.Generation = 3
		SetDefaultsImageStream(is)
		return is
	}
	tests := []struct {
		name     string
		mutate   func(*imagev1.ImageStream)
		wantGen  int64
		wantTags map[string]int64
	}{
		{
			name:     "no change keeps generations",
			mutate:   func(*imagev1.ImageStream) {},
			wantGen:  3,
			wantTags: map[string]int64{"a": 2, "b": 3},
		},
		{
			name:     "client cannot set a generation",
			mutate:   func(is *imagev1.ImageStream) { is.Spec.Tags[0].Generation = gen(99) },
			wantGen:  3,
			wantTags: map[string]int64{"a": 2, "b": 3},
		},
		{
			name:     "nil generation is restored",
			mutate:   func(is *imagev1.ImageStream) { is.Spec.Tags[0].Generation = nil },
			wantGen:  3,
			wantTags: map[string]int64{"a": 2, "b": 3},
		},
		{
			name:     "generation 0 asks for re-import",
			mutate:   func(is *imagev1.ImageStream) { is.Spec.Tags[1].Generation = gen(0) },
			wantGen:  4,
			wantTags: map[string]int64{"a": 2, "b": 4},
		},
		{
			name:     "changed from",
			mutate:   func(is *imagev1.ImageStream) { is.Spec.Tags[0].From = docker("nginx:3") },
			wantGen:  4,
			wantTags: map[string]int64{"a": 4, "b": 3},
		},
		{
			name:     "changed reference",
			mutate:   func(is *imagev1.ImageStream) { is.Spec.Tags[0].Reference = true },
			wantGen:  4,
			wantTags: map[string]int64{"a": 4, "b": 3},
		},
		{
			name: "changed import mode",
			mutate: func(is *imagev1.ImageStream) {
				is.Spec.Tags[1].ImportPolicy.ImportMode = imagev1.ImportModePreserveOriginal
			},
			wantGen:  4,
			wantTags: map[string]int64{"a": 2, "b": 4},
		},
		{
			name:     "scheduled is a spec change but not a source change",
			mutate:   func(is *imagev1.ImageStream) { is.Spec.Tags[1].ImportPolicy.Scheduled = true },
			wantGen:  4,
			wantTags: map[string]int64{"a": 2, "b": 3},
		},
		{
			name: "new tag",
			mutate: func(is *imagev1.ImageStream) {
				is.Spec.Tags = append(is.Spec.Tags, imagev1.TagReference{Name: "c", From: docker("nginx:4"), Generation: gen(1)})
			},
			wantGen:  4,
			wantTags: map[string]int64{"a": 2, "b": 3, "c": 4},
		},
		{
			name:     "namespace spelled out is no change",
			mutate:   func(is *imagev1.ImageStream) { is.Spec.Tags[0].From.Namespace = "ns" },
			wantGen:  4, // the spec differs textually
			wantTags: map[string]int64{"a": 2, "b": 3},
		},
		{
			name:     "removed tag bumps the stream",
			mutate:   func(is *imagev1.ImageStream) { is.Spec.Tags = is.Spec.Tags[:1] },
			wantGen:  4,
			wantTags: map[string]int64{"a": 2},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			old := base()
			is := base()
			tt.mutate(is)
			newTestStrategy().PrepareForUpdate(ctxNS("ns"), is, old)
			if is.Generation != tt.wantGen {
				t.Errorf("stream generation = %d, want %d", is.Generation, tt.wantGen)
			}
			if len(is.Spec.Tags) != len(tt.wantTags) {
				t.Fatalf("tags = %+v", is.Spec.Tags)
			}
			for tag, want := range tt.wantTags {
				if got := tagGen(t, is, tag); got != want {
					t.Errorf("tag %s generation = %d, want %d", tag, got, want)
				}
			}
		})
	}
}

func TestPrepareForUpdateKeepsStatus(t *testing.T) {
	old := stream()
	old.Generation = 1
	old.Status.Tags = []imagev1.NamedTagEventList{{Tag: "latest", Items: []imagev1.TagEvent{{DockerImageReference: "a"}}}}
	is := stream()
	is.Status.Tags = nil
	newTestStrategy().PrepareForUpdate(ctxNS("ns"), is, old)
	if len(is.Status.Tags) != 1 || is.Status.Tags[0].Tag != "latest" {
		t.Errorf("status not kept from old: %+v", is.Status.Tags)
	}
}

func TestAddTagEvent(t *testing.T) {
	cond := []imagev1.TagEventCondition{{Type: imagev1.ImportSuccess, Status: corev1.ConditionFalse}}
	newest := imagev1.TagEvent{DockerImageReference: "r/a@" + digestA, Image: digestA, Generation: 2}
	older := imagev1.TagEvent{DockerImageReference: "r/old", Image: "sha256:old", Generation: 1}
	tests := []struct {
		name        string
		next        imagev1.TagEvent
		wantChanged bool
		wantItems   []imagev1.TagEvent
		wantConds   int
	}{
		{
			name:        "identical is a no-op",
			next:        newest,
			wantChanged: false,
			wantItems:   []imagev1.TagEvent{newest, older},
			wantConds:   1,
		},
		{
			name:        "same ref and image, new generation updates in place",
			next:        imagev1.TagEvent{DockerImageReference: newest.DockerImageReference, Image: digestA, Generation: 5},
			wantChanged: true,
			wantItems:   []imagev1.TagEvent{{DockerImageReference: newest.DockerImageReference, Image: digestA, Generation: 5}, older},
			wantConds:   1,
		},
		{
			name:        "same ref, other image updates in place",
			next:        imagev1.TagEvent{DockerImageReference: newest.DockerImageReference, Image: digestB, Generation: 3},
			wantChanged: true,
			wantItems:   []imagev1.TagEvent{{DockerImageReference: newest.DockerImageReference, Image: digestB, Generation: 3}, older},
			wantConds:   1,
		},
		{
			name:        "same image, other ref updates in place",
			next:        imagev1.TagEvent{DockerImageReference: "r/b@" + digestA, Image: digestA, Generation: 3},
			wantChanged: true,
			wantItems:   []imagev1.TagEvent{{DockerImageReference: "r/b@" + digestA, Image: digestA, Generation: 3}, older},
			wantConds:   1,
		},
		{
			name:        "new image is prepended and clears conditions",
			next:        imagev1.TagEvent{DockerImageReference: "r/b@" + digestB, Image: digestB, Generation: 3},
			wantChanged: true,
			wantItems:   []imagev1.TagEvent{{DockerImageReference: "r/b@" + digestB, Image: digestB, Generation: 3}, newest, older},
			wantConds:   0,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			is := stream()
			is.Status.Tags = []imagev1.NamedTagEventList{{Tag: "latest", Items: []imagev1.TagEvent{newest, older}, Conditions: cond}}
			if got := AddTagEvent(is, "latest", tt.next); got != tt.wantChanged {
				t.Errorf("changed = %v, want %v", got, tt.wantChanged)
			}
			list := StatusTag(is, "latest")
			if len(list.Items) != len(tt.wantItems) {
				t.Fatalf("items = %+v, want %+v", list.Items, tt.wantItems)
			}
			for i := range tt.wantItems {
				if !sameEvent(list.Items[i], tt.wantItems[i]) {
					t.Errorf("item %d = %+v, want %+v", i, list.Items[i], tt.wantItems[i])
				}
			}
			if len(list.Conditions) != tt.wantConds {
				t.Errorf("conditions = %+v, want %d", list.Conditions, tt.wantConds)
			}
		})
	}

	t.Run("first event of a new tag", func(t *testing.T) {
		is := stream()
		if !AddTagEvent(is, "new", newest) {
			t.Fatal("not reported as a change")
		}
		if e := LatestTagEvent(is, "new"); e == nil || !sameEvent(*e, newest) {
			t.Errorf("latest = %+v", e)
		}
	})
}

// fakeStreamGetter is a test fake serving fixed streams by namespace/name.
type fakeStreamGetter map[string]*imagev1.ImageStream

func (f fakeStreamGetter) Get(ctx context.Context, name string, _ *metav1.GetOptions) (runtime.Object, error) {
	ns, _ := genericapirequest.NamespaceFrom(ctx)
	if s, ok := f[ns+"/"+name]; ok {
		return s.DeepCopy(), nil
	}
	return nil, apierrors.NewNotFound(imagev1.Resource("imagestreams"), name)
}

func createStream(t *testing.T, s *Strategy, is *imagev1.ImageStream) (*imagev1.ImageStream, []string) {
	t.Helper()
	is.CreationTimestamp = fixedNow
	s.PrepareForCreate(ctxNS(is.Namespace), is)
	var errs []string
	for _, e := range s.Validate(ctxNS(is.Namespace), is) {
		errs = append(errs, e.Error())
	}
	return is, errs
}

func TestMaterializeOnCreate(t *testing.T) {
	other := &imagev1.ImageStream{
		ObjectMeta: metav1.ObjectMeta{Namespace: "shared", Name: "base"},
		Status: imagev1.ImageStreamStatus{Tags: []imagev1.NamedTagEventList{
			{Tag: "1.0", Items: []imagev1.TagEvent{{DockerImageReference: host + "/shared/base@" + digestB, Image: digestB, Generation: 4}}},
			{Tag: "ext", Items: []imagev1.TagEvent{{DockerImageReference: "quay.io/x/y@" + digestA, Image: digestA, Generation: 4}}},
		}},
	}
	tests := []struct {
		name    string
		tags    []imagev1.TagReference
		want    map[string]imagev1.TagEvent // newest event per tag
		absent  []string
		wantErr string
	}{
		{
			name: "docker reference tag records its pull spec",
			tags: []imagev1.TagReference{{Name: "ref", From: docker("quay.io/a/b:1"), Reference: true}},
			want: map[string]imagev1.TagEvent{"ref": {DockerImageReference: "quay.io/a/b:1", Generation: 1}},
		},
		{
			name:   "docker tag without reference is left to the importer",
			tags:   []imagev1.TagReference{{Name: "imp", From: docker("quay.io/a/b:1")}},
			absent: []string{"imp"},
		},
		{
			name: "tracking tag in the same stream copies its source",
			tags: []imagev1.TagReference{
				{Name: "alias", From: istag("ref")},
				{Name: "ref", From: docker("quay.io/a/b:1"), Reference: true},
			},
			want: map[string]imagev1.TagEvent{
				"ref":   {DockerImageReference: "quay.io/a/b:1", Generation: 1},
				"alias": {DockerImageReference: "quay.io/a/b:1", Generation: 1},
			},
		},
		{
			name: "chain of tracking tags",
			tags: []imagev1.TagReference{
				{Name: "c", From: istag("app:b")},
				{Name: "b", From: istag("a")},
				{Name: "a", From: docker("quay.io/a/b:1"), Reference: true},
			},
			want: map[string]imagev1.TagEvent{
				"b": {DockerImageReference: "quay.io/a/b:1", Generation: 1},
				"c": {DockerImageReference: "quay.io/a/b:1", Generation: 1},
			},
		},
		{
			name:   "tracking a tag without image records nothing",
			tags:   []imagev1.TagReference{{Name: "alias", From: istag("missing")}},
			absent: []string{"alias"},
		},
		{
			name: "other stream's internal pull spec is rewritten to this stream",
			tags: []imagev1.TagReference{{Name: "base", From: &corev1.ObjectReference{Kind: KindImageStreamTag, Namespace: "shared", Name: "base:1.0"}}},
			want: map[string]imagev1.TagEvent{"base": {DockerImageReference: host + "/ns/app@" + digestB, Image: digestB, Generation: 1}},
		},
		{
			name: "reference keeps the other stream's pull spec",
			tags: []imagev1.TagReference{{Name: "base", Reference: true, From: &corev1.ObjectReference{Kind: KindImageStreamTag, Namespace: "shared", Name: "base:1.0"}}},
			want: map[string]imagev1.TagEvent{"base": {DockerImageReference: host + "/shared/base@" + digestB, Image: digestB, Generation: 1}},
		},
		{
			name: "external pull spec is not rewritten",
			tags: []imagev1.TagReference{{Name: "ext", From: &corev1.ObjectReference{Kind: KindImageStreamTag, Namespace: "shared", Name: "base:ext"}}},
			want: map[string]imagev1.TagEvent{"ext": {DockerImageReference: "quay.io/x/y@" + digestA, Image: digestA, Generation: 1}},
		},
		{
			name: "image stream image by digest prefix",
			tags: []imagev1.TagReference{{Name: "pin", From: &corev1.ObjectReference{Kind: KindImageStreamImage, Namespace: "shared", Name: "base@sha256:bbbb"}}},
			want: map[string]imagev1.TagEvent{"pin": {DockerImageReference: host + "/ns/app@" + digestB, Image: digestB, Generation: 1}},
		},
		{
			name:    "unknown image",
			tags:    []imagev1.TagReference{{Name: "pin", From: &corev1.ObjectReference{Kind: KindImageStreamImage, Namespace: "shared", Name: "base@sha256:cccc"}}},
			wantErr: "spec.tags[0].from.name: Invalid value",
		},
		{
			name:    "unknown source stream",
			tags:    []imagev1.TagReference{{Name: "x", From: istag("nope:1.0")}},
			wantErr: "spec.tags[0].from.name: Not found",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newTestStrategy()
			s.SetStreamGetter(fakeStreamGetter{"shared/base": other})
			is, errs := createStream(t, s, stream(tt.tags...))
			if tt.wantErr != "" {
				if len(errs) != 1 || !strings.Contains(errs[0], tt.wantErr) {
					t.Fatalf("errors = %v, want one containing %q", errs, tt.wantErr)
				}
				return
			}
			if len(errs) > 0 {
				t.Fatalf("unexpected errors: %v", errs)
			}
			for tag, want := range tt.want {
				got := LatestTagEvent(is, tag)
				if got == nil || !sameEvent(*got, want) {
					t.Errorf("tag %s newest event = %+v, want %+v", tag, got, want)
				}
			}
			for _, tag := range tt.absent {
				if got := StatusTag(is, tag); got != nil {
					t.Errorf("tag %s has status %+v, want none", tag, got)
				}
			}
		})
	}
}

func TestMaterializeOnUpdate(t *testing.T) {
	s := newTestStrategy()
	old, errs := createStream(t, s, stream(
		imagev1.TagReference{Name: "ref", From: docker("quay.io/a/b:1"), Reference: true},
		imagev1.TagReference{Name: "alias", From: istag("ref")},
	))
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	old.ResourceVersion = "1"

	// Pointing ref elsewhere changes its event, and the alias follows.
	// Reference events have no image, so by OpenShift's rule ("same image")
	// the newest event is updated in place rather than prepended.
	is := old.DeepCopy()
	is.Spec.Tags[0].From = docker("quay.io/a/b:2")
	s.PrepareForUpdate(ctxNS("ns"), is, old)
	if errs := s.ValidateUpdate(ctxNS("ns"), is, old); len(errs) > 0 {
		t.Fatal(errs)
	}
	for _, tag := range []string{"ref", "alias"} {
		list := StatusTag(is, tag)
		if len(list.Items) != 1 || list.Items[0].DockerImageReference != "quay.io/a/b:2" || list.Items[0].Generation != 2 {
			t.Errorf("tag %s history = %+v, want one event quay.io/a/b:2 at generation 2", tag, list.Items)
		}
	}
	// The old history must not have been modified through shared slices.
	if e := LatestTagEvent(old, "ref"); e.DockerImageReference != "quay.io/a/b:1" {
		t.Errorf("old stream's event changed to %q", e.DockerImageReference)
	}

	// A tag removed from spec keeps its history.
	next := is.DeepCopy()
	next.Spec.Tags = next.Spec.Tags[:1]
	s.PrepareForUpdate(ctxNS("ns"), next, is)
	if errs := s.ValidateUpdate(ctxNS("ns"), next, is); len(errs) > 0 {
		t.Fatal(errs)
	}
	if StatusTag(next, "alias") == nil {
		t.Error("status of a tag removed from spec was dropped")
	}
}

func TestStatusStrategy(t *testing.T) {
	s := newTestStrategy()
	old := stream(
		imagev1.TagReference{Name: "latest", From: docker("quay.io/a/b:1"), Generation: gen(3)},
		imagev1.TagReference{Name: "alias", From: istag("latest"), Generation: gen(3)},
	)
	old.Generation = 3
	old.ResourceVersion = "5"
	is := old.DeepCopy()
	is.Spec.Tags = nil // the status endpoint does not write spec
	is.Generation = 10
	is.Status.Tags = []imagev1.NamedTagEventList{{Tag: "latest", Items: []imagev1.TagEvent{{DockerImageReference: "quay.io/a/b@" + digestA, Image: digestA}}}}
	st := NewStatusStrategy(s)
	st.PrepareForUpdate(ctxNS("ns"), is, old)
	if len(is.Spec.Tags) != 2 || is.Generation != 3 {
		t.Fatalf("spec or generation not kept: generation %d, tags %+v", is.Generation, is.Spec.Tags)
	}
	if e := LatestTagEvent(is, "latest"); e.Generation != 3 {
		t.Errorf("event generation = %d, want the spec tag's 3", e.Generation)
	}
	if e := LatestTagEvent(is, "alias"); e == nil || e.Image != digestA {
		t.Errorf("tracking tag did not follow the import: %+v", e)
	}
	if errs := st.ValidateUpdate(ctxNS("ns"), is, old); len(errs) > 0 {
		t.Errorf("unexpected errors: %v", errs)
	}
	bad := is.DeepCopy()
	bad.Status.Tags[0].Items[0].DockerImageReference = ""
	errs := st.ValidateUpdate(ctxNS("ns"), bad, old)
	if len(errs) != 1 || errs[0].Field != "status.tags[0].items[0].dockerImageReference" {
		t.Errorf("errors = %v, want status.tags[0].items[0].dockerImageReference required", errs)
	}
}

func TestInternalStrategyKeepsStatus(t *testing.T) {
	s := NewInternalStrategy(newTestStrategy())
	old := stream(imagev1.TagReference{Name: "latest", From: docker("a"), Generation: gen(1)})
	old.Generation = 1
	old.Status.Tags = []imagev1.NamedTagEventList{{Tag: "latest", Items: []imagev1.TagEvent{{DockerImageReference: "a", Generation: 1}}}}
	is := old.DeepCopy()
	is.Spec.Tags = nil
	is.Status.Tags = nil
	s.PrepareForUpdate(ctxNS("ns"), is, old)
	if len(is.Status.Tags) != 0 {
		t.Errorf("internal update should write status as given: %+v", is.Status.Tags)
	}
	if is.Generation != 2 {
		t.Errorf("generation = %d, want 2", is.Generation)
	}
}
