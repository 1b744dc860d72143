package image

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	ggcrv1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/openshift/api/image/docker10"
	imagev1 "github.com/openshift/api/image/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/slipway-dev/slipway/internal/testregistry"
)

const (
	testUser     = "veer"
	testPassword = "pa55-w0rd"
)

// privateRegistry is the TLS + htpasswd registry with its CA trusted and
// a keyring holding its login.
func privateRegistry(t *testing.T) (*testregistry.Registry, *Client, Keyring) {
	t.Helper()
	reg := testregistry.Start(t, testregistry.Options{User: testUser, Password: testPassword, TLS: true})
	return reg, NewClient(Options{RootCAs: reg.Pool}), keyringFor(reg, testPassword)
}

func keyringFor(reg *testregistry.Registry, password string) Keyring {
	return KeyringFromSecrets([]corev1.Secret{{
		Type: corev1.SecretTypeDockerConfigJson,
		Data: map[string][]byte{corev1.DockerConfigJsonKey: reg.DockerConfig(password)},
	}})
}

func mustParse(t *testing.T, s string) Reference {
	t.Helper()
	r, err := ParseReference(s)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

func TestImportByTagAndDigest(t *testing.T) {
	reg, client, keyring := privateRegistry(t)
	digest := reg.PushConfig(t, "veer/mytime:v1", ggcrv1.ConfigFile{
		Architecture: "amd64", OS: "linux",
		Config: ggcrv1.Config{Env: []string{"A=1"}, Cmd: []string{"/app"}, Labels: map[string]string{"l": "v"}},
	})
	o := ImportOptions{Keyring: keyring}
	for _, ref := range []string{reg.Ref("veer/mytime:v1"), reg.Ref("veer/mytime@" + digest)} {
		res, err := client.Import(ctx(t), mustParse(t, ref), o)
		if err != nil {
			t.Fatalf("Import(%s): %v", ref, err)
		}
		img := res.Image
		wantRef := reg.Host + "/veer/mytime@" + digest
		if img.Name != digest || img.DockerImageReference != wantRef || res.Reference != wantRef || res.Manifests != nil {
			t.Errorf("%s: name %s reference %s/%s, want %s and %s", ref, img.Name, img.DockerImageReference, res.Reference, digest, wantRef)
		}
		if img.DockerImageManifestMediaType != "application/vnd.docker.distribution.manifest.v2+json" ||
			len(img.DockerImageLayers) != 1 || img.DockerImageLayers[0].LayerSize == 0 || img.DockerImageLayers[0].MediaType == "" ||
			img.DockerImageMetadataVersion != "1.0" || img.Annotations[imagev1.DockerImageLayersOrderAnnotation] != "ascending" {
			t.Errorf("%s: image = %+v", ref, img)
		}
		var meta docker10.DockerImage
		if err := json.Unmarshal(img.DockerImageMetadata.Raw, &meta); err != nil {
			t.Fatalf("metadata: %v", err)
		}
		if meta.Architecture != "amd64" || meta.Config == nil || !slices.Equal(meta.Config.Env, []string{"A=1"}) || meta.Config.Labels["l"] != "v" || meta.Size == 0 {
			t.Errorf("%s: metadata = %+v", ref, meta)
		}
	}
}

// recorder is a transport that notes every request a client makes.
type recorder struct {
	next http.RoundTripper
	mu   sync.Mutex
	reqs []string // "METHOD path auth|anon"
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	who := "anon"
	if req.Header.Get("Authorization") != "" {
		who = "auth"
	}
	r.mu.Lock()
	r.reqs = append(r.reqs, req.Method+" "+req.URL.Path+" "+who)
	r.mu.Unlock()
	return r.next.RoundTrip(req)
}

func (r *recorder) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.reqs
	r.reqs = nil
	return out
}

