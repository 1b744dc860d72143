// Package buildtest starts the real parts a build test needs: Debian's
// docker-registry with htpasswd auth and TLS from a test CA (testregistry), a busybox base
// image made from Debian's busybox-static, and buildkitd under the
// supervisor. Used by the build and builder tests and by bench/.
package buildtest

import (
	"archive/tar"
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/slipway-dev/slipway/internal/buildkit"
	"github.com/slipway-dev/slipway/internal/testregistry"
)

// Registry is a running docker-registry; see testregistry.
type Registry = testregistry.Registry

// RequireRoot skips tests that need buildkitd's runc worker.
func RequireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("buildkitd's runc worker needs root; run the build tests as root")
	}
}

// FreePort returns a loopback host:port nobody listens on right now.
func FreePort(t testing.TB) string { return testregistry.FreePort(t) }

// StartRegistry runs Debian's docker-registry on a free loopback port, with
// TLS from a fresh test CA and htpasswd auth for user/password.
func StartRegistry(t testing.TB, user, password string) *Registry {
	t.Helper()
	return testregistry.Start(t, testregistry.Options{User: user, Password: password, TLS: true})
}

// PushBusybox pushes a busybox image made from Debian's busybox-static
// (/bin/busybox plus one symlink per applet) to <registry>/library/busybox:latest
// and returns that reference.
func PushBusybox(t testing.TB, r *Registry) string {
	t.Helper()
	// Config first, then the layer: AppendLayers fills rootfs and history.
	img, err := mutate.ConfigFile(empty.Image, &v1.ConfigFile{
		Architecture: "amd64",
		OS:           "linux",
		Config: v1.Config{
			Cmd: []string{"sh"},
			Env: []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"},
		},
		RootFS: v1.RootFS{Type: "layers"},
	})
	if err != nil {
		t.Fatal(err)
	}
	img, err = mutate.AppendLayers(img, busyboxLayer(t))
	if err != nil {
		t.Fatal(err)
	}
	r.Push(t, "library/busybox:latest", img)
	return r.Ref("library/busybox:latest")
}

func busyboxLayer(t testing.TB) v1.Layer {
	t.Helper()
	bin, err := os.ReadFile("/bin/busybox")
	if err != nil {
		t.Fatalf("reading /bin/busybox (apt-get install busybox-static): %v", err)
	}
	list, err := exec.Command("/bin/busybox", "--list-full").Output()
	if err != nil {
		t.Fatalf("busybox --list-full: %v", err)
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	now := time.Unix(0, 0)
	dirs := map[string]bool{}
	dir := func(d string) {
		for _, part := range parents(d) {
			if dirs[part] {
				continue
			}
			dirs[part] = true
			must(t, tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: part + "/", Mode: 0o755, ModTime: now}))
		}
	}
	dir("bin")
	// /tmp as the busybox image has it (1777): pods run as an arbitrary
	// UID (restricted-v2) write there.
	dirs["tmp"] = true
	must(t, tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: "tmp/", Mode: 0o1777, ModTime: now}))
	must(t, tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: "bin/busybox", Mode: 0o755, Size: int64(len(bin)), ModTime: now}))
	_, err = tw.Write(bin)
	must(t, err)
	for _, applet := range strings.Fields(string(list)) {
		if applet == "bin/busybox" {
			continue
		}
		dir(filepath.Dir(applet))
		must(t, tw.WriteHeader(&tar.Header{Typeflag: tar.TypeSymlink, Name: applet, Linkname: "/bin/busybox", Mode: 0o777, ModTime: now}))
	}
	must(t, tw.Close())
	data := buf.Bytes()
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(data)), nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return layer
}

// parents lists d and its parents, outermost first ("usr", "usr/bin").
func parents(d string) []string {
	var out []string
	for d != "." && d != "/" && d != "" {
		out = append([]string{d}, out...)
		d = filepath.Dir(d)
	}
	return out
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// BuildkitdBinary finds bin/buildkitd: $SLIPWAY_BUILDKITD, else bin/ at the
// repository root above the working directory (`make bin/buildkitd`).
func BuildkitdBinary(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("SLIPWAY_BUILDKITD"); p != "" {
		return p
	}
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			if _, err := os.Stat(filepath.Join(dir, "hack", "tools", "buildkitd")); err == nil {
				p := filepath.Join(dir, "bin", "buildkitd")
				if _, err := os.Stat(p); err != nil {
					t.Fatalf("%s missing: run `make bin/buildkitd` first", p)
				}
				return p
			}
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("repository root not found; set SLIPWAY_BUILDKITD")
		}
		dir = parent
	}
}

// StartBuildkitd starts buildkitd under the supervisor in a temp data dir,
// trusting the registries' CAs, and stops it at cleanup.
func StartBuildkitd(t testing.TB, registries ...*Registry) *buildkit.Daemon {
	t.Helper()
	RequireRoot(t)
	cfg := buildkit.Config{Binary: BuildkitdBinary(t), DataDir: shortTempDir(t)}
	for _, r := range registries {
		cfg.RegistryCAs = append(cfg.RegistryCAs, r.Host+"="+r.CAFile)
	}
	ctx, cancel := context.WithCancel(context.Background())
	d, err := buildkit.Start(ctx, cfg)
	if err != nil {
		cancel()
		t.Fatalf("starting buildkitd: %v", err)
	}
	t.Cleanup(func() {
		cancel()
		<-d.Done()
	})
	return d
}

// shortTempDir is a temp dir with a short path: buildkitd's unix socket
// path must fit in 108 bytes.
func shortTempDir(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "bk")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	return dir
}

// Certificates makes a CA and a server certificate for 127.0.0.1/localhost.
func Certificates(t testing.TB) (caPEM, certPEM, keyPEM []byte) { return testregistry.Certificates(t) }
