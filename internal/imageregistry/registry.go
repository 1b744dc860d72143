// Package imageregistry is Slipway's internal image registry: the reference
// OCI distribution server (github.com/distribution/distribution/v3)
// embedded on its own listener, storing blobs on the filesystem, with
// OpenShift's rules on top. Clients authenticate with HTTP Basic, any user
// name and an API token as the password (the admin's or a service
// account's); repositories are `<namespace>/<imagestream>` and a service
// account reaches only its own namespace's. A manifest pushed by tag
// becomes an ImageStreamMapping, so the Image and the stream's tag event
// appear in the API.
//
// The listener speaks plain HTTP: it is meant for loopback, where docker,
// BuildKit and go-containerregistry use HTTP without configuration.
package imageregistry

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/distribution/distribution/v3/configuration"
	"github.com/distribution/distribution/v3/registry/handlers"
	_ "github.com/distribution/distribution/v3/registry/storage/driver/filesystem" // the "filesystem" storage driver
	imagev1client "github.com/openshift/client-go/image/clientset/versioned/typed/image/v1"
	"k8s.io/client-go/rest"
)

// DefaultListen is where the registry listens unless configured otherwise.
const DefaultListen = "127.0.0.1:5000"

// shutdownTimeout is how long Run waits for requests in flight (an upload)
// once its context ends.
const shutdownTimeout = 10 * time.Second

// Config is what the registry needs.
type Config struct {
	// Listen is the host:port to listen on; DefaultListen when empty. Port
	// 0 picks a free port (see Registry.Addr).
	Listen string
	// StorageDir holds the blobs and repositories (distribution's
	// filesystem driver root); created when missing.
	StorageDir string
	// APIConfig reaches the API server with privileged credentials (the
	// server's loopback configuration): image stream mappings and images are
	// written with it, and tokens are reviewed at its address.
	APIConfig *rest.Config
	// Hostname is the host:port clients use for this registry and that
	// image references are made of (the API server's RegistryHostname);
	// the listen address when empty.
	Hostname string
	// MaxBlobSize bounds one blob upload, in bytes: a larger one is
	// refused with 413 and cancelled. Zero is DefaultMaxBlobSize; less is
	// no bound.
	MaxBlobSize int64
}

// Registry is a configured registry with its listener bound.
type Registry struct {
	listener net.Listener
	app      *handlers.App
	handler  http.Handler
	hostname string
}

// New checks cfg, binds the listener and builds the registry.
func New(cfg Config) (*Registry, error) {
	if cfg.Listen == "" {
		cfg.Listen = DefaultListen
	}
	if cfg.MaxBlobSize == 0 {
		cfg.MaxBlobSize = DefaultMaxBlobSize
	}
	if cfg.StorageDir == "" {
		return nil, errors.New("registry: a storage directory is required")
	}
	if cfg.APIConfig == nil {
		return nil, errors.New("registry: an API client configuration is required")
	}
	if err := os.MkdirAll(cfg.StorageDir, 0o700); err != nil {
		return nil, fmt.Errorf("registry storage %s: %w", cfg.StorageDir, err)
	}
	reviewer, err := NewTokenReviewer(cfg.APIConfig)
	if err != nil {
		return nil, err
	}
	apiConfig := rest.CopyConfig(cfg.APIConfig)
	apiConfig.UserAgent = "slipway-registry"
	images, err := imagev1client.NewForConfig(apiConfig)
	if err != nil {
		return nil, fmt.Errorf("registry: image API client: %w", err)
	}
	listener, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("registry: listening on %s: %w", cfg.Listen, err)
	}
	hostname := cfg.Hostname
	if hostname == "" {
		hostname = listener.Addr().String()
	}
	log := slog.Default().With("component", "registry")
	hook := &imageStreamHook{images: images, hostname: hostname, log: log}

	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		listener.Close()
		return nil, err
	}
	config := &configuration.Configuration{
		Storage: configuration.Storage{
			"filesystem": configuration.Parameters{"rootdirectory": cfg.StorageDir},
			"delete":     configuration.Parameters{"enabled": true},
		},
		Middleware: map[string][]configuration.Middleware{
			"repository": {{Name: hookMiddleware, Options: configuration.Parameters{hookOption: hook}}},
		},
	}
	// The secret only signs upload state between requests of one upload;
	// a fresh one per start merely restarts uploads cut by a restart.
	config.HTTP.Secret = hex.EncodeToString(secret)
	config.HTTP.Addr = listener.Addr().String()
	config.Log.Level = "warn"
	routeDistributionLogs(log)

	app, err := newApp(config)
	if err != nil {
		listener.Close()
		return nil, err
	}
	access := newAccessHandler(reviewer, app, log)
	if cfg.MaxBlobSize > 0 {
		access.blobs = &blobLimit{max: cfg.MaxBlobSize, storageDir: cfg.StorageDir}
	}
	return &Registry{
		listener: listener,
		app:      app,
		handler:  access,
		hostname: hostname,
	}, nil
}

// newApp builds distribution's application, turning its configuration
// panics into errors.
func newApp(config *configuration.Configuration) (app *handlers.App, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("registry: configuring distribution: %v", r)
		}
	}()
	return handlers.NewApp(context.Background(), config), nil
}

// Addr is the address the registry listens on.
func (r *Registry) Addr() string { return r.listener.Addr().String() }

// Hostname is the host:port image references of this registry use.
func (r *Registry) Hostname() string { return r.hostname }

// Handler is the registry's HTTP handler (authentication included), for
// tests and for serving it on another listener.
func (r *Registry) Handler() http.Handler { return r.handler }

// Run serves until ctx ends, then lets requests in flight finish for a
// while and stops.
func (r *Registry) Run(ctx context.Context) error {
	server := &http.Server{Handler: r.handler, ReadHeaderTimeout: 30 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		<-ctx.Done()
		shutdownCtx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
		defer cancel()
		if err := server.Shutdown(shutdownCtx); err != nil {
			server.Close()
		}
	}()
	slog.Info("registry listening", "addr", r.Addr(), "hostname", r.hostname)
	err := server.Serve(r.listener)
	if errors.Is(err, http.ErrServerClosed) {
		<-done
		err = nil
	}
	if shutdownErr := r.app.Shutdown(); err == nil && shutdownErr != nil {
		err = fmt.Errorf("registry: shutting down: %w", shutdownErr)
	}
	return err
}
