package imagegroup

import (
	"context"
	"sort"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apiserver/pkg/registry/rest"

	"github.com/slipway-dev/slipway/internal/image"
	"github.com/slipway-dev/slipway/internal/registry/storagetest"
)

func TestNewStorage(t *testing.T) {
	opts := storagetest.NewOptions(t)
	// No secret exists: the test is about which resources are served.
	noSecrets := func(context.Context, string) ([]corev1.Secret, error) { return nil, nil }
	storage, err := NewStorage(opts, "registry.local:5000",
		WithSecrets(noSecrets), WithImporter(image.NewClient(image.Options{})))
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for k, s := range storage {
		keys = append(keys, k)
		if !strings.Contains(k, "/") {
			if _, ok := s.(rest.SingularNameProvider); !ok {
				t.Errorf("%s does not provide a singular name, the installer refuses it", k)
			}
			if _, ok := s.(rest.Scoper); !ok {
				t.Errorf("%s is not a Scoper", k)
			}
		}
	}
	sort.Strings(keys)
	if got, want := strings.Join(keys, ","), "images,imagestreamimages,imagestreamimports,imagestreammappings,imagestreams,imagestreams/secrets,imagestreams/status,imagestreamtags"; got != want {
		t.Errorf("resources = %s, want %s", got, want)
	}
	if _, ok := storage["imagestreams/status"].(rest.Patcher); !ok {
		t.Error("imagestreams/status cannot be patched")
	}
	for _, s := range storage {
		s.Destroy()
	}
}
