// Package flock takes flock(2) locks on open files: advisory, per open
// file description, released by the kernel when the last descriptor
// closes (so a process that dies lets go of its locks).
package flock

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// Lock applies how (unix.LOCK_SH, LOCK_EX or LOCK_UN, optionally with
// LOCK_NB) to f, retrying when a signal interrupts the wait. With LOCK_NB
// a lock held elsewhere is an error for which Busy reports true.
func Lock(f *os.File, how int) error {
	for {
		err := unix.Flock(int(f.Fd()), how)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return fmt.Errorf("locking %s: %w", f.Name(), err)
		}
		return nil
	}
}

// Busy reports whether err is a non-blocking Lock's "held elsewhere".
func Busy(err error) bool { return errors.Is(err, unix.EWOULDBLOCK) }