func TestHeadIsCheapAndReusesTheLogin(t *testing.T) {
	reg, importer, keyring := privateRegistry(t)
	digest := reg.PushRandom(t, "veer/app:latest")
	rec := &recorder{next: reg.Transport()}
	client := NewClient(Options{Transport: rec})
	o := ImportOptions{Keyring: keyring}
	ref := mustParse(t, reg.Ref("veer/app"))
	for i := range 3 {
		got, err := client.Head(ctx(t), ref, o)
		if err != nil || got != digest {
			t.Fatalf("Head = %q, %v; want %s", got, err, digest)
		}
		reqs := rec.take()
		for _, r := range reqs {
			if strings.Contains(r, "/blobs/") || strings.HasPrefix(r, "GET /v2/veer/app/manifests/") {
				t.Errorf("Head fetched %s", r)
			}
			if i > 0 && strings.HasPrefix(r, "GET /v2/ ") {
				t.Errorf("check %d logged in again: %v", i+1, reqs)
			}
		}
		if !slices.Contains(reqs, "HEAD /v2/veer/app/manifests/latest auth") {
			t.Errorf("check %d: requests %v, want a manifest HEAD", i+1, reqs)
		}
	}
	res, err := importer.Import(ctx(t), ref, o)
	if err != nil || res.Image.Name != digest {
		t.Fatalf("Import = %+v, %v; want %s", res, err, digest)
	}
}

func TestUnauthorized(t *testing.T) {
	reg, client, _ := privateRegistry(t)
	reg.PushRandom(t, "veer/app:latest")
	ref := mustParse(t, reg.Ref("veer/app:latest"))

	_, err := client.Import(ctx(t), ref, ImportOptions{})
	if ReasonOf(err) != metav1.StatusReasonUnauthorized || IsRetryable(err) {
		t.Errorf("without a login: %v (reason %s), want Unauthorized", err, ReasonOf(err))
	}

	rec := &recorder{next: reg.Transport()}
	client = NewClient(Options{Transport: rec})
	_, err = client.Import(ctx(t), ref, ImportOptions{Keyring: keyringFor(reg, "wrong-secret")})
	if ReasonOf(err) != metav1.StatusReasonUnauthorized {
		t.Errorf("wrong password: %v (reason %s), want Unauthorized", err, ReasonOf(err))
	}
	if err != nil && (strings.Contains(err.Error(), "wrong-secret") || !strings.Contains(err.Error(), "UNAUTHORIZED")) {
		t.Errorf("message %q: want the registry's code and no password", err)
	}
	// The login was tried first, then the same manifest anonymously.
	reqs := rec.take()
	withLogin := slices.Index(reqs, "GET /v2/veer/app/manifests/latest auth")
	anonymous := slices.Index(reqs, "GET /v2/veer/app/manifests/latest anon")
	if withLogin < 0 || anonymous < withLogin {
		t.Errorf("requests %v: want the manifest with the login, then anonymously", reqs)
	}
}

func TestNotFound(t *testing.T) {
	reg, client, keyring := privateRegistry(t)
	reg.PushRandom(t, "veer/app:latest")
	o := ImportOptions{Keyring: keyring}
	for _, ref := range []string{reg.Ref("veer/app:nosuch"), reg.Ref("veer/nosuch:latest")} {
		if _, err := client.Import(ctx(t), mustParse(t, ref), o); ReasonOf(err) != metav1.StatusReasonNotFound || !strings.Contains(err.Error(), "UNKNOWN") {
			t.Errorf("Import(%s) = %v (reason %s), want NotFound with the registry's code", ref, err, ReasonOf(err))
		}
		if _, err := client.Head(ctx(t), mustParse(t, ref), o); ReasonOf(err) != metav1.StatusReasonNotFound {
			t.Errorf("Head(%s) = %v, want NotFound", ref, err)
		}
	}
}

func TestPlainHTTPOnLoopback(t *testing.T) {
	reg := testregistry.Start(t, testregistry.Options{})
	v1 := reg.PushRandom(t, "veer/app:v1")
	reg.PushRandom(t, "veer/app:v2")
	client := NewClient(Options{})
	res, err := client.Import(ctx(t), mustParse(t, reg.Ref("veer/app:v1")), ImportOptions{})
	if err != nil || res.Image.Name != v1 {
		t.Fatalf("Import = %+v, %v; want %s", res, err, v1)
	}
	tags, err := client.Tags(ctx(t), mustParse(t, reg.Ref("veer/app")), ImportOptions{})
	slices.Sort(tags)
	if err != nil || !slices.Equal(tags, []string{"v1", "v2"}) {
		t.Errorf("Tags = %v, %v; want v1 v2", tags, err)
	}
}

