package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/slipway-dev/slipway/internal/builder/source"
)

// TestTarGzDir archives a directory as --from-dir does, leaving .git out,
// and extracts it as the builder does.
func TestTarGzDir(t *testing.T) {
	dir := t.TempDir()
	for name, body := range map[string]string{"Dockerfile": "FROM busybox\n", "app/init.sh": "#!/bin/sh\n", ".git/HEAD": "ref\n", "app/.git": "gitdir\n", "x.gitignore": "keep\n"} {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var buf bytes.Buffer
	if err := tarGzDir(dir, regexp.MustCompile(defaultBinaryExclude), &buf); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "inputs")
	if err := source.ExtractBinary(&buf, out, ""); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"Dockerfile", "app/init.sh", "x.gitignore"} {
		if _, err := os.Stat(filepath.Join(out, name)); err != nil {
			t.Errorf("%s missing: %v", name, err)
		}
	}
	for _, name := range []string{".git", "app/.git"} {
		if _, err := os.Stat(filepath.Join(out, name)); err == nil {
			t.Errorf("%s was not excluded", name)
		}
	}
}
