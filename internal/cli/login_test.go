package cli

import (
	"encoding/base64"
	"os"
	"strings"
	"testing"
)

// loginInsecure logs the admin in to the real server and returns the
// cluster nickname.
func loginInsecure(t *testing.T, env *cliEnv) string {
	t.Helper()
	env.mustRun("login", api.URL, "--token", api.AdminToken, "--insecure-skip-tls-verify")
	cluster, err := clusterNickname(api.URL)
	if err != nil {
		t.Fatal(err)
	}
	return cluster
}

// projectListing is what login prints for these projects with current
// marked.
func projectListing(names []string, current string) string {
	out := "You have access to the following projects and can switch between them with 'slipway project <projectname>':\n\n"
	for _, name := range names {
		marker := "    "
		if name == current {
			marker = "  * "
		}
		out += marker + name + "\n"
	}
	return out + "\n"
}

func TestLoginWritesKubeconfig(t *testing.T) {
	ensureProject(t, "myproject", "")
	env := newCLIEnv(t)

	out := env.mustRun("login", api.URL, "--token", api.AdminToken, "--certificate-authority", api.caFile)

	for _, want := range []string{
		`Logged into "` + api.URL + `" as "` + adminUser + `" using the token provided.`,
		projectListing(serverProjectNames(t), "default"),
		"    myproject\n",
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

	cluster := strings.ReplaceAll(strings.TrimPrefix(api.URL, "https://"), ".", "-")
	config := env.config()
	wantContext := "default/" + cluster + "/" + adminUser
	if config.CurrentContext != wantContext {
		t.Errorf("current-context = %q, want %q", config.CurrentContext, wantContext)
	}
	context := config.Contexts[wantContext]
	if context == nil || context.Cluster != cluster || context.AuthInfo != adminUser+"/"+cluster || context.Namespace != "default" {
		t.Fatalf("context %q = %+v", wantContext, context)
	}
	if c := config.Clusters[cluster]; c == nil || c.Server != api.URL || c.CertificateAuthority != api.caFile || c.InsecureSkipTLSVerify {
		t.Errorf("cluster %q = %+v, want server %s and CA %s", cluster, c, api.URL, api.caFile)
	}
	if u := config.AuthInfos[adminUser+"/"+cluster]; u == nil || u.Token != api.AdminToken {
		t.Errorf("user stanza = %+v, want the admin token", u)
	}

	// A second login reuses the saved CA. A service account has several
	// valid tokens: logging in with another one updates the token in place
	// and keeps the one context of that user.
	first := serviceAccountToken(t, "login-rotation", "developer")
	developer := "system:serviceaccount:login-rotation:developer"
	out = env.mustRun("login", api.URL, "--token", first)
	if strings.Contains(out, "Welcome!") || strings.Contains(out, "WARNING") {
		t.Errorf("second login greeted as a first one or warned:\n%s", out)
	}
	if !strings.Contains(out, `Logged into "`+api.URL+`" as "`+developer+`" using the token provided.`) {
		t.Errorf("login as the service account:\n%s", out)
	}
	contexts := len(env.config().Contexts)
	rotated := serviceAccountToken(t, "login-rotation", "developer")
	env.mustRun("login", api.URL, "--token", rotated)
	config = env.config()
	if len(config.Contexts) != contexts || config.AuthInfos[developer+"/"+cluster] == nil || config.AuthInfos[developer+"/"+cluster].Token != rotated {
		t.Errorf("after token rotation: contexts %v (had %d), user %+v", config.Contexts, contexts, config.AuthInfos[developer+"/"+cluster])
	}
	if u := config.AuthInfos[adminUser+"/"+cluster]; u == nil || u.Token != api.AdminToken {
		t.Errorf("the admin's stanza changed: %+v", u)
	}

	// Without a token, the saved credentials are used.
	out = env.mustRun("login")
	if !strings.Contains(out, `Logged into "`+api.URL+`" as "`+developer+`" using existing credentials.`) {
		t.Errorf("login without token:\n%s", out)
	}
}

func TestLoginFailures(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		wantErr string
	}{
		{"bad token", []string{"login", api.URL, "--token", "wrong", "--insecure-skip-tls-verify"}, "The token provided is invalid or expired."},
		{"untrusted certificate", []string{"login", api.URL, "--token", api.AdminToken}, "certificate signed by an unknown authority"},
		{"no server", []string{"login", "--token", api.AdminToken}, "A server URL must be specified"},
		{"no token, nothing saved", []string{"login", api.URL, "--insecure-skip-tls-verify"}, "log in with --token"},
		{"two servers", []string{"login", api.URL, "--server", api.URL}, "mutually exclusive"},
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

func TestLoginInsecureWithoutProjectList(t *testing.T) {
	token := serviceAccountToken(t, "login-insecure", "developer")
	user := "system:serviceaccount:login-insecure:developer"
	env := newCLIEnv(t)
	out := env.mustRun("login", api.URL, "--token", token, "--insecure-skip-tls-verify")
	for _, want := range []string{
		"WARNING: Using insecure TLS client config.",
		`as "` + user + `" using the token provided.`,
		// A service account may not list projects.
		"Using \"default\" namespace.  You can switch namespaces with:\n\n slipway project <projectname>\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	cluster, _ := clusterNickname(api.URL)
	config := env.config()
	if c := config.Clusters[cluster]; c == nil || !c.InsecureSkipTLSVerify {
		t.Errorf("cluster %q = %+v, want insecure-skip-tls-verify", cluster, c)
	}
	if want := "default/" + cluster + "/" + user; config.CurrentContext != want {
		t.Errorf("current-context = %q, want %q", config.CurrentContext, want)
	}
}

// TestLoginFakeServerWithoutReviewsOrProjects runs against a FAKE (see
// fakeServerWithoutReviewsOrProjects): a server without selfsubjectreviews
// and a user without projects cannot be had from the real server.
func TestLoginFakeServerWithoutReviewsOrProjects(t *testing.T) {
	fake := fakeServerWithoutReviewsOrProjects(t)
	env := newCLIEnv(t)
	out := env.mustRun("login", fake.URL, "--token", api.AdminToken, "--insecure-skip-tls-verify")
	for _, want := range []string{
		"WARNING: Using insecure TLS client config.",
		`as "admin" using the token provided.`, // the user name then comes from the token
		"You don't have any projects. You can try to create a new project, by running\n\n    slipway new-project <projectname>",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	cluster, _ := clusterNickname(fake.URL)
	config := env.config()
	if c := config.Clusters[cluster]; c == nil || !c.InsecureSkipTLSVerify {
		t.Errorf("cluster %q = %+v, want insecure-skip-tls-verify", cluster, c)
	}
	if config.CurrentContext != "/"+cluster+"/admin" {
		t.Errorf("current-context = %q", config.CurrentContext)
	}
}

func TestLogout(t *testing.T) {
	env := newCLIEnv(t)
	cluster := loginInsecure(t, env)

	out := env.mustRun("logout")
	if want := `Logged "` + adminUser + `" out on "` + api.URL + `"` + "\n"; out != want {
		t.Errorf("logout output = %q, want %q", out, want)
	}
	config := env.config()
	user := config.AuthInfos[adminUser+"/"+cluster]
	if user == nil || user.Token != "" {
		t.Errorf("user stanza after logout = %+v, want it kept without token", user)
	}
	if _, _, err := env.run("logout"); err == nil || !strings.Contains(err.Error(), "You must have a token in order to logout.") {
		t.Errorf("second logout error = %v", err)
	}
}

func TestWhoAmI(t *testing.T) {
	env := newCLIEnv(t)
	cluster := loginInsecure(t, env)
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"whoami"}, adminUser + "\n"},
		{[]string{"whoami", "--show-token"}, api.AdminToken + "\n"},
		{[]string{"whoami", "-t"}, api.AdminToken + "\n"},
		{[]string{"whoami", "--show-server"}, api.URL + "\n"},
		{[]string{"whoami", "--show-context"}, "default/" + cluster + "/" + adminUser + "\n"},
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
