package e2e

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	buildv1 "github.com/openshift/api/build/v1"
	imagev1 "github.com/openshift/api/image/v1"
	imageclient "github.com/openshift/client-go/image/clientset/versioned"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/slipway-dev/slipway/internal/builder/build/buildtest"
)

// TestHostileInputs is the catalogue of inputs a project, a git server, a
// registry or a webhook sender may throw at Slipway, run on one server:
// each gets a clear error, nothing is lost, and at the end no secret of
// the run appears in the server's log, an event or a build's status.
func TestHostileInputs(t *testing.T) {
	b := startBuildServer(t)
	c := b.c
	ctx := context.Background()
	const ns = "hostile"
	b.newProject(t, ns)
	cat := newCatalogue(t, b, ns)
	c.run("create", "secret", "generic", "hook", "--from-literal=WebHookSecretKey="+cat.secret("hook-secret-value"))
	raw := cat.raw
	bcPath := "/apis/build.openshift.io/v1/namespaces/" + ns + "/buildconfigs"

	// Objects: malformed, oversized, nested, or naming paths out of their
	// source. Each is refused with the status and words a user can act on,
	// and nothing is stored.
	for _, tc := range append([]objectCase{
		{"malformed JSON", bcPath, "application/json", text(`{"kind":"BuildConfig",`), http.StatusBadRequest, "unexpected"},
		{"malformed YAML", bcPath, "application/yaml", text("kind: BuildConfig\n  spec: [\n"), http.StatusBadRequest, "yaml"},
		{"JSON that is not an object", bcPath, "application/json", text(`[1,2,3]`), http.StatusBadRequest, "cannot unmarshal"},
		{"wrong kind for the resource", bcPath, "application/json", text(`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"x"}}`), http.StatusBadRequest, "Pod"},
		{"10 MB config map", "/api/v1/namespaces/" + ns + "/configmaps", "application/json", func() io.Reader {
			return text(fmt.Sprintf(`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"big"},"data":{"x":%q}}`, strings.Repeat("x", 10<<20)))()
		}, http.StatusRequestEntityTooLarge, "too large"},
		{"4 MB build config", bcPath, "application/json", func() io.Reader {
			return text(fmt.Sprintf(`{"apiVersion":"build.openshift.io/v1","kind":"BuildConfig","metadata":{"name":"big","annotations":{"x":%q}},"spec":{"strategy":{"type":"Docker","dockerStrategy":{}},"source":{"type":"Dockerfile","dockerfile":"FROM scratch"}}}`, strings.Repeat("x", 4<<20)))()
		}, http.StatusRequestEntityTooLarge, "too large"},
		{"deeply nested JSON", bcPath, "application/json", func() io.Reader {
			return text(`{"apiVersion":"build.openshift.io/v1","kind":"BuildConfig","metadata":{"name":"deep"},"spec":` + strings.Repeat(`{"a":`, 100000) + `1` + strings.Repeat(`}`, 100000) + `}`)()
		}, http.StatusBadRequest, "depth"},
		{"context dir out of the source", bcPath, "application/json", text(`{"apiVersion":"build.openshift.io/v1","kind":"BuildConfig","metadata":{"name":"escape"},"spec":{"source":{"type":"Git","git":{"uri":"https://git.example/x.git"},"contextDir":"../../etc"},"strategy":{"type":"Docker","dockerStrategy":{}}}}`), http.StatusUnprocessableEntity, "spec.source.contextDir"},
		{"git URI that is an option", bcPath, "application/json", text(`{"apiVersion":"build.openshift.io/v1","kind":"BuildConfig","metadata":{"name":"opt"},"spec":{"source":{"type":"Git","git":{"uri":"--upload-pack=touch /tmp/x"}},"strategy":{"type":"Docker","dockerStrategy":{}}}}`), http.StatusUnprocessableEntity, "spec.source.git.uri"},
		{"image stream tag from an invalid reference", "/apis/image.openshift.io/v1/namespaces/" + ns + "/imagestreams", "application/json", text(`{"apiVersion":"image.openshift.io/v1","kind":"ImageStream","metadata":{"name":"bad"},"spec":{"tags":[{"name":"x","from":{"kind":"DockerImage","name":"UPPER/Case::bad"}}]}}`), http.StatusUnprocessableEntity, "spec.tags[0].from.name"},
		{"unknown build strategy", bcPath, "application/json", text(`{"apiVersion":"build.openshift.io/v1","kind":"BuildConfig","metadata":{"name":"magic"},"spec":{"source":{"type":"Dockerfile","dockerfile":"FROM scratch"},"strategy":{"type":"Magic"}}}`), http.StatusUnprocessableEntity, "spec.strategy"},
		{"Dockerfile path out of the context", bcPath, "application/json", text(`{"apiVersion":"build.openshift.io/v1","kind":"BuildConfig","metadata":{"name":"dfpath"},"spec":{"source":{"type":"Git","git":{"uri":"https://git.example/x.git"}},"strategy":{"type":"Docker","dockerStrategy":{"dockerfilePath":"../../etc/passwd"}}}}`), http.StatusUnprocessableEntity, "dockerfilePath"},
		{"push secret with a name no secret can have", bcPath, "application/json", text(`{"apiVersion":"build.openshift.io/v1","kind":"BuildConfig","metadata":{"name":"pushname"},"spec":{"source":{"type":"Dockerfile","dockerfile":"FROM scratch"},"strategy":{"type":"Docker","dockerStrategy":{}},"output":{"to":{"kind":"DockerImage","name":"reg.example/a/b:c"},"pushSecret":{"name":"Not_A_Name"}}}}`), http.StatusUnprocessableEntity, "pushSecret"},
		{"negative replicas", "/apis/apps.openshift.io/v1/namespaces/" + ns + "/deploymentconfigs", "application/json", text(`{"apiVersion":"apps.openshift.io/v1","kind":"DeploymentConfig","metadata":{"name":"neg"},"spec":{"replicas":-1,"selector":{"a":"b"},"template":{"metadata":{"labels":{"a":"b"}},"spec":{"containers":[{"name":"x","image":"busybox"}]}}}}`), http.StatusUnprocessableEntity, "spec.replicas"},
		{"trigger for a container that does not exist", "/apis/apps.openshift.io/v1/namespaces/" + ns + "/deploymentconfigs", "application/json", text(`{"apiVersion":"apps.openshift.io/v1","kind":"DeploymentConfig","metadata":{"name":"ghost"},"spec":{"replicas":1,"selector":{"a":"b"},"template":{"metadata":{"labels":{"a":"b"}},"spec":{"containers":[{"name":"x","image":"busybox"}]}},"triggers":[{"type":"ImageChange","imageChangeParams":{"automatic":true,"containerNames":["nope"],"from":{"kind":"ImageStreamTag","name":"s:latest"}}}]}}`), http.StatusUnprocessableEntity, "containerNames"},
		{"docker config secret without its key", "/api/v1/namespaces/" + ns + "/secrets", "application/json", text(`{"apiVersion":"v1","kind":"Secret","metadata":{"name":"nokey"},"type":"kubernetes.io/dockerconfigjson","data":{"other":"e30="}}`), http.StatusUnprocessableEntity, ".dockerconfigjson"},
		{"docker config secret that is not JSON", "/api/v1/namespaces/" + ns + "/secrets", "application/json", text(`{"apiVersion":"v1","kind":"Secret","metadata":{"name":"notjson"},"type":"kubernetes.io/dockerconfigjson","data":{".dockerconfigjson":"bm90IGpzb24="}}`), http.StatusUnprocessableEntity, ".dockerconfigjson"},
		{"object in a namespace that does not exist", "/apis/build.openshift.io/v1/namespaces/nowhere/buildconfigs", "application/json", text(`{"apiVersion":"build.openshift.io/v1","kind":"BuildConfig","metadata":{"name":"x"},"spec":{"source":{"type":"Dockerfile","dockerfile":"FROM scratch"},"strategy":{"type":"Docker","dockerStrategy":{}}}}`), http.StatusNotFound, "nowhere"},
		{"project named like a system namespace", "/apis/project.openshift.io/v1/projectrequests", "application/json", text(`{"apiVersion":"project.openshift.io/v1","kind":"ProjectRequest","metadata":{"name":"kube-system"}}`), http.StatusForbidden, "cannot request a project starting with"},
		{"image import of a reference that is not one", "/apis/image.openshift.io/v1/namespaces/" + ns + "/imagestreamimports", "application/json", text(`{"apiVersion":"image.openshift.io/v1","kind":"ImageStreamImport","metadata":{"name":"imp"},"spec":{"import":true,"images":[{"from":{"kind":"DockerImage","name":"not a reference!!"},"to":{"name":"latest"}}]}}`), http.StatusUnprocessableEntity, "from.name"},
		{"instantiate of a build config that does not exist", bcPath + "/ghost/instantiate", "application/json", text(`{"kind":"BuildRequest","apiVersion":"build.openshift.io/v1","metadata":{"name":"ghost"}}`), http.StatusNotFound, "ghost"},
	}, invalidSpecs(ns)...) {
		cat.run("object/"+tc.name, func(t *testing.T) {
			status, body := raw(t, http.MethodPost, tc.path, tc.contentType, tc.body())
			if status != tc.status || !strings.Contains(strings.ToLower(body), strings.ToLower(tc.says)) {
				t.Errorf("HTTP %d %s; want %d saying %q", status, trim(body), tc.status, tc.says)
			}
		})
	}
	if names := b.buildNames(t, ns); len(names) != 0 {
		t.Errorf("refused objects left builds: %v", names)
	}
	if list, err := b.builds.BuildV1().BuildConfigs(ns).List(ctx, metav1.ListOptions{}); err != nil || len(list.Items) != 0 {
		t.Errorf("refused build configs were stored: %v, %v", list, err)
	}

	// Webhooks come from outside: not JSON (from every provider), too
	// large, for an unknown branch, with a ref or commit that is an
	// option, with the wrong secret or for nothing.
	hookBC := dockerBC("hooked", "https://git.example/time.git", "", "", b.busybox, nil, "")
	hookBC.Spec.Triggers = []buildv1.BuildTriggerPolicy{{Type: buildv1.GenericWebHookBuildTriggerType,
		GenericWebHook: &buildv1.WebHookTrigger{SecretReference: &buildv1.SecretLocalReference{Name: "hook"}}}}
	if _, err := b.builds.BuildV1().BuildConfigs(ns).Create(ctx, hookBC, createOpts); err != nil {
		t.Fatal(err)
	}
	hookRef := &buildv1.WebHookTrigger{SecretReference: &buildv1.SecretLocalReference{Name: "hook"}}
	hookBC.Spec.Triggers = append(hookBC.Spec.Triggers,
		buildv1.BuildTriggerPolicy{Type: buildv1.GitHubWebHookBuildTriggerType, GitHubWebHook: hookRef},
		buildv1.BuildTriggerPolicy{Type: buildv1.GitLabWebHookBuildTriggerType, GitLabWebHook: hookRef},
		buildv1.BuildTriggerPolicy{Type: buildv1.BitbucketWebHookBuildTriggerType, BitbucketWebHook: hookRef})
	if _, err := b.builds.BuildV1().BuildConfigs(ns).Update(ctx, withLatest(t, b, ns, hookBC), metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	jsonHeader := map[string]string{"Content-Type": "application/json"}
	github := map[string]string{"Content-Type": "application/json", "X-GitHub-Event": "push"}
	gitlab := map[string]string{"Content-Type": "application/json", "X-Gitlab-Event": "Push Hook"}
	bitbucket := map[string]string{"Content-Type": "application/json", "X-Event-Key": "repo:push"}
	for _, tc := range []struct {
		name, kind, body string
		headers          map[string]string
		status           int
		says             string
		// bc and secret are "hooked" and its secret when empty.
		bc, secret string
	}{
		{"GitHub push that is not JSON", "github", "this is not json", github, http.StatusBadRequest, "parsing the GitHub push event", "", ""},
		{"GitHub push not sent as JSON", "github", `{"ref":"refs/heads/main"}`, map[string]string{"Content-Type": "text/plain", "X-GitHub-Event": "push"}, http.StatusBadRequest, "non-json content type", "", ""},
		{"generic payload over 10 MiB", "generic", `{"git":{"ref":"main","message":"` + strings.Repeat("x", 11<<20) + `"}}`, jsonHeader, http.StatusRequestEntityTooLarge, "over 10 MiB", "", ""},
		{"GitHub push to another branch", "github", `{"ref":"refs/heads/nobranch","head_commit":{"id":"0123456789abcdef0123456789abcdef01234567"}}`, github, http.StatusOK, "nobranch", "", ""},
		{"GitHub push whose ref is an option", "github", `{"ref":"--upload-pack=touch /tmp/pwned","head_commit":{"id":"0123456789abcdef0123456789abcdef01234567"}}`, github, http.StatusOK, "skipping build", "", ""},
		{"GitLab push that is not JSON", "gitlab", "this is not json", gitlab, http.StatusBadRequest, "parsing the GitLab push event", "", ""},
		{"GitLab event that is not a push", "gitlab", `{"ref":"refs/heads/main"}`, map[string]string{"Content-Type": "application/json", "X-Gitlab-Event": "Pipeline Hook"}, http.StatusBadRequest, "unknown X-Gitlab-Event", "", ""},
		{"Bitbucket push that is not JSON", "bitbucket", "this is not json", bitbucket, http.StatusBadRequest, "parsing the Bitbucket push event", "", ""},
		{"Bitbucket push not sent as JSON", "bitbucket", `{"push":{}}`, map[string]string{"Content-Type": "application/x-www-form-urlencoded", "X-Event-Key": "repo:push"}, http.StatusBadRequest, "non-json content type", "", ""},
		// A wrong secret and a build config that does not exist get the
		// same answer, which names neither the right secret nor whether
		// the build config exists.
		{"wrong secret", "generic", `{"git":{"ref":"main"}}`, jsonHeader, http.StatusUnauthorized, "did not accept your secret", "", "hook-secret-valuf"},
		{"webhook type that does not exist", "gogs9", `{"ref":"refs/heads/main"}`, jsonHeader, http.StatusNotFound, "gogs9", "", ""},
		{"build config that does not exist", "generic", `{"git":{"ref":"main"}}`, jsonHeader, http.StatusUnauthorized, "did not accept your secret", "ghost", ""},
	} {
		cat.run("webhook/"+tc.name, func(t *testing.T) {
			bc, secret := tc.bc, tc.secret
			if bc == "" {
				bc = "hooked"
			}
			if secret == "" {
				secret = "hook-secret-value"
			}
			status, body := b.webhook(t, ns, bc, secret, tc.kind, tc.body, tc.headers)
			if status != tc.status || !strings.Contains(strings.ToLower(body), strings.ToLower(tc.says)) {
				t.Errorf("HTTP %d %s; want %d saying %q", status, trim(body), tc.status, tc.says)
			}
			if strings.Contains(body, "hook-secret-value") {
				t.Errorf("the answer shows the webhook's secret: %s", trim(body))
			}
		})
	}
	if names := b.buildNames(t, ns); len(names) != 0 {
		t.Errorf("refused webhooks started builds: %v", names)
	}
	// As OpenShift, a generic payload that does not parse still builds
	// the configured ref.
	cat.run("webhook/generic payload that is not JSON", func(t *testing.T) {
		status, body := b.webhook(t, ns, "hooked", "hook-secret-value", "generic", "this is not json", jsonHeader)
		if status != http.StatusOK || buildNameIn(body) == "" {
			t.Errorf("HTTP %d %s; want a build of the configured ref", status, trim(body))
		}
	})
	cat.run("webhook/commit that is an option", func(t *testing.T) {
		marker := filepath.Join(t.TempDir(), "pwned")
		status, body := b.webhook(t, ns, "hooked", "hook-secret-value", "generic",
			fmt.Sprintf(`{"git":{"ref":"main","commit":"--upload-pack=touch %s"}}`, marker), jsonHeader)
		if status == http.StatusOK {
			name := buildNameIn(body)
			got := b.waitBuild(t, ns, name, 2*time.Minute)
			if got.Status.Phase != buildv1.BuildPhaseFailed || got.Status.Reason != buildv1.StatusReasonFetchSourceFailed {
				t.Errorf("%s: %s %s %q; want Failed, FetchSourceFailed", name, got.Status.Phase, got.Status.Reason, got.Status.Message)
			}
		} else if status != http.StatusBadRequest && status != http.StatusUnprocessableEntity {
			t.Errorf("HTTP %d %s; want the commit refused (400/422) or a build that fails to fetch", status, trim(body))
		}
		if _, err := os.Stat(marker); err == nil {
			t.Fatal("the commit ran as a git option")
		}
	})

	// Dockerfiles and archives a project uploads: each build fails with
	// DockerBuildFailed (or the source's reason) and a message naming what
	// is wrong.
	binaryBC := func(name string) {
		t.Helper()
		bc := dockerBC(name, "", "", "", b.busybox, nil, "")
		bc.Spec.Source = buildv1.BuildSource{Type: buildv1.BuildSourceBinary, Binary: &buildv1.BinaryBuildSource{}}
		bc.Spec.Triggers = nil
		if _, err := b.builds.BuildV1().BuildConfigs(ns).Create(ctx, bc, createOpts); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name       string
		dockerfile string
		reason     buildv1.StatusReason
		says       string
	}{
		{"unknown instruction", "FROM busybox\nFLY away\n", buildv1.StatusReasonDockerBuildFailed, "unknown instruction"},
		{"syntax error", "FROM busybox\nRUN [\"unterminated\n", buildv1.StatusReasonDockerBuildFailed, "Dockerfile"},
		{"ADD from outside the context", "FROM busybox\nADD ../../../etc/passwd /x\n", buildv1.StatusReasonDockerBuildFailed, "passwd"},
		// Not a stage: an image named nowhere, which no registry has.
		{"COPY from a missing stage", "FROM busybox\nCOPY --from=nowhere /a /b\n", buildv1.StatusReasonPullBuilderImageFailed, "nowhere"},
		{"empty Dockerfile", "", buildv1.StatusReasonManageDockerfileFailed, "Dockerfile"},
	} {
		cat.run("dockerfile/"+tc.name, func(t *testing.T) {
			name := strings.ReplaceAll(strings.ToLower(tc.name), " ", "-")
			binaryBC(name)
			dir := t.TempDir()
			writeFile(t, filepath.Join(dir, "Dockerfile"), tc.dockerfile)
			_, _, _ = c.exec(nil, "start-build", name, "--from-dir", dir, "--wait")
			got := b.waitBuild(t, ns, name+"-1", 2*time.Minute)
			if got.Status.Phase != buildv1.BuildPhaseFailed || got.Status.Reason != tc.reason || !strings.Contains(got.Status.Message+b.buildLog(ns, name+"-1"), tc.says) {
				t.Errorf("%s-1: %s %s %q; want Failed, %s, saying %q\n%s", name, got.Status.Phase, got.Status.Reason, got.Status.Message, tc.reason, tc.says, b.buildLog(ns, name+"-1"))
			}
		})
	}
	cat.run("archive/entries out of the work directory", func(t *testing.T) {
		binaryBC("tarslip")
		outside := filepath.Join(t.TempDir(), "slipped")
		archive := filepath.Join(t.TempDir(), "a.tar")
		writeFile(t, archive, string(tarOf(t, map[string]string{
			"Dockerfile":    "FROM busybox\n",
			"../../slipped": "x",
			outside:         "x",
		})))
		_, _, _ = c.exec(nil, "start-build", "tarslip", "--from-archive", archive, "--wait")
		got := b.waitBuild(t, ns, "tarslip-1", 2*time.Minute)
		if got.Status.Phase != buildv1.BuildPhaseFailed || !strings.Contains(got.Status.Message+b.buildLog(ns, "tarslip-1"), "..") {
			t.Errorf("tarslip-1: %s %s %q; want it failed naming the entry", got.Status.Phase, got.Status.Reason, got.Status.Message)
		}
		if _, err := os.Stat(outside); err == nil {
			t.Fatal("an archive entry was written outside the work directory")
		}
	})

	// Registries that misbehave: one that accepts and never answers, one
	// that stops mid-response, one whose certificate no CA here signed,
	// one that refuses the project's login. Imports end with the reason
	// within their timeout; nothing hangs.
	// The builds and pods of hostile sources and images run meanwhile.
	untrusted := buildtest.StartRegistry(t, hubUser, hubPassword)
	checkBuilds := cat.startHostileBuilds(untrusted)
	checkImages := cat.startHostileImages()
	images := imageclient.NewForConfigOrDie(b.restConfig()).ImageV1()
	stall := stallingListener(t, "")
	// A registry that answers the ping, then stops halfway through the
	// manifest.
	midway := stallingListener(t, "HTTP/1.1 200 OK\r\nContent-Type: application/vnd.docker.distribution.manifest.v2+json\r\nContent-Length: 4096\r\n\r\n{\"schemaVersion\":")
	// A project whose only login for the "Docker Hub" has the wrong
	// password.
	const badCreds = "hostile-creds"
	c.run("new-project", badCreds, "--skip-config-write")
	c.run("create", "-n", badCreds, "secret", "docker-registry", "badhub", "--docker-server="+b.hub.Host,
		"--docker-username="+hubUser, "--docker-password="+cat.secret(wrongPassword))
	for _, tc := range []struct{ name, ns, from, says string }{
		{"a registry that never answers", ns, stall + "/x/y:latest", "timeout"},
		{"a registry that stops mid-response", ns, midway + "/x/y:latest", "timeout"},
		{"a certificate no CA here signed", ns, untrusted.Host + "/veer/app:latest", "certificate"},
		{"the wrong password", badCreds, b.busybox, "unauthorized"},
	} {
		cat.run("registry/"+tc.name, func(t *testing.T) {
			name := strings.ReplaceAll(strings.ToLower(tc.name), " ", "-")
			start := time.Now()
			isi, err := images.ImageStreamImports(tc.ns).Create(ctx, &imagev1.ImageStreamImport{
				ObjectMeta: metav1.ObjectMeta{Name: name},
				Spec: imagev1.ImageStreamImportSpec{Import: true, Images: []imagev1.ImageImportSpec{{
					From: corev1.ObjectReference{Kind: "DockerImage", Name: tc.from}, To: &corev1.LocalObjectReference{Name: "latest"},
				}}},
			}, createOpts)
			if time.Since(start) > 90*time.Second {
				t.Errorf("the import took %s", time.Since(start))
			}
			if err != nil {
				if !strings.Contains(strings.ToLower(err.Error()), tc.says) {
					t.Errorf("import: %v; want it to say %q", err, tc.says)
				}
				return
			}
			st := isi.Status.Images[0].Status
			if st.Status != metav1.StatusFailure || !strings.Contains(strings.ToLower(st.Message), tc.says) {
				t.Errorf("import status %s %q; want a failure saying %q", st.Status, st.Message, tc.says)
			}
		})
	}

	checkBuilds()
	checkImages()

	// Nothing of the secrets used above leaks: not the registry password,
	// the webhook secret or a service account token, in the server's log,
	// an event, or a build's status.
	cat.run("no secret in logs, events or statuses", func(t *testing.T) {
		secrets := cat.secrets
		tokens, err := b.kube.CoreV1().Secrets(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range tokens.Items {
			if tok := string(s.Data[corev1.ServiceAccountTokenKey]); tok != "" {
				secrets = append(secrets, tok)
			}
		}
		var seen strings.Builder
		seen.WriteString(b.logs.String())
		for _, n := range []string{ns, badCreds} {
			events, err := b.kube.CoreV1().Events(n).List(ctx, metav1.ListOptions{})
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range events.Items {
				seen.WriteString(e.Message + "\n")
			}
		}
		builds, err := b.builds.BuildV1().Builds(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, bd := range builds.Items {
			seen.WriteString(bd.Status.Message + "\n" + bd.Status.LogSnippet + "\n" + b.buildLog(ns, bd.Name))
		}
		for _, s := range secrets {
			if strings.Contains(seen.String(), s) {
				t.Errorf("a secret (%d bytes) appears in the server's log, an event or a build", len(s))
			}
		}
	})
	if _, err := b.kube.CoreV1().Secrets(ns).Get(ctx, "dockerhub", getOpts); apierrors.IsNotFound(err) {
		t.Error("the project lost its secret")
	}
	if cat.cases < minHostileCases {
		t.Errorf("the catalogue ran %d cases, want at least %d", cat.cases, minHostileCases)
	}
}

func text(s string) func() io.Reader { return func() io.Reader { return strings.NewReader(s) } }

// trim shortens an answer for an error message.
func trim(s string) string {
	if len(s) > 300 {
		return s[:300] + "..."
	}
	return s
}

// buildNameIn finds the build's name in an instantiate or webhook answer.
func buildNameIn(body string) string {
	_, rest, ok := strings.Cut(body, `"name":"`)
	if !ok {
		return ""
	}
	name, _, _ := strings.Cut(rest, `"`)
	return name
}

// tarOf is an uncompressed tar of files, in map order, entries named as
// given (even ../ or absolute ones).
func tarOf(t *testing.T, files map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for name, content := range files {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(content)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(content)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// withLatest is bc with the resourceVersion of the stored one, for an update.
func withLatest(t *testing.T, b *buildServer, ns string, bc *buildv1.BuildConfig) *buildv1.BuildConfig {
	t.Helper()
	stored, err := b.builds.BuildV1().BuildConfigs(ns).Get(context.Background(), bc.Name, getOpts)
	if err != nil {
		t.Fatal(err)
	}
	bc.ResourceVersion = stored.ResourceVersion
	return bc
}
