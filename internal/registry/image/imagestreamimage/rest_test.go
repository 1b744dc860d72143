package imagestreamimage

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/openshift/api/image/docker10"
	imagev1 "github.com/openshift/api/image/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/registry/rest"

	"github.com/slipway-dev/slipway/internal/registry/image/image"
	"github.com/slipway-dev/slipway/internal/registry/image/imagestream"
	"github.com/slipway-dev/slipway/internal/registry/image/imagestreammapping"
	"github.com/slipway-dev/slipway/internal/registry/storagetest"
)

const registryHost = "registry.test:5000"

func nsContext(ns string) context.Context {
	return genericapirequest.WithNamespace(genericapirequest.NewContext(), ns)
}

// pushedImage returns an image as the registry reports a push: an OCI
// manifest and its config, the config's Env made distinct by seed.
func pushedImage(namespace, stream, seed string) imagev1.Image {
	digest := func(b []byte) string { return fmt.Sprintf("sha256:%x", sha256.Sum256(b)) }
	config := []byte(`{"architecture":"amd64","os":"linux","config":{"Env":["SEED=` + seed + `"]},` +
		`"rootfs":{"type":"layers","diff_ids":["sha256:` + strings.Repeat("b", 64) + `"]}}`)
	manifest := []byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",` +
		`"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"` + digest(config) + `","size":` + fmt.Sprint(len(config)) + `},` +
		`"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"sha256:` + strings.Repeat("a", 64) + `","size":1000}]}`)
	name := digest(manifest)
	return imagev1.Image{
		ObjectMeta:           metav1.ObjectMeta{Name: name},
		DockerImageReference: registryHost + "/" + namespace + "/" + stream + "@" + name,
		DockerImageManifest:  string(manifest),
		DockerImageConfig:    string(config),
	}
}

func TestGet(t *testing.T) {
	opts := storagetest.NewOptions(t)
	images, err := image.NewREST(opts)
	if err != nil {
		t.Fatal(err)
	}
	streams, err := imagestream.NewREST(opts, registryHost)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(images.Destroy)
	t.Cleanup(streams.ImageStream.Destroy)
	mappings := imagestreammapping.NewREST(images, streams.Internal)
	push := func(tag string, img imagev1.Image) {
		t.Helper()
		m := &imagev1.ImageStreamMapping{ObjectMeta: metav1.ObjectMeta{Name: "app"}, Tag: tag, Image: img}
		if _, err := mappings.Create(nsContext("ns"), m, rest.ValidateAllObjectFunc, &metav1.CreateOptions{}); err != nil {
			t.Fatalf("pushing %s: %v", tag, err)
		}
	}
	first := pushedImage("ns", "app", "1")
	second := pushedImage("ns", "app", "2")
	push("latest", first)
	push("v2", second)

	r := NewREST(streams.ImageStream, images)
	ctx := nsContext("ns")

	for _, id := range []string{first.Name, first.Name[:len("sha256:")+12]} {
		obj, err := r.Get(ctx, "app@"+id, &metav1.GetOptions{})
		if err != nil {
			t.Fatalf("get app@%s: %v", id, err)
		}
		isimage := obj.(*imagev1.ImageStreamImage)
		if isimage.Name != "app@"+first.Name || isimage.Namespace != "ns" {
			t.Errorf("name = %s/%s", isimage.Namespace, isimage.Name)
		}
		if isimage.Image.Name != first.Name || isimage.Image.DockerImageReference != first.DockerImageReference {
			t.Errorf("image = %s %s", isimage.Image.Name, isimage.Image.DockerImageReference)
		}
		if isimage.Image.DockerImageManifest != "" || isimage.Image.DockerImageConfig != "" {
			t.Error("raw manifest and config are shown")
		}
		// Stored images come back with their metadata as raw JSON, which
		// the API answer carries as it is.
		meta := &docker10.DockerImage{}
		if err := json.Unmarshal(isimage.Image.DockerImageMetadata.Raw, meta); err != nil {
			t.Fatalf("metadata %q: %v", isimage.Image.DockerImageMetadata.Raw, err)
		}
		if meta.Config == nil || len(meta.Config.Env) != 1 || meta.Config.Env[0] != "SEED=1" {
			t.Errorf("metadata config = %+v", meta.Config)
		}
	}

	for name, check := range map[string]func(error) bool{
		"app@sha256:" + strings.Repeat("0", 64): apierrors.IsNotFound,
		"missing@" + first.Name:                 apierrors.IsNotFound,
		"app@sha256:":                           apierrors.IsConflict, // both images match
		"app":                                   apierrors.IsBadRequest,
		"app@":                                  apierrors.IsBadRequest,
	} {
		if _, err := r.Get(ctx, name, &metav1.GetOptions{}); !check(err) {
			t.Errorf("get %s: err = %v", name, err)
		}
	}
	if _, err := r.Get(nsContext("other"), "app@"+first.Name, &metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("get from another namespace: err = %v, want 404", err)
	}

	obj, _ := r.Get(ctx, "app@"+second.Name, &metav1.GetOptions{})
	table, err := r.ConvertToTable(ctx, obj, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(table.ColumnDefinitions) != 4 || table.ColumnDefinitions[1].Name != "Updated" || table.ColumnDefinitions[2].Priority != 1 {
		t.Errorf("columns = %+v", table.ColumnDefinitions)
	}
	if cells := table.Rows[0].Cells; cells[0] != "app@"+second.Name || cells[2] != second.DockerImageReference || cells[3] != second.Name {
		t.Errorf("cells = %v", cells)
	}
}
