package source

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

type entry struct {
	name, body, link string
	typ              byte
}

func tarOf(t *testing.T, gz bool, entries ...entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	var w *tar.Writer
	var zw *gzip.Writer
	if gz {
		zw = gzip.NewWriter(&buf)
		w = tar.NewWriter(zw)
	} else {
		w = tar.NewWriter(&buf)
	}
	for _, e := range entries {
		typ := e.typ
		if typ == 0 {
			typ = tar.TypeReg
		}
		hdr := &tar.Header{Name: e.name, Typeflag: typ, Mode: 0o644, Size: int64(len(e.body)), Linkname: e.link}
		if typ == tar.TypeDir {
			hdr.Mode, hdr.Size = 0o755, 0
		}
		if typ == tar.TypeSymlink || typ == tar.TypeLink {
			hdr.Size = 0
		}
		if err := w.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		if hdr.Size > 0 {
			if _, err := w.Write([]byte(e.body)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if zw != nil {
		if err := zw.Close(); err != nil {
			t.Fatal(err)
		}
	}
	return buf.Bytes()
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestExtractBinary(t *testing.T) {
	for _, gz := range []bool{false, true} {
		dir := filepath.Join(t.TempDir(), "inputs")
		data := tarOf(t, gz,
			entry{name: "./busybox/", typ: tar.TypeDir},
			entry{name: "./busybox/Dockerfile", body: "FROM busybox\n"},
			entry{name: "busybox/init.sh", body: "#!/bin/sh\n"},
			entry{name: "busybox/link", link: "init.sh", typ: tar.TypeSymlink},
			entry{name: "top", link: "busybox/Dockerfile", typ: tar.TypeLink},
		)
		if err := ExtractBinary(bytes.NewReader(data), dir, ""); err != nil {
			t.Fatalf("gzip=%v: %v", gz, err)
		}
		if got := readFile(t, filepath.Join(dir, "busybox/Dockerfile")); got != "FROM busybox\n" {
			t.Errorf("gzip=%v: Dockerfile = %q", gz, got)
		}
		if got := readFile(t, filepath.Join(dir, "busybox/link")); got != "#!/bin/sh\n" {
			t.Errorf("gzip=%v: link = %q", gz, got)
		}
		if got := readFile(t, filepath.Join(dir, "top")); got != "FROM busybox\n" {
			t.Errorf("gzip=%v: hard link = %q", gz, got)
		}
	}
}

func TestExtractBinaryAsFile(t *testing.T) {
	dir := t.TempDir()
	if err := ExtractBinary(strings.NewReader("FROM scratch\n"), dir, "Dockerfile"); err != nil {
		t.Fatal(err)
	}
	if got := readFile(t, filepath.Join(dir, "Dockerfile")); got != "FROM scratch\n" {
		t.Errorf("Dockerfile = %q", got)
	}
	if err := ExtractBinary(strings.NewReader("x"), dir, "../evil"); err == nil {
		t.Error("asFile ../evil accepted")
	}
}

func TestExtractBinaryRefusesEscapes(t *testing.T) {
	cases := map[string][]entry{
		"dot-dot":           {{name: "../escaped", body: "x"}},
		"nested dot-dot":    {{name: "a/../../escaped", body: "x"}},
		"absolute":          {{name: "/tmp/escaped", body: "x"}},
		"symlink out":       {{name: "out", link: "../..", typ: tar.TypeSymlink}},
		"absolute symlink":  {{name: "out", link: "/etc", typ: tar.TypeSymlink}},
		"hard link out":     {{name: "out", link: "../secret", typ: tar.TypeLink}},
		"through a symlink": {{name: "d", link: ".", typ: tar.TypeSymlink}, {name: "d/../../escaped", body: "x"}},
	}
	for name, entries := range cases {
		t.Run(name, func(t *testing.T) {
			parent := t.TempDir()
			dir := filepath.Join(parent, "inputs")
			err := ExtractBinary(bytes.NewReader(tarOf(t, true, entries...)), dir, "")
			if err == nil {
				t.Fatal("a malicious archive was extracted")
			}
			if _, err := os.Stat(filepath.Join(parent, "escaped")); err == nil {
				t.Fatal("a file was written outside the directory")
			}
		})
	}
}

func TestExtractBinaryEmpty(t *testing.T) {
	if err := ExtractBinary(bytes.NewReader(nil), t.TempDir(), ""); err == nil {
		t.Error("empty input accepted")
	}
}
