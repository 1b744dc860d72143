package server

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestCheckLayout: a new directory and one of layout 1 (no layout file)
// are migrated and then recorded as the current layout; the current one is
// not migrated again; a newer layout is refused with what to do, and a
// layout file that does not hold a version is an error.
func TestCheckLayout(t *testing.T) {
	for _, tc := range []struct {
		name    string
		layout  string // "" for no layout file
		etcd    bool   // an etcd directory, as layout 1 left
		migrate bool
		err     string
	}{
		{name: "new", migrate: true},
		{name: "layout 1", etcd: true, migrate: true},
		{name: "layout 1 recorded", layout: "1\n", etcd: true, migrate: true},
		{name: "current", layout: "2\n", etcd: true},
		{name: "newer", layout: "3\n", etcd: true, err: "was written by a newer Slipway (layout 3; this one knows up to 2): run that version, or start with a new --data-dir"},
		{name: "garbage", layout: "two\n", err: `not a layout version: "two\n"`},
		{name: "zero", layout: "0", err: `not a layout version: "0"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := dataDir(t.TempDir())
			if tc.layout != "" {
				if err := os.WriteFile(d.layoutFile(), []byte(tc.layout), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			if tc.etcd {
				if err := os.Mkdir(d.etcd(), 0o700); err != nil {
					t.Fatal(err)
				}
			}
			migrate, err := d.checkLayout()
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("checkLayout() = %v, %v; want an error with %q", migrate, err, tc.err)
				}
				if data, _ := os.ReadFile(d.layoutFile()); string(data) != tc.layout {
					t.Errorf("the refused layout file now holds %q", data)
				}
				return
			}
			if err != nil || migrate != tc.migrate {
				t.Fatalf("checkLayout() = %v, %v; want %v", migrate, err, tc.migrate)
			}
			// Recorded only once the migration is done.
			if data, _ := os.ReadFile(d.layoutFile()); string(data) != tc.layout {
				t.Errorf("checkLayout wrote the layout file: %q", data)
			}
			if err := d.recordLayout(); err != nil {
				t.Fatal(err)
			}
			if migrate, err := d.checkLayout(); err != nil || migrate {
				t.Errorf("after recordLayout, checkLayout() = %v, %v; want no migration", migrate, err)
			}
		})
	}
}

// TestPrepareClosesTheDataDir: a data directory others can read (a
// --data-dir made by hand with the default umask) is closed to them before
// keys and tokens are written into it.
func TestPrepareClosesTheDataDir(t *testing.T) {
	d := dataDir(filepath.Join(t.TempDir(), "data"))
	if err := os.Mkdir(string(d), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := d.prepare("127.0.0.1:8443"); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(string(d))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o700 {
		t.Errorf("data directory mode %v, want 0700", fi.Mode().Perm())
	}
}

// TestListeningPorts: the ports a pod's hostPort may not take, from the
// server's listen addresses and etcd's URLs.
func TestListeningPorts(t *testing.T) {
	got := listeningPorts([]string{"127.0.0.1:8443", ":5000", "https://127.0.0.1:2379", "[::1]:6443", "no-port", "https://etcd.example"})
	want := []int32{8443, 5000, 2379, 6443}
	if !slices.Equal(got, want) {
		t.Errorf("listeningPorts = %v, want %v", got, want)
	}
}
