package imagestreamtag

import (
	"context"
	"strings"
	"testing"
	"time"

	imagev1 "github.com/openshift/api/image/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metainternalversion "k8s.io/apimachinery/pkg/apis/meta/internalversion"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/registry/rest"

	"github.com/slipway-dev/slipway/internal/registry/image/image"
	"github.com/slipway-dev/slipway/internal/registry/image/imagestream"
	"github.com/slipway-dev/slipway/internal/registry/storagetest"
)

const (
	host    = "registry.local:5000"
	digestA = "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
)

type fixture struct {
	streams *imagestream.Storage
	images  *image.REST
	tags    *REST
}

// newFixture builds the real stores of this group on a throwaway etcd.
func newFixture(t *testing.T) *fixture {
	t.Helper()
	opts := storagetest.NewOptions(t)

	streams, err := imagestream.NewREST(opts, host)
	if err != nil {
		t.Fatal(err)
	}
	images, err := image.NewREST(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		streams.ImageStream.Destroy()
		images.Destroy()
	})
	return &fixture{streams: streams, images: images, tags: NewREST(streams.Internal, images)}
}

func nsContext(ns string) context.Context {
	return genericapirequest.WithNamespace(context.Background(), ns)
}

func newTag(name string, from *corev1.ObjectReference, reference bool) *imagev1.ImageStreamTag {
	return &imagev1.ImageStreamTag{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Tag:        &imagev1.TagReference{From: from, Reference: reference},
	}
}

func dockerRef(name string) *corev1.ObjectReference {
	return &corev1.ObjectReference{Kind: "DockerImage", Name: name}
}

func (f *fixture) create(t *testing.T, istag *imagev1.ImageStreamTag) *imagev1.ImageStreamTag {
	t.Helper()
	obj, err := f.tags.Create(nsContext("ns"), istag, rest.ValidateAllObjectFunc, &metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("creating %s: %v", istag.Name, err)
	}
	return obj.(*imagev1.ImageStreamTag)
}

