package gcpause

import (
	"runtime"
	"runtime/debug"
	"testing"
	"time"
)

// gcPercent reads GOGC as the runtime has it.
func gcPercent() int {
	p := debug.SetGCPercent(0)
	debug.SetGCPercent(p)
	return p
}

// The test binary starts like a slipway command: this package's init has
// paused the collector. One test walks the pause and its end, since a
// process resumes only once.
func TestPauseThenResume(t *testing.T) {
	if got := gcPercent(); got != -1 {
		t.Fatalf("GOGC during the pause = %d, want -1 (off)", got)
	}
	if got := debug.SetMemoryLimit(-1); got != pauseLimit {
		t.Errorf("memory limit during the pause = %d, want %d", got, pauseLimit)
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	var keep [][]byte
	for range 64 { // 64 MB: many times the 4 MB first goal GOGC=100 starts with
		keep = append(keep, make([]byte, 1<<20))
		keep = keep[len(keep)-1:]
	}
	runtime.ReadMemStats(&after)
	if after.NumGC != before.NumGC {
		t.Errorf("%d collections ran during the pause while allocating 64 MB, want none", after.NumGC-before.NumGC)
	}

	ResumeAfter(10 * time.Millisecond)
	deadline := time.Now().Add(5 * time.Second)
	for gcPercent() == -1 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if got := gcPercent(); got != percent || percent == -1 {
		t.Fatalf("GOGC after ResumeAfter = %d, want the process's own %d (not off)", got, percent)
	}
	if got := debug.SetMemoryLimit(-1); got != limit {
		t.Errorf("memory limit after Resume = %d, want the process's own %d", got, limit)
	}
	Resume() // a second call is harmless
	if got := gcPercent(); got != percent {
		t.Errorf("GOGC after a second Resume = %d, want %d", got, percent)
	}
}
