package dockerfile

import (
	"slices"
	"testing"
)

func TestBaseImages(t *testing.T) {
	got := BaseImages([]byte("ARG V=1\nFROM reg.example/a:1 AS build\nFROM build\nFROM scratch\nFROM reg.example/b:$V\nFROM --platform=linux/amd64 other.example/c@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n"))
	want := []string{"reg.example/a:1", "other.example/c@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"}
	if !slices.Equal(got, want) {
		t.Errorf("BaseImages = %q, want %q", got, want)
	}
	if got := BaseImages([]byte("FROM busybox\nRUN [\"unterminated\n")); len(got) > 1 {
		t.Errorf("BaseImages of a broken Dockerfile = %q", got)
	}
}
