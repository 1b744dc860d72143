// Package loginlock lets builds that present different registry logins
// take turns on the shared buildkitd, while builds that present the same
// logins run side by side.
//
// BuildKit shares work between the solves that need it at the same time:
// a base image is resolved and pulled once for all of them, and the
// registry login for it is asked of any one of their sessions
// (moby/buildkit#2472). With two builds whose logins for a registry
// differ, one build's wrong login fails the other's pull, or one build's
// good login lets the other pull an image it has no access to. So a solve
// holds, for its whole life, a shared lock named by a fingerprint of every
// login its session answers with; a solve with another fingerprint waits
// until none is held.
//
// The locks are flock(2) locks on files in one directory per buildkitd,
// so they work across builder processes and are released when a builder
// dies. File names are keyed hashes of the logins: a password never
// reaches the disk, nor a hash one could test guesses against without the
// key file, which only root can read.
package loginlock

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/slipway-dev/slipway/internal/buildkit"
	"github.com/slipway-dev/slipway/internal/flock"
)

// Login is one registry login a session answers with.
type Login struct {
	Host, Username, Password string
}

// pollInterval is how often a waiting solve looks again.
const pollInterval = 50 * time.Millisecond

const (
	mutexFile = "mutex"
	keyFile   = "key"
	lockExt   = ".logins"
)

// Dir is the lock directory for a buildkitd address: next to its unix
// socket. Other addresses (a buildkitd elsewhere) have none: "" .
func Dir(address string) string {
	state := buildkit.StateDir(address)
	if state == "" {
		return ""
	}
	return filepath.Join(state, "logins")
}

// Acquire takes the shared lock for logins in dir and returns its release.
// It waits while a solve with other logins holds its lock, calling waiting
// once if it has to, until ctx ends. An empty dir locks nothing.
func Acquire(ctx context.Context, dir string, logins []Login, waiting func()) (release func(), err error) {
	if dir == "" {
		return func() {}, nil
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("login lock: %w", err)
	}
	mutex, err := os.OpenFile(filepath.Join(dir, mutexFile), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("login lock: %w", err)
	}
	defer mutex.Close()

	announced := false
	for {
		held, err := tryAcquire(mutex, dir, logins)
		if err != nil {
			return nil, err
		}
		if held != nil {
			return func() { held.Close() }, nil
		}
		if !announced && waiting != nil {
			waiting()
			announced = true
		}
		select {
		case <-ctx.Done():
			return nil, context.Cause(ctx)
		case <-time.After(pollInterval):
		}
	}
}

// tryAcquire takes the lock if no other fingerprint is held, returning the
// held file, or nil when it must wait. Every step runs under the mutex, so
// shared locks are only ever taken by holders of the mutex and a
// non-blocking exclusive probe under it sees exactly the live holders.
func tryAcquire(mutex *os.File, dir string, logins []Login) (*os.File, error) {
	if err := flock.Lock(mutex, unix.LOCK_EX); err != nil {
		return nil, err
	}
	defer flock.Lock(mutex, unix.LOCK_UN) //nolint:errcheck // closing the file unlocks too

	name, err := fingerprint(dir, logins)
	if err != nil {
		return nil, err
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("login lock: %w", err)
	}
	for _, e := range entries {
		if e.Name() == name || !strings.HasSuffix(e.Name(), lockExt) {
			continue
		}
		busy, err := held(filepath.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		if busy {
			return nil, nil
		}
	}
	f, err := os.OpenFile(filepath.Join(dir, name), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("login lock: %w", err)
	}
	if err := flock.Lock(f, unix.LOCK_SH|unix.LOCK_NB); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// held reports whether another solve holds path; a file nobody holds is
// removed, so the directory does not grow with every login ever seen.
func held(path string) (bool, error) {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("login lock: %w", err)
	}
	defer f.Close()
	err = flock.Lock(f, unix.LOCK_EX|unix.LOCK_NB)
	if flock.Busy(err) {
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("login lock: %w", err)
	}
	// Still under the mutex and now exclusively ours: nobody can be
	// about to take it.
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return false, fmt.Errorf("login lock: %w", err)
	}
	return false, nil
}

// fingerprint names the lock file of a set of logins: an HMAC under the
// directory's key, so equal sets of logins get equal names in every
// process.
func fingerprint(dir string, logins []Login) (string, error) {
	key, err := loadKey(dir)
	if err != nil {
		return "", err
	}
	sorted := append([]Login(nil), logins...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Host < sorted[j].Host })
	mac := hmac.New(sha256.New, key)
	for _, l := range sorted {
		// Length-prefixed fields: no two different sets encode alike.
		for _, s := range []string{l.Host, l.Username, l.Password} {
			fmt.Fprintf(mac, "%d:%s", len(s), s)
		}
	}
	return hex.EncodeToString(mac.Sum(nil)[:16]) + lockExt, nil
}

// loadKey reads the directory's key, creating it on first use (the caller
// holds the mutex).
func loadKey(dir string) ([]byte, error) {
	path := filepath.Join(dir, keyFile)
	key, err := os.ReadFile(path)
	if err == nil && len(key) == 32 {
		return key, nil
	}
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("login lock: %w", err)
	}
	key = make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("login lock: %w", err)
	}
	if err := os.WriteFile(path, key, 0o600); err != nil {
		return nil, fmt.Errorf("login lock: %w", err)
	}
	return key, nil
}
