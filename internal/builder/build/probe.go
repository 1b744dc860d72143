package build

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	buildv1 "github.com/openshift/api/build/v1"

	"github.com/slipway-dev/slipway/internal/builder/dockerfile"
	"github.com/slipway-dev/slipway/internal/builder/failure"
)

// RegistryAnswerTimeout bounds how long the registries of a build's base
// images and output may take to answer at all (see checkRegistries).
var RegistryAnswerTimeout = 30 * time.Second

// registryAnswers checks that the registry at host answers within timeout.
// BuildKit's push puts no deadline on a registry's answer once connected,
// so a host that accepts connections and never answers held the build in
// Running forever. Any answer counts (an error status, a plain HTTP
// answer to TLS); only silence fails. The probe sends no credentials, so
// it may skip verifying the certificate: BuildKit's push verifies it.
// Errors other than silence (refused, unknown host) are left to the push,
// which reports them in its own words.
func registryAnswers(ctx context.Context, host string, timeout time.Duration) error {
	if host == "docker.io" {
		host = "registry-1.docker.io"
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, (&url.URL{Scheme: "https", Host: host, Path: "/v2/"}).String(), nil)
	if err != nil {
		return nil
	}
	transport := &http.Transport{
		Proxy:           http.ProxyFromEnvironment,
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // no credentials are sent; see above
	}
	defer transport.CloseIdleConnections()
	resp, err := (&http.Client{Transport: transport}).Do(req)
	if err == nil {
		resp.Body.Close()
		return nil
	}
	var netErr net.Error
	if ctx.Err() != nil || (errors.As(err, &netErr) && netErr.Timeout()) {
		return fmt.Errorf("the registry %s did not answer within %s", host, timeout)
	}
	return nil
}

// RegistryWatchDelay is how long a build runs before its registries are
// asked whether they answer: a build done sooner (a warm one takes a
// fraction of a second) asks nothing.
var RegistryWatchDelay = 5 * time.Second

// watchRegistries runs checkRegistries beside the build, once it has run
// for delay: a silent registry cancels the returned context. stop ends
// the watch and returns the failure that cancelled the build, if one did.
func watchRegistries(ctx context.Context, contextDir, dockerfilePath, output string, delay, timeout time.Duration) (context.Context, func() error) {
	ctx, cancel := context.WithCancelCause(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		select {
		case <-ctx.Done():
			return
		case <-time.After(delay):
		}
		if err := checkRegistries(ctx, contextDir, dockerfilePath, output, timeout); err != nil && ctx.Err() == nil {
			cancel(err)
		}
	}()
	return ctx, func() error {
		cancel(errWatchStopped)
		<-done
		var f *failure.Failure
		if errors.As(context.Cause(ctx), &f) {
			return f
		}
		return nil
	}
}

var errWatchStopped = errors.New("the build ended")

// checkRegistries probes, at once, the registries of the Dockerfile's base
// images and of the output before the build starts: a silent one fails
// the build with PullBuilderImageFailed or PushImageToRegistryFailed
// (naming the image and the registry) instead of holding it in Running.
// A base pinned by digest is not probed: buildkitd may have it already,
// and then builds without asking its registry.
func checkRegistries(ctx context.Context, contextDir, dockerfilePath, output string, timeout time.Duration) error {
	type probe struct {
		ref    string
		reason buildv1.StatusReason
	}
	var probes []probe
	if root, err := os.OpenRoot(contextDir); err == nil {
		data, err := dockerfile.ReadFile(root, dockerfilePath)
		root.Close()
		if err == nil {
			for _, ref := range dockerfile.BaseImages(data) {
				if !strings.Contains(ref, "@") {
					probes = append(probes, probe{ref, buildv1.StatusReasonPullBuilderImageFailed})
				}
			}
		}
	}
	if output != "" {
		probes = append(probes, probe{output, buildv1.StatusReasonPushImageToRegistryFailed})
	}
	errs := make([]error, len(probes))
	var wg sync.WaitGroup
	seen := map[string]bool{}
	for i, p := range probes {
		host, err := registryOf(p.ref)
		if err != nil || seen[host] {
			continue
		}
		seen[host] = true
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = registryAnswers(ctx, host, timeout)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err == nil {
			continue
		}
		p := probes[i]
		if p.reason == buildv1.StatusReasonPushImageToRegistryFailed {
			return failure.New(p.reason, fmt.Sprintf("Failed to push the image to the registry: pushing %s: %v", p.ref, err), err)
		}
		return failure.New(p.reason, fmt.Sprintf("Failed pulling builder image: %s: %v", p.ref, err), err)
	}
	return nil
}
