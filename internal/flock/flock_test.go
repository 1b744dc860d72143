package flock

import (
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

func open(t *testing.T, path string) *os.File {
	t.Helper()
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// Locks belong to open file descriptions: two opens of one file in one
// process conflict as two processes would.
func TestLockConflictsAcrossOpens(t *testing.T) {
	path := filepath.Join(t.TempDir(), "lock")
	a, b := open(t, path), open(t, path)
	if err := Lock(a, unix.LOCK_SH); err != nil {
		t.Fatal(err)
	}
	if err := Lock(b, unix.LOCK_SH|unix.LOCK_NB); err != nil {
		t.Fatalf("second shared lock: %v", err)
	}
	if err := Lock(b, unix.LOCK_EX|unix.LOCK_NB); !Busy(err) {
		t.Fatalf("exclusive lock over a shared one: %v, want busy", err)
	}
	if err := Lock(a, unix.LOCK_UN); err != nil {
		t.Fatal(err)
	}
	if err := Lock(b, unix.LOCK_EX|unix.LOCK_NB); err != nil {
		t.Fatalf("exclusive lock once the other is released: %v", err)
	}
	a.Close()
	if err := Lock(a, unix.LOCK_SH); err == nil || Busy(err) {
		t.Fatalf("lock on a closed file: %v, want an error that is not busy", err)
	}
}
