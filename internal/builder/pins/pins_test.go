package pins

import (
	"os"
	"path/filepath"
	"testing"

	digest "github.com/opencontainers/go-digest"
)

func TestName(t *testing.T) {
	for ref, want := range map[string]string{
		"busybox":                                    "docker.io/library/busybox:latest",
		"docker.io/library/busybox:latest":           "docker.io/library/busybox:latest",
		"127.0.0.1:5000/veer/base:1.0":               "127.0.0.1:5000/veer/base:1.0",
		"busybox@" + digest.FromString("x").String(): "",
		"Not An Image":                               "",
	} {
		got, ok := Name(ref)
		if got != want || ok != (want != "") {
			t.Errorf("Name(%q) = %q, %v; want %q", ref, got, ok, want)
		}
	}
}

func TestStore(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "pins")
	s := Open(dir)
	d1, d2 := digest.FromString("one"), digest.FromString("two")
	if got := s.Get("veer", "busybox"); got != "" {
		t.Fatalf("empty store has %q", got)
	}
	if err := s.Put("veer", "busybox", d1); err != nil {
		t.Fatal(err)
	}
	// The same image by another spelling; another project sees nothing.
	if got := s.Get("veer", "docker.io/library/busybox:latest"); got != d1 {
		t.Fatalf("Get = %q, want %s", got, d1)
	}
	if got := s.Get("other", "busybox"); got != "" {
		t.Fatalf("another project sees veer's pin %q", got)
	}
	if err := s.Put("veer", "busybox", d2); err != nil {
		t.Fatal(err)
	}
	if got := s.Get("veer", "busybox"); got != d2 {
		t.Fatalf("after a second Put: %q, want %s", got, d2)
	}
	if info, err := os.Stat(dir); err != nil || info.Mode().Perm() != 0o700 {
		t.Fatalf("pins dir: %v %v", info, err)
	}
	if err := s.Forget("veer", "busybox"); err != nil {
		t.Fatal(err)
	}
	if got := s.Get("veer", "busybox"); got != "" {
		t.Fatalf("after Forget: %q", got)
	}
	if err := s.Forget("veer", "busybox"); err != nil {
		t.Fatalf("Forget of nothing: %v", err)
	}
	// Refs by digest are never pinned, and the zero store keeps nothing.
	if err := s.Put("veer", "busybox@"+d1.String(), d2); err != nil || s.Get("veer", "busybox@"+d1.String()) != "" {
		t.Fatalf("a digest ref was pinned: %v", err)
	}
	var none Store
	if err := none.Put("veer", "busybox", d1); err != nil || none.Get("veer", "busybox") != "" {
		t.Fatalf("zero store: %v", err)
	}
}

func TestDir(t *testing.T) {
	if got := Dir("unix:///var/lib/slipway/buildkit/buildkitd.sock"); got != "/var/lib/slipway/buildkit/pins" {
		t.Errorf("Dir = %q", got)
	}
	if got := Dir("tcp://10.0.0.1:1234"); got != "" {
		t.Errorf("Dir of a TCP address = %q, want none", got)
	}
}
