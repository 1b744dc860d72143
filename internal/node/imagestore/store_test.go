package imagestore

import (
	"archive/tar"
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"golang.org/x/sys/unix"
	corev1 "k8s.io/api/core/v1"

	"github.com/slipway-dev/slipway/internal/image"
	"github.com/slipway-dev/slipway/internal/testregistry"
)

func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("unpacking layers with ownership and overlay whiteouts needs root")
	}
}

type entry struct {
	name, body, link string
	typ              byte
	mode             int64
	uid              int
}

func layer(t *testing.T, entries ...entry) v1.Layer {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Typeflag: e.typ, Mode: e.mode, Linkname: e.link, Uid: e.uid, Gid: e.uid, Size: int64(len(e.body))}
		if h.Mode == 0 {
			h.Mode = 0o644
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(e.body)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	data := buf.Bytes()
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil })
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func imageOf(t *testing.T, layers ...v1.Layer) v1.Image {
	t.Helper()
	img, err := mutate.ConfigFile(empty.Image, &v1.ConfigFile{OS: "linux", Architecture: "amd64",
		Config: v1.Config{Cmd: []string{"sh"}, Env: []string{"A=1"}}, RootFS: v1.RootFS{Type: "layers"}})
	if err != nil {
		t.Fatal(err)
	}
	img, err = mutate.AppendLayers(img, layers...)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func TestPullUnpackMount(t *testing.T) {
	requireRoot(t)
	reg := testregistry.Start(t, testregistry.Options{})
	base := layer(t,
		entry{name: "a/", typ: tar.TypeDir, mode: 0o755},
		entry{name: "a/gone", typ: tar.TypeReg, body: "deleted by the next layer"},
		entry{name: "a/keep", typ: tar.TypeReg, body: "kept", uid: 1000},
		entry{name: "a/hard", typ: tar.TypeLink, link: "a/keep", uid: 1000},
		entry{name: "dir/", typ: tar.TypeDir, mode: 0o755},
		entry{name: "dir/old", typ: tar.TypeReg, body: "hidden by the opaque dir"},
	)
	top := layer(t,
		entry{name: "a/.wh.gone", typ: tar.TypeReg},
		entry{name: "a/sym", typ: tar.TypeSymlink, link: "keep"},
		entry{name: "dir/", typ: tar.TypeDir, mode: 0o750},
		entry{name: "dir/.wh..wh..opq", typ: tar.TypeReg},
		entry{name: "dir/new", typ: tar.TypeReg, body: "new", mode: 0o600},
	)
	digest := reg.Push(t, "app/layers:v1", imageOf(t, base, top))

	dir := t.TempDir()
	store, err := New(filepath.Join(dir, "images"), image.NewClient(image.Options{}))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	// Concurrent pulls of one image fetch and unpack it once.
	var wg sync.WaitGroup
	images := make([]*Image, 4)
	errs := make([]error, 4)
	for i := range images {
		wg.Add(1)
		go func() {
			defer wg.Done()
			images[i], errs[i] = store.Pull(ctx, reg.Ref("app/layers:v1"), corev1.PullIfNotPresent, image.Keyring{})
		}()
	}
	wg.Wait()
	for i := range images {
		if errs[i] != nil {
			t.Fatalf("pull %d: %v", i, errs[i])
		}
		if images[i].Digest != digest {
			t.Fatalf("pull %d: digest %s, want %s", i, images[i].Digest, digest)
		}
	}
	if got := images[0].Config.Config.Env; len(got) != 1 || got[0] != "A=1" {
		t.Errorf("config env = %v", got)
	}
	layers, _ := os.ReadDir(filepath.Join(dir, "images", "layers"))
	if len(layers) != 2 {
		t.Errorf("%d layer directories, want 2", len(layers))
	}
	// The registry's log shows one blob fetch per layer (plus the config).
	if n := strings.Count(reg.Log(), "GET /v2/app/layers/blobs/"); n == 0 || n > 3 {
		t.Logf("registry log:\n%s", reg.Log())
		t.Errorf("%d blob GETs for one image of two layers; concurrent pulls were not shared", n)
	}

	root := filepath.Join(dir, "c", "rootfs")
	if err := images[0].Mount(root, filepath.Join(dir, "c", "upper"), filepath.Join(dir, "c", "work")); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = Unmount(root) })
	if _, err := os.Stat(filepath.Join(root, "a/gone")); !os.IsNotExist(err) {
		t.Errorf("a/gone: %v; the whiteout should hide it", err)
	}
	if _, err := os.Stat(filepath.Join(root, "dir/old")); !os.IsNotExist(err) {
		t.Errorf("dir/old: %v; the opaque directory should hide it", err)
	}
	if b, err := os.ReadFile(filepath.Join(root, "dir/new")); err != nil || string(b) != "new" {
		t.Errorf("dir/new = %q, %v", b, err)
	}
	var keep, hard unix.Stat_t
	if err := unix.Stat(filepath.Join(root, "a/keep"), &keep); err != nil {
		t.Fatal(err)
	}
	if keep.Uid != 1000 {
		t.Errorf("a/keep uid = %d, want 1000", keep.Uid)
	}
	// In the layer, the hard link is the same inode.
	if err := unix.Stat(filepath.Join(images[0].layers[0], "a/hard"), &hard); err != nil {
		t.Fatal(err)
	}
	var keepInLayer unix.Stat_t
	if err := unix.Stat(filepath.Join(images[0].layers[0], "a/keep"), &keepInLayer); err != nil || keepInLayer.Ino != hard.Ino {
		t.Errorf("a/hard is not a hard link of a/keep in the layer (%v)", err)
	}
	if link, err := os.Readlink(filepath.Join(root, "a/sym")); err != nil || link != "keep" {
		t.Errorf("a/sym -> %q, %v", link, err)
	}
	if b, err := os.ReadFile(filepath.Join(root, "a/hard")); err != nil || string(b) != "kept" {
		t.Errorf("a/hard = %q, %v", b, err)
	}
	// Whiteouts are overlay's: a 0/0 character device in the layer.
	var wh unix.Stat_t
	if err := unix.Lstat(filepath.Join(images[0].layers[1], "a/gone"), &wh); err != nil || wh.Mode&syscall.S_IFMT != syscall.S_IFCHR || wh.Rdev != 0 {
		t.Errorf("whiteout in the layer: mode %o rdev %d, %v", wh.Mode, wh.Rdev, err)
	}
	if info, err := os.Stat(filepath.Join(root, "dir/new")); err != nil || info.Mode().Perm() != 0o600 {
		t.Errorf("dir/new mode = %v, %v", info, err)
	}

	// IfNotPresent keeps the image the tag resolved to; Always follows the tag.
	moved := reg.Push(t, "app/layers:v1", imageOf(t, top))
	again, err := store.Pull(ctx, reg.Ref("app/layers:v1"), corev1.PullIfNotPresent, image.Keyring{})
	if err != nil || again.Digest != digest {
		t.Errorf("IfNotPresent after a re-push: %v, %v; want the cached %s", again, err, digest)
	}
	always, err := store.Pull(ctx, reg.Ref("app/layers:v1"), corev1.PullAlways, image.Keyring{})
	if err != nil || always.Digest != moved {
		t.Errorf("Always after a re-push: %v, %v; want %s", always, err, moved)
	}
	if _, err := store.Pull(ctx, reg.Ref("app/other:v1"), corev1.PullNever, image.Keyring{}); err == nil {
		t.Errorf("Never with nothing cached succeeded")
	}
}

