package e2e

import (
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestWalkthroughWithoutBuilds walks the non-build steps of the seeds'
// walkthroughs with `slipway` in place of `oc`.
func TestWalkthroughWithoutBuilds(t *testing.T) {
	s := startServer(t)
	c := s.newCLI()

	// A fresh kubeconfig: log in with the admin token like a user would.
	os.Remove(c.kubeconfig)
	out := c.run("login", s.url(), "--token", s.adminToken(), "--insecure-skip-tls-verify")
	if !strings.Contains(out, `Logged into "`+s.url()+`"`) {
		t.Fatalf("login output: %s", out)
	}
	if who := strings.TrimSpace(c.run("whoami")); who != "system:admin" {
		t.Fatalf("whoami = %q", who)
	}

	out = c.run("new-project", "ext-image-push", "--display-name", "External push", "--description", "seed walkthrough")
	if !strings.Contains(out, `Now using project "ext-image-push" on server "`+s.url()+`"`) {
		t.Fatalf("new-project output: %s", out)
	}
	if out := c.run("project"); !strings.Contains(out, `Using project "ext-image-push"`) {
		t.Fatalf("project output: %s", out)
	}
	if out := c.run("get", "projects"); !regexp.MustCompile(`ext-image-push\s+External push\s+Active`).MatchString(out) {
		t.Fatalf("get projects:\n%s", out)
	}

	// The project controller gives every project its service accounts and
	// tokens. (Kubernetes' table of service accounts no longer has the
	// seed's SECRETS column: count them in the objects.)
	eventually(t, 30*time.Second, func() error {
		for _, sa := range []string{"builder", "default", "deployer"} {
			out, _, err := c.exec(nil, "get", "sa", sa, "-o", "jsonpath={.secrets[*].name}")
			if err != nil {
				return err
			}
			// A token secret and a dockercfg secret for the internal registry, as the seed shows.
			if names := strings.Fields(out); len(names) != 2 {
				return errorf("service account %s has secrets %q, want a token and a dockercfg", sa, out)
			}
		}
		return nil
	})

	// oc 3's `secrets new` from a docker config.json.
	home := t.TempDir()
	dockerConfig := filepath.Join(home, "config.json")
	auth := base64.StdEncoding.EncodeToString([]byte("veer:s3cret-pass"))
	writeFile(t, dockerConfig, `{"auths":{"https://index.docker.io/v1/":{"auth":"`+auth+`","email":"user@example.com"}}}`)
	if out := c.run("secrets", "new", "dockerhub", dockerConfig); !strings.Contains(out, "secret/dockerhub") {
		t.Fatalf("secrets new: %s", out)
	}
	if out := c.run("create", "secret", "docker-registry", "dockerhub2", "--docker-server=localhost:5001", "--docker-username=u", "--docker-password=p", "--docker-email=e@x"); !strings.Contains(out, "secret/dockerhub2 created") {
		t.Fatalf("create secret docker-registry: %s", out)
	}
	if out := c.run("secrets", "new-dockercfg", "dockerhub3", "--docker-server=registry.example.com", "--docker-username=u3", "--docker-password=p3", "--docker-email=e3@x"); !strings.Contains(out, "secret/dockerhub3") {
		t.Fatalf("secrets new-dockercfg: %s", out)
	}
	out = c.run("get", "secrets")
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`(?m)^NAME\s+TYPE\s+DATA\s+AGE`),
		regexp.MustCompile(`(?m)^dockerhub\s+Opaque\s+1\s`),
		regexp.MustCompile(`(?m)^dockerhub2\s+kubernetes.io/dockerconfigjson\s+1\s`),
		regexp.MustCompile(`(?m)^dockerhub3\s+kubernetes.io/dockercfg\s+1\s`),
		regexp.MustCompile(`(?m)^builder-token-[a-z0-9]{5}\s+kubernetes.io/service-account-token\s+3\s`),
		regexp.MustCompile(`(?m)^deployer-token-[a-z0-9]{5}\s+kubernetes.io/service-account-token\s+3\s`),
		regexp.MustCompile(`(?m)^builder-dockercfg-[a-z0-9]{5}\s+kubernetes.io/dockercfg\s+1\s`),
	} {
		if !want.MatchString(out) {
			t.Errorf("get secrets lacks %s:\n%s", want, out)
		}
	}
	raw := c.run("get", "secret", "dockerhub3", "-o", "jsonpath={.data.\\.dockercfg}")
	decoded, err := base64.StdEncoding.DecodeString(raw)
	if err != nil {
		t.Fatalf("dockercfg data %q: %v", raw, err)
	}
	var dockercfg map[string]map[string]string
	if err := json.Unmarshal(decoded, &dockercfg); err != nil || dockercfg["registry.example.com"]["username"] != "u3" {
		t.Fatalf("dockercfg content %s: %v", decoded, err)
	}

	c.run("secrets", "link", "builder", "dockerhub", "--for=pull,mount")
	out = c.run("get", "sa", "builder", "-o", "json")
	var sa struct {
		Secrets          []struct{ Name string } `json:"secrets"`
		ImagePullSecrets []struct{ Name string } `json:"imagePullSecrets"`
	}
	mustJSON(t, out, &sa)
	if !hasName(sa.Secrets, "dockerhub") || !hasName(sa.ImagePullSecrets, "dockerhub") {
		t.Fatalf("secrets link did not link for pull and mount: %s", out)
	}

	// `edit sa builder`: the first save (the new secret and an invalid
	// label) is refused with Kubernetes' 422, the editor sees the error at
	// the top of the re-opened file and fixes it.
	editor := filepath.Join(home, "editor.sh")
	writeFile(t, editor, `#!/bin/sh
f="$1"
if grep -q '^# .*Invalid value' "$f"; then
  sed -i '/not a valid key/d; /^  labels:$/d' "$f"
else
  awk '{print} /^secrets:$/ {print "- name: dockerhub3"} /^metadata:$/ {print "  labels:"; print "    \"not a valid key\": x"}' "$f" > "$f.new" && mv "$f.new" "$f"
fi
`)
	os.Chmod(editor, 0o755)
	c.env = []string{"EDITOR=" + editor, "KUBE_EDITOR=" + editor}
	out = c.run("edit", "sa", "builder")
	c.env = nil
	if !strings.Contains(out, "serviceaccount/builder edited") {
		t.Fatalf("edit output: %s", out)
	}
	mustJSON(t, c.run("get", "sa", "builder", "-o", "json"), &sa)
	if !hasName(sa.Secrets, "dockerhub3") {
		t.Fatalf("edit did not add dockerhub3: %+v", sa.Secrets)
	}

	replace := []string{"REGISTRY", "localhost:5001", "GIT_URI", "https://git.example.com/veer/time.git"}
	out = c.run("create", "-f", fixture(t, "buildconfig.yaml", replace...), "-f", fixture(t, "imagestream.yaml", replace...), "-f", fixture(t, "dc.yaml", replace...))
	for _, want := range []string{"buildconfig.build.openshift.io/time created", "imagestream.image.openshift.io/mytime created", "deploymentconfig.apps.openshift.io/mytime created"} {
		if !strings.Contains(out, want) {
			t.Errorf("create -f output lacks %q:\n%s", want, out)
		}
	}
	out = c.run("get", "bc,is,dc", "-o", "wide")
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`NAME\s+TYPE\s+FROM\s+LATEST`),
		// LATEST is 1 once the ConfigChange trigger has started time-1.
		regexp.MustCompile(`buildconfig.build.openshift.io/time\s+Docker\s+Git@main\s+[01]`),
		regexp.MustCompile(`NAME\s+IMAGE REPOSITORY\s+TAGS\s+UPDATED`),
		regexp.MustCompile(`imagestream.image.openshift.io/mytime`),
		regexp.MustCompile(`NAME\s+REVISION\s+DESIRED\s+CURRENT\s+TRIGGERED BY`),
		regexp.MustCompile(`deploymentconfig.apps.openshift.io/mytime\s+0\s+1\s+0\s+config,image\(mytime:latest\)`),
	} {
		if !want.MatchString(out) {
			t.Errorf("get bc,is,dc -o wide lacks %s:\n%s", want, out)
		}
	}
	out = c.run("get", "bc", "time", "-o", "yaml")
	for _, want := range []string{"runPolicy: Serial", "successfulBuildsHistoryLimit: 5", "failedBuildsHistoryLimit: 5", "uri: https://git.example.com/veer/time.git"} {
		if !strings.Contains(out, want) {
			t.Errorf("get bc time -o yaml lacks %q:\n%s", want, out)
		}
	}
	if out := c.run("describe", "bc", "time"); !strings.Contains(out, "time") || !strings.Contains(out, "localhost:5001/veer/mytime:latest") {
		t.Errorf("describe bc time:\n%s", out)
	}
	out = c.run("get", "dc", "mytime", "-o", "yaml")
	for _, want := range []string{"revisionHistoryLimit: 10", "type: Rolling", "timeoutSeconds: 600"} {
		if !strings.Contains(out, want) {
			t.Errorf("dc defaults: lacks %q:\n%s", want, out)
		}
	}

	out = c.run("patch", "bc", "time", "-p", `{"spec":{"output":{"to":{"kind":"DockerImage","name":"example.com/me/x:latest"}}}}`)
	if !strings.Contains(out, "buildconfig.build.openshift.io/time patched") {
		t.Fatalf("patch: %s", out)
	}
	if got := c.run("get", "bc", "time", "-o", "jsonpath={.spec.output.to.name}"); got != "example.com/me/x:latest" {
		t.Fatalf("patched output = %q", got)
	}
	c.run("label", "bc", "time", "tier=backend")
	c.run("annotate", "bc", "time", "note=seed")
	if got := c.run("get", "bc", "-l", "tier=backend", "-o", "name"); strings.TrimSpace(got) != "buildconfig.build.openshift.io/time" {
		t.Fatalf("label selector: %q", got)
	}

	out = c.run("delete", "project", "ext-image-push")
	if !strings.Contains(out, "ext-image-push") {
		t.Fatalf("delete project: %s", out)
	}
	// The namespace controller empties the project, then it disappears.
	eventually(t, 60*time.Second, func() error {
		_, errOut, err := c.exec(nil, "get", "project", "ext-image-push")
		if err == nil {
			return errorf("project still exists")
		}
		if !strings.Contains(errOut, "not found") {
			return errorf("get project: %s", errOut)
		}
		return nil
	})
	if out, _, _ := c.exec(nil, "get", "bc", "-A", "-o", "name"); strings.Contains(out, "time") {
		t.Fatalf("build config survived its project: %s", out)
	}
}
