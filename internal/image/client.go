package image

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	imagev1 "github.com/openshift/api/image/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Options configure a Client, from the server's flags.
type Options struct {
	// InsecureRegistries are host[:port]s that may be plain HTTP or
	// self-signed (--insecure-registry).
	InsecureRegistries []string
	// RootCAs are extra trusted CAs (--registry-ca); nil = the system pool.
	RootCAs *x509.CertPool
	// Transport is the base transport; nil = a default with dial, TLS and
	// response-header timeouts. Only an *http.Transport gets RootCAs and
	// the insecure TLS settings applied.
	Transport http.RoundTripper
	// UserAgent is sent with every request; empty = "slipway".
	UserAgent string
}

// ImportOptions are per request.
type ImportOptions struct {
	// Insecure is importPolicy.insecure: plain HTTP and self-signed TLS.
	Insecure bool
	// ImportMode is Legacy ("" too) or PreserveOriginal.
	ImportMode imagev1.ImportModeType
	// PreferArch and PreferOS choose a manifest list's entry in Legacy mode
	// (importer.image.openshift.io/prefer-arch|os); default linux/amd64.
	PreferArch, PreferOS string
	// Keyring holds the credentials; its entry for the reference's
	// registry is used.
	Keyring Keyring
}

// Result of importing one reference.
type Result struct {
	// Image is the image to store (name = digest): in Legacy mode the chosen
	// sub-manifest of a list; in PreserveOriginal the list itself, with
	// DockerImageManifests filled.
	Image *imagev1.Image
	// Manifests are every sub-manifest's image in PreserveOriginal mode,
	// nil otherwise.
	Manifests []*imagev1.Image
	// Reference is registry/repo@<Image.Name>, the dockerImageReference of
	// the tag event.
	Reference string
}

// Client talks to image registries with the server's transport rules:
// HTTPS verified against RootCAs; plain HTTP only to loopback or insecure
// registries; self-signed TLS only to insecure ones. It caches one
// authenticated session per registry, login and repository, so frequent
// checks do not log in again each time. A Client is safe for concurrent use.
type Client struct {
	secure, insecure http.RoundTripper
	insecureHosts    map[string]bool
	userAgent        string

	mu      sync.Mutex
	pullers map[pullerKey]*remote.Puller
}

// pullerKey identifies a cached session: a Puller keeps one authenticated
// transport per repository.
type pullerKey struct {
	registry string
	insecure bool
	user     string
	password [sha256.Size]byte // a hash: the cache key holds no secret
}

// maxPullers bounds the session cache; past it the cache starts over.
const maxPullers = 256

// NewClient returns a Client for o.
func NewClient(o Options) *Client {
	base := o.Transport
	if base == nil {
		base = defaultTransport()
	}
	c := &Client{
		insecureHosts: map[string]bool{},
		userAgent:     o.UserAgent,
		pullers:       map[pullerKey]*remote.Puller{},
	}
	if c.userAgent == "" {
		c.userAgent = "slipway"
	}
	c.secure, c.insecure = transports(base, o.RootCAs)
	for _, h := range o.InsecureRegistries {
		c.insecureHosts[RegistryHost(h)] = true
	}
	return c
}

// isInsecure reports whether ref's registry may be plain HTTP or
// self-signed for this request.
func (c *Client) isInsecure(ref Reference, o ImportOptions) bool {
	return o.Insecure || c.insecureHosts[RegistryHost(ref.Registry)]
}

// nameReference is ref for go-containerregistry; loopback and insecure
// registries are marked so that it tries HTTPS first and falls back to HTTP.
func nameReference(ref Reference, insecure bool) (name.Reference, error) {
	var opts []name.Option
	if insecure || IsLoopback(ref.Registry) {
		opts = append(opts, name.Insecure)
	}
	r, err := name.ParseReference(ref.Exact(), opts...)
	if err != nil {
		return nil, fmt.Errorf("image reference %s: %w", ref.String(), err)
	}
	return r, nil
}

