package serviceaccount

import (
	"encoding/base64"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestRegistryHosts(t *testing.T) {
	tests := []struct {
		hostname string
		want     []string
	}{
		{"127.0.0.1:5000", []string{"127.0.0.1:5000", "localhost:5000"}},
		{"localhost:5000", []string{"localhost:5000", "127.0.0.1:5000"}},
		{"[::1]:5000", []string{"[::1]:5000", "localhost:5000"}},
		{"registry.example.com:5000", []string{"registry.example.com:5000"}},
		{"registry.example.com", []string{"registry.example.com"}},
		{"", nil},
	}
	for _, tt := range tests {
		if got := RegistryHosts(tt.hostname); !slices.Equal(got, tt.want) {
			t.Errorf("RegistryHosts(%q) = %v, want %v", tt.hostname, got, tt.want)
		}
	}
}

// decodeDockercfg returns host -> user:password from a .dockercfg's auth fields.
func decodeDockercfg(t *testing.T, data []byte) map[string]string {
	t.Helper()
	var cfg map[string]struct {
		Username, Password, Auth string
	}
	if err := json.Unmarshal(data, &cfg); err != nil {
		t.Fatalf(".dockercfg %q: %v", data, err)
	}
	out := map[string]string{}
	for host, entry := range cfg {
		auth, err := base64.StdEncoding.DecodeString(entry.Auth)
		if err != nil {
			t.Fatalf("auth of %s: %v", host, err)
		}
		if string(auth) != entry.Username+":"+entry.Password {
			t.Errorf("auth of %s is %q, username/password %q/%q", host, auth, entry.Username, entry.Password)
		}
		out[host] = string(auth)
	}
	return out
}

func TestNewDockercfgSecret(t *testing.T) {
	sa := testSA("builder", "u1")
	token := testToken("builder-token-aaaaa", "builder", "u1")
	token.Data["token"] = []byte("secret-token")
	secret, err := NewDockercfgSecret(sa, "builder-dockercfg-bbbbb", token, []string{"127.0.0.1:5000", "localhost:5000"})
	if err != nil {
		t.Fatal(err)
	}
	if secret.Type != corev1.SecretTypeDockercfg || secret.Annotations[TokenSecretNameAnnotation] != token.Name ||
		secret.Annotations[corev1.ServiceAccountNameKey] != "builder" || secret.Annotations[corev1.ServiceAccountUIDKey] != "u1" {
		t.Errorf("secret = %+v", secret)
	}
	got := decodeDockercfg(t, secret.Data[corev1.DockerConfigKey])
	want := map[string]string{"127.0.0.1:5000": "serviceaccount:secret-token", "localhost:5000": "serviceaccount:secret-token"}
	if len(got) != len(want) || got["127.0.0.1:5000"] != want["127.0.0.1:5000"] || got["localhost:5000"] != want["localhost:5000"] {
		t.Errorf(".dockercfg credentials = %v, want %v", got, want)
	}
	if !IsDockercfgSecretFor(secret, sa) {
		t.Error("IsDockercfgSecretFor(new secret) = false")
	}
	if IsDockercfgSecretFor(secret, testSA("builder", "u2")) {
		t.Error("a recreated account adopted the old account's pull secret")
	}
}

func TestDockercfgStateFor(t *testing.T) {
	hosts := []string{"127.0.0.1:5000"}
	sa := testSA("builder", "u1")
	token := testToken("builder-token-aaaaa", "builder", "u1")
	current, _ := NewDockercfgSecret(sa, "builder-dockercfg-ccccc", token, hosts)
	oldHosts, _ := NewDockercfgSecret(sa, "builder-dockercfg-aaaaa", token, []string{"127.0.0.1:6000"})
	goneToken := testToken("builder-token-gone0", "builder", "u1")
	oldToken, _ := NewDockercfgSecret(sa, "builder-dockercfg-bbbbb", goneToken, hosts)
	duplicate, _ := NewDockercfgSecret(sa, "builder-dockercfg-ddddd", token, hosts)
	other, _ := NewDockercfgSecret(testSA("default", "u9"), "default-dockercfg-aaaaa", token, hosts)

	state := DockercfgStateFor(sa, []*corev1.Secret{token}, []*corev1.Secret{duplicate, oldToken, other, current, oldHosts}, hosts)
	if state.Current != current {
		t.Errorf("current = %v, want %s", state.Current, current.Name)
	}
	var stale []string
	for _, s := range state.Stale {
		stale = append(stale, s.Name)
	}
	if want := []string{"builder-dockercfg-aaaaa", "builder-dockercfg-bbbbb", "builder-dockercfg-ddddd"}; !slices.Equal(stale, want) {
		t.Errorf("stale = %v, want %v", stale, want)
	}
	if state := DockercfgStateFor(sa, []*corev1.Secret{token}, []*corev1.Secret{oldToken}, hosts); state.Current != nil {
		t.Errorf("a pull secret of a deleted token is current")
	}
}

func TestDockercfgReferences(t *testing.T) {
	tests := []struct {
		name        string
		secrets     []string
		pulls       []string
		keep        string
		wantSecrets []string
		wantPulls   []string
		wantChanged bool
	}{
		{"added to both", []string{"builder-token-a"}, nil, "builder-dockercfg-b", []string{"builder-token-a", "builder-dockercfg-b"}, []string{"builder-dockercfg-b"}, true},
		{"already there", []string{"builder-token-a", "builder-dockercfg-b"}, []string{"mine", "builder-dockercfg-b"}, "builder-dockercfg-b", []string{"builder-token-a", "builder-dockercfg-b"}, []string{"mine", "builder-dockercfg-b"}, false},
		{"old one replaced, user secrets kept", []string{"user", "builder-dockercfg-old"}, []string{"builder-dockercfg-old", "mine"}, "builder-dockercfg-new", []string{"user", "builder-dockercfg-new"}, []string{"mine", "builder-dockercfg-new"}, true},
		{"duplicates dropped", []string{"builder-dockercfg-b", "builder-dockercfg-b"}, []string{"builder-dockercfg-b"}, "builder-dockercfg-b", []string{"builder-dockercfg-b"}, []string{"builder-dockercfg-b"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sa := testSA("builder", "u1", tt.secrets...)
			for _, p := range tt.pulls {
				sa.ImagePullSecrets = append(sa.ImagePullSecrets, corev1.LocalObjectReference{Name: p})
			}
			refs, pulls, changed := DockercfgReferences(sa, sa.Secrets, tt.keep)
			var gotSecrets, gotPulls []string
			for _, r := range refs {
				gotSecrets = append(gotSecrets, r.Name)
			}
			for _, r := range pulls {
				gotPulls = append(gotPulls, r.Name)
			}
			if !slices.Equal(gotSecrets, tt.wantSecrets) || !slices.Equal(gotPulls, tt.wantPulls) || changed != tt.wantChanged {
				t.Errorf("got %v %v %v, want %v %v %v", gotSecrets, gotPulls, changed, tt.wantSecrets, tt.wantPulls, tt.wantChanged)
			}
		})
	}
}

// assertPullSecrets checks that each default account references exactly one
// pull secret, in secrets and imagePullSecrets, carrying its current token
// for hosts, and returns their names.
func (f *fixture) assertPullSecrets(ns string, hosts []string) map[string]string {
	f.t.Helper()
	names := map[string]string{}
	for _, name := range DefaultServiceAccounts {
		sa, err := f.client.CoreV1().ServiceAccounts(ns).Get(f.ctx, name, metav1.GetOptions{})
		if err != nil {
			f.t.Fatal(err)
		}
		var token, pull string
		for _, ref := range sa.Secrets {
			switch {
			case strings.HasPrefix(ref.Name, TokenSecretPrefix(name)):
				token = ref.Name
			case strings.HasPrefix(ref.Name, DockercfgSecretPrefix(name)):
				if pull != "" {
					f.t.Errorf("%s references two pull secrets: %v", name, sa.Secrets)
				}
				pull = ref.Name
			}
		}
		if pull == "" || len(sa.ImagePullSecrets) != 1 || sa.ImagePullSecrets[0].Name != pull {
			f.t.Fatalf("%s: secrets %v imagePullSecrets %v, want one pull secret in both", name, sa.Secrets, sa.ImagePullSecrets)
		}
		tokenSecret, err := f.client.CoreV1().Secrets(ns).Get(f.ctx, token, metav1.GetOptions{})
		if err != nil {
			f.t.Fatal(err)
		}
		pullSecret, err := f.client.CoreV1().Secrets(ns).Get(f.ctx, pull, metav1.GetOptions{})
		if err != nil {
			f.t.Fatalf("pull secret of %s: %v", name, err)
		}
		if pullSecret.Type != corev1.SecretTypeDockercfg {
			f.t.Errorf("pull secret type = %s", pullSecret.Type)
		}
		creds := decodeDockercfg(f.t, pullSecret.Data[corev1.DockerConfigKey])
		if len(creds) != len(hosts) {
			f.t.Errorf("pull secret of %s covers %v, want %v", name, creds, hosts)
		}
		for _, h := range hosts {
			if creds[h] != "serviceaccount:"+string(tokenSecret.Data[TokenKey]) {
				f.t.Errorf("pull secret of %s for %s = %q, want the account's token", name, h, creds[h])
			}
		}
		names[name] = pull
	}
	return names
}

func TestSyncMakesPullSecrets(t *testing.T) {
	hosts := RegistryHosts("127.0.0.1:5000")
	f := newFixtureWith(t, []Option{WithRegistryHosts(hosts)}, activeNS("p"))
	f.settle("p")
	tokens := f.assertTokens("p")
	pulls := f.assertPullSecrets("p", hosts)

	// A second pass over a complete namespace writes nothing.
	writes := f.countWrites()
	f.sync("p")
	if n := f.countWrites() - writes; n != 0 {
		t.Errorf("sync of a complete namespace made %d writes", n)
	}

	// A replaced token gets a new pull secret; the old one goes.
	if err := f.client.CoreV1().Secrets("p").Delete(f.ctx, tokens["builder"], metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	f.settle("p")
	after := f.assertPullSecrets("p", hosts)
	if after["builder"] == pulls["builder"] {
		t.Error("builder kept the pull secret of its deleted token")
	}
	if _, err := f.client.CoreV1().Secrets("p").Get(f.ctx, pulls["builder"], metav1.GetOptions{}); err == nil {
		t.Errorf("stale pull secret %s still exists", pulls["builder"])
	}
	if after["default"] != pulls["default"] {
		t.Errorf("default's pull secret changed: %s -> %s", pulls["default"], after["default"])
	}

	// A deleted account's pull secret goes with its token.
	if err := f.client.CoreV1().ServiceAccounts("p").Delete(f.ctx, "deployer", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	f.settle("p")
	f.assertPullSecrets("p", hosts)
	if _, err := f.client.CoreV1().Secrets("p").Get(f.ctx, after["deployer"], metav1.GetOptions{}); err == nil {
		t.Errorf("pull secret %s of the deleted account still exists", after["deployer"])
	}
	secrets, _ := f.client.CoreV1().Secrets("p").List(f.ctx, metav1.ListOptions{})
	if len(secrets.Items) != 6 {
		t.Errorf("%d secrets, want 3 tokens and 3 pull secrets", len(secrets.Items))
	}
}

func TestPullSecretsFollowRegistryHosts(t *testing.T) {
	f := newFixtureWith(t, []Option{WithRegistryHosts([]string{"127.0.0.1:5000"})}, activeNS("p"))
	f.settle("p")
	before := f.assertPullSecrets("p", []string{"127.0.0.1:5000"})

	// The registry moved: a controller configured for the new address
	// replaces every pull secret.
	f.c.registryHosts = []string{"127.0.0.1:6000"}
	f.settle("p")
	after := f.assertPullSecrets("p", []string{"127.0.0.1:6000"})
	for name := range before {
		if before[name] == after[name] {
			t.Errorf("%s kept its pull secret for the old registry address", name)
		}
	}
}

// assertTokens is assertComplete for namespaces with pull secrets: each
// default account references one token secret of its own; it returns their
// names.
func (f *fixture) assertTokens(ns string) map[string]string {
	f.t.Helper()
	tokens := map[string]string{}
	for _, name := range DefaultServiceAccounts {
		sa, err := f.client.CoreV1().ServiceAccounts(ns).Get(f.ctx, name, metav1.GetOptions{})
		if err != nil {
			f.t.Fatal(err)
		}
		for _, ref := range sa.Secrets {
			if strings.HasPrefix(ref.Name, TokenSecretPrefix(name)) {
				if tokens[name] != "" {
					f.t.Errorf("%s references two tokens: %v", name, sa.Secrets)
				}
				tokens[name] = ref.Name
			}
		}
		if tokens[name] == "" {
			f.t.Fatalf("%s references no token: %v", name, sa.Secrets)
		}
	}
	return tokens
}
