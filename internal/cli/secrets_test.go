package cli

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestSecretFromFiles(t *testing.T) {
	dir := t.TempDir()
	write := func(rel, content string) string {
		path := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	key := write("keys/ssh-privatekey", "PRIVATE")
	pub := write("keys/id_rsa.pub", "PUBLIC")
	write("keys/nested/ignored", "x")
	dockercfg := write(".dockercfg", `{"r":{}}`)
	configJSON := write("docker/config.json", `{"auths":{}}`)

	tests := []struct {
		name     string
		typ      corev1.SecretType
		sources  []string
		wantType corev1.SecretType
		wantData map[string]string
		wantWarn string
		wantErr  string
	}{
		{name: "file basename", sources: []string{key}, wantType: corev1.SecretTypeOpaque,
			wantData: map[string]string{"ssh-privatekey": "PRIVATE"}},
		{name: "key=file", sources: []string{"ssh-publickey=" + pub, key}, wantType: corev1.SecretTypeOpaque,
			wantData: map[string]string{"ssh-publickey": "PUBLIC", "ssh-privatekey": "PRIVATE"}},
		{name: "directory adds regular files", sources: []string{filepath.Join(dir, "keys")}, wantType: corev1.SecretTypeOpaque,
			wantData: map[string]string{"ssh-privatekey": "PRIVATE", "id_rsa.pub": "PUBLIC"}, wantWarn: "Skipping resource " + filepath.Join(dir, "keys", "nested")},
		{name: "dockercfg detected", sources: []string{dockercfg}, wantType: corev1.SecretTypeDockercfg,
			wantData: map[string]string{".dockercfg": `{"r":{}}`}},
		{name: "dockerconfigjson detected", sources: []string{".dockerconfigjson=" + configJSON}, wantType: corev1.SecretTypeDockerConfigJson,
			wantData: map[string]string{".dockerconfigjson": `{"auths":{}}`}},
		{name: "docker key among others stays opaque", sources: []string{dockercfg, key}, wantType: corev1.SecretTypeOpaque,
			wantData: map[string]string{".dockercfg": `{"r":{}}`, "ssh-privatekey": "PRIVATE"}},
		{name: "explicit type", typ: corev1.SecretTypeSSHAuth, sources: []string{key}, wantType: corev1.SecretTypeSSHAuth,
			wantData: map[string]string{"ssh-privatekey": "PRIVATE"}},
		{name: "duplicate key", sources: []string{key, "ssh-privatekey=" + pub}, wantErr: "another key by that name already exists"},
		{name: "missing file", sources: []string{filepath.Join(dir, "nope")}, wantErr: "error reading"},
		{name: "key for a directory", sources: []string{"k=" + filepath.Join(dir, "keys")}, wantErr: "cannot give a key name for a directory"},
		{name: "invalid key", sources: []string{"bad/key=" + key}, wantErr: "not a valid key name"},
		{name: "empty key", sources: []string{"=" + key}, wantErr: "key name for file path"},
		{name: "two equals", sources: []string{"a=b=" + key}, wantErr: "cannot contain '='"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var warnings bytes.Buffer
			secret, err := secretFromFiles("my-secret", tt.typ, tt.sources, &warnings)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]string{}
			for k, v := range secret.Data {
				got[k] = string(v)
			}
			if secret.Name != "my-secret" || secret.Type != tt.wantType || !reflect.DeepEqual(got, tt.wantData) {
				t.Errorf("secret = %s %s %v, want type %s data %v", secret.Name, secret.Type, got, tt.wantType, tt.wantData)
			}
			if !strings.Contains(warnings.String(), tt.wantWarn) {
				t.Errorf("warnings = %q, want %q", warnings.String(), tt.wantWarn)
			}
		})
	}
}

