package image

import (
	"cmp"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// Keyring holds registry credentials from dockercfg / dockerconfigjson
// secrets. The zero Keyring is empty: every registry is anonymous.
type Keyring struct {
	// entries in the order the secrets were given: the first match wins,
	// as OpenShift's importer merges the secrets it lists.
	entries []credential
}

// credential is one registry's login; host is normalised by RegistryHost.
type credential struct {
	host, user, password string
}

// KeyringFromSecrets reads the kubernetes.io/dockercfg and
// kubernetes.io/dockerconfigjson secrets among secrets; other types and
// malformed ones are ignored.
func KeyringFromSecrets(secrets []corev1.Secret) Keyring {
	var k Keyring
	for _, s := range secrets {
		var data []byte
		switch s.Type {
		case corev1.SecretTypeDockercfg:
			data = s.Data[corev1.DockerConfigKey]
		case corev1.SecretTypeDockerConfigJson:
			data = s.Data[corev1.DockerConfigJsonKey]
		default:
			continue
		}
		parsed, err := ParseDockerConfig(data)
		if err != nil {
			continue
		}
		k.entries = append(k.entries, parsed.entries...)
	}
	return k
}

// ParseDockerConfig parses a docker config: the config.json form
// ({"auths": {...}}) or the legacy .dockercfg form ({"host": {...}}).
// Errors never quote the content: it holds credentials.
func ParseDockerConfig(data []byte) (Keyring, error) {
	type dockerAuth struct {
		Auth     string `json:"auth"`
		Username string `json:"username"`
		Password string `json:"password"`
	}
	var wrapped struct {
		Auths map[string]dockerAuth `json:"auths"`
	}
	if err := json.Unmarshal(data, &wrapped); err != nil {
		return Keyring{}, errors.New("not a docker config JSON document")
	}
	entries := wrapped.Auths
	if entries == nil {
		if err := json.Unmarshal(data, &entries); err != nil {
			return Keyring{}, errors.New("not a docker config JSON document")
		}
	}
	var k Keyring
	for key, a := range entries {
		c := credential{host: RegistryHost(key), user: a.Username, password: a.Password}
		if a.Auth != "" {
			raw, err := base64.StdEncoding.DecodeString(a.Auth)
			if err != nil {
				return Keyring{}, fmt.Errorf("entry for %s: auth is not base64", key)
			}
			user, pass, ok := strings.Cut(string(raw), ":")
			if !ok {
				return Keyring{}, fmt.Errorf("entry for %s: auth is not user:password", key)
			}
			c.user, c.password = user, pass
		}
		k.entries = append(k.entries, c)
	}
	// Map order is random; a stable order keeps Lookup deterministic when
	// one document names a host twice (https://h and h).
	slices.SortFunc(k.entries, func(a, b credential) int {
		return cmp.Or(strings.Compare(a.host, b.host), strings.Compare(a.user, b.user))
	})
	return k, nil
}

// RegistryHost normalises a docker config key or a registry name to
// host[:port]: schemes and paths are dropped, the host is lower-cased and
// Docker Hub's names (index.docker.io, registry-1.docker.io,
// registry.hub.docker.com) all become docker.io.
func RegistryHost(key string) string {
	h := key
	if i := strings.Index(h, "://"); i >= 0 {
		h = h[i+3:]
	}
	if i := strings.IndexByte(h, '/'); i >= 0 {
		h = h[:i]
	}
	h = strings.ToLower(h)
	switch h {
	case "index.docker.io", "registry-1.docker.io", "registry.hub.docker.com":
		return DockerHub
	}
	return h
}

// Lookup returns the login for a registry (host[:port], any Docker Hub
// alias), the first one given when several secrets name it.
func (k Keyring) Lookup(registry string) (user, password string, ok bool) {
	host := RegistryHost(registry)
	for _, c := range k.entries {
		if c.host == host {
			return c.user, c.password, true
		}
	}
	return "", "", false
}

// Logins calls fn with each registry's login (the one Lookup returns).
func (k Keyring) Logins(fn func(host, user, password string)) {
	seen := map[string]bool{}
	for _, c := range k.entries {
		if !seen[c.host] {
			seen[c.host] = true
			fn(c.host, c.user, c.password)
		}
	}
}

// Empty reports whether the keyring holds no login at all.
func (k Keyring) Empty() bool { return len(k.entries) == 0 }
