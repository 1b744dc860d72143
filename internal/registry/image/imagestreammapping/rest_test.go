package imagestreammapping

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/openshift/api/image/docker10"
	imagev1 "github.com/openshift/api/image/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/registry/rest"

	"github.com/slipway-dev/slipway/internal/registry/image/image"
	"github.com/slipway-dev/slipway/internal/registry/image/imagestream"
	"github.com/slipway-dev/slipway/internal/registry/storagetest"
)

const registryHost = "registry.test:5000"

func digestOf(b []byte) string { return fmt.Sprintf("sha256:%x", sha256.Sum256(b)) }

// testImage returns a pushed image as the registry reports it: an OCI
// manifest with one layer whose config carries cmd, env, ports and a label.
// seed makes distinct images.
func testImage(t *testing.T, namespace, stream, seed string) imagev1.Image {
	t.Helper()
	config := []byte(`{"architecture":"amd64","os":"linux","created":"2024-01-02T03:04:05Z",` +
		`"config":{"Env":["SEED=` + seed + `"],"Cmd":["./init.sh"],"ExposedPorts":{"8080/tcp":{}},"Labels":{"io.openshift.build.name":"time-2"}},` +
		`"rootfs":{"type":"layers","diff_ids":["sha256:` + strings.Repeat("b", 64) + `"]}}`)
	manifest := []byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",` +
		`"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"` + digestOf(config) + `","size":` + fmt.Sprint(len(config)) + `},` +
		`"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"sha256:` + strings.Repeat("a", 64) + `","size":1000}]}`)
	name := digestOf(manifest)
	return imagev1.Image{
		ObjectMeta: metav1.ObjectMeta{Name: name, Annotations: map[string]string{
			imagev1.ManagedByOpenShiftAnnotation:      "true",
			imagev1.ImageManifestBlobStoredAnnotation: "true",
		}},
		DockerImageReference:         registryHost + "/" + namespace + "/" + stream + "@" + name,
		DockerImageManifest:          string(manifest),
		DockerImageManifestMediaType: "application/vnd.oci.image.manifest.v1+json",
		DockerImageConfig:            string(config),
	}
}

type fixture struct {
	mappings *REST
	images   *image.REST
	streams  *imagestream.Storage
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	opts := storagetest.NewOptions(t)
	images, err := image.NewREST(opts)
	if err != nil {
		t.Fatal(err)
	}
	streams, err := imagestream.NewREST(opts, registryHost)
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{mappings: NewREST(images, streams.Internal), images: images, streams: streams}
}

func nsContext(ns string) context.Context {
	return genericapirequest.WithNamespace(genericapirequest.NewContext(), ns)
}

func (f *fixture) push(t *testing.T, ns, stream, tag string, img imagev1.Image) {
	t.Helper()
	mapping := &imagev1.ImageStreamMapping{ObjectMeta: metav1.ObjectMeta{Name: stream}, Image: img, Tag: tag}
	out, err := f.mappings.Create(nsContext(ns), mapping, rest.ValidateAllObjectFunc, &metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("creating mapping %s/%s:%s: %v", ns, stream, tag, err)
	}
	if status, ok := out.(*metav1.Status); !ok || status.Status != metav1.StatusSuccess {
		t.Fatalf("mapping answered %#v, want a Success status", out)
	}
}

func (f *fixture) stream(t *testing.T, ns, name string) *imagev1.ImageStream {
	t.Helper()
	obj, err := f.streams.ImageStream.Get(nsContext(ns), name, &metav1.GetOptions{})
	if err != nil {
		t.Fatalf("getting stream %s/%s: %v", ns, name, err)
	}
	return obj.(*imagev1.ImageStream)
}

func TestMappingCreatesStreamImageAndTagEvent(t *testing.T) {
	f := newFixture(t)
	img := testImage(t, "proj", "myapp", "1")
	f.push(t, "proj", "myapp", "latest", img)

	stream := f.stream(t, "proj", "myapp")
	if got, want := stream.Status.DockerImageRepository, registryHost+"/proj/myapp"; got != want {
		t.Errorf("status.dockerImageRepository = %q, want %q", got, want)
	}
	if len(stream.Spec.Tags) != 0 {
		t.Errorf("a push must not add spec tags, got %+v", stream.Spec.Tags)
	}
	event := imagestream.LatestTagEvent(stream, "latest")
	if event == nil {
		t.Fatalf("no tag event for latest: %+v", stream.Status.Tags)
	}
	if event.Image != img.Name || event.DockerImageReference != img.DockerImageReference || event.Generation != stream.Generation || event.Created.IsZero() {
		t.Errorf("event = %+v, want image %s ref %s generation %d", event, img.Name, img.DockerImageReference, stream.Generation)
	}

	obj, err := f.images.Get(context.Background(), img.Name, &metav1.GetOptions{})
	if err != nil {
		t.Fatalf("image not recorded: %v", err)
	}
	stored := obj.(*imagev1.Image)
	if stored.DockerImageManifest != "" || stored.DockerImageConfig != "" {
		t.Error("manifest and config must not be stored when the registry keeps the blobs")
	}
	if stored.DockerImageMetadataVersion != "1.0" || stored.DockerImageManifestMediaType != "application/vnd.oci.image.manifest.v1+json" {
		t.Errorf("metadata version %q media type %q", stored.DockerImageMetadataVersion, stored.DockerImageManifestMediaType)
	}
	if len(stored.DockerImageLayers) != 1 || stored.DockerImageLayers[0].LayerSize != 1000 || stored.DockerImageLayers[0].Name != "sha256:"+strings.Repeat("a", 64) {
		t.Errorf("layers = %+v", stored.DockerImageLayers)
	}
	var meta docker10.DockerImage
	if err := json.Unmarshal(stored.DockerImageMetadata.Raw, &meta); err != nil {
		t.Fatalf("metadata %q: %v", stored.DockerImageMetadata.Raw, err)
	}
	if meta.Config == nil || strings.Join(meta.Config.Cmd, " ") != "./init.sh" || meta.Config.Labels["io.openshift.build.name"] != "time-2" {
		t.Errorf("metadata config = %+v", meta.Config)
	}
	if _, ok := meta.Config.ExposedPorts["8080/tcp"]; !ok {
		t.Errorf("exposed ports = %v", meta.Config.ExposedPorts)
	}
	if meta.Architecture != "amd64" || meta.Kind != "DockerImage" || meta.APIVersion != "image.openshift.io/1.0" || !strings.HasPrefix(meta.ID, "sha256:") {
		t.Errorf("metadata = %+v", meta)
	}
	if want := int64(1000 + len(img.DockerImageConfig)); meta.Size != want {
		t.Errorf("size = %d, want %d", meta.Size, want)
	}
}

