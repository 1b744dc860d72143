package testregistry

import (
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Options are go-containerregistry options trusting the registry's CA,
// with its login when it has one.
func (r *Registry) Options() []remote.Option {
	opts := []remote.Option{remote.WithTransport(r.Transport())}
	if r.User != "" {
		opts = append(opts, remote.WithAuth(&authn.Basic{Username: r.User, Password: r.Password}))
	}
	return opts
}

// Ref is Host/repoTag, e.g. Ref("veer/app:v1").
func (r *Registry) Ref(repoTag string) string { return r.Host + "/" + repoTag }

// Image fetches an image from the registry.
func (r *Registry) Image(t testing.TB, ref string) v1.Image {
	t.Helper()
	parsed, err := name.ParseReference(ref, r.nameOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	img, err := remote.Image(parsed, r.Options()...)
	if err != nil {
		t.Fatalf("pulling %s: %v", ref, err)
	}
	return img
}

// Push pushes img or index (a v1.Image or v1.ImageIndex) to Host/repoTag
// and returns its digest.
func (r *Registry) Push(t testing.TB, repoTag string, img remote.Taggable) string {
	t.Helper()
	ref, err := name.ParseReference(r.Ref(repoTag), r.nameOptions()...)
	if err != nil {
		t.Fatal(err)
	}
	var digest v1.Hash
	switch v := img.(type) {
	case v1.ImageIndex:
		err = remote.WriteIndex(ref, v, r.Options()...)
		if err == nil {
			digest, err = v.Digest()
		}
	case v1.Image:
		err = remote.Write(ref, v, r.Options()...)
		if err == nil {
			digest, err = v.Digest()
		}
	default:
		t.Fatalf("pushing %s: a %T is neither an image nor an index", repoTag, img)
	}
	if err != nil {
		t.Fatalf("pushing %s: %v", r.Ref(repoTag), err)
	}
	return digest.String()
}

// RandomImage is a one-layer random image for os/arch.
func RandomImage(t testing.TB, os, arch string) v1.Image {
	t.Helper()
	img, err := random.Image(256, 1)
	must(t, err)
	cfg, err := img.ConfigFile()
	must(t, err)
	cfg = cfg.DeepCopy()
	cfg.OS, cfg.Architecture = os, arch
	img, err = mutate.ConfigFile(img, cfg)
	must(t, err)
	return img
}

// PushRandom pushes a new random linux/amd64 image to repoTag and returns
// its digest.
func (r *Registry) PushRandom(t testing.TB, repoTag string) string {
	t.Helper()
	return r.Push(t, repoTag, RandomImage(t, "linux", "amd64"))
}

// PushConfig pushes an image with config cfg and one random layer to
// repoTag and returns its digest.
func (r *Registry) PushConfig(t testing.TB, repoTag string, cfg v1.ConfigFile) string {
	t.Helper()
	layered, err := random.Image(256, 1)
	must(t, err)
	layers, err := layered.Layers()
	must(t, err)
	cfg.RootFS.Type = "layers"
	img, err := mutate.ConfigFile(empty.Image, &cfg)
	must(t, err)
	img, err = mutate.AppendLayers(img, layers...)
	must(t, err)
	return r.Push(t, repoTag, img)
}

// List is a pushed two-platform manifest list.
type List struct {
	// Digest is the list's; AMD64 and ARM64 are its entries' (linux/amd64
	// and linux/arm64/v8).
	Digest, AMD64, ARM64 string
}

// PushList pushes a Docker manifest list of two random images, linux/arm64
// first and linux/amd64 second (so "first entry" and "amd64" differ), to
// repoTag.
func (r *Registry) PushList(t testing.TB, repoTag string) List {
	t.Helper()
	arm, amd := RandomImage(t, "linux", "arm64"), RandomImage(t, "linux", "amd64")
	index := mutate.AppendManifests(mutate.IndexMediaType(empty.Index, types.DockerManifestList),
		mutate.IndexAddendum{Add: arm, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}}},
		mutate.IndexAddendum{Add: amd, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}}},
	)
	list := List{Digest: r.Push(t, repoTag, index)}
	armDigest, err := arm.Digest()
	must(t, err)
	amdDigest, err := amd.Digest()
	must(t, err)
	list.ARM64, list.AMD64 = armDigest.String(), amdDigest.String()
	return list
}

// nameOptions parse references to this registry: plain HTTP when it has no
// TLS, wherever it listens.
func (r *Registry) nameOptions() []name.Option {
	if r.TLS {
		return nil
	}
	return []name.Option{name.Insecure}
}
