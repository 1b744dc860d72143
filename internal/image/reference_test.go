package image

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

func TestParseReference(t *testing.T) {
	digest := "sha256:" + strings.Repeat("a", 64)
	tests := []struct {
		in                       string
		want                     Reference
		str, exact, repositoryNm string
	}{
		{"busybox", Reference{Registry: "docker.io", Repository: "library/busybox"},
			"docker.io/library/busybox", "docker.io/library/busybox:latest", "docker.io/library/busybox"},
		{"busybox:1.36", Reference{Registry: "docker.io", Repository: "library/busybox", Tag: "1.36"},
			"docker.io/library/busybox:1.36", "docker.io/library/busybox:1.36", "docker.io/library/busybox"},
		{"openshift/hello", Reference{Registry: "docker.io", Repository: "openshift/hello"},
			"docker.io/openshift/hello", "docker.io/openshift/hello:latest", "docker.io/openshift/hello"},
		{"docker.io/busybox", Reference{Registry: "docker.io", Repository: "library/busybox"},
			"docker.io/library/busybox", "docker.io/library/busybox:latest", "docker.io/library/busybox"},
		{"index.docker.io/library/busybox:x", Reference{Registry: "docker.io", Repository: "library/busybox", Tag: "x"},
			"docker.io/library/busybox:x", "docker.io/library/busybox:x", "docker.io/library/busybox"},
		{"quay.io/org/app:v2@" + digest, Reference{Registry: "quay.io", Repository: "org/app", Tag: "v2", Digest: digest},
			"quay.io/org/app:v2@" + digest, "quay.io/org/app@" + digest, "quay.io/org/app"},
		{"127.0.0.1:5000/veer/mytime@" + digest, Reference{Registry: "127.0.0.1:5000", Repository: "veer/mytime", Digest: digest},
			"127.0.0.1:5000/veer/mytime@" + digest, "127.0.0.1:5000/veer/mytime@" + digest, "127.0.0.1:5000/veer/mytime"},
		{"localhost/a/b/c:t", Reference{Registry: "localhost", Repository: "a/b/c", Tag: "t"},
			"localhost/a/b/c:t", "localhost/a/b/c:t", "localhost/a/b/c"},
		{"REG.example.com:443/x", Reference{Registry: "reg.example.com:443", Repository: "x"},
			"reg.example.com:443/x", "reg.example.com:443/x:latest", "reg.example.com:443/x"},
	}
	for _, tt := range tests {
		got, err := ParseReference(tt.in)
		if err != nil {
			t.Errorf("ParseReference(%q): %v", tt.in, err)
			continue
		}
		if got != tt.want {
			t.Errorf("ParseReference(%q) = %+v, want %+v", tt.in, got, tt.want)
		}
		if got.String() != tt.str || got.Exact() != tt.exact || got.RepositoryName() != tt.repositoryNm {
			t.Errorf("%q: String %q Exact %q RepositoryName %q, want %q %q %q", tt.in, got.String(), got.Exact(), got.RepositoryName(), tt.str, tt.exact, tt.repositoryNm)
		}
	}
	for _, bad := range []string{"", "UPPER/case", "a@sha256:short", "a:bad tag", "reg.io/", "a:-x", "docker.io/"} {
		if r, err := ParseReference(bad); err == nil {
			t.Errorf("ParseReference(%q) = %+v, want an error", bad, r)
		}
	}
}

func dockerSecret(typ corev1.SecretType, key, content string) corev1.Secret {
	return corev1.Secret{Type: typ, Data: map[string][]byte{key: []byte(content)}}
}

func TestKeyring(t *testing.T) {
	// "u1:p1", "u2:p2", ...
	auth := map[string]string{"1": "dTE6cDE=", "2": "dTI6cDI=", "3": "dTM6cDM=", "4": "dTQ6cDQ="}
	k := KeyringFromSecrets([]corev1.Secret{
		{Type: corev1.SecretTypeOpaque, Data: map[string][]byte{corev1.DockerConfigJsonKey: []byte(`{"auths":{"opaque.io":{"auth":"` + auth["1"] + `"}}}`)}},
		dockerSecret(corev1.SecretTypeDockerConfigJson, corev1.DockerConfigJsonKey, `not json`),
		dockerSecret(corev1.SecretTypeDockerConfigJson, corev1.DockerConfigJsonKey,
			`{"auths":{"https://index.docker.io/v1/":{"auth":"`+auth["1"]+`"},"https://reg.example.com:5000/v2/path":{"auth":"`+auth["2"]+`"}}}`),
		dockerSecret(corev1.SecretTypeDockercfg, corev1.DockerConfigKey,
			`{"reg.example.com:5000":{"auth":"`+auth["3"]+`"},"Quay.IO":{"username":"u4","password":"p4"}}`),
	})
	tests := []struct{ registry, user, password string }{
		{"docker.io", "u1", "p1"},
		{"index.docker.io", "u1", "p1"},
		{"registry-1.docker.io", "u1", "p1"},
		{"reg.example.com:5000", "u2", "p2"}, // the first secret naming it wins
		{"https://reg.example.com:5000", "u2", "p2"},
		{"quay.io", "u4", "p4"},
		{"reg.example.com", "", ""}, // another port is another registry
		{"opaque.io", "", ""},
	}
	for _, tt := range tests {
		user, password, ok := k.Lookup(tt.registry)
		if ok != (tt.user != "") || user != tt.user || password != tt.password {
			t.Errorf("Lookup(%q) = %q, %q, %t; want %q, %q", tt.registry, user, password, ok, tt.user, tt.password)
		}
	}
	if _, _, ok := (Keyring{}).Lookup("docker.io"); ok {
		t.Error("the empty keyring has a login")
	}
}

func TestParseDockerConfigErrorsHideContent(t *testing.T) {
	for _, doc := range []string{`{"auths":{"h":{"auth":"!!secret!!"}}}`, `{"auths":{"h":{"auth":"c2VjcmV0"}}}`, `secret`} {
		_, err := ParseDockerConfig([]byte(doc))
		if err == nil || strings.Contains(err.Error(), "secret") {
			t.Errorf("ParseDockerConfig(%s) = %v, want an error without the content", doc, err)
		}
	}
}
