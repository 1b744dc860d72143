// Package storagetest gives registry tests real storage: an embedded etcd
// per test and a RESTOptionsGetter storing into it with Slipway's codec.
package storagetest

import (
	"path/filepath"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apiserver/pkg/registry/generic"
	"k8s.io/apiserver/pkg/storage/storagebackend"

	"github.com/slipway-dev/slipway/internal/etcd"
	"github.com/slipway-dev/slipway/internal/scheme"
)

// Options stores every resource under its own prefix of one etcd.
type Options struct {
	Config *storagebackend.Config
}

// GetRESTOptions implements generic.RESTOptionsGetter.
func (o Options) GetRESTOptions(resource schema.GroupResource, _ runtime.Object) (generic.RESTOptions, error) {
	return generic.RESTOptions{
		StorageConfig:           o.Config.ForResource(resource),
		Decorator:               generic.UndecoratedStorage,
		DeleteCollectionWorkers: 1,
		ResourcePrefix:          resource.Group + "/" + resource.Resource,
	}, nil
}

// NewOptions starts an embedded etcd in a temporary directory, stopped when
// the test ends, and returns options storing into it.
func NewOptions(t testing.TB) Options {
	t.Helper()
	dir := t.TempDir()
	server, err := etcd.Start(filepath.Join(dir, "etcd"), filepath.Join(dir, "pki"), time.Minute)
	if err != nil {
		t.Fatalf("starting etcd: %v", err)
	}
	t.Cleanup(server.Stop)
	config := storagebackend.NewDefaultConfig("/registry", scheme.Codecs.LegacyCodec(scheme.GroupVersions...))
	config.EncodeVersioner = schema.GroupVersions(scheme.GroupVersions)
	config.Transport.ServerList = []string{server.ClientURL}
	config.Transport.TrustedCAFile, config.Transport.CertFile, config.Transport.KeyFile = server.CAFile, server.ClientCert, server.ClientKey
	return Options{Config: config}
}