// session is what one call needs: the reference, the authenticated puller
// and the options to build more.
type session struct {
	ref    name.Reference
	puller *remote.Puller
	opts   []remote.Option
}

// session returns the cached session for ref with the given login
// (anonymous when !withLogin).
func (c *Client) session(ref Reference, o ImportOptions, withLogin bool) (*session, error) {
	insecure := c.isInsecure(ref, o)
	nref, err := nameReference(ref, insecure)
	if err != nil {
		return nil, err
	}
	key := pullerKey{registry: RegistryHost(ref.Registry), insecure: insecure}
	var auth authn.Authenticator = authn.Anonymous
	if withLogin {
		if user, password, ok := o.Keyring.Lookup(ref.Registry); ok {
			auth = &authn.Basic{Username: user, Password: password}
			key.user, key.password = user, sha256.Sum256([]byte(password))
		}
	}
	tr := c.secure
	if insecure {
		tr = c.insecure
	}
	opts := []remote.Option{
		remote.WithTransport(tr),
		remote.WithAuth(auth),
		remote.WithUserAgent(c.userAgent),
		// 429 and 5xx go back to the caller, which backs off per registry;
		// network flakes get two quick retries.
		remote.WithRetryStatusCodes(),
		remote.WithRetryBackoff(remote.Backoff{Duration: 200 * time.Millisecond, Factor: 2, Steps: 2}),
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	p, ok := c.pullers[key]
	if !ok {
		p, err = remote.NewPuller(opts...)
		if err != nil {
			return nil, fmt.Errorf("registry client for %s: %w", ref.Registry, err)
		}
		if len(c.pullers) >= maxPullers {
			clear(c.pullers)
		}
		c.pullers[key] = p
	}
	return &session{ref: nref, puller: p, opts: append(opts, remote.Reuse(p))}, nil
}

// call runs fn with ref's login, and once more anonymously when the login
// was refused (a public image behind a stale secret still imports, as in
// OpenShift); the first error is the one reported.
func (c *Client) call(ctx context.Context, what string, ref Reference, o ImportOptions, fn func(*session) error) error {
	if err := ctx.Err(); err != nil {
		return classify(what, ref, err)
	}
	s, err := c.session(ref, o, true)
	if err != nil {
		return classify(what, ref, err)
	}
	err = fn(s)
	if err == nil {
		return nil
	}
	first := classify(what, ref, err)
	if _, _, hasLogin := o.Keyring.Lookup(ref.Registry); hasLogin && ReasonOf(first) == metav1.StatusReasonUnauthorized {
		if anon, aerr := c.session(ref, o, false); aerr == nil && fn(anon) == nil {
			return nil
		}
	}
	return first
}

// Head resolves ref to its manifest digest with a manifest HEAD only: the
// cheap change check (it does not count as a pull on Docker Hub).
func (c *Client) Head(ctx context.Context, ref Reference, o ImportOptions) (string, error) {
	var digest string
	err := c.call(ctx, "checking", ref, o, func(s *session) error {
		desc, err := s.puller.Head(ctx, s.ref)
		if err != nil {
			return err
		}
		digest = desc.Digest.String()
		return nil
	})
	return digest, err
}

// Tags lists the tags of repo's repository.
func (c *Client) Tags(ctx context.Context, repo Reference, o ImportOptions) ([]string, error) {
	var tags []string
	err := c.call(ctx, "listing tags of", repo, o, func(s *session) error {
		var err error
		tags, err = s.puller.List(ctx, s.ref.Context())
		return err
	})
	return tags, err
}

// RemoteOptions returns go-containerregistry remote options (transport
// with the insecure/CA/loopback rules, authenticator from the keyring,
// context, and the cached session) and the parsed reference for ref.
func (c *Client) RemoteOptions(ctx context.Context, ref Reference, o ImportOptions) (name.Reference, []remote.Option, error) {
	s, err := c.session(ref, o, true)
	if err != nil {
		return nil, nil, err
	}
	return s.ref, append(s.opts, remote.WithContext(ctx)), nil
}
