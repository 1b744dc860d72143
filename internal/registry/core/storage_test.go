package core

import (
	"sort"
	"strings"
	"testing"

	"k8s.io/apiserver/pkg/registry/rest"

	"github.com/slipway-dev/slipway/internal/registry/storagetest"
)

func TestNewStorage(t *testing.T) {
	storage, err := NewStorage(storagetest.NewOptions(t))
	if err != nil {
		t.Fatal(err)
	}
	if storage.Namespaces == nil || storage.Resources["namespaces"] != rest.Storage(storage.Namespaces) {
		t.Error("Namespaces is not the served namespace storage")
	}
	var keys []string
	for k, s := range storage.Resources {
		keys = append(keys, k)
		if k == "pods/log" {
			if _, ok := s.(rest.GetterWithOptions); !ok {
				t.Errorf("%s cannot be read with options", k)
			}
			continue
		}
		if strings.Contains(k, "/") {
			if _, ok := s.(rest.Patcher); !ok {
				t.Errorf("%s cannot be read and updated", k)
			}
			continue
		}
		if _, ok := s.(rest.SingularNameProvider); !ok {
			t.Errorf("%s does not provide a singular name, the installer refuses it", k)
		}
		if _, ok := s.(rest.TableConvertor); !ok {
			t.Errorf("%s has no table convertor", k)
		}
		if _, ok := s.(rest.Watcher); !ok {
			t.Errorf("%s cannot be watched", k)
		}
	}
	sort.Strings(keys)
	want := "configmaps,events,namespaces,namespaces/finalize,namespaces/status,pods,pods/log,pods/status," +
		"replicationcontrollers,replicationcontrollers/scale,replicationcontrollers/status," +
		"secrets,serviceaccounts,services,services/status"
	if got := strings.Join(keys, ","); got != want {
		t.Errorf("resources = %s\nwant        %s", got, want)
	}
	if _, ok := storage.Resources["replicationcontrollers/scale"].(rest.GroupVersionKindProvider); !ok {
		t.Error("scale does not declare autoscaling/v1 Scale")
	}
	if _, ok := storage.Resources["namespaces"].(rest.CollectionDeleter); ok {
		t.Error("namespaces allow deletecollection, which would skip the two-phase delete")
	}
	for _, s := range storage.Resources {
		s.Destroy()
	}
}