func TestUntrustedCertificate(t *testing.T) {
	reg := testregistry.Start(t, testregistry.Options{TLS: true})
	digest := reg.PushRandom(t, "veer/app:latest")
	ref := mustParse(t, reg.Ref("veer/app:latest"))
	_, err := NewClient(Options{}).Import(ctx(t), ref, ImportOptions{})
	if err == nil || ReasonOf(err) != metav1.StatusReasonInternalError || !strings.Contains(err.Error(), "importPolicy.insecure") || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("untrusted CA: %v, want a clear certificate error", err)
	}
	for name, c := range map[string]struct {
		client *Client
		o      ImportOptions
	}{
		"importPolicy.insecure": {NewClient(Options{}), ImportOptions{Insecure: true}},
		"--insecure-registry":   {NewClient(Options{InsecureRegistries: []string{reg.Host}}), ImportOptions{}},
	} {
		res, err := c.client.Import(ctx(t), ref, c.o)
		if err != nil || res.Image.Name != digest {
			t.Errorf("%s: %+v, %v; want %s", name, res, err, digest)
		}
	}
}

func TestManifestList(t *testing.T) {
	reg, client, keyring := privateRegistry(t)
	list := reg.PushList(t, "veer/multi:latest")
	ref := mustParse(t, reg.Ref("veer/multi:latest"))
	repo := reg.Host + "/veer/multi@"
	for _, tt := range []struct {
		o    ImportOptions
		want string
	}{
		{ImportOptions{}, list.AMD64},
		{ImportOptions{ImportMode: imagev1.ImportModeLegacy, PreferArch: "arm64"}, list.ARM64},
		{ImportOptions{PreferArch: "s390x"}, list.AMD64},
	} {
		tt.o.Keyring = keyring
		res, err := client.Import(ctx(t), ref, tt.o)
		if err != nil {
			t.Fatalf("%+v: %v", tt.o, err)
		}
		if res.Image.Name != tt.want || res.Reference != repo+tt.want || res.Manifests != nil || len(res.Image.DockerImageLayers) != 1 {
			t.Errorf("prefer %q: got %s (%s), want %s", tt.o.PreferArch, res.Image.Name, res.Reference, tt.want)
		}
	}
	digest, err := client.Head(ctx(t), ref, ImportOptions{Keyring: keyring})
	if err != nil || digest != list.Digest {
		t.Errorf("Head = %s, %v; want the list's %s", digest, err, list.Digest)
	}

	res, err := client.Import(ctx(t), ref, ImportOptions{Keyring: keyring, ImportMode: imagev1.ImportModePreserveOriginal})
	if err != nil {
		t.Fatal(err)
	}
	img := res.Image
	if img.Name != list.Digest || res.Reference != repo+list.Digest || img.DockerImageManifestMediaType != "application/vnd.docker.distribution.manifest.list.v2+json" {
		t.Errorf("list image %s %s %s", img.Name, res.Reference, img.DockerImageManifestMediaType)
	}
	if len(img.DockerImageManifests) != 2 || img.DockerImageManifests[0].Digest != list.ARM64 || img.DockerImageManifests[0].Variant != "v8" ||
		img.DockerImageManifests[1].Digest != list.AMD64 || img.DockerImageManifests[1].Architecture != "amd64" || img.DockerImageManifests[1].ManifestSize == 0 {
		t.Errorf("dockerImageManifests = %+v", img.DockerImageManifests)
	}
	if len(res.Manifests) != 2 || res.Manifests[0].Name != list.ARM64 || res.Manifests[1].Name != list.AMD64 || res.Manifests[1].DockerImageReference != repo+list.AMD64 {
		t.Errorf("sub-manifests = %+v", res.Manifests)
	}
}

func TestConnectionRefused(t *testing.T) {
	host := testregistry.FreePort(t)
	_, err := NewClient(Options{}).Head(ctx(t), mustParse(t, host+"/veer/app"), ImportOptions{})
	if ReasonOf(err) != metav1.StatusReasonInternalError || !IsRetryable(err) || !strings.Contains(err.Error(), "refused") {
		t.Errorf("Head on a closed port = %v, want a retryable InternalError saying refused", err)
	}
}

func TestPlainHTTPOnlyToLoopbackOrInsecure(t *testing.T) {
	gate, insecure := transports(defaultTransport(), nil)
	req, _ := http.NewRequest(http.MethodGet, "http://10.1.2.3:5000/v2/", nil)
	if _, err := gate.RoundTrip(req); err == nil || !strings.Contains(err.Error(), "--insecure") {
		t.Errorf("plain HTTP to a private address: %v, want refused", err)
	}
	// The insecure transport lets it through (and fails to connect quickly
	// or not at all: only the gate's refusal matters here).
	c, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if _, err := insecure.RoundTrip(req.WithContext(c)); err != nil && strings.Contains(err.Error(), "refused: the registry is not insecure") {
		t.Errorf("insecure transport refused plain HTTP: %v", err)
	}
}

