// Package serialwrite serializes the API server's read-modify-write cycles
// on one object, so that concurrent requests are served one after the other
// instead of refused with a conflict: requests of this process take turns
// per object (Turns), and a write that still conflicts, with a writer
// outside the turns (a controller's status write, a client's update), is
// recomputed on a fresh read a bounded number of times (Backoff).
package serialwrite

import (
	"context"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/util/wait"
)

// Backoff is the schedule of a conflicting write's retries: 12 attempts
// within about 2.5 s (waits from 10 ms, growing by half each time, with up
// to half again of jitter): long enough for a controller's burst of status
// writes to pass, short enough that a request never hangs on a write that
// cannot succeed.
var Backoff = wait.Backoff{Steps: 12, Duration: 10 * time.Millisecond, Factor: 1.5, Jitter: 0.5}

// Turns hands out turns per key (an object's "<resource>/<namespace>/<name>"):
// one holder at a time, the others waiting in the order they came. The zero
// value is ready to use; a key's state lives only while someone holds or
// waits for it.
type Turns struct {
	mu   sync.Mutex
	keys map[string]*turn
}

type turn struct {
	token chan struct{} // holding the one slot is holding the turn
	users int           // holder and waiters; the entry goes at 0
}

// Take waits for key's turn and returns its release, which the caller must
// call once; waited reports whether another request held the turn (the
// object has likely just been written, so a cached copy is stale). It fails
// only when ctx ends first.
func (t *Turns) Take(ctx context.Context, key string) (release func(), waited bool, err error) {
	t.mu.Lock()
	if t.keys == nil {
		t.keys = map[string]*turn{}
	}
	k := t.keys[key]
	if k == nil {
		k = &turn{token: make(chan struct{}, 1)}
		t.keys[key] = k
	}
	k.users++
	t.mu.Unlock()
	leave := func() {
		t.mu.Lock()
		if k.users--; k.users == 0 {
			delete(t.keys, key)
		}
		t.mu.Unlock()
	}
	select {
	case k.token <- struct{}{}:
	default:
		waited = true
		select {
		case k.token <- struct{}{}:
		case <-ctx.Done():
			leave()
			return nil, true, ctx.Err()
		}
	}
	var once sync.Once
	return func() { once.Do(func() { <-k.token; leave() }) }, waited, nil
}

// Unavailable reports whether err says the API server could not take a
// request just then (503, 429, a server-side timeout), as the aggregator
// answers under load: a request the server makes to itself on a client's
// behalf is worth trying again along Backoff rather than failing the
// client's.
func Unavailable(err error) bool {
	return apierrors.IsServiceUnavailable(err) || apierrors.IsTooManyRequests(err) || apierrors.IsServerTimeout(err)
}

// Retry counts the attempts of one write along Backoff; use one per
// request.
type Retry struct {
	backoff wait.Backoff
}

// NewRetry starts a write's attempts.
func NewRetry() *Retry { return &Retry{backoff: Backoff} }

// Again waits before the next attempt and reports whether there is one:
// false once Backoff's attempts are spent or ctx ended.
func (r *Retry) Again(ctx context.Context) bool {
	if r.backoff.Steps <= 1 {
		return false
	}
	timer := time.NewTimer(r.backoff.Step())
	defer timer.Stop()
	select {
	case <-timer.C:
		return true
	case <-ctx.Done():
		return false
	}
}
