package replicationcontroller

import (
	"sync"
	"time"
)

// expectationsTTL bounds how long a sync waits for the watch to show pods it
// created or deleted: past it the controller trusts its cache again (a lost
// event must not stall an RC forever).
const expectationsTTL = 5 * time.Minute

// expectations counts, per RC key, the pod creations and deletions the
// controller made and has not yet seen in its informer, so a sync that runs
// before the cache catches up does not create or delete the same pods twice.
type expectations struct {
	mu    sync.Mutex
	now   func() time.Time
	byKey map[string]*expected
}

type expected struct {
	adds, dels int
	set        time.Time
}

func newExpectations(now func() time.Time) *expectations {
	return &expectations{now: now, byKey: map[string]*expected{}}
}

// expect records that adds pods are being created and dels deleted for key.
func (e *expectations) expect(key string, adds, dels int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.byKey[key] = &expected{adds: adds, dels: dels, set: e.now()}
}

// observe lowers key's outstanding creations by adds and deletions by dels
// (a watch event, or a request that failed and so will show no event).
func (e *expectations) observe(key string, adds, dels int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if x := e.byKey[key]; x != nil {
		x.adds -= adds
		x.dels -= dels
	}
}

// satisfied reports whether key has nothing outstanding (or waited too long).
func (e *expectations) satisfied(key string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	x := e.byKey[key]
	return x == nil || (x.adds <= 0 && x.dels <= 0) || e.now().Sub(x.set) > expectationsTTL
}

// forget drops key (its RC is gone).
func (e *expectations) forget(key string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.byKey, key)
}
