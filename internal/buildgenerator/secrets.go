package buildgenerator

import (
	"encoding/json"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// dockerConfigKeys are the secret keys a docker credential can live under,
// in the order the builder reads them.
var dockerConfigKeys = []string{corev1.DockerConfigJsonKey, corev1.DockerConfigKey, "config.json"}

// DockerConfigRegistries returns the registry keys of the docker
// credentials in secret (".dockerconfigjson", ".dockercfg" or
// "config.json"), as written: "https://index.docker.io/v1/", "host:5000",
// "host/namespace". Unparsable data counts as no credentials.
func DockerConfigRegistries(secret *corev1.Secret) []string {
	var keys []string
	for _, k := range dockerConfigKeys {
		data, ok := secret.Data[k]
		if !ok {
			continue
		}
		var entries map[string]json.RawMessage
		if k == corev1.DockerConfigKey {
			if json.Unmarshal(data, &entries) != nil {
				continue
			}
		} else {
			var config struct {
				Auths map[string]json.RawMessage `json:"auths"`
			}
			if json.Unmarshal(data, &config) != nil {
				continue
			}
			entries = config.Auths
		}
		for registry := range entries {
			keys = append(keys, registry)
		}
	}
	return keys
}

// IsDockerSecret reports whether secret is of a docker credential type.
func IsDockerSecret(secret *corev1.Secret) bool {
	return secret.Type == corev1.SecretTypeDockercfg || secret.Type == corev1.SecretTypeDockerConfigJson
}

// CredentialMatches reports whether a docker config key such as
// "https://index.docker.io/v1/" or "registry:5000/team" holds credentials
// for image, a pull spec like "registry:5000/team/app:latest". Docker Hub's
// aliases are one registry; a key with a path matches repositories under it.
func CredentialMatches(key, image string) bool {
	keyHost, keyPath := splitRegistryKey(key)
	imageHost, imagePath := splitImage(image)
	if keyHost == "" || keyHost != imageHost {
		return false
	}
	return keyPath == "" || imagePath == keyPath || strings.HasPrefix(imagePath, keyPath+"/")
}

// MatchingSecret returns the first secret whose docker credentials match
// image, or nil.
func MatchingSecret(image string, secrets []*corev1.Secret) *corev1.Secret {
	for _, s := range secrets {
		for _, key := range DockerConfigRegistries(s) {
			if CredentialMatches(key, image) {
				return s
			}
		}
	}
	return nil
}

// FirstDockerSecret returns the first secret of a docker credential type,
// or nil: OpenShift's fallback push secret when none matches the output,
// usually the service account's internal registry secret.
func FirstDockerSecret(secrets []*corev1.Secret) *corev1.Secret {
	for _, s := range secrets {
		if IsDockerSecret(s) {
			return s
		}
	}
	return nil
}

// ServiceAccountSecretNames lists the secrets of sa a build may use for
// images: imagePullSecrets first (what current OpenShift reads), then the
// mountable secrets, without duplicates.
func ServiceAccountSecretNames(sa *corev1.ServiceAccount) []string {
	var names []string
	seen := map[string]bool{}
	add := func(name string) {
		if name != "" && !seen[name] {
			seen[name] = true
			names = append(names, name)
		}
	}
	for _, ref := range sa.ImagePullSecrets {
		add(ref.Name)
	}
	for _, ref := range sa.Secrets {
		add(ref.Name)
	}
	return names
}

// dockerHub is the canonical host of Docker Hub's aliases.
const dockerHub = "docker.io"

func canonicalHost(host string) string {
	switch host {
	case "index.docker.io", "registry-1.docker.io", "registry.hub.docker.com", "docker.io":
		return dockerHub
	}
	return host
}

// splitRegistryKey splits a docker config key into host and repository
// path, dropping a scheme and Docker's "/v1/" or "/v2/" API suffix.
func splitRegistryKey(key string) (host, path string) {
	key = strings.TrimPrefix(strings.TrimPrefix(key, "https://"), "http://")
	key = strings.TrimSuffix(key, "/")
	host, path, _ = strings.Cut(key, "/")
	if path == "v1" || path == "v2" {
		path = ""
	}
	return canonicalHost(strings.ToLower(host)), path
}

// splitImage splits a pull spec into registry host and repository path,
// without tag or digest; a name without a registry is on Docker Hub.
func splitImage(image string) (host, path string) {
	if i := strings.Index(image, "@"); i >= 0 {
		image = image[:i]
	}
	first, rest, found := strings.Cut(image, "/")
	if !found || !(strings.ContainsAny(first, ".:") || first == "localhost") {
		host, rest = dockerHub, image
		if !strings.Contains(rest, "/") {
			rest = "library/" + rest
		}
	} else {
		host = canonicalHost(strings.ToLower(first))
	}
	if i := strings.LastIndex(rest, ":"); i >= 0 && !strings.Contains(rest[i:], "/") {
		rest = rest[:i]
	}
	return host, rest
}
