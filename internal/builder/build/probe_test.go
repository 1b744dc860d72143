package build

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	buildv1 "github.com/openshift/api/build/v1"

	"github.com/slipway-dev/slipway/internal/builder/failure"
)

// TestRegistryAnswers: only a registry that stays silent fails the probe;
// any answer, or an error the push reports better itself, passes.
func TestRegistryAnswers(t *testing.T) {
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	go func() {
		var held []net.Conn
		defer func() {
			for _, c := range held {
				c.Close()
			}
		}()
		for {
			c, err := silent.Accept()
			if err != nil {
				return
			}
			held = append(held, c)
		}
	}()
	tlsServer := httptest.NewTLSServer(http.NotFoundHandler())
	defer tlsServer.Close()
	plain := httptest.NewServer(http.NotFoundHandler())
	defer plain.Close()
	closed := func() string {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		return l.Addr().String()
	}()

	start := time.Now()
	err = registryAnswers(context.Background(), silent.Addr().String(), time.Second)
	if err == nil || !strings.Contains(err.Error(), "did not answer within 1s") {
		t.Errorf("silent registry: %v, want it did not answer", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("the probe of a silent registry took %s", d)
	}
	// A build names the silent registry as its base, or as its output.
	dir := t.TempDir()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("FROM "+silent.Addr().String()+"/x:1\n"), 0o644))
	err = checkRegistries(context.Background(), dir, "Dockerfile", "", time.Second)
	if f, ok := err.(*failure.Failure); !ok || f.Reason != buildv1.StatusReasonPullBuilderImageFailed || !strings.Contains(f.Message, silent.Addr().String()+"/x:1") {
		t.Errorf("silent base registry: %v, want PullBuilderImageFailed naming the image", err)
	}
	must(os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("FROM scratch\n"), 0o644))
	err = checkRegistries(context.Background(), dir, "Dockerfile", silent.Addr().String()+"/y:1", time.Second)
	if f, ok := err.(*failure.Failure); !ok || f.Reason != buildv1.StatusReasonPushImageToRegistryFailed {
		t.Errorf("silent output registry: %v, want PushImageToRegistryFailed", err)
	}
	// The watchdog beside a build: a silent output registry cancels the
	// build's context, and stop returns the failure; a build that ends
	// first stops the watch with no failure.
	ctx, stop := watchRegistries(context.Background(), dir, "Dockerfile", silent.Addr().String()+"/y:1", 100*time.Millisecond, 300*time.Millisecond)
	select {
	case <-ctx.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("the watchdog did not end the build of a silent registry")
	}
	if f := failure.As(stop()); f == nil || f.Reason != buildv1.StatusReasonPushImageToRegistryFailed {
		t.Errorf("watchdog: %v, want PushImageToRegistryFailed", f)
	}
	ctx, stop = watchRegistries(context.Background(), dir, "Dockerfile", silent.Addr().String()+"/y:1", 0, time.Minute)
	if err := stop(); err != nil || ctx.Err() == nil {
		t.Errorf("a build that ended first: %v (context %v), want no failure", err, ctx.Err())
	}
	// Pinned by digest, the base may be in buildkitd already: not probed.
	must(os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("FROM "+silent.Addr().String()+"/x@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n"), 0o644))
	if err := checkRegistries(context.Background(), dir, "Dockerfile", "", time.Second); err != nil {
		t.Errorf("base pinned by digest: %v, want no probe", err)
	}

	for name, host := range map[string]string{
		"TLS with an unknown CA": strings.TrimPrefix(tlsServer.URL, "https://"),
		"plain HTTP":             strings.TrimPrefix(plain.URL, "http://"),
		"refused":                closed,
	} {
		if err := registryAnswers(context.Background(), host, 5*time.Second); err != nil {
			t.Errorf("%s: %v, want nil", name, err)
		}
	}
}
