package imageimport

import (
	"container/list"
	"sync"
	"time"
)

// schedule is the round of scheduled checks: a ring of stream keys visited
// front to back, one every interval/N for N streams, so each stream is
// checked once per interval and the checks are spread evenly over it rather
// than falling due together. OpenShift does the same with a few coarse
// buckets; a ring gives the even spread at any size. A stream imported by
// other means moves to the back (Delay), as in OpenShift.
type schedule struct {
	mu       sync.Mutex
	interval time.Duration
	ring     *list.List               // of *scheduled, the next visit at the front
	keys     map[string]*list.Element // key -> its element in ring
	tags     int                      // scheduled tags over all streams
	// last is when the previous visit was due; the next is due interval/N
	// later, so a stream added to a busy ring shortens the step at once.
	last time.Time
	// changed wakes the loop waiting for the next visit.
	changed chan struct{}
}

// scheduled is one stream in the ring.
type scheduled struct {
	key  string
	tags int
}

func newSchedule(interval time.Duration) *schedule {
	return &schedule{
		interval: interval,
		ring:     list.New(),
		keys:     map[string]*list.Element{},
		changed:  make(chan struct{}, 1),
	}
}

// Set puts key in the ring with tags scheduled tags (at the back when new)
// or, with tags == 0, removes it. now starts the round when the ring was
// empty.
func (s *schedule) Set(key string, tags int, now time.Time) {
	if tags <= 0 {
		s.Remove(key)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if e, ok := s.keys[key]; ok {
		item := e.Value.(*scheduled)
		s.tags += tags - item.tags
		item.tags = tags
		return
	}
	if s.ring.Len() == 0 {
		s.last = now
	}
	s.keys[key] = s.ring.PushBack(&scheduled{key: key, tags: tags})
	s.tags += tags
	s.wake()
}

// Remove takes key out of the ring.
func (s *schedule) Remove(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.keys[key]
	if !ok {
		return
	}
	s.tags -= e.Value.(*scheduled).tags
	s.ring.Remove(e)
	delete(s.keys, key)
	s.wake()
}

// Delay moves key to the back of the ring: it was just imported, so its
// next check can wait a whole interval.
func (s *schedule) Delay(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e, ok := s.keys[key]; ok {
		s.ring.MoveToBack(e)
	}
}

// Len is the number of streams in the ring.
func (s *schedule) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ring.Len()
}

// Tags is the number of scheduled tags of all streams in the ring.
func (s *schedule) Tags() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tags
}

// Next returns the stream to check at now and moves it to the back of the
// ring, or, when no visit is due yet, how long to wait (a negative wait
// means the ring is empty: wait for a change).
func (s *schedule) Next(now time.Time) (key string, wait time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := s.ring.Len()
	if n == 0 {
		return "", -1
	}
	step := s.interval / time.Duration(n)
	due := s.last.Add(step)
	if now.Before(due) {
		return "", due.Sub(now)
	}
	// Keep the rhythm when a visit is slightly late (timer latency would
	// otherwise stretch every round), but after a longer stall start
	// afresh instead of bursting through the missed visits.
	if now.Sub(due) < step {
		s.last = due
	} else {
		s.last = now
	}
	e := s.ring.Front()
	s.ring.MoveToBack(e)
	return e.Value.(*scheduled).key, 0
}

// Changed is signalled when the ring changes (the wait Next returned may
// be wrong now).
func (s *schedule) Changed() <-chan struct{} { return s.changed }

// wake signals changed without blocking; s.mu is held.
func (s *schedule) wake() {
	select {
	case s.changed <- struct{}{}:
	default:
	}
}
