// Package gcpause keeps the Go garbage collector off while a slipway
// process starts, and turns it back on as the process's command asks.
// cmd/slipway imports it for that side effect and calls Resume or
// ResumeAfter once it knows what it runs.
//
// Why: ~800 package initialisers allocate ~15 MB of which ~5 MB stay, and
// with the default GOGC the runtime collects four or five times on the way
// to main (the first heap goal is 4 MB). Each collection's sweep moves
// every cached span into the central lists, whose blocks are fresh memory:
// ~500 first touches of a page, ~14 µs each on the VMs Slipway was measured
// on, plus the marking. A CLI verb that ends within a second (most of
// them: get, start-build --wait on a warm cache) needs no collection at
// all, so its first second runs without one (bench/clistart).
//
// While paused the heap is bounded by a memory limit (pauseLimit, or the
// process's GOMEMLIMIT if lower): past it the runtime collects anyway. A
// GOGC or GOMEMLIMIT set for the process is what Resume restores.
//
// The package imports runtime/debug (and with it os), so it initialises
// after the ~300 packages that need neither; internal/hugeheap, which
// collects once on purpose, runs before it.
package gcpause

import (
	"runtime/debug"
	"sync"
	"time"
)

// pauseLimit bounds the heap while the collector is off. A slipway
// command's start keeps ~5 MB; a verb that reads a large list within its
// first second may allocate a few times that.
const pauseLimit = 256 << 20

var (
	percent int   // GOGC before the pause
	limit   int64 // GOMEMLIMIT before the pause
	resume  sync.Once
)

func init() {
	percent = debug.SetGCPercent(-1)
	limit = debug.SetMemoryLimit(-1) // a negative limit only reads it
	debug.SetMemoryLimit(min(limit, pauseLimit))
}

// Resume turns the collector back on with the process's own GOGC and
// GOMEMLIMIT. Later calls do nothing.
func Resume() {
	resume.Do(func() {
		debug.SetGCPercent(percent)
		debug.SetMemoryLimit(limit)
	})
}

// ResumeAfter resumes the collector after d, or sooner if Resume is called.
func ResumeAfter(d time.Duration) {
	time.AfterFunc(d, Resume)
}
