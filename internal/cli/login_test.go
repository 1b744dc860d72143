package cli

import (
	"encoding/base64"
	"os"
	"strings"
	"testing"
)

// loginInsecure logs developer in to api and returns the cluster nickname.
func loginInsecure(t *testing.T, env *cliEnv, api *fakeAPI) string {
	t.Helper()
	env.mustRun("login", api.server.URL, "--token", api.token, "--insecure-skip-tls-verify")
	cluster, err := clusterNickname(api.server.URL)
	if err != nil {
		t.Fatal(err)
	}
	return cluster
}

func TestLoginWritesKubeconfig(t *testing.T) {
	api := newFakeAPI(t, "default", "myproject")
	env := newCLIEnv(t)
	ca := api.caFile(t)

	out := env.mustRun("login", api.server.URL, "--token", api.token, "--certificate-authority", ca)

	for _, want := range []string{
		`Logged into "` + api.server.URL + `" as "developer" using the token provided.`,
		"You have access to the following projects and can switch between them with 'slipway project <projectname>':\n\n  * default\n    myproject\n\n",
		`Using project "default".`,
		"Welcome! See 'slipway help' to get started.",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("login output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "WARNING") {
		t.Errorf("login with a CA warned about insecure TLS:\n%s", out)
	}

	cluster := strings.ReplaceAll(strings.TrimPrefix(api.server.URL, "https://"), ".", "-")
	config := env.config()
	wantContext := "default/" + cluster + "/developer"
	if config.CurrentContext != wantContext {
		t.Errorf("current-context = %q, want %q", config.CurrentContext, wantContext)
	}
	context := config.Contexts[wantContext]
	if context == nil || context.Cluster != cluster || context.AuthInfo != "developer/"+cluster || context.Namespace != "default" {
		t.Fatalf("context %q = %+v", wantContext, context)
	}
	if c := config.Clusters[cluster]; c == nil || c.Server != api.server.URL || c.CertificateAuthority != ca || c.InsecureSkipTLSVerify {
		t.Errorf("cluster %q = %+v, want server %s and CA %s", cluster, c, api.server.URL, ca)
	}
	if u := config.AuthInfos["developer/"+cluster]; u == nil || u.Token != api.token {
		t.Errorf("user stanza = %+v, want token %q", u, api.token)
	}

	// A second login reuses the saved CA, updates the token in place and
	// keeps the one context.
	api.token = "sha256~rotated"
	out = env.mustRun("login", api.server.URL, "--token", api.token)
	if strings.Contains(out, "Welcome!") {
		t.Errorf("second login greeted as a first one:\n%s", out)
	}
	config = env.config()
	if len(config.Contexts) != 1 || config.AuthInfos["developer/"+cluster].Token != "sha256~rotated" {
		t.Errorf("after second login: contexts %v, user %+v", config.Contexts, config.AuthInfos["developer/"+cluster])
	}

	// Without a token, the saved credentials are used.
	out = env.mustRun("login")
	if !strings.Contains(out, `Logged into "`+api.server.URL+`" as "developer" using existing credentials.`) {
		t.Errorf("login without token:\n%s", out)
	}
}

func TestLoginFailures(t *testing.T) {
	api := newFakeAPI(t, "default")
	tests := []struct {
		name    string
		args    []string
		wantErr string
	}{
		{"bad token", []string{"login", api.server.URL, "--token", "wrong", "--insecure-skip-tls-verify"}, "The token provided is invalid or expired."},
		{"untrusted certificate", []string{"login", api.server.URL, "--token", api.token}, "certificate signed by an unknown authority"},
		{"no server", []string{"login", "--token", api.token}, "A server URL must be specified"},
		{"no token, nothing saved", []string{"login", api.server.URL, "--insecure-skip-tls-verify"}, "log in with --token"},
		{"two servers", []string{"login", api.server.URL, "--server", api.server.URL}, "mutually exclusive"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := newCLIEnv(t)
			_, _, err := env.run(tt.args...)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("error = %v, want it to contain %q", err, tt.wantErr)
			}
			if _, statErr := os.Stat(env.kubeconfig); !os.IsNotExist(statErr) {
				t.Errorf("a failed login wrote %s", env.kubeconfig)
			}
		})
	}
}

func TestLoginInsecureAndNoProjects(t *testing.T) {
	api := newFakeAPI(t)
	api.selfSubjectReviews = false // the user name then comes from the token
	env := newCLIEnv(t)
	out := env.mustRun("login", api.server.URL, "--token", api.token, "--insecure-skip-tls-verify")
	for _, want := range []string{
		"WARNING: Using insecure TLS client config.",
		`as "admin" using the token provided.`,
		"You don't have any projects. You can try to create a new project, by running\n\n    slipway new-project <projectname>",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	cluster, _ := clusterNickname(api.server.URL)
	config := env.config()
	if c := config.Clusters[cluster]; c == nil || !c.InsecureSkipTLSVerify {
		t.Errorf("cluster %q = %+v, want insecure-skip-tls-verify", cluster, c)
	}
	if config.CurrentContext != "/"+cluster+"/admin" {
		t.Errorf("current-context = %q", config.CurrentContext)
	}
}

func TestLogout(t *testing.T) {
	api := newFakeAPI(t, "default")
	env := newCLIEnv(t)
	cluster := loginInsecure(t, env, api)

	out := env.mustRun("logout")
	if want := `Logged "developer" out on "` + api.server.URL + `"` + "\n"; out != want {
		t.Errorf("logout output = %q, want %q", out, want)
	}
	config := env.config()
	user := config.AuthInfos["developer/"+cluster]
	if user == nil || user.Token != "" {
		t.Errorf("user stanza after logout = %+v, want it kept without token", user)
	}
	if _, _, err := env.run("logout"); err == nil || !strings.Contains(err.Error(), "You must have a token in order to logout.") {
		t.Errorf("second logout error = %v", err)
	}
}

func TestWhoAmI(t *testing.T) {
	api := newFakeAPI(t, "default")
	env := newCLIEnv(t)
	cluster := loginInsecure(t, env, api)
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"whoami"}, "developer\n"},
		{[]string{"whoami", "--show-token"}, api.token + "\n"},
		{[]string{"whoami", "-t"}, api.token + "\n"},
		{[]string{"whoami", "--show-server"}, api.server.URL + "\n"},
		{[]string{"whoami", "--show-context"}, "default/" + cluster + "/developer\n"},
	}
	for _, tt := range tests {
		if got := env.mustRun(tt.args...); got != tt.want {
			t.Errorf("%v = %q, want %q", tt.args, got, tt.want)
		}
	}
}

func TestUserFromToken(t *testing.T) {
	jwt := func(payload string) string {
		enc := base64.RawURLEncoding.EncodeToString
		return enc([]byte(`{"alg":"RS256"}`)) + "." + enc([]byte(payload)) + ".c2lnbmF0dXJl"
	}
	tests := []struct {
		token, want string
	}{
		{jwt(`{"sub":"system:serviceaccount:myproject:builder"}`), "system:serviceaccount:myproject:builder"},
		{jwt(`{"sub":"someone"}`), "admin"},
		{"sha256~opaque", "admin"},
		{"a.b.c", "admin"},
		{"", "admin"},
	}
	for _, tt := range tests {
		if got := userFromToken(tt.token); got != tt.want {
			t.Errorf("userFromToken(%q) = %q, want %q", tt.token, got, tt.want)
		}
	}
}