func TestDockercfgSecret(t *testing.T) {
	o := &dockercfgOptions{server: "quay.io", username: "me", password: "s3cret", email: "me@example.com"}
	secret, err := o.secret("quay")
	if err != nil {
		t.Fatal(err)
	}
	if secret.Name != "quay" || secret.Type != corev1.SecretTypeDockercfg || len(secret.Data) != 1 {
		t.Fatalf("secret = %+v", secret)
	}
	var cfg map[string]map[string]string
	if err := json.Unmarshal(secret.Data[".dockercfg"], &cfg); err != nil {
		t.Fatalf(".dockercfg is not JSON: %v", err)
	}
	want := map[string]map[string]string{"quay.io": {
		"username": "me", "password": "s3cret", "email": "me@example.com",
		"auth": base64.StdEncoding.EncodeToString([]byte("me:s3cret")),
	}}
	if !reflect.DeepEqual(cfg, want) {
		t.Errorf(".dockercfg = %v, want %v", cfg, want)
	}

	for _, bad := range []dockercfgOptions{
		{server: "r", password: "p"},
		{server: "r", username: "u"},
		{username: "u", password: "p"},
		{server: "r", username: "u:x", password: "p"},
	} {
		if _, err := bad.secret("x"); err == nil {
			t.Errorf("%+v: no error", bad)
		}
	}
}

func names[T any](refs []T, name func(T) string) []string {
	out := []string{}
	for _, r := range refs {
		out = append(out, name(r))
	}
	return out
}

func mountNames(sa *corev1.ServiceAccount) []string {
	return names(sa.Secrets, func(r corev1.ObjectReference) string { return r.Name })
}

func pullNames(sa *corev1.ServiceAccount) []string {
	return names(sa.ImagePullSecrets, func(r corev1.LocalObjectReference) string { return r.Name })
}

func TestLinkAndUnlinkSecrets(t *testing.T) {
	start := func() *corev1.ServiceAccount {
		return &corev1.ServiceAccount{
			Secrets:          []corev1.ObjectReference{{Name: "builder-token"}, {Name: "builder-dockercfg"}},
			ImagePullSecrets: []corev1.LocalObjectReference{{Name: "builder-dockercfg"}},
		}
	}
	tests := []struct {
		name                string
		link                []string
		forPull, forMount   bool
		unlink              []string
		wantChanged         bool
		wantMount, wantPull []string
	}{
		{name: "mount", link: []string{"push"}, forMount: true, wantChanged: true,
			wantMount: []string{"builder-token", "builder-dockercfg", "push"}, wantPull: []string{"builder-dockercfg"}},
		{name: "pull", link: []string{"push"}, forPull: true, wantChanged: true,
			wantMount: []string{"builder-token", "builder-dockercfg"}, wantPull: []string{"builder-dockercfg", "push"}},
		{name: "both, no duplicates", link: []string{"push", "builder-dockercfg", "push"}, forPull: true, forMount: true, wantChanged: true,
			wantMount: []string{"builder-token", "builder-dockercfg", "push"}, wantPull: []string{"builder-dockercfg", "push"}},
		{name: "already linked", link: []string{"builder-dockercfg"}, forPull: true, forMount: true,
			wantMount: []string{"builder-token", "builder-dockercfg"}, wantPull: []string{"builder-dockercfg"}},
		{name: "unlink removes from both", unlink: []string{"builder-dockercfg"}, wantChanged: true,
			wantMount: []string{"builder-token"}, wantPull: []string{}},
		{name: "unlink unknown", unlink: []string{"nope"},
			wantMount: []string{"builder-token", "builder-dockercfg"}, wantPull: []string{"builder-dockercfg"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sa := start()
			var changed bool
			if tt.unlink != nil {
				changed = unlinkSecrets(sa, tt.unlink)
			} else {
				changed = linkSecrets(sa, tt.link, tt.forPull, tt.forMount)
			}
			if changed != tt.wantChanged {
				t.Errorf("changed = %v, want %v", changed, tt.wantChanged)
			}
			if got := mountNames(sa); !slices.Equal(got, tt.wantMount) {
				t.Errorf("secrets = %v, want %v", got, tt.wantMount)
			}
			if got := pullNames(sa); !slices.Equal(got, tt.wantPull) {
				t.Errorf("imagePullSecrets = %v, want %v", got, tt.wantPull)
			}
		})
	}
}

func TestParseLinkUses(t *testing.T) {
	tests := []struct {
		uses            []string
		pull, mount, ok bool
	}{
		{nil, false, true, true},
		{[]string{"pull"}, true, false, true},
		{[]string{"pull", "MOUNT"}, true, true, true},
		{[]string{"push"}, false, false, false},
	}
	for _, tt := range tests {
		pull, mount, err := parseLinkUses(tt.uses)
		if (err == nil) != tt.ok || pull != tt.pull || mount != tt.mount {
			t.Errorf("parseLinkUses(%v) = %v, %v, %v", tt.uses, pull, mount, err)
		}
	}
}

