package imagestreamimport

import (
	"strings"
	"testing"
	"time"

	imagev1 "github.com/openshift/api/image/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/slipway-dev/slipway/internal/registry/image/imagestream"
)

var (
	digestA = "sha256:" + strings.Repeat("a", 64)
	digestB = "sha256:" + strings.Repeat("b", 64)
	then    = metav1.NewTime(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	now     = metav1.NewTime(time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC))
)

func gen(g int64) *int64 { return &g }

func found(tag, digest string) tagImport {
	return tagImport{
		tag:        tag,
		from:       "reg.example.com/app:" + tag,
		status:     imagev1.ImageImportStatus{Status: metav1.Status{Status: metav1.StatusSuccess}, Image: &imagev1.Image{ObjectMeta: metav1.ObjectMeta{Name: digest}}},
		reference:  "reg.example.com/app@" + digest,
		ensureSpec: true,
	}
}

func failed(tag string, reason metav1.StatusReason, message string) tagImport {
	return tagImport{
		tag:        tag,
		from:       "reg.example.com/app:" + tag,
		status:     imagev1.ImageImportStatus{Status: metav1.Status{Status: metav1.StatusFailure, Reason: reason, Message: message}},
		ensureSpec: true,
	}
}

// imported is a stream whose tag latest imported digestA at generation 2.
func imported() *imagev1.ImageStream {
	s := &imagev1.ImageStream{ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: "app", Generation: 2}}
	s.Spec.Tags = []imagev1.TagReference{{
		Name:            "latest",
		From:            &corev1.ObjectReference{Kind: "DockerImage", Name: "reg.example.com/app:latest"},
		Generation:      gen(2),
		ImportPolicy:    imagev1.TagImportPolicy{ImportMode: imagev1.ImportModeLegacy},
		ReferencePolicy: imagev1.TagReferencePolicy{Type: imagev1.SourceTagReferencePolicy},
	}}
	s.Status.Tags = []imagev1.NamedTagEventList{{Tag: "latest", Items: []imagev1.TagEvent{
		{Created: then, DockerImageReference: "reg.example.com/app@" + digestA, Image: digestA, Generation: 2},
	}}}
	return s
}

