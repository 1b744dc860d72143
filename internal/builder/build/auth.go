package build

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/docker/cli/cli/config/types"
	"github.com/moby/buildkit/session"
	"github.com/moby/buildkit/session/auth/authprovider"

	"github.com/slipway-dev/slipway/internal/builder/loginlock"
	"github.com/slipway-dev/slipway/internal/image"
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

// ParseDockerConfig reads a docker config (config.json's {"auths": ...}
// or the legacy .dockercfg form) into a Keyring, with internal/image's
// parser and host rules.
func ParseDockerConfig(data []byte) (Keyring, error) {
	parsed, err := image.ParseDockerConfig(data)
	if err != nil {
		return nil, err
	}
	k := Keyring{}
	parsed.Logins(func(host, user, password string) {
		k[host] = Credential{Username: user, Password: password}
	})
	return k, nil
}

// Lookup returns the credential for a registry host.
func (k Keyring) Lookup(host string) (Credential, bool) {
	c, ok := k[image.RegistryHost(host)]
	return c, ok
}

// overlay is first's logins and, for the hosts first has none for,
// second's.
func overlay(first, second Keyring) Keyring {
	k := Keyring{}
	for h, c := range second {
		k[h] = c
	}
	for h, c := range first {
		k[h] = c
	}
	return k
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

// authProvider answers buildkitd with k's login for a registry host.
// BuildKit asks for basic-auth credentials by host only (no scope), so
// within one solve a host cannot have different pull and push logins; Run
// splits the solve when the secrets disagree.
func authProvider(k Keyring) session.Attachable {
	return authprovider.NewDockerAuthProvider(authprovider.DockerAuthProviderConfig{
		AuthConfigProvider: func(_ context.Context, host string, _ []string, _ authprovider.ExpireCachedAuthCheck) (types.AuthConfig, error) {
			c, ok := k.Lookup(host)
			if !ok {
				return types.AuthConfig{}, nil
			}
			return types.AuthConfig{Username: c.Username, Password: c.Password, ServerAddress: host}, nil
		},
	})
}

// logins lists k for the login lock.
func (k Keyring) logins() []loginlock.Login {
	out := make([]loginlock.Login, 0, len(k))
	for h, c := range k {
		out = append(out, loginlock.Login{Host: h, Username: c.Username, Password: c.Password})
	}
	return out
}