func TestSecretsCommands(t *testing.T) {
	const ns = "secrets-project"
	ctx := context.Background()
	ensureProject(t, ns, "")
	// No service account controller runs here: make the account.
	if _, err := api.kube.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "builder"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	secret := func(name string) *corev1.Secret {
		t.Helper()
		s, err := api.kube.CoreV1().Secrets(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Errorf("secret %s: %v", name, err)
			return nil
		}
		return s
	}
	serviceAccount := func() *corev1.ServiceAccount {
		t.Helper()
		sa, err := api.kube.CoreV1().ServiceAccounts(ns).Get(ctx, "builder", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return sa
	}
	env := newCLIEnv(t)
	loginInsecure(t, env)
	env.mustRun("project", ns)

	file := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(file, []byte("abc"), 0o600); err != nil {
		t.Fatal(err)
	}
	if out := env.mustRun("secrets", "new", "files", file); out != "secret/files\n" {
		t.Errorf("secrets new = %q", out)
	}
	if s := secret("files"); s == nil || string(s.Data["token"]) != "abc" || s.Type != corev1.SecretTypeOpaque {
		t.Errorf("stored secret = %+v", s)
	}

	out := env.mustRun("secrets", "new-dockercfg", "push", "--docker-server=quay.io", "--docker-username=u", "--docker-password=p")
	if out != "secret/push\n" {
		t.Errorf("secrets new-dockercfg = %q", out)
	}
	if s := secret("push"); s == nil || s.Type != corev1.SecretTypeDockercfg || !strings.Contains(string(s.Data[".dockercfg"]), `"quay.io"`) {
		t.Errorf("stored dockercfg secret = %+v", s)
	}

	// A secret that does not exist fails the link, and nothing changes.
	_, _, err := env.run("secrets", "link", "builder", "push", "nope")
	if err == nil || !strings.Contains(err.Error(), `secrets "nope" not found`) {
		t.Errorf("link of a missing secret: error = %v", err)
	}
	if sa := serviceAccount(); len(sa.Secrets)+len(sa.ImagePullSecrets) != 0 {
		t.Errorf("failed link changed the service account: %+v", sa)
	}

	env.mustRun("secrets", "link", "serviceaccount/builder", "secret/push", "--for=pull,mount")
	env.mustRun("secrets", "link", "builder", "files")
	sa := serviceAccount()
	if got := mountNames(sa); !slices.Equal(got, []string{"push", "files"}) {
		t.Errorf("secrets after link = %v", got)
	}
	if got := pullNames(sa); !slices.Equal(got, []string{"push"}) {
		t.Errorf("imagePullSecrets after link = %v", got)
	}

	if out := env.mustRun("secrets", "unlink", "builder", "push"); out != "serviceaccount/builder updated\n" {
		t.Errorf("unlink output = %q", out)
	}
	sa = serviceAccount()
	if got := mountNames(sa); !slices.Equal(got, []string{"files"}) || len(sa.ImagePullSecrets) != 0 {
		t.Errorf("after unlink: secrets %v, imagePullSecrets %v", got, pullNames(sa))
	}
	if _, _, err := env.run("secrets", "unlink", "builder", "push"); err == nil || !strings.Contains(err.Error(), "not linked") {
		t.Errorf("second unlink error = %v", err)
	}

	// kubectl's create secret docker-registry makes the newer kind.
	out = env.mustRun("create", "secret", "docker-registry", "dockerhub", "--docker-server=docker.io", "--docker-username=u", "--docker-password=p")
	if out != "secret/dockerhub created\n" {
		t.Errorf("create secret docker-registry = %q", out)
	}
	s := secret("dockerhub")
	if s == nil || s.Type != corev1.SecretTypeDockerConfigJson || !slices.Equal(slices.Sorted(maps.Keys(s.Data)), []string{".dockerconfigjson"}) {
		t.Errorf("docker-registry secret = %+v", s)
	}
}
