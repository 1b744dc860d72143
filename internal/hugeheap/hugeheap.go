// Package hugeheap backs the Go heap of a slipway process with transparent
// huge pages from (almost) the first package initialisation on. cmd/slipway
// imports it for that side effect.
//
// Why: on the VMs Slipway was measured on, the first touch of a 4 KiB page
// costs ~14 µs (the guest's page fault plus the hypervisor's), and a slipway
// command's start (~800 package initialisers allocating ~10 MB) took ~3,200
// of them: ~40 of the ~95 ms before main, for every CLI verb, builder and
// deployer. A 2 MiB page costs one fault.
//
// With THP in its common "madvise" mode only memory that asks gets huge
// pages, and the Go runtime does not ask: it maps the heap piece by piece
// with MAP_FIXED, and a fresh mapping starts without advice. So init makes
// the runtime map one large piece (a 48 MiB allocation it never touches),
// advises that piece MADV_HUGEPAGE, collects the allocation (the page
// allocator then hands out the free range lowest address first), and
// collapses the few MiB the heap used before init ran (MADV_COLLAPSE). The
// process starts ~20 ms sooner and takes ~1,800 fewer page faults (bench/
// clistart). With THP "always" or "never" there is nothing to do.
//
// Go initialises packages in import path order as far as dependencies
// allow; this one needs only runtime, syscall and unsafe, so it runs among
// the first ~20 of a slipway binary's ~800, before the heavy ones.
package hugeheap

import (
	"runtime"
	"syscall"
	"unsafe"
)

const (
	hugePage = 2 << 20
	// reserve is the heap range mapped and advised at once: more than a
	// command's start allocates.
	reserve = 48 << 20
	// The madvise advice values (linux/mman.h); syscall does not name them.
	madvHugepage = 14
	madvCollapse = 25
	// thpMode is the system's THP mode: "always [madvise] never".
	thpMode = "/sys/kernel/mm/transparent_hugepage/enabled"
	// madviseSelected marks the mode in use in thpMode. (The package
	// imports nothing that would make it initialise later, not even strings.)
	madviseSelected = "[madvise]"
)

// first keeps an early heap object's address observable (not on the stack).
var first *uint64

func init() {
	if !madviseMode() {
		return
	}
	first = new(uint64)
	start := uintptr(unsafe.Pointer(first))
	block := make([]byte, reserve)
	p := uintptr(unsafe.Pointer(unsafe.SliceData(block)))
	block = nil
	lo := min(start, p) &^ (hugePage - 1)
	hi := (p + reserve + hugePage - 1) &^ (hugePage - 1)
	// Best effort throughout: an error leaves the heap as the runtime
	// made it (ENOMEM only says part of the range is not mapped).
	if madvise(lo, hi-lo, madvHugepage) != nil {
		return
	}
	runtime.GC()
	// The heap's start was touched page by page before init ran; collapsing
	// it makes the rest of that range fault-free too. EINVAL on kernels
	// before 6.1.
	if used := (p + hugePage - 1) &^ (hugePage - 1); used > lo {
		_ = madvise(lo, used-lo, madvCollapse)
	}
}

// madviseMode reports whether THP is in "madvise" mode, the one where
// advice changes anything.
func madviseMode() bool {
	fd, err := syscall.Open(thpMode, syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
	if err != nil {
		return false
	}
	defer syscall.Close(fd)
	var buf [64]byte
	n, err := syscall.Read(fd, buf[:])
	if err != nil || n <= 0 {
		return false
	}
	mode := string(buf[:n])
	for i := 0; i+len(madviseSelected) <= len(mode); i++ {
		if mode[i:i+len(madviseSelected)] == madviseSelected {
			return true
		}
	}
	return false
}

func madvise(addr, length uintptr, advice int) error {
	if _, _, errno := syscall.Syscall(syscall.SYS_MADVISE, addr, length, uintptr(advice)); errno != 0 {
		return errno
	}
	return nil
}
