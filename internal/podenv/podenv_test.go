package podenv

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestClientConfig(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "token"), []byte("abc\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{EnvServiceHost: "127.0.0.1", EnvServiceAccountDir: dir}
	cfg, err := ClientConfig(func(k string) string { return env[k] }, "slipway-test")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Host != "https://127.0.0.1:443" || cfg.BearerToken != "abc" || cfg.CAFile != filepath.Join(dir, "ca.crt") || cfg.UserAgent != "slipway-test" {
		t.Errorf("config = %+v", cfg)
	}
	env[EnvServicePort] = "8443"
	if cfg, _ := ClientConfig(func(k string) string { return env[k] }, ""); cfg.Host != "https://127.0.0.1:8443" {
		t.Errorf("host %s", cfg.Host)
	}
	for _, missing := range []string{EnvServiceHost, EnvServiceAccountDir} {
		partial := map[string]string{EnvServiceHost: "h", EnvServiceAccountDir: dir}
		delete(partial, missing)
		if _, err := ClientConfig(func(k string) string { return partial[k] }, ""); err == nil || !strings.Contains(err.Error(), missing) {
			t.Errorf("without %s: err = %v", missing, err)
		}
	}
	env[EnvServiceAccountDir] = filepath.Join(dir, "missing")
	if _, err := ClientConfig(func(k string) string { return env[k] }, ""); err == nil {
		t.Error("missing token: no error")
	}
}

func TestWriteTerminationMessage(t *testing.T) {
	path := filepath.Join(t.TempDir(), "termination-log")
	WriteTerminationMessage(path, "pulling image:\n  unauthorized\tretry later")
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if want := "pulling image: unauthorized retry later\n"; string(got) != want {
		t.Errorf("termination message %q, want %q", got, want)
	}
	WriteTerminationMessage("", "no file") // nothing to write to: no panic, no file
}
