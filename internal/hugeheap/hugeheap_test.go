package hugeheap

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"unsafe"
)

// The test binary ran init like any slipway process: the heap mapping that
// holds new objects carries the MADV_HUGEPAGE advice ("hg" in smaps).
func TestHeapIsAdvisedHuge(t *testing.T) {
	if !madviseMode() {
		t.Skipf("THP is not in madvise mode here (%s); init leaves the heap alone", thpMode)
	}
	// Enough allocations to be past the start of the heap that existed
	// before init ran, and in the range it advised.
	var objs [][]byte
	for range 256 {
		objs = append(objs, make([]byte, 4096))
	}
	for _, obj := range []unsafe.Pointer{unsafe.Pointer(first), unsafe.Pointer(&objs[len(objs)-1][0])} {
		flags, err := vmFlags(uintptr(obj))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(" "+flags+" ", " hg ") {
			t.Errorf("the mapping of heap object %p has VmFlags %q, want the hg (MADV_HUGEPAGE) flag", obj, flags)
		}
	}
}

// vmFlags is the VmFlags line of the mapping of /proc/self/smaps that
// contains addr.
func vmFlags(addr uintptr) (string, error) {
	data, err := os.ReadFile("/proc/self/smaps")
	if err != nil {
		return "", err
	}
	inside := false
	for _, line := range strings.Split(string(data), "\n") {
		fields := strings.Fields(line)
		if len(fields) == 0 {
			continue
		}
		var lo, hi uintptr
		if n, _ := fmt.Sscanf(fields[0], "%x-%x", &lo, &hi); n == 2 && !strings.HasSuffix(fields[0], ":") {
			inside = lo <= addr && addr < hi
			continue
		}
		if inside && fields[0] == "VmFlags:" {
			return strings.Join(fields[1:], " "), nil
		}
	}
	return "", fmt.Errorf("no mapping of /proc/self/smaps holds %#x", addr)
}
