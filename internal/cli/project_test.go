package cli

import (
	"context"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestProjectSwitch(t *testing.T) {
	ensureProject(t, "myproject", "")
	env := newCLIEnv(t)
	cluster := loginInsecure(t, env)

	if out := env.mustRun("project"); out != `Using project "default" on server "`+api.URL+`".`+"\n" {
		t.Errorf("project = %q", out)
	}
	if out := env.mustRun("project", "myproject"); out != `Now using project "myproject" on server "`+api.URL+`".`+"\n" {
		t.Errorf("project myproject = %q", out)
	}
	config := env.config()
	want := "myproject/" + cluster + "/" + adminUser
	if config.CurrentContext != want {
		t.Fatalf("current-context = %q, want %q", config.CurrentContext, want)
	}
	if c := config.Contexts[want]; c.Namespace != "myproject" || c.AuthInfo != adminUser+"/"+cluster || c.Cluster != cluster {
		t.Errorf("context %q = %+v", want, c)
	}
	if out := env.mustRun("project", "-q"); out != "myproject\n" {
		t.Errorf("project -q = %q", out)
	}
	if out := env.mustRun("project", "myproject"); !strings.HasPrefix(out, `Already on project "myproject"`) {
		t.Errorf("second switch = %q", out)
	}

	// Switching back reuses the context login wrote.
	env.mustRun("project", "default")
	config = env.config()
	if config.CurrentContext != "default/"+cluster+"/"+adminUser || len(config.Contexts) != 2 {
		t.Errorf("after switching back: current %q, contexts %d", config.CurrentContext, len(config.Contexts))
	}

	// A context name is accepted too; oc then names the context.
	if out := env.mustRun("project", want); out != `Now using project "myproject" from context named "`+want+`" on server "`+api.URL+`".`+"\n" {
		t.Errorf("project <context> = %q", out)
	}

	_, _, err := env.run("project", "nope")
	yours := "Your projects are:"
	for _, p := range serverProjects(t) {
		yours += "\n* " + displayName(&p)
	}
	if err == nil || !strings.Contains(err.Error(), `A project named "nope" does not exist on "`+api.URL+`".`) ||
		!strings.Contains(err.Error(), yours) || !strings.Contains(err.Error(), "\n* default\n") || !strings.Contains(err.Error(), "\n* myproject") {
		t.Errorf("project nope error = %v, want it to list\n%s", err, yours)
	}
	if env.config().CurrentContext != want {
		t.Errorf("a failed switch changed the current context to %q", env.config().CurrentContext)
	}
}

func TestProjects(t *testing.T) {
	ensureProject(t, "shown", "My Project")
	env := newCLIEnv(t)
	loginInsecure(t, env)

	want := "You have access to the following projects and can switch between them with 'slipway project <projectname>':\n\n"
	var names string
	for _, p := range serverProjects(t) {
		marker := "    "
		if p.Name == "default" {
			marker = "  * "
		}
		line := p.Name
		if display := p.Annotations[displayNameAnnotation]; display != "" {
			line += " - " + display
		}
		want += marker + line + "\n"
		names += p.Name + "\n"
	}
	want += "\nUsing project \"default\" on server \"" + api.URL + "\".\n"
	out := env.mustRun("projects")
	if out != want {
		t.Errorf("projects =\n%s\nwant\n%s", out, want)
	}
	if !strings.Contains(out, "\n    shown - My Project\n") || !strings.Contains(out, "\n  * default\n") {
		t.Errorf("projects lacks the display name or the current marker:\n%s", out)
	}
	if out := env.mustRun("projects", "-q"); out != names {
		t.Errorf("projects -q = %q, want %q", out, names)
	}
}

func TestNewProject(t *testing.T) {
	env := newCLIEnv(t)
	cluster := loginInsecure(t, env)

	out := env.mustRun("new-project", "demo", "--display-name", "Demo", "--description", "A demo")
	if !strings.HasPrefix(out, `Now using project "demo" on server "`+api.URL+`".`+"\n") ||
		!strings.Contains(out, "You can add applications to this project with the 'new-app' command. For example, try:\n\n    slipway new-app") {
		t.Errorf("new-project output:\n%s", out)
	}
	project, err := api.projects.Projects().Get(context.Background(), "demo", metav1.GetOptions{})
	if err != nil {
		t.Fatalf("the server has no project demo: %v", err)
	}
	if a := project.Annotations; a[displayNameAnnotation] != "Demo" || a["openshift.io/description"] != "A demo" {
		t.Errorf("project annotations = %v", a)
	}
	if got := env.config().CurrentContext; got != "demo/"+cluster+"/"+adminUser {
		t.Errorf("current-context = %q", got)
	}

	out = env.mustRun("new-project", "quiet", "--skip-config-write")
	want := "Project \"quiet\" created on server \"" + api.URL + "\".\n\nTo switch to this project and start adding applications, use:\n\n    slipway project quiet\n"
	if out != want {
		t.Errorf("new-project --skip-config-write =\n%q\nwant\n%q", out, want)
	}
	if _, err := api.projects.Projects().Get(context.Background(), "quiet", metav1.GetOptions{}); err != nil {
		t.Errorf("the server has no project quiet: %v", err)
	}
	if got := env.config().CurrentContext; got != "demo/"+cluster+"/"+adminUser {
		t.Errorf("--skip-config-write changed the context to %q", got)
	}

	if _, _, err := env.run("new-project", "demo"); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("duplicate new-project error = %v", err)
	}
}

func TestKubeconfigNames(t *testing.T) {
	tests := []struct {
		input, server, cluster string
	}{
		{"127.0.0.1:8443", "https://127.0.0.1:8443", "127-0-0-1:8443"},
		{"https://api.example.com/", "https://api.example.com:443", "api-example-com:443"},
		{"http://localhost", "http://localhost:80", "localhost:80"},
		{"https://[::1]:8443", "https://[::1]:8443", "[::1]:8443"},
	}
	for _, tt := range tests {
		server, err := normalizeServerURL(tt.input)
		if err != nil || server != tt.server {
			t.Errorf("normalizeServerURL(%q) = %q, %v; want %q", tt.input, server, err, tt.server)
			continue
		}
		cluster, err := clusterNickname(server)
		if err != nil || cluster != tt.cluster {
			t.Errorf("clusterNickname(%q) = %q, %v; want %q", server, cluster, err, tt.cluster)
		}
	}
	if _, err := normalizeServerURL("https://host:99999"); err == nil {
		t.Error("normalizeServerURL accepted port 99999")
	}
	if got := contextNickname("ns", "127-0-0-1:8443", "admin/127-0-0-1:8443"); got != "ns/127-0-0-1:8443/admin" {
		t.Errorf("contextNickname = %q", got)
	}
}