func TestPullListAndCredentials(t *testing.T) {
	requireRoot(t)
	reg := testregistry.Start(t, testregistry.Options{User: "u", Password: "pw", TLS: true})
	list := reg.PushList(t, "app/multi:v1")
	store, err := New(t.TempDir(), image.NewClient(image.Options{RootCAs: reg.Pool}))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	_, err = store.Pull(ctx, reg.Ref("app/multi:v1"), corev1.PullAlways, image.Keyring{})
	if err == nil || !strings.Contains(strings.ToLower(err.Error()), "unauthorized") {
		t.Errorf("pull without credentials: %v; want the registry's UNAUTHORIZED", err)
	}
	keyring, err := image.ParseDockerConfig(reg.DockerConfig("pw"))
	if err != nil {
		t.Fatal(err)
	}
	img, err := store.Pull(ctx, reg.Ref("app/multi:v1"), corev1.PullAlways, keyring)
	if err != nil {
		t.Fatal(err)
	}
	if img.Digest != list.AMD64 {
		t.Errorf("pulled %s from the list; want the linux/amd64 entry %s", img.Digest, list.AMD64)
	}
}

// TestCachedPrivateImageNeedsCredentials: an image pulled with one pod's
// pull secret is on the node; another pod naming it (by tag or by digest,
// IfNotPresent or Never) without credentials that can pull it must not
// get it from the cache, as the kubelet's ensure-secret-pulled-images
// check does. With good credentials, the cached copy is used.
func TestCachedPrivateImageNeedsCredentials(t *testing.T) {
	requireRoot(t)
	reg := testregistry.Start(t, testregistry.Options{User: "u", Password: "pw", TLS: true})
	digest := reg.PushRandom(t, "victim/app:v1")
	store, err := New(t.TempDir(), image.NewClient(image.Options{RootCAs: reg.Pool}))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	good, err := image.ParseDockerConfig(reg.DockerConfig("pw"))
	if err != nil {
		t.Fatal(err)
	}
	wrong, err := image.ParseDockerConfig(reg.DockerConfig("not-the-password"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.Pull(ctx, reg.Ref("victim/app:v1"), corev1.PullIfNotPresent, good); err != nil {
		t.Fatal(err)
	}
	byDigest := reg.Host + "/victim/app@" + digest
	for _, ref := range []string{reg.Ref("victim/app:v1"), byDigest} {
		for _, policy := range []corev1.PullPolicy{corev1.PullIfNotPresent, corev1.PullNever} {
			for name, keyring := range map[string]image.Keyring{"no credentials": {}, "wrong credentials": wrong} {
				if _, err := store.Pull(ctx, ref, policy, keyring); err == nil {
					t.Errorf("%s, %s, %s: the cached private image was handed out", ref, policy, name)
				}
			}
			if _, err := store.Pull(ctx, ref, policy, good); err != nil {
				t.Errorf("%s, %s, with the pull secret: %v", ref, policy, err)
			}
		}
	}
}

// TestOversizedConfigIsNotPulled: the node refuses, before reading it, a
// config blob over image.MaxConfigSize.
func TestOversizedConfigIsNotPulled(t *testing.T) {
	reg := testregistry.Start(t, testregistry.Options{})
	reg.PushConfig(t, "big/config:v1", v1.ConfigFile{OS: "linux", Architecture: "amd64",
		Config: v1.Config{Labels: map[string]string{"pad": strings.Repeat("x", 9<<20)}}})
	store, err := New(t.TempDir(), image.NewClient(image.Options{}))
	if err != nil {
		t.Fatal(err)
	}
	_, err = store.Pull(context.Background(), reg.Ref("big/config:v1"), corev1.PullIfNotPresent, image.Keyring{})
	if err == nil || !strings.Contains(err.Error(), "over the limit of 8 MiB") {
		t.Fatalf("pulling an image with a 9 MiB config: %v; want it refused", err)
	}
}
