package cli

import (
	"regexp"
	"strings"
	"testing"
)

func TestHelpListsEveryVerb(t *testing.T) {
	env := newCLIEnv(t)
	out := env.mustRun("--help")
	for _, verb := range []string{
		"login", "logout", "whoami", "version", "new-project", "project", "projects", "secrets",
		"get", "describe", "create", "apply", "replace", "edit", "delete", "patch", "label", "annotate",
		"explain", "api-resources", "api-versions", "config", "completion", "wait",
	} {
		if !regexp.MustCompile(`(?m)^\s+` + regexp.QuoteMeta(verb) + `\s{2,}\S`).MatchString(out) {
			t.Errorf("slipway --help does not list %q:\n%s", verb, out)
		}
	}
	for _, flag := range []string{"--kubeconfig", "--context", "--namespace", "--server", "--token", "--insecure-skip-tls-verify", "--certificate-authority"} {
		if !strings.Contains(env.mustRun("options"), flag) {
			t.Errorf("global flag %s missing from 'slipway options'", flag)
		}
	}
}

func TestSecretsHelpListsSubcommands(t *testing.T) {
	env := newCLIEnv(t)
	out := env.mustRun("secrets", "--help")
	for _, sub := range []string{"new", "new-dockercfg", "link", "unlink"} {
		if !regexp.MustCompile(`(?m)^\s+` + regexp.QuoteMeta(sub) + `\s{2,}\S`).MatchString(out) {
			t.Errorf("slipway secrets --help does not list %q:\n%s", sub, out)
		}
	}
}

func TestExamplesNameSlipway(t *testing.T) {
	env := newCLIEnv(t)
	out := env.mustRun("get", "--help")
	if strings.Contains(out, "kubectl get") || !strings.Contains(out, "slipway get pods") {
		t.Errorf("get examples not renamed:\n%s", out)
	}
}

func TestVersion(t *testing.T) {
	env := newCLIEnv(t)
	loginInsecure(t, env)
	server, err := api.kube.Discovery().ServerVersion()
	if err != nil {
		t.Fatal(err)
	}
	out := env.mustRun("version")
	if !regexp.MustCompile(`^Client Version: v\S+\nServer Version: ` + regexp.QuoteMeta(server.GitVersion) + `\n$`).MatchString(out) {
		t.Errorf("version = %q, want the server's %q", out, server.GitVersion)
	}
	if out := env.mustRun("version", "--client", "-o", "json"); !strings.Contains(out, `"clientVersion"`) || strings.Contains(out, "serverVersion") {
		t.Errorf("version --client -o json = %q", out)
	}
}
