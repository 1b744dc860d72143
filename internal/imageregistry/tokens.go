package imageregistry

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	"k8s.io/apiserver/pkg/authentication/serviceaccount"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/client-go/rest"
)

// Token review cache lifetimes: a valid token is trusted for a minute (a
// deleted service account loses registry access at most that late); an
// invalid one is remembered briefly so a client retrying a bad password does
// not hammer the API server, yet a just-created token works within seconds.
const (
	validTokenTTL   = time.Minute
	invalidTokenTTL = 5 * time.Second
)

// Identity is who a registry client authenticated as.
type Identity struct {
	// Username is the API user name, e.g. system:admin or
	// system:serviceaccount:<ns>:<sa>.
	Username string
	// Groups are the user's groups; system:masters may do anything.
	Groups []string
}

// MayAccess reports whether the identity may pull from or push to
// repositories of namespace: members of system:masters anywhere, service
// accounts only in their own namespace, nobody else.
func (id *Identity) MayAccess(namespace string) bool {
	if id == nil {
		return false
	}
	if id.IsPrivileged() {
		return true
	}
	ns, _, err := serviceaccount.SplitUsername(id.Username)
	return err == nil && ns == namespace
}

// IsPrivileged reports whether the identity is a member of system:masters.
func (id *Identity) IsPrivileged() bool {
	return id != nil && slices.Contains(id.Groups, user.SystemPrivilegedGroup)
}

// TokenReviewer finds out who an API bearer token belongs to by asking the
// API server itself (a SelfSubjectReview made with that token), so the
// registry accepts exactly the tokens the API accepts.
type TokenReviewer struct {
	client *http.Client
	url    string
	now    func() time.Time

	mu    sync.Mutex
	cache map[[sha256.Size]byte]cachedReview
}

type cachedReview struct {
	identity *Identity // nil: the token is not valid
	expires  time.Time
}

// NewTokenReviewer returns a reviewer for the API server that cfg points
// at. Only cfg's address and TLS trust are used: each review authenticates
// with the token under review, never with cfg's own credentials.
func NewTokenReviewer(cfg *rest.Config) (*TokenReviewer, error) {
	anonymous := rest.AnonymousClientConfig(cfg)
	client, err := rest.HTTPClientFor(anonymous)
	if err != nil {
		return nil, fmt.Errorf("building the token review client: %w", err)
	}
	client.Timeout = 30 * time.Second
	host := strings.TrimSuffix(anonymous.Host, "/")
	if !strings.Contains(host, "://") {
		host = "https://" + host
	}
	return &TokenReviewer{
		client: client,
		url:    host + "/apis/authentication.k8s.io/v1/selfsubjectreviews",
		now:    time.Now,
		cache:  map[[sha256.Size]byte]cachedReview{},
	}, nil
}

// Review returns the identity of token, or nil when the API server does not
// accept it. An error means the API server could not be asked.
func (t *TokenReviewer) Review(ctx context.Context, token string) (*Identity, error) {
	if token == "" {
		return nil, nil
	}
	key := sha256.Sum256([]byte(token))
	now := t.now()
	t.mu.Lock()
	if entry, ok := t.cache[key]; ok && now.Before(entry.expires) {
		t.mu.Unlock()
		return entry.identity, nil
	}
	t.mu.Unlock()

	identity, err := t.ask(ctx, token)
	if err != nil {
		return nil, err
	}
	ttl := validTokenTTL
	if identity == nil {
		ttl = invalidTokenTTL
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	// Drop expired entries now and then so the map stays small.
	if len(t.cache) > 1024 {
		for k, v := range t.cache {
			if !now.Before(v.expires) {
				delete(t.cache, k)
			}
		}
	}
	t.cache[key] = cachedReview{identity: identity, expires: now.Add(ttl)}
	return identity, nil
}

// ask posts one SelfSubjectReview with token as the bearer.
func (t *TokenReviewer) ask(ctx context.Context, token string) (*Identity, error) {
	body, err := json.Marshal(&authenticationv1.SelfSubjectReview{})
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.url, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := t.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("reviewing a registry token: %w", err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("reading the token review: %w", err)
	}
	switch {
	case resp.StatusCode == http.StatusUnauthorized:
		return nil, nil
	case resp.StatusCode != http.StatusCreated && resp.StatusCode != http.StatusOK:
		return nil, fmt.Errorf("reviewing a registry token: API server answered %s", resp.Status)
	}
	var review authenticationv1.SelfSubjectReview
	if err := json.Unmarshal(data, &review); err != nil {
		return nil, fmt.Errorf("decoding the token review: %w", err)
	}
	info := review.Status.UserInfo
	if info.Username == "" {
		return nil, nil
	}
	return &Identity{Username: info.Username, Groups: info.Groups}, nil
}
