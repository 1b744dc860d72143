package worker

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/tools/cache"
)

func TestRunRetriesFailedKey(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	queue := NewQueue("test")
	var mu sync.Mutex
	calls := map[string]int{}
	done := make(chan struct{})
	syncKey := func(_ context.Context, key string) error {
		mu.Lock()
		defer mu.Unlock()
		calls[key]++
		if calls[key] == 1 {
			return errors.New("first try fails")
		}
		close(done)
		return nil
	}
	queue.Add("ns/a")
	errc := make(chan error, 1)
	go func() {
		errc <- Run(ctx, "test", queue, 2, []cache.InformerSynced{func() bool { return true }}, syncKey)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("key not retried")
	}
	cancel()
	if err := <-errc; err != nil {
		t.Fatalf("Run: %v", err)
	}
	if !queue.ShuttingDown() {
		t.Error("queue not shut down")
	}
	if n := queue.NumRequeues("ns/a"); n != 0 {
		t.Errorf("requeues after success = %d, want 0 (forgotten)", n)
	}
}

func TestRunCachesNotSynced(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := Run(ctx, "test", NewQueue("test"), 1, []cache.InformerSynced{func() bool { return false }}, nil)
	if err == nil {
		t.Fatal("Run with unsynced caches: no error")
	}
}

func TestLookup(t *testing.T) {
	type obj struct{ key string }
	failure := errors.New("cache broken")
	get := func(namespace, name string) (*obj, error) {
		switch name {
		case "gone":
			return nil, apierrors.NewNotFound(schema.GroupResource{Resource: "things"}, name)
		case "broken":
			return nil, failure
		}
		return &obj{key: namespace + "/" + name}, nil
	}
	if o, err := Lookup("ns/a", get); err != nil || o == nil || o.key != "ns/a" {
		t.Errorf("Lookup(ns/a) = %v, %v", o, err)
	}
	for _, key := range []string{"ns/gone", "a/b/c"} {
		if o, err := Lookup(key, get); o != nil || err != nil {
			t.Errorf("Lookup(%s) = %v, %v, want nothing to sync", key, o, err)
		}
	}
	if o, err := Lookup("ns/broken", get); o != nil || !errors.Is(err, failure) {
		t.Errorf("Lookup(ns/broken) = %v, %v, want the cache's error", o, err)
	}
}
