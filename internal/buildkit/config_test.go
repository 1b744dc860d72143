package buildkit

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRenderConfig(t *testing.T) {
	dir := t.TempDir()
	ca := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(ca, []byte("pem"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		cfg       Config
		want      []string
		notWant   []string
		globalCAs int
		wantErr   bool
	}{
		{
			name:    "nothing named: loopback left to buildkitd's plain-HTTP default",
			cfg:     Config{},
			notWant: []string{"[registry."},
		},
		{
			name: "internal registry speaks plain HTTP",
			cfg:  Config{PlainHTTPRegistries: []string{"127.0.0.1:5000"}},
			want: []string{"[registry.\"127.0.0.1:5000\"]\n  http = true\n"},
		},
		{
			name: "insecure registry: skip verify, fall back to HTTP",
			cfg:  Config{InsecureRegistries: []string{"reg.example:5000"}},
			want: []string{"[registry.\"reg.example:5000\"]\n  http = true\n  insecure = true\n"},
		},
		{
			name:    "CA for one loopback host forces TLS there",
			cfg:     Config{RegistryCAs: []string{"127.0.0.1:4443=" + ca}},
			want:    []string{"[registry.\"127.0.0.1:4443\"]\n  http = false\n  ca = [\"" + ca + "\"]\n"},
			notWant: []string{"insecure"},
		},
		{
			name:      "global CA goes to SSL_CERT_DIR, not the toml",
			cfg:       Config{RegistryCAs: []string{ca}},
			notWant:   []string{"[registry."},
			globalCAs: 1,
		},
		{
			name:    "missing CA file",
			cfg:     Config{RegistryCAs: []string{filepath.Join(dir, "nope.pem")}},
			wantErr: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			toml, global, err := renderConfig(tt.cfg)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			for _, w := range tt.want {
				if !strings.Contains(toml, w) {
					t.Errorf("config lacks %q:\n%s", w, toml)
				}
			}
			for _, w := range tt.notWant {
				if strings.Contains(toml, w) {
					t.Errorf("config has %q:\n%s", w, toml)
				}
			}
			if len(global) != tt.globalCAs {
				t.Errorf("global CAs = %v, want %d", global, tt.globalCAs)
			}
		})
	}
}

func TestTrustEnv(t *testing.T) {
	root := t.TempDir()
	ca := filepath.Join(root, "in.pem")
	os.WriteFile(ca, []byte("-----BEGIN CERTIFICATE-----\n"), 0o644)
	t.Setenv("SSL_CERT_DIR", "/custom/certs")
	env, err := trustEnv(root, []string{ca})
	if err != nil {
		t.Fatal(err)
	}
	var got string
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "SSL_CERT_DIR="); ok {
			if got != "" {
				t.Fatal("SSL_CERT_DIR set twice")
			}
			got = v
		}
	}
	want := "/custom/certs:" + filepath.Join(root, "certs")
	if got != want {
		t.Fatalf("SSL_CERT_DIR = %q, want %q", got, want)
	}
	if _, err := os.Stat(filepath.Join(root, "certs", "registry-ca-0.pem")); err != nil {
		t.Fatal(err)
	}
}
