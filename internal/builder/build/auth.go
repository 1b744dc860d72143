package build

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/docker/cli/cli/config/types"
	"github.com/moby/buildkit/session"
	"github.com/moby/buildkit/session/auth/authprovider"
)

// Credential is one registry login from a docker config file.
type Credential struct {
	Username string
	Password string
}

// Keyring maps registry hosts (host[:port], docker.io for Docker Hub) to
// credentials, as read from a push or pull secret.
type Keyring map[string]Credential

// secretKeys are the keys OpenShift's builder accepts in a mounted docker
// secret, in its order of preference.
var secretKeys = []string{".dockerconfigjson", ".dockercfg", "config.json"}

// LoadKeyring reads the docker config a secret volume holds in dir
// (.dockerconfigjson, .dockercfg or config.json). An empty dir gives an
// empty keyring; a dir without any of these files is an error.
func LoadKeyring(dir string) (Keyring, error) {
	if dir == "" {
		return Keyring{}, nil
	}
	for _, key := range secretKeys {
		data, err := os.ReadFile(filepath.Join(dir, key))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("reading docker config: %w", err)
		}
		k, err := ParseDockerConfig(data)
		if err != nil {
			// The file name, never its content: it holds credentials.
			return nil, fmt.Errorf("parsing %s: %w", filepath.Join(dir, key), err)
		}
		return k, nil
	}
	return nil, fmt.Errorf("%s holds none of %s", dir, strings.Join(secretKeys, ", "))
}

// dockerAuth is one entry of a .dockercfg or of config.json's "auths".
type dockerAuth struct {
	Auth     string `json:"auth"`
	Username string `json:"username"`
	Password string `json:"password"`
}

// ParseDockerConfig parses both the config.json form ({"auths": {...}})
// and the legacy .dockercfg form ({"host": {...}}).
func ParseDockerConfig(data []byte) (Keyring, error) {
	var wrapped struct {
		Auths map[string]dockerAuth `json:"auths"`
	}
	if err := json.Unmarshal(data, &wrapped); err != nil {
		return nil, errors.New("not a docker config JSON document")
	}
	entries := wrapped.Auths
	if entries == nil {
		if err := json.Unmarshal(data, &entries); err != nil {
			return nil, errors.New("not a docker config JSON document")
		}
	}
	k := Keyring{}
	for key, a := range entries {
		c := Credential{Username: a.Username, Password: a.Password}
		if a.Auth != "" {
			raw, err := base64.StdEncoding.DecodeString(a.Auth)
			if err != nil {
				return nil, fmt.Errorf("entry for %s: auth is not base64", key)
			}
			user, pass, ok := strings.Cut(string(raw), ":")
			if !ok {
				return nil, fmt.Errorf("entry for %s: auth is not user:password", key)
			}
			c = Credential{Username: user, Password: pass}
		}
		k[RegistryHost(key)] = c
	}
	return k, nil
}

// RegistryHost normalises a docker config key or a registry host to
// host[:port]: schemes and paths are dropped and Docker Hub's names all
// become docker.io.
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
		return "docker.io"
	}
	return h
}

// Lookup returns the credential for a registry host.
func (k Keyring) Lookup(host string) (Credential, bool) {
	c, ok := k[RegistryHost(host)]
	return c, ok
}

// authProvider gives buildkitd one login per registry host: first's, else
// second's. BuildKit asks for basic-auth credentials by host only (no
// scope), so within one solve a host cannot have different pull and push
// logins; Run splits the solve when the secrets disagree.
func authProvider(first, second Keyring) session.Attachable {
	return authprovider.NewDockerAuthProvider(authprovider.DockerAuthProviderConfig{
		AuthConfigProvider: func(_ context.Context, host string, _ []string, _ authprovider.ExpireCachedAuthCheck) (types.AuthConfig, error) {
			c, ok := first.Lookup(host)
			if !ok {
				c, ok = second.Lookup(host)
			}
			if !ok {
				return types.AuthConfig{}, nil
			}
			return types.AuthConfig{Username: c.Username, Password: c.Password, ServerAddress: host}, nil
		},
	})
}

// pushFirst is the keyring of a solve that pushes to outputHost: the push
// secret's login for that host, the pull secret's for every other host.
func pushFirst(push, pull Keyring, outputHost string) Keyring {
	k := Keyring{}
	for h, c := range push {
		k[h] = c
	}
	for h, c := range pull {
		if _, pushHas := push[h]; h != outputHost || !pushHas {
			k[h] = c
		}
	}
	return k
}
