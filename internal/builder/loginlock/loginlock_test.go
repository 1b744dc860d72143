package loginlock

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"
)

var (
	alice = []Login{{Host: "reg.example:5000", Username: "alice", Password: "alice-s3cret"}}
	bob   = []Login{{Host: "reg.example:5000", Username: "bob", Password: "bob-s3cret"}}
)

func acquire(t *testing.T, dir string, logins []Login) func() {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	release, err := Acquire(ctx, dir, logins, nil)
	if err != nil {
		t.Fatal(err)
	}
	return release
}

func TestSameLoginsShare(t *testing.T) {
	dir := t.TempDir()
	hub := Login{Host: "docker.io", Username: "a", Password: "b"}
	r1 := acquire(t, dir, []Login{hub, alice[0]})
	// The same logins in another order, by a second and third holder.
	r2 := acquire(t, dir, []Login{alice[0], hub})
	r3 := acquire(t, dir, []Login{hub, alice[0]})
	r1()
	r2()
	r3()
}

func TestOtherLoginsWait(t *testing.T) {
	dir := t.TempDir()
	release := acquire(t, dir, alice)

	waited := make(chan struct{}, 4)
	got := make(chan error, 1)
	go func() {
		r, err := Acquire(context.Background(), dir, bob, func() { waited <- struct{}{} })
		if err == nil {
			r()
		}
		got <- err
	}()
	select {
	case <-waited:
	case err := <-got:
		t.Fatalf("bob's logins got the lock while alice's were held (err %v)", err)
	case <-time.After(10 * time.Second):
		t.Fatal("bob neither waited nor got the lock")
	}
	select {
	case err := <-got:
		t.Fatalf("bob's logins got the lock while alice's were held (err %v)", err)
	case <-time.After(3 * pollInterval):
	}
	release()
	select {
	case err := <-got:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("bob still waits after alice released")
	}
	if len(waited) != 0 {
		t.Fatalf("waiting was announced %d more times", len(waited))
	}
}

func TestNoLoginsIsALoginSetToo(t *testing.T) {
	// A session without a login for a host answers "anonymous", which
	// BuildKit would use for the other solves as well.
	dir := t.TempDir()
	release := acquire(t, dir, alice)
	defer release()
	ctx, cancel := context.WithTimeout(context.Background(), 4*pollInterval)
	defer cancel()
	if _, err := Acquire(ctx, dir, nil, nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("anonymous Acquire = %v, want to wait until the deadline", err)
	}
}

func TestADeadHolderReleases(t *testing.T) {
	// A builder that dies closes its files: the kernel drops the flock.
	dir := t.TempDir()
	release := acquire(t, dir, alice)
	release()
	acquire(t, dir, bob)()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var locks int
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), lockExt) {
			locks++
		}
	}
	if locks != 1 {
		t.Fatalf("%d lock files left, want the last one only (unheld ones are removed)", locks)
	}
}

func TestNoPasswordOnDisk(t *testing.T) {
	dir := t.TempDir()
	acquire(t, dir, alice)()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		data, err := os.ReadFile(dir + "/" + e.Name())
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range []string{"alice", "s3cret"} {
			if strings.Contains(e.Name(), s) || strings.Contains(string(data), s) {
				t.Fatalf("%s holds %q", e.Name(), s)
			}
		}
		info, err := e.Info()
		if err != nil {
			t.Fatal(err)
		}
		if info.Mode().Perm()&0o077 != 0 {
			t.Fatalf("%s has mode %v, want owner-only", e.Name(), info.Mode())
		}
	}
}

func TestDir(t *testing.T) {
	if got := Dir("unix:///var/lib/slipway/buildkit/buildkitd.sock"); got != "/var/lib/slipway/buildkit/logins" {
		t.Fatalf("Dir(unix) = %q", got)
	}
	if got := Dir("tcp://buildkitd:1234"); got != "" {
		t.Fatalf("Dir(tcp) = %q, want none", got)
	}
	release, err := Acquire(context.Background(), "", alice, nil)
	if err != nil {
		t.Fatal(err)
	}
	release()
}
