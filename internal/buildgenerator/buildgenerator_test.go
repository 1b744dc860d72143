package buildgenerator

import (
	"encoding/base64"
	"strings"
	"testing"

	buildv1 "github.com/openshift/api/build/v1"
	imagev1 "github.com/openshift/api/image/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestBuildName(t *testing.T) {
	long := strings.Repeat("a", 70)
	tests := []struct {
		bc   string
		n    int64
		want string
	}{
		{"time", 1, "time-1"},
		{"time", 12, "time-12"},
		{strings.Repeat("b", 61), 1, strings.Repeat("b", 61) + "-1"},
	}
	for _, tt := range tests {
		if got := BuildName(tt.bc, tt.n); got != tt.want {
			t.Errorf("BuildName(%q, %d) = %q, want %q", tt.bc, tt.n, got, tt.want)
		}
	}
	a, b := BuildName(long, 3), BuildName(long+"x", 3)
	if len(a) != 63 || !strings.HasSuffix(a, "-3") || !strings.HasPrefix(a, strings.Repeat("a", 52)+"-") {
		t.Errorf("long name %q: want 63 chars, a truncated prefix, a hash and -3", a)
	}
	if a == b {
		t.Errorf("distinct long names collide: %q", a)
	}
	if got := PodName("time-1"); got != "time-1-build" {
		t.Errorf("PodName = %q", got)
	}
	if got := len(PodName(strings.Repeat("c", 63))); got != 63 {
		t.Errorf("long pod name has %d chars, want 63", got)
	}
}

func TestLatestTaggedImage(t *testing.T) {
	stream := func(policy imagev1.TagReferencePolicyType) *imagev1.ImageStream {
		return &imagev1.ImageStream{
			Spec: imagev1.ImageStreamSpec{Tags: []imagev1.TagReference{{Name: "latest", ReferencePolicy: imagev1.TagReferencePolicy{Type: policy}}}},
			Status: imagev1.ImageStreamStatus{
				DockerImageRepository: "127.0.0.1:5000/p/busybox",
				Tags: []imagev1.NamedTagEventList{{Tag: "latest", Items: []imagev1.TagEvent{
					{DockerImageReference: "docker.io/library/busybox@sha256:new", Image: "sha256:new"},
					{DockerImageReference: "docker.io/library/busybox@sha256:old", Image: "sha256:old"},
				}}},
			},
		}
	}
	tests := []struct {
		name   string
		stream *imagev1.ImageStream
		tag    string
		want   string
	}{
		{"source policy uses the event reference", stream(imagev1.SourceTagReferencePolicy), "latest", "docker.io/library/busybox@sha256:new"},
		{"local policy pulls through the stream", stream(imagev1.LocalTagReferencePolicy), "latest", "127.0.0.1:5000/p/busybox@sha256:new"},
		{"missing tag", stream(imagev1.SourceTagReferencePolicy), "1.0", ""},
	}
	for _, tt := range tests {
		if got := LatestTaggedImage(tt.stream, tt.tag); got != tt.want {
			t.Errorf("%s: got %q, want %q", tt.name, got, tt.want)
		}
	}
	if got := ImageByDigest(stream(imagev1.SourceTagReferencePolicy), "sha256:old"); got != "docker.io/library/busybox@sha256:old" {
		t.Errorf("ImageByDigest = %q", got)
	}
}

func TestSplitImageStreamTag(t *testing.T) {
	for in, want := range map[string][2]string{"app": {"app", "latest"}, "app:v1": {"app", "v1"}} {
		s, tag, err := SplitImageStreamTag(in)
		if err != nil || s != want[0] || tag != want[1] {
			t.Errorf("SplitImageStreamTag(%q) = %q, %q, %v", in, s, tag, err)
		}
	}
	for _, bad := range []string{"", ":x", "a:", "a:b:c"} {
		if _, _, err := SplitImageStreamTag(bad); err == nil {
			t.Errorf("SplitImageStreamTag(%q) accepted", bad)
		}
	}
}

func TestCredentialMatches(t *testing.T) {
	tests := []struct {
		key, image string
		want       bool
	}{
		{"https://index.docker.io/v1/", "busybox", true},
		{"https://index.docker.io/v1/", "docker.io/veer/mytime:latest", true},
		{"docker.io", "registry-1.docker.io/veer/app", true},
		{"127.0.0.1:5000", "127.0.0.1:5000/p/app:latest", true},
		{"127.0.0.1:5000", "127.0.0.1:5001/p/app:latest", false},
		{"localhost:5000", "127.0.0.1:5000/p/app", false},
		{"reg.example.com/team", "reg.example.com/team/app@sha256:abc", true},
		{"reg.example.com/team", "reg.example.com/teamx/app", false},
		{"http://reg.example.com:8443/", "reg.example.com:8443/a/b:1", true},
		{"quay.io", "busybox", false},
	}
	for _, tt := range tests {
		if got := CredentialMatches(tt.key, tt.image); got != tt.want {
			t.Errorf("CredentialMatches(%q, %q) = %v, want %v", tt.key, tt.image, got, tt.want)
		}
	}
}