func TestRecordImports(t *testing.T) {
	tests := []struct {
		name        string
		stream      func() *imagev1.ImageStream
		imports     []tagImport
		wantChanged bool
		check       func(t *testing.T, before, after *imagev1.ImageStream)
	}{
		{
			name:        "new tag in a new stream",
			stream:      func() *imagev1.ImageStream { return &imagev1.ImageStream{} },
			imports:     []tagImport{found("latest", digestA)},
			wantChanged: true,
			check: func(t *testing.T, _, s *imagev1.ImageStream) {
				spec := imagestream.SpecTag(s, "latest")
				if spec == nil || spec.From.Kind != "DockerImage" || spec.From.Name != "reg.example.com/app:latest" {
					t.Fatalf("spec tag = %+v", spec)
				}
				if *spec.Generation != 0 || spec.ReferencePolicy.Type != imagev1.SourceTagReferencePolicy || spec.ImportPolicy.ImportMode != imagev1.ImportModeLegacy {
					t.Errorf("spec tag generation/policies = %d %+v %+v", *spec.Generation, spec.ReferencePolicy, spec.ImportPolicy)
				}
				e := imagestream.LatestTagEvent(s, "latest")
				if e == nil || e.Image != digestA || e.DockerImageReference != "reg.example.com/app@"+digestA || e.Generation != 1 || !e.Created.Equal(&now) {
					t.Errorf("event = %+v", e)
				}
			},
		},
		{
			name:        "same digest changes nothing",
			stream:      imported,
			imports:     []tagImport{found("latest", digestA)},
			wantChanged: false,
			check: func(t *testing.T, before, after *imagev1.ImageStream) {
				if !equality.Semantic.DeepEqual(before, after) {
					t.Errorf("stream modified:\n%+v\n%+v", before, after)
				}
			},
		},
		{
			name: "changed digest prepends an event and clears conditions",
			stream: func() *imagev1.ImageStream {
				s := imported()
				s.Status.Tags[0].Conditions = failedCondition()
				return s
			},
			imports:     []tagImport{found("latest", digestB)},
			wantChanged: true,
			check: func(t *testing.T, _, s *imagev1.ImageStream) {
				list := imagestream.StatusTag(s, "latest")
				if len(list.Items) != 2 || list.Items[0].Image != digestB || list.Items[0].Generation != 3 || list.Items[1].Image != digestA {
					t.Errorf("events = %+v", list.Items)
				}
				if len(list.Conditions) != 0 {
					t.Errorf("conditions kept: %+v", list.Conditions)
				}
				if g := imagestream.SpecTag(s, "latest").Generation; *g != 0 {
					t.Errorf("spec generation = %d, want 0 (the next one on write)", *g)
				}
			},
		},
		{
			name: "success after a failure with the same image clears the condition",
			stream: func() *imagev1.ImageStream {
				s := imported()
				s.Status.Tags[0].Conditions = failedCondition()
				return s
			},
			imports:     []tagImport{found("latest", digestA)},
			wantChanged: true,
			check: func(t *testing.T, _, s *imagev1.ImageStream) {
				list := imagestream.StatusTag(s, "latest")
				if len(list.Conditions) != 0 || len(list.Items) != 1 {
					t.Errorf("status = %+v", list)
				}
			},
		},
		{
			name:        "failure sets the condition and keeps older events",
			stream:      imported,
			imports:     []tagImport{failed("latest", metav1.StatusReasonUnauthorized, "you may not pull")},
			wantChanged: true,
			check: func(t *testing.T, _, s *imagev1.ImageStream) {
				list := imagestream.StatusTag(s, "latest")
				if len(list.Items) != 1 || list.Items[0].Image != digestA {
					t.Errorf("events = %+v", list.Items)
				}
				if len(list.Conditions) != 1 {
					t.Fatalf("conditions = %+v", list.Conditions)
				}
				c := list.Conditions[0]
				if c.Type != imagev1.ImportSuccess || c.Status != corev1.ConditionFalse || c.Reason != "Unauthorized" ||
					c.Message != "you may not pull" || c.Generation != 3 || !c.LastTransitionTime.Equal(&now) {
					t.Errorf("condition = %+v", c)
				}
				if g := imagestream.SpecTag(s, "latest").Generation; *g != 0 {
					t.Errorf("spec generation = %d, want 0", *g)
				}
			},
		},
		{
			name: "the same failure again changes nothing",
			stream: func() *imagev1.ImageStream {
				s := imported()
				s.Status.Tags[0].Conditions = failedCondition()
				return s
			},
			imports:     []tagImport{failed("latest", metav1.StatusReasonNotFound, "manifest unknown")},
			wantChanged: false,
		},
		{
			name:        "a failure without a message says so",
			stream:      func() *imagev1.ImageStream { return &imagev1.ImageStream{} },
			imports:     []tagImport{failed("v1", metav1.StatusReasonInternalError, "")},
			wantChanged: true,
			check: func(t *testing.T, _, s *imagev1.ImageStream) {
				list := imagestream.StatusTag(s, "v1")
				if list == nil || len(list.Items) != 0 || len(list.Conditions) != 1 || list.Conditions[0].Message != unknownFailure {
					t.Errorf("status = %+v", list)
				}
				if spec := imagestream.SpecTag(s, "v1"); spec == nil || spec.From.Name != "reg.example.com/app:v1" {
					t.Errorf("spec tag not ensured: %+v", spec)
				}
			},
		},
		{
			name:   "a failed repository tag gets no spec tag",
			stream: func() *imagev1.ImageStream { return &imagev1.ImageStream{} },
			imports: func() []tagImport {
				f := failed("v1", metav1.StatusReasonNotFound, "gone")
				f.ensureSpec = false
				return []tagImport{f}
			}(),
			wantChanged: true,
			check: func(t *testing.T, _, s *imagev1.ImageStream) {
				if len(s.Spec.Tags) != 0 || imagestream.StatusTag(s, "v1") == nil {
					t.Errorf("spec = %+v status = %+v", s.Spec.Tags, s.Status.Tags)
				}
			},
		},
		{
			name: "a spec generation newer than the event records the import again",
			stream: func() *imagev1.ImageStream {
				s := imported()
				s.Generation = 4
				s.Spec.Tags[0].Generation = gen(4)
				return s
			},
			imports:     []tagImport{found("latest", digestA)},
			wantChanged: true,
			check: func(t *testing.T, _, s *imagev1.ImageStream) {
				list := imagestream.StatusTag(s, "latest")
				if len(list.Items) != 1 || list.Items[0].Generation != 5 || !list.Items[0].Created.Equal(&then) {
					t.Errorf("events = %+v, want the one event updated in place to generation 5", list.Items)
				}
			},
		},
		{
			name: "an unchanged tag keeps an older spec generation",
			stream: func() *imagev1.ImageStream {
				s := imported()
				s.Generation = 7 // other tags changed since
				return s
			},
			imports:     []tagImport{found("latest", digestA)},
			wantChanged: false,
		},
		{
			name:   "a new import policy is written even for the same image",
			stream: imported,
			imports: func() []tagImport {
				f := found("latest", digestA)
				f.importPolicy = imagev1.TagImportPolicy{Scheduled: true}
				return []tagImport{f}
			}(),
			wantChanged: true,
			check: func(t *testing.T, _, s *imagev1.ImageStream) {
				spec := imagestream.SpecTag(s, "latest")
				if !spec.ImportPolicy.Scheduled || spec.ImportPolicy.ImportMode != imagev1.ImportModeLegacy {
					t.Errorf("import policy = %+v", spec.ImportPolicy)
				}
				if len(imagestream.StatusTag(s, "latest").Items) != 1 {
					t.Error("an event was added for the same image")
				}
			},
		},
		{
			name: "a reset keeps the tag's reference policy and annotations",
			stream: func() *imagev1.ImageStream {
				s := imported()
				s.Spec.Tags[0].ReferencePolicy.Type = imagev1.LocalTagReferencePolicy
				s.Spec.Tags[0].Annotations = map[string]string{"note": "kept"}
				return s
			},
			imports: func() []tagImport {
				f := found("latest", digestB)
				f.referencePolicy = imagev1.TagReferencePolicy{Type: imagev1.SourceTagReferencePolicy}
				return []tagImport{f}
			}(),
			wantChanged: true,
			check: func(t *testing.T, _, s *imagev1.ImageStream) {
				spec := imagestream.SpecTag(s, "latest")
				if spec.ReferencePolicy.Type != imagev1.LocalTagReferencePolicy || spec.Annotations["note"] != "kept" {
					t.Errorf("spec tag = %+v", spec)
				}
			},
		},
		{
			name: "tags tracking the imported tag follow it",
			stream: func() *imagev1.ImageStream {
				s := imported()
				s.Spec.Tags = append(s.Spec.Tags,
					imagev1.TagReference{Name: "prod", From: &corev1.ObjectReference{Kind: "ImageStreamTag", Name: "latest"}, Generation: gen(2)},
					imagev1.TagReference{Name: "stable", From: &corev1.ObjectReference{Kind: "ImageStreamTag", Name: "app:prod"}, Generation: gen(2)})
				s.Status.Tags = append(s.Status.Tags,
					imagev1.NamedTagEventList{Tag: "prod", Items: []imagev1.TagEvent{s.Status.Tags[0].Items[0]}},
					imagev1.NamedTagEventList{Tag: "stable", Items: []imagev1.TagEvent{s.Status.Tags[0].Items[0]}})
				return s
			},
			imports:     []tagImport{found("latest", digestB)},
			wantChanged: true,
			check: func(t *testing.T, _, s *imagev1.ImageStream) {
				for _, tag := range []string{"prod", "stable"} {
					if e := imagestream.LatestTagEvent(s, tag); e == nil || e.Image != digestB {
						t.Errorf("%s = %+v, want %s", tag, e, digestB)
					}
				}
				if spec := imagestream.SpecTag(s, "prod"); spec.From.Kind != "ImageStreamTag" {
					t.Errorf("tracking tag's spec rewritten: %+v", spec)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := tt.stream()
			after := before.DeepCopy()
			next := after.Generation + 1
			if got := recordImports(after, tt.imports, next, now); got != tt.wantChanged {
				t.Errorf("changed = %v, want %v", got, tt.wantChanged)
			}
			if tt.check != nil {
				tt.check(t, before, after)
			}
		})
	}
}

func failedCondition() []imagev1.TagEventCondition {
	return []imagev1.TagEventCondition{{
		Type: imagev1.ImportSuccess, Status: corev1.ConditionFalse, Reason: "NotFound", Message: "manifest unknown",
		Generation: 2, LastTransitionTime: then,
	}}
}
