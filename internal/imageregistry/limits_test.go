package imageregistry

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// onlyReader hides a body's type so the request has no length: it is sent
// chunked, as docker and BuildKit stream layers.
type onlyReader struct{ io.Reader }

// A registry with MaxBlobSize refuses an upload past it, sent whole or in
// chunks, with or without a length, with 413 and an OCI error body, and
// keeps nothing of it; smaller images still push.
func TestBlobUploadSizeLimit(t *testing.T) {
	createNamespace(t, "limits")
	token := serviceAccountToken(t, "limits", "builder")
	addr, err := freeLoopbackAddr()
	if err != nil {
		t.Fatal(err)
	}
	storage := filepath.Join(t.TempDir(), "registry")
	reg, err := New(Config{Listen: addr, StorageDir: storage, APIConfig: api.Admin, MaxBlobSize: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- reg.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	base := "http://" + addr + "/v2/limits/big"

	do := func(method, u string, body io.Reader) *http.Response {
		t.Helper()
		req, err := http.NewRequest(method, u, body)
		if err != nil {
			t.Fatal(err)
		}
		req.SetBasicAuth("serviceaccount", token)
		req.Header.Set("Content-Type", "application/octet-stream")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, u, err)
		}
		t.Cleanup(func() { resp.Body.Close() })
		return resp
	}
	start := func() string {
		t.Helper()
		resp := do(http.MethodPost, base+"/blobs/uploads/", nil)
		if resp.StatusCode != http.StatusAccepted {
			t.Fatalf("starting an upload: %s", resp.Status)
		}
		loc, err := url.Parse(resp.Header.Get("Location"))
		if err != nil {
			t.Fatal(err)
		}
		return (&url.URL{Scheme: "http", Host: addr}).ResolveReference(loc).String()
	}
	withDigest := func(u string, d string) string {
		if strings.Contains(u, "?") {
			return u + "&digest=" + d
		}
		return u + "?digest=" + d
	}
	tooLarge := func(what string, resp *http.Response) {
		t.Helper()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusRequestEntityTooLarge {
			t.Errorf("%s: %s %s; want 413", what, resp.Status, b)
			return
		}
		var raw struct {
			Errors []struct{ Code, Message string }
		}
		if err := json.Unmarshal(b, &raw); err != nil || len(raw.Errors) != 1 || raw.Errors[0].Code != "SIZE_INVALID" || !strings.Contains(raw.Errors[0].Message, "1Mi") {
			t.Errorf("%s: body %s (%v); want one SIZE_INVALID error naming the 1Mi limit", what, b, err)
		}
	}
	big := make([]byte, 2<<20)
	if _, err := rand.Read(big); err != nil {
		t.Fatal(err)
	}
	digest := fmt.Sprintf("sha256:%x", sha256.Sum256(big))

	// Monolithic, with a length: refused before a byte is stored.
	tooLarge("monolithic PUT with Content-Length", do(http.MethodPut, withDigest(start(), digest), bytes.NewReader(big)))
	// Monolithic, chunked: cut at the limit.
	tooLarge("monolithic PUT, chunked", do(http.MethodPut, withDigest(start(), digest), onlyReader{bytes.NewReader(big)}))
	// One streamed PATCH: cut at the limit, and the upload is gone.
	up := start()
	tooLarge("streamed PATCH", do(http.MethodPatch, up, onlyReader{bytes.NewReader(big)}))
	if resp := do(http.MethodGet, up, nil); resp.StatusCode != http.StatusNotFound {
		t.Errorf("status of the refused upload: %s; want 404 (cancelled)", resp.Status)
	}
	// Chunks within the limit each, not together.
	up = start()
	resp := do(http.MethodPatch, up, onlyReader{bytes.NewReader(big[:600<<10])})
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("first chunk of 600 KiB: %s", resp.Status)
	}
	next := (&url.URL{Scheme: "http", Host: addr}).ResolveReference(must(url.Parse(resp.Header.Get("Location")))).String()
	tooLarge("second chunk past the limit", do(http.MethodPatch, next, onlyReader{bytes.NewReader(big[600<<10 : 1200<<10])}))
	tooLarge("second chunk with a length", do(http.MethodPut, withDigest(next, digest), bytes.NewReader(big[600<<10:])))

	if resp := do(http.MethodHead, base+"/blobs/"+digest, nil); resp.StatusCode != http.StatusNotFound {
		t.Errorf("HEAD of the refused blob: %s; want 404", resp.Status)
	}
	uploads, _ := os.ReadDir(filepath.Join(storage, "docker", "registry", "v2", "repositories", "limits", "big", "_uploads"))
	for _, u := range uploads {
		data, err := os.Stat(filepath.Join(storage, "docker", "registry", "v2", "repositories", "limits", "big", "_uploads", u.Name(), "data"))
		if err == nil && data.Size() > 0 {
			t.Errorf("upload %s keeps %d bytes", u.Name(), data.Size())
		}
	}

	// Smaller blobs push as before.
	img, err := random.Image(4096, 2)
	if err != nil {
		t.Fatal(err)
	}
	r, err := name.ParseReference(addr+"/limits/small:latest", name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(r, img, basic(token)); err != nil {
		t.Errorf("pushing a small image: %v", err)
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