func TestRemoteOptionsPull(t *testing.T) {
	reg, client, keyring := privateRegistry(t)
	digest := reg.PushRandom(t, "veer/app:latest")
	ref, opts, err := client.RemoteOptions(ctx(t), mustParse(t, reg.Ref("veer/app")), ImportOptions{Keyring: keyring})
	if err != nil {
		t.Fatal(err)
	}
	img, err := remote.Image(ref, opts...)
	if err != nil {
		t.Fatalf("pulling %s: %v", ref, err)
	}
	if got, err := img.Digest(); err != nil || got.String() != digest {
		t.Errorf("pulled %v, %v; want %s", got, err, digest)
	}
	layers, err := img.Layers()
	if err != nil || len(layers) != 1 {
		t.Fatalf("layers %v, %v", layers, err)
	}
	rc, err := layers[0].Compressed()
	if err != nil {
		t.Fatalf("fetching the layer: %v", err)
	}
	rc.Close()
	tags, err := client.Tags(ctx(t), mustParse(t, reg.Ref("veer/app")), ImportOptions{Keyring: keyring})
	if err != nil || !slices.Equal(tags, []string{"latest"}) {
		t.Errorf("Tags = %v, %v", tags, err)
	}
}

// hostAddress is a non-loopback IPv4 address of this machine, "" if none.
func hostAddress() string {
	ifaces, err := net.Interfaces()
	if err != nil {
		return ""
	}
	for _, iface := range ifaces {
		if iface.Flags&net.FlagUp == 0 || iface.Flags&net.FlagLoopback != 0 {
			continue
		}
		addrs, _ := iface.Addrs()
		for _, a := range addrs {
			if ipnet, ok := a.(*net.IPNet); ok && ipnet.IP.To4() != nil && !ipnet.IP.IsLoopback() {
				return ipnet.IP.String()
			}
		}
	}
	return ""
}

// A plain-HTTP registry that is not on loopback is refused unless it is
// named insecure (importPolicy.insecure or --insecure-registry).
func TestPlainHTTPRegistryElsewhereNeedsInsecure(t *testing.T) {
	addr := hostAddress()
	if addr == "" {
		t.Skip("no non-loopback IPv4 address on this machine")
	}
	reg := testregistry.Start(t, testregistry.Options{Address: addr})
	digest := reg.PushRandom(t, "veer/app:latest")
	ref := mustParse(t, reg.Ref("veer/app:latest"))
	if _, err := NewClient(Options{}).Import(ctx(t), ref, ImportOptions{}); err == nil || !strings.Contains(err.Error(), "--insecure") {
		t.Errorf("plain HTTP at %s without --insecure: %v, want refused with a hint", reg.Host, err)
	}
	for name, c := range map[string]struct {
		client *Client
		o      ImportOptions
	}{
		"importPolicy.insecure": {NewClient(Options{}), ImportOptions{Insecure: true}},
		"--insecure-registry":   {NewClient(Options{InsecureRegistries: []string{reg.Host}}), ImportOptions{}},
	} {
		res, err := c.client.Import(ctx(t), ref, c.o)
		if err != nil || res.Image.Name != digest {
			t.Errorf("%s: Import = %v, %v; want %s", name, res, err, digest)
		}
	}
}

// TestOversizedConfigIsRefused: a registry's image whose config blob is
// over MaxConfigSize (a real 9 MiB config; a hostile registry may declare
// gigabytes) is refused with a clear error before the blob is read: the
// server would otherwise hold it whole, in memory and in the Image.
func TestOversizedConfigIsRefused(t *testing.T) {
	reg, client, keyring := privateRegistry(t)
	reg.PushConfig(t, "veer/huge:v1", ggcrv1.ConfigFile{
		Architecture: "amd64", OS: "linux",
		Config: ggcrv1.Config{Labels: map[string]string{"pad": strings.Repeat("x", 9<<20)}},
	})
	_, err := client.Import(ctx(t), mustParse(t, reg.Ref("veer/huge:v1")), ImportOptions{Keyring: keyring})
	if err == nil || !strings.Contains(err.Error(), "config") || !strings.Contains(err.Error(), "8 MiB") {
		t.Fatalf("importing an image with a 9 MiB config: %v; want it refused over the 8 MiB limit", err)
	}
}