func TestMappingHistoryAndTrackingTags(t *testing.T) {
	f := newFixture(t)
	ctx := nsContext("proj")
	// prod tracks latest (oc tag --alias); it has nothing to copy yet.
	stream := &imagev1.ImageStream{
		ObjectMeta: metav1.ObjectMeta{Namespace: "proj", Name: "myapp"},
		Spec: imagev1.ImageStreamSpec{Tags: []imagev1.TagReference{{
			Name: "prod", From: &corev1.ObjectReference{Kind: "ImageStreamTag", Name: "latest"},
		}}},
	}
	if _, err := f.streams.ImageStream.Create(ctx, stream, rest.ValidateAllObjectFunc, &metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	first, second := testImage(t, "proj", "myapp", "1"), testImage(t, "proj", "myapp", "2")
	f.push(t, "proj", "myapp", "latest", first)
	f.push(t, "proj", "myapp", "latest", second)
	got := f.stream(t, "proj", "myapp")
	latest := imagestream.StatusTag(got, "latest")
	if latest == nil || len(latest.Items) != 2 || latest.Items[0].Image != second.Name || latest.Items[1].Image != first.Name {
		t.Fatalf("latest history = %+v, want newest %s then %s", latest, second.Name, first.Name)
	}
	if prod := imagestream.LatestTagEvent(got, "prod"); prod == nil || prod.Image != second.Name {
		t.Errorf("prod, tracking latest, = %+v, want %s", prod, second.Name)
	}
	version := got.ResourceVersion

	// The same digest again changes nothing: no write, so no trigger fires.
	f.push(t, "proj", "myapp", "latest", second)
	if again := f.stream(t, "proj", "myapp"); again.ResourceVersion != version {
		t.Errorf("re-pushing the same image wrote the stream (%s -> %s)", version, again.ResourceVersion)
	}

	// The image already exists; pushing it to another stream is fine and
	// its event points at that stream.
	other := second
	other.DockerImageReference = registryHost + "/proj/other@" + second.Name
	f.push(t, "proj", "other", "v1", other)
	if ev := imagestream.LatestTagEvent(f.stream(t, "proj", "other"), "v1"); ev == nil || ev.DockerImageReference != other.DockerImageReference {
		t.Errorf("other:v1 event = %+v, want reference %s", ev, other.DockerImageReference)
	}
}

func TestMappingValidation(t *testing.T) {
	f := newFixture(t)
	good := testImage(t, "proj", "myapp", "1")
	tests := []struct {
		name   string
		mutate func(m *imagev1.ImageStreamMapping)
		field  string
	}{
		{"no tag", func(m *imagev1.ImageStreamMapping) { m.Tag = "" }, "tag"},
		{"bad tag", func(m *imagev1.ImageStreamMapping) { m.Tag = "-x:y" }, "tag"},
		{"bad stream name", func(m *imagev1.ImageStreamMapping) { m.Name = "My_App" }, "metadata.name"},
		{"image name not a digest", func(m *imagev1.ImageStreamMapping) { m.Image.Name = "latest" }, "image.metadata.name"},
		{"no reference", func(m *imagev1.ImageStreamMapping) { m.Image.DockerImageReference = "" }, "image.dockerImageReference"},
		{"garbage manifest", func(m *imagev1.ImageStreamMapping) { m.Image.DockerImageManifest = "{" }, "image.dockerImageManifest"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := &imagev1.ImageStreamMapping{ObjectMeta: metav1.ObjectMeta{Name: "myapp"}, Image: *good.DeepCopy(), Tag: "latest"}
			tt.mutate(m)
			_, err := f.mappings.Create(nsContext("proj"), m, rest.ValidateAllObjectFunc, &metav1.CreateOptions{})
			if !apierrors.IsInvalid(err) {
				t.Fatalf("err = %v, want 422 Invalid", err)
			}
			if !strings.Contains(err.Error(), tt.field) {
				t.Errorf("err = %v, want it to name %s", err, tt.field)
			}
		})
	}
	if _, err := f.streams.ImageStream.Get(nsContext("proj"), "myapp", &metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("an invalid mapping created the stream (err %v)", err)
	}
}