func dockercfgSecret(name, registry string) *corev1.Secret {
	auth := base64.StdEncoding.EncodeToString([]byte("u:p"))
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Type:       corev1.SecretTypeDockercfg,
		Data:       map[string][]byte{corev1.DockerConfigKey: []byte(`{"` + registry + `":{"auth":"` + auth + `"}}`)},
	}
}

func configJSONSecret(name, registry string) *corev1.Secret {
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Type:       corev1.SecretTypeDockerConfigJson,
		Data:       map[string][]byte{corev1.DockerConfigJsonKey: []byte(`{"auths":{"` + registry + `":{"auth":"eDp5"}}}`)},
	}
}

func TestMatchingSecret(t *testing.T) {
	internal := dockercfgSecret("builder-dockercfg-abcde", "127.0.0.1:5000")
	hub := configJSONSecret("dockerhub", "https://index.docker.io/v1/")
	ext := configJSONSecret("ext", "reg.test:5443")
	opaque := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "token"}, Type: corev1.SecretTypeServiceAccountToken}
	secrets := []*corev1.Secret{opaque, internal, hub, ext}
	tests := []struct {
		image string
		want  string
	}{
		{"127.0.0.1:5000/p/time:latest", "builder-dockercfg-abcde"},
		{"veer/mytime:latest", "dockerhub"},
		{"reg.test:5443/veer/mytime:latest", "ext"},
		{"quay.io/x/y", ""},
	}
	for _, tt := range tests {
		got := MatchingSecret(tt.image, secrets)
		if (got == nil && tt.want != "") || (got != nil && got.Name != tt.want) {
			t.Errorf("MatchingSecret(%q) = %v, want %q", tt.image, got, tt.want)
		}
	}
	if got := FirstDockerSecret(secrets); got == nil || got.Name != "builder-dockercfg-abcde" {
		t.Errorf("FirstDockerSecret = %v, want the internal registry secret", got)
	}
	sa := &corev1.ServiceAccount{
		Secrets:          []corev1.ObjectReference{{Name: "token"}, {Name: "dockerhub"}},
		ImagePullSecrets: []corev1.LocalObjectReference{{Name: "dockerhub"}, {Name: "builder-dockercfg-abcde"}},
	}
	if got := strings.Join(ServiceAccountSecretNames(sa), ","); got != "dockerhub,builder-dockercfg-abcde,token" {
		t.Errorf("ServiceAccountSecretNames = %s", got)
	}
}

func TestApplyOverrides(t *testing.T) {
	strategy := buildv1.BuildStrategy{DockerStrategy: &buildv1.DockerBuildStrategy{
		Env:       []corev1.EnvVar{{Name: "A", Value: "1"}, {Name: "B", Value: "2"}},
		BuildArgs: []corev1.EnvVar{{Name: "X", Value: "old"}},
	}}
	noCache := true
	req := &buildv1.BuildRequest{
		Env:                   []corev1.EnvVar{{Name: "B", Value: "two"}, {Name: "C", Value: "3"}},
		DockerStrategyOptions: &buildv1.DockerStrategyOptions{BuildArgs: []corev1.EnvVar{{Name: "X", Value: "new"}}, NoCache: &noCache},
	}
	if err := ApplyOverrides(&strategy, req); err != nil {
		t.Fatal(err)
	}
	d := strategy.DockerStrategy
	if got := envString(d.Env); got != "A=1,B=two,C=3" {
		t.Errorf("env = %s", got)
	}
	if got := envString(d.BuildArgs); got != "X=new" || !d.NoCache {
		t.Errorf("buildArgs = %s, noCache = %v", got, d.NoCache)
	}
	incremental := true
	err := ApplyOverrides(&strategy, &buildv1.BuildRequest{SourceStrategyOptions: &buildv1.SourceStrategyOptions{Incremental: &incremental}})
	if err == nil || !strings.Contains(err.Error(), "Source strategy") {
		t.Errorf("incremental on a Docker strategy: err = %v, want a 400", err)
	}
}

func envString(env []corev1.EnvVar) string {
	var parts []string
	for _, e := range env {
		parts = append(parts, e.Name+"="+e.Value)
	}
	return strings.Join(parts, ",")
}
