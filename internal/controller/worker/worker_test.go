package worker

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

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
