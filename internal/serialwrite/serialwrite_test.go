package serialwrite

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

func TestTurnsOneHolderPerKey(t *testing.T) {
	var turns Turns
	var holders, most, waited atomic.Int32
	var wg sync.WaitGroup
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			release, w, err := turns.Take(context.Background(), "buildconfigs/ns/bc")
			if err != nil {
				t.Error(err)
				return
			}
			defer release()
			if w {
				waited.Add(1)
			}
			n := holders.Add(1)
			for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
			}
			time.Sleep(time.Millisecond)
			holders.Add(-1)
		}()
	}
	wg.Wait()
	if most.Load() != 1 {
		t.Errorf("%d holders of one key at once, want 1", most.Load())
	}
	if waited.Load() == 0 {
		t.Error("no taker reported waiting, with 20 at once")
	}
	if len(turns.keys) != 0 {
		t.Errorf("keys left after every turn was released: %v", turns.keys)
	}
}

func TestTurnsOtherKeysDoNotWait(t *testing.T) {
	var turns Turns
	release, _, err := turns.Take(context.Background(), "a")
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	other, waited, err := turns.Take(context.Background(), "b")
	if err != nil || waited {
		t.Fatalf("taking another key: waited %v, err %v", waited, err)
	}
	other()
	other() // a second release is harmless
	again, waited, err := turns.Take(context.Background(), "b")
	if err != nil || waited {
		t.Fatalf("taking b again: waited %v, err %v", waited, err)
	}
	again()
}

func TestTurnsWaitEndsWithContext(t *testing.T) {
	var turns Turns
	release, _, err := turns.Take(context.Background(), "a")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, waited, err := turns.Take(ctx, "a"); err == nil || !waited {
		t.Fatalf("Take of a held key with a context ending: waited %v, err %v; want the context's error", waited, err)
	}
	release()
	if len(turns.keys) != 0 {
		t.Errorf("keys left: %v", turns.keys)
	}
	// The turn is free again.
	release, waited, err := turns.Take(context.Background(), "a")
	if err != nil || waited {
		t.Fatalf("Take after release: waited %v, err %v", waited, err)
	}
	release()
}

func TestRetryIsBounded(t *testing.T) {
	r := NewRetry()
	attempts := 1
	start := time.Now()
	for r.Again(context.Background()) {
		attempts++
	}
	if attempts != Backoff.Steps {
		t.Errorf("%d attempts, want Backoff.Steps = %d", attempts, Backoff.Steps)
	}
	if took := time.Since(start); took > 4*time.Second {
		t.Errorf("retries took %s, want about 2.5 s at most", took)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if NewRetry().Again(ctx) {
		t.Error("Again with an ended context says try again")
	}
}

func TestUnavailable(t *testing.T) {
	gr := schema.GroupResource{Group: "build.openshift.io", Resource: "builds"}
	for _, c := range []struct {
		err  error
		want bool
	}{
		{apierrors.NewServiceUnavailable("the server is currently unable to handle the request"), true},
		{apierrors.NewTooManyRequests("slow down", 1), true},
		{apierrors.NewServerTimeout(gr, "create", 1), true},
		{apierrors.NewConflict(gr, "time", errors.New("modified")), false},
		{apierrors.NewAlreadyExists(gr, "time-2"), false},
		{apierrors.NewBadRequest("paused"), false},
		{nil, false},
	} {
		if got := Unavailable(c.err); got != c.want {
			t.Errorf("Unavailable(%v) = %v, want %v", c.err, got, c.want)
		}
	}
}