func (f *fixture) get(t *testing.T, name string) (*imagev1.ImageStreamTag, error) {
	t.Helper()
	obj, err := f.tags.Get(nsContext("ns"), name, &metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	return obj.(*imagev1.ImageStreamTag), nil
}

func (f *fixture) stream(t *testing.T, name string) *imagev1.ImageStream {
	t.Helper()
	obj, err := f.streams.ImageStream.Get(nsContext("ns"), name, &metav1.GetOptions{})
	if err != nil {
		t.Fatalf("getting stream %s: %v", name, err)
	}
	return obj.(*imagev1.ImageStream)
}

func TestImageStreamTagStorage(t *testing.T) {
	f := newFixture(t)
	ctx := nsContext("ns")

	// Create on a missing stream creates the stream; a reference tag shows
	// its pull spec at once.
	created := f.create(t, newTag("app:ref", dockerRef("quay.io/org/app:1"), true))
	if created.Tag == nil || created.Tag.Name != "ref" || created.Generation != 1 {
		t.Errorf("created tag = %+v, generation %d", created.Tag, created.Generation)
	}
	if created.Image.DockerImageReference != "quay.io/org/app:1" {
		t.Errorf("image reference = %q", created.Image.DockerImageReference)
	}
	stream := f.stream(t, "app")
	if stream.Generation != 1 || stream.Status.DockerImageRepository != host+"/ns/app" {
		t.Errorf("stream generation %d, repository %q", stream.Generation, stream.Status.DockerImageRepository)
	}
	if ref := imagestream.SpecTag(stream, "ref"); ref == nil || ref.ReferencePolicy.Type != imagev1.SourceTagReferencePolicy {
		t.Errorf("spec tag not defaulted: %+v", ref)
	}

	// Create of an existing tag conflicts.
	_, err := f.tags.Create(ctx, newTag("app:ref", dockerRef("quay.io/org/app:2"), true), nil, &metav1.CreateOptions{})
	if !apierrors.IsAlreadyExists(err) {
		t.Errorf("second create: %v, want AlreadyExists", err)
	}

	// Validation answers 422 with the ImageStreamTag paths.
	invalid := []struct {
		istag *imagev1.ImageStreamTag
		want  string
	}{
		{&imagev1.ImageStreamTag{ObjectMeta: metav1.ObjectMeta{Name: "app:x"}}, "tag: Required value"},
		{newTag("app", dockerRef("nginx"), false), "metadata.name: Invalid value"},
		{newTag("app:x", &corev1.ObjectReference{Kind: "DockerImage"}, false), "tag.from.name: Required value"},
		{newTag("app:x", &corev1.ObjectReference{Kind: "Pod", Name: "p"}, false), "tag.from.kind: Unsupported value"},
	}
	for _, tt := range invalid {
		_, err := f.tags.Create(ctx, tt.istag, nil, &metav1.CreateOptions{})
		if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("create %s: %v, want Invalid with %q", tt.istag.Name, err, tt.want)
		}
	}

	// Update writes a new tag (`oc tag --alias app:ref app:alias`) and the
	// alias follows its source.
	alias := newTag("app:alias", &corev1.ObjectReference{Kind: "ImageStreamTag", Name: "app:ref"}, false)
	obj, created2, err := f.tags.Update(ctx, "app:alias", rest.DefaultUpdatedObjectInfo(alias), rest.ValidateAllObjectFunc, rest.ValidateAllObjectUpdateFunc, false, &metav1.UpdateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !created2 || obj.(*imagev1.ImageStreamTag).Image.DockerImageReference != "quay.io/org/app:1" {
		t.Errorf("alias: created %v, %+v", created2, obj.(*imagev1.ImageStreamTag).Image)
	}
	if got := f.stream(t, "app").Generation; got != 2 {
		t.Errorf("stream generation after adding a tag = %d, want 2", got)
	}

	// Pointing ref elsewhere moves the alias too.
	ref, err := f.get(t, "app:ref")
	if err != nil {
		t.Fatal(err)
	}
	ref.Tag.From.Name = "quay.io/org/app:2"
	if _, _, err := f.tags.Update(ctx, "app:ref", rest.DefaultUpdatedObjectInfo(ref), nil, nil, false, &metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if got, err := f.get(t, "app:alias"); err != nil || got.Image.DockerImageReference != "quay.io/org/app:2" {
		t.Errorf("alias after update: %+v, %v", got, err)
	}

	// A stale resourceVersion conflicts.
	ref.Tag.From.Name = "quay.io/org/app:3"
	if _, _, err := f.tags.Update(ctx, "app:ref", rest.DefaultUpdatedObjectInfo(ref), nil, nil, false, &metav1.UpdateOptions{}); !apierrors.IsConflict(err) {
		t.Errorf("stale update: %v, want Conflict", err)
	}

	// List: one per tag per stream, field selectors on the tag name.
	f.create(t, newTag("other:latest", dockerRef("nginx"), true))
	listObj, err := f.tags.List(ctx, &metainternalversion.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, item := range listObj.(*imagev1.ImageStreamTagList).Items {
		names = append(names, item.Name)
	}
	if got := strings.Join(names, ","); got != "app:alias,app:ref,other:latest" {
		t.Errorf("list = %s", got)
	}
	listObj, err = f.tags.List(ctx, &metainternalversion.ListOptions{FieldSelector: fields.OneTermEqualSelector("metadata.name", "app:ref")})
	if err != nil {
		t.Fatal(err)
	}
	if items := listObj.(*imagev1.ImageStreamTagList).Items; len(items) != 1 || items[0].Name != "app:ref" {
		t.Errorf("field-selected list = %+v", items)
	}

	// A tag removed from the stream's spec keeps its status and is still
	// served; deleting the ImageStreamTag drops both.
	stream = f.stream(t, "app")
	stream.Spec.Tags = []imagev1.TagReference{*imagestream.SpecTag(stream, "ref")}
	if _, _, err := f.streams.ImageStream.Update(ctx, "app", rest.DefaultUpdatedObjectInfo(stream), nil, nil, false, &metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	orphan, err := f.get(t, "app:alias")
	if err != nil || orphan.Tag != nil || orphan.Image.DockerImageReference != "quay.io/org/app:2" {
		t.Errorf("status-only tag: %+v, %v", orphan, err)
	}
	if _, _, err := f.tags.Delete(ctx, "app:alias", rest.ValidateAllObjectFunc, &metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.get(t, "app:alias"); !apierrors.IsNotFound(err) {
		t.Errorf("get after delete: %v, want NotFound", err)
	}
	if s := f.stream(t, "app"); imagestream.StatusTag(s, "alias") != nil {
		t.Errorf("status of deleted tag kept: %+v", s.Status.Tags)
	}
	if _, _, err := f.tags.Delete(ctx, "app:alias", nil, &metav1.DeleteOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("second delete: %v, want NotFound", err)
	}
	if _, err := f.get(t, "missing:latest"); !apierrors.IsNotFound(err) {
		t.Errorf("get on missing stream: %v, want NotFound", err)
	}
	if _, err := f.get(t, "no-colon"); !apierrors.IsBadRequest(err) {
		t.Errorf("get without tag: %v, want BadRequest", err)
	}
}

func TestImageStreamTagShowsImage(t *testing.T) {
	f := newFixture(t)
	ctx := nsContext("ns")
	img := &imagev1.Image{
		ObjectMeta:           metav1.ObjectMeta{Name: digestA},
		DockerImageReference: host + "/ns/app@" + digestA,
		DockerImageManifest:  `{"schemaVersion":2}`,
		DockerImageLayers:    []imagev1.ImageLayer{{Name: "sha256:layer", LayerSize: 10}},
	}
	if _, err := f.images.Create(genericapirequest.WithNamespace(context.Background(), ""), img, nil, &metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	local := newTag("app:local", nil, false)
	local.Tag.ReferencePolicy.Type = imagev1.LocalTagReferencePolicy
	f.create(t, local)

	// The registry (later) records a push through the status endpoint.
	stream := f.stream(t, "app")
	stream.Status.Tags = append(stream.Status.Tags,
		imagev1.NamedTagEventList{Tag: "latest", Items: []imagev1.TagEvent{{Created: metav1.Now(), DockerImageReference: "quay.io/org/app@" + digestA, Image: digestA}}},
		imagev1.NamedTagEventList{Tag: "local", Items: []imagev1.TagEvent{{Created: metav1.Now(), DockerImageReference: "quay.io/org/app@" + digestA, Image: digestA}}},
	)
	if _, _, err := f.streams.Status.Update(ctx, "app", rest.DefaultUpdatedObjectInfo(stream), nil, nil, false, &metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}

	latest, err := f.get(t, "app:latest")
	if err != nil {
		t.Fatal(err)
	}
	if latest.Tag != nil || latest.Image.Name != digestA || len(latest.Image.DockerImageLayers) != 1 {
		t.Errorf("latest image = %+v", latest.Image)
	}
	if latest.Image.DockerImageManifest != "" {
		t.Error("manifest not stripped")
	}
	if latest.Image.DockerImageReference != "quay.io/org/app@"+digestA {
		t.Errorf("source policy reference = %q", latest.Image.DockerImageReference)
	}
	if latest.Generation != 1 {
		t.Errorf("generation = %d, want the stream's 1 (stamped by the status endpoint)", latest.Generation)
	}
	localTag, err := f.get(t, "app:local")
	if err != nil {
		t.Fatal(err)
	}
	if want := host + "/ns/app@" + digestA; localTag.Image.DockerImageReference != want {
		t.Errorf("local policy reference = %q, want %q", localTag.Image.DockerImageReference, want)
	}

	now := time.Now()
	table, err := TableConvertor{Now: func() time.Time { return now }}.ConvertToTable(ctx, &imagev1.ImageStreamTagList{Items: []imagev1.ImageStreamTag{*latest}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(table.ColumnDefinitions) != 4 || table.ColumnDefinitions[1].Name != "Image Reference" || table.ColumnDefinitions[3].Priority != 1 {
		t.Errorf("columns = %+v", table.ColumnDefinitions)
	}
	row := table.Rows[0].Cells
	if row[0] != "app:latest" || row[1] != "quay.io/org/app@"+digestA || !strings.HasSuffix(row[2].(string), " ago") || row[3] != digestA {
		t.Errorf("row = %v", row)
	}
}

func TestImageStreamStoreResolvesOtherStreams(t *testing.T) {
	f := newFixture(t)
	shared := nsContext("shared")
	base := &imagev1.ImageStream{
		ObjectMeta: metav1.ObjectMeta{Name: "base"},
		Spec: imagev1.ImageStreamSpec{Tags: []imagev1.TagReference{
			{Name: "1.0", From: dockerRef("quay.io/org/base:1.0"), Reference: true},
		}},
		// Clients cannot write status on create.
		Status: imagev1.ImageStreamStatus{Tags: []imagev1.NamedTagEventList{{Tag: "bogus", Items: []imagev1.TagEvent{{DockerImageReference: "x"}}}}},
	}
	obj, err := f.streams.ImageStream.Create(shared, base, nil, &metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	created := obj.(*imagev1.ImageStream)
	if imagestream.StatusTag(created, "bogus") != nil || imagestream.LatestTagEvent(created, "1.0") == nil {
		t.Errorf("status on create = %+v", created.Status.Tags)
	}
	if created.Status.DockerImageRepository != host+"/shared/base" {
		t.Errorf("dockerImageRepository = %q", created.Status.DockerImageRepository)
	}

	app := &imagev1.ImageStream{
		ObjectMeta: metav1.ObjectMeta{Name: "app"},
		Spec: imagev1.ImageStreamSpec{Tags: []imagev1.TagReference{
			{Name: "base", From: &corev1.ObjectReference{Kind: "ImageStreamTag", Namespace: "shared", Name: "base:1.0"}},
		}},
	}
	obj, err = f.streams.ImageStream.Create(nsContext("ns"), app, nil, &metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if e := imagestream.LatestTagEvent(obj.(*imagev1.ImageStream), "base"); e == nil || e.DockerImageReference != "quay.io/org/base:1.0" {
		t.Errorf("cross-namespace tag event = %+v", e)
	}

	missing := &imagev1.ImageStream{
		ObjectMeta: metav1.ObjectMeta{Name: "broken"},
		Spec: imagev1.ImageStreamSpec{Tags: []imagev1.TagReference{
			{Name: "x", From: &corev1.ObjectReference{Kind: "ImageStreamTag", Name: "nothere:1"}},
		}},
	}
	_, err = f.streams.ImageStream.Create(nsContext("ns"), missing, nil, &metav1.CreateOptions{})
	if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "spec.tags[0].from.name: Not found") {
		t.Errorf("create with unknown source stream: %v, want Invalid spec.tags[0].from.name: Not found", err)
	}
}
