package e2e

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	buildv1 "github.com/openshift/api/build/v1"
	imagev1 "github.com/openshift/api/image/v1"
	buildclient "github.com/openshift/client-go/build/clientset/versioned"
	imageclient "github.com/openshift/client-go/image/clientset/versioned"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/slipway-dev/slipway/internal/builder/build/buildtest"
)

// buildServer is a slipway server that can build: buildkitd next to it and a
// "Docker Hub" (Debian's docker-registry with htpasswd and a test CA) holding
// library/busybox:latest made from busybox-static.
type buildServer struct {
	*server
	c       *cli
	hub     *buildtest.Registry
	busybox string
	builds  buildclient.Interface
	kube    kubernetes.Interface
}

const (
	hubUser     = "veer"
	hubPassword = "s3cret-pass"
	// wrongPassword is badhub's, in TestBuildOutputsAndFailures.
	wrongPassword = "not-the-s3cret"
)

func startBuildServer(t *testing.T, extraArgs ...string) *buildServer {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("builds need root (buildkitd's runc worker, build pods as host processes)")
	}
	if buildkitdErr != nil {
		t.Skipf("buildkitd could not be built, so builds cannot run: %v", buildkitdErr)
	}
	for _, bin := range []string{"runc", "docker-registry", "htpasswd", "busybox", "git"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Skipf("%s is not installed (hack/install-deps.sh installs the build tests' packages)", bin)
		}
	}
	hub := buildtest.StartRegistry(t, hubUser, hubPassword)
	busybox := buildtest.PushBusybox(t, hub)
	s := startServer(t, append([]string{"--buildkitd", buildkitdBin, "--registry-ca", hub.Host + "=" + hub.CAFile}, extraArgs...)...)
	cfg := s.restConfig()
	return &buildServer{
		server:  s,
		c:       s.newCLI(),
		hub:     hub,
		busybox: busybox,
		builds:  buildclient.NewForConfigOrDie(cfg),
		kube:    kubernetes.NewForConfigOrDie(cfg),
	}
}

// newProject makes project ns with the "Docker Hub" login as secret
// dockerhub, linked to its builder for pulls and mounts, as the
// walkthroughs set a project up.
func (b *buildServer) newProject(t *testing.T, ns string) {
	t.Helper()
	b.c.run("new-project", ns)
	b.c.run("create", "secret", "docker-registry", "dockerhub", "--docker-server="+b.hub.Host,
		"--docker-username="+hubUser, "--docker-password="+hubPassword)
	b.c.run("secrets", "link", "builder", "dockerhub", "--for=pull,mount")
}

// gitRepo makes a git repository on branch main from the time-app fixture
// and returns its file:// URL and head commit.
func gitRepo(t *testing.T) (string, string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "time")
	if out, err := exec.Command("cp", "-r", filepath.Join(fixturesDir(t), "time-app"), dir).CombinedOutput(); err != nil {
		t.Fatalf("copying time-app: %v\n%s", err, out)
	}
	git(t, dir, "init", "-q", "-b", "main")
	git(t, dir, "add", ".")
	git(t, dir, "commit", "-q", "-m", "The time app")
	return "file://" + dir, strings.TrimSpace(git(t, dir, "rev-parse", "HEAD"))
}

func git(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=Veer Muchandi", "GIT_AUTHOR_EMAIL=veer@example.com",
		"GIT_COMMITTER_NAME=Veer Muchandi", "GIT_COMMITTER_EMAIL=veer@example.com")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// waitBuild waits until the build reaches a terminal phase and returns it.
func (b *buildServer) waitBuild(t *testing.T, ns, name string, timeout time.Duration) *buildv1.Build {
	t.Helper()
	var build *buildv1.Build
	eventually(t, timeout, func() error {
		got, err := b.builds.BuildV1().Builds(ns).Get(context.Background(), name, getOpts)
		if err != nil {
			return err
		}
		build = got
		switch got.Status.Phase {
		case buildv1.BuildPhaseComplete, buildv1.BuildPhaseFailed, buildv1.BuildPhaseError, buildv1.BuildPhaseCancelled:
			return nil
		}
		return fmt.Errorf("build %s/%s is %s (%s: %s)", ns, name, got.Status.Phase, got.Status.Reason, got.Status.Message)
	})
	return build
}

// buildLog is `slipway logs build/NAME`, for failure messages.
func (b *buildServer) buildLog(ns, name string) string {
	out, errOut, _ := b.c.exec(nil, "logs", "-n", ns, "build/"+name)
	return out + errOut
}

// TestBuildWalkthrough is the first walkthrough: a Docker-strategy build of
// the time app from a git repository, pushed to the external registry with a
// push secret, then built again from the cache.
func TestBuildWalkthrough(t *testing.T) {
	b := startBuildServer(t)
	c := b.c
	uri, commit := gitRepo(t)
	ns := "ext-image-push"

	c.run("new-project", ns)
	c.run("create", "secret", "docker-registry", "dockerhub", "--docker-server="+b.hub.Host,
		"--docker-username="+hubUser, "--docker-password="+hubPassword)
	c.run("secrets", "link", "builder", "dockerhub", "--for=pull,mount")
	c.run("create", "secret", "generic", "time-webhook", "--from-literal=WebHookSecretKey=hook-secret")
	c.run("create", "-f", fixture(t, "buildconfig.yaml", "REGISTRY", b.hub.Host, "GIT_URI", uri))

	// The ConfigChange trigger starts time-1.
	if out := c.run("logs", "-f", "bc/time"); !strings.Contains(out, "STEP 2/6: ADD ./init.sh ./") || !strings.Contains(out, "Push successful") {
		t.Errorf("logs -f bc/time:\n%s", out)
	}
	first := b.waitBuild(t, ns, "time-1", 3*time.Minute)
	if first.Status.Phase != buildv1.BuildPhaseComplete {
		t.Fatalf("time-1 is %s (%s: %s)\n%s", first.Status.Phase, first.Status.Reason, first.Status.Message, b.buildLog(ns, "time-1"))
	}
	if out := c.run("get", "bc"); !regexp.MustCompile(`time\s+Docker\s+Git@main\s+1`).MatchString(out) {
		t.Errorf("get bc:\n%s", out)
	}

	start := time.Now()
	out := c.run("start-build", "time", "--follow")
	if d := time.Since(start); d > 20*time.Second {
		t.Errorf("start-build --follow of a cached build took %s", d)
	}
	if !strings.Contains(out, "build.build.openshift.io/time-2 started") {
		t.Errorf("start-build output:\n%s", out)
	}
	if !strings.Contains(out, "CACHED") {
		t.Errorf("the second build shows no cache hits:\n%s", out)
	}
	second := b.waitBuild(t, ns, "time-2", time.Minute)
	if second.Status.Phase != buildv1.BuildPhaseComplete {
		t.Fatalf("time-2 is %s (%s: %s)\n%s", second.Status.Phase, second.Status.Reason, second.Status.Message, out)
	}
	digest := ""
	if second.Status.Output.To != nil {
		digest = second.Status.Output.To.ImageDigest
	}
	if !strings.HasPrefix(digest, "sha256:") || !strings.Contains(out, digest) {
		t.Errorf("time-2's digest %q not printed by start-build --follow:\n%s", digest, out)
	}
	if out := c.run("get", "builds"); !regexp.MustCompile(`time-2\s+Docker\s+Git@\w+\s+Complete`).MatchString(out) {
		t.Errorf("get builds:\n%s", out)
	}
	if out := c.run("get", "pods"); !regexp.MustCompile(`time-2-build\s+0/1\s+Completed`).MatchString(out) {
		t.Errorf("get pods:\n%s", out)
	}

	// The pushed image, pulled back by digest.
	repo := b.hub.Host + "/veer/mytime"
	img := b.hub.Image(t, repo+"@"+digest)
	cfg, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{}
	for _, kv := range cfg.Config.Env {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	for k, v := range map[string]string{
		"OPENSHIFT_BUILD_NAME":      "time-2",
		"OPENSHIFT_BUILD_NAMESPACE": ns,
		"OPENSHIFT_BUILD_SOURCE":    uri,
		"OPENSHIFT_BUILD_REFERENCE": "main",
		"OPENSHIFT_BUILD_COMMIT":    commit,
	} {
		if env[k] != v {
			t.Errorf("image env %s = %q, want %q (env %v)", k, env[k], v, cfg.Config.Env)
		}
	}
	for k, v := range map[string]string{
		"io.openshift.build.commit.author":      "Veer Muchandi <veer@example.com>",
		"io.openshift.build.commit.id":          commit,
		"io.openshift.build.commit.message":     "The time app",
		"io.openshift.build.commit.ref":         "main",
		"io.openshift.build.source-location":    uri,
		"io.openshift.build.source-context-dir": "busybox",
		"io.openshift.build.name":               "time-2",
		"io.openshift.build.namespace":          ns,
	} {
		if got := cfg.Config.Labels[k]; got != v {
			t.Errorf("image label %s = %q, want %q", k, got, v)
		}
	}
	if cfg.Config.Labels["io.openshift.build.commit.date"] == "" {
		t.Errorf("image label io.openshift.build.commit.date missing: %v", cfg.Config.Labels)
	}
	if _, ok := cfg.Config.ExposedPorts["8080/tcp"]; !ok || len(cfg.Config.ExposedPorts) != 1 {
		t.Errorf("ExposedPorts = %v, want 8080/tcp", cfg.Config.ExposedPorts)
	}
	if strings.Join(cfg.Config.Cmd, " ") != "./init.sh" || len(cfg.Config.Cmd) != 1 {
		t.Errorf("Cmd = %q, want [./init.sh]", cfg.Config.Cmd)
	}

	// Both builds pushed the same layers: the second was built from the cache.
	layers := func(ref string) []string {
		img := b.hub.Image(t, ref)
		ls, err := img.Layers()
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, l := range ls {
			d, err := l.Digest()
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, d.String())
		}
		return out
	}
	firstDigest := first.Status.Output.To.ImageDigest
	if l1, l2 := layers(repo+"@"+firstDigest), layers(repo+"@"+digest); strings.Join(l1, ",") != strings.Join(l2, ",") || len(l1) != 2 {
		t.Errorf("layers of time-1 %v and time-2 %v differ (want busybox + init.sh, the same)", l1, l2)
	}

	testWebhooks(t, b, ns, commit, 2)
}

// webhook posts body to the build config's webhook anonymously, as a git
// server does, and returns the status code and answer.
func (b *buildServer) webhook(t *testing.T, ns, bc, secret, kind string, body string, headers map[string]string) (int, string) {
	t.Helper()
	url := fmt.Sprintf("%s/apis/build.openshift.io/v1/namespaces/%s/buildconfigs/%s/webhooks/%s/%s", b.url(), ns, bc, secret, kind)
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(data)
}

// buildNames lists the builds of a namespace, sorted.
func (b *buildServer) buildNames(t *testing.T, ns string) []string {
	t.Helper()
	list, err := b.builds.BuildV1().Builds(ns).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, x := range list.Items {
		names = append(names, x.Name)
	}
	sort.Strings(names)
	return names
}

// testWebhooks drives the generic and GitHub webhooks of bc/time, whose
// last build is time-<last>.
func testWebhooks(t *testing.T, b *buildServer, ns, commit string, last int) {
	t.Helper()
	ctx := context.Background()
	bcs := b.builds.BuildV1().BuildConfigs(ns)
	bc, err := bcs.Get(ctx, "time", getOpts)
	if err != nil {
		t.Fatal(err)
	}
	bc.Spec.Triggers = append(bc.Spec.Triggers, buildv1.BuildTriggerPolicy{
		Type:          buildv1.GitHubWebHookBuildTriggerType,
		GitHubWebHook: &buildv1.WebHookTrigger{Secret: "gh-secret"},
	})
	if _, err := bcs.Update(ctx, bc, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	next := func() string { last++; return fmt.Sprintf("time-%d", last) }

	// Generic, no body: a build of the configured ref.
	code, body := b.webhook(t, ns, "time", "hook-secret", "generic", "", nil)
	name := next()
	if code != http.StatusOK || !strings.Contains(body, `"name":"`+name+`"`) {
		t.Fatalf("generic webhook: %d %s", code, body)
	}
	if got := b.waitBuild(t, ns, name, 2*time.Minute); got.Status.Phase != buildv1.BuildPhaseComplete || !strings.Contains(got.Spec.TriggeredBy[0].Message, "Generic WebHook") {
		t.Errorf("%s from the generic webhook: %s (%s: %s), triggered by %+v", name, got.Status.Phase, got.Status.Reason, got.Status.Message, got.Spec.TriggeredBy)
	}

	// GitHub push to main with the commit.
	push := func(ref string) string {
		return fmt.Sprintf(`{"ref":%q,"head_commit":{"id":%q,"message":"The time app","author":{"name":"Veer Muchandi","email":"veer@example.com"}}}`, ref, commit)
	}
	github := map[string]string{"Content-Type": "application/json", "X-GitHub-Event": "push"}
	code, body = b.webhook(t, ns, "time", "gh-secret", "github", push("refs/heads/main"), github)
	name = next()
	if code != http.StatusOK || !strings.Contains(body, `"name":"`+name+`"`) {
		t.Fatalf("github webhook: %d %s", code, body)
	}
	got := b.waitBuild(t, ns, name, 2*time.Minute)
	if got.Status.Phase != buildv1.BuildPhaseComplete {
		t.Errorf("%s from the GitHub webhook: %s (%s: %s)", name, got.Status.Phase, got.Status.Reason, got.Status.Message)
	}
	if got.Spec.Revision == nil || got.Spec.Revision.Git == nil || got.Spec.Revision.Git.Commit != commit {
		t.Errorf("%s revision %+v, want commit %s", name, got.Spec.Revision, commit)
	}

	// A wrong secret is refused for both; so is a webhook type the config has no trigger for.
	for _, kind := range []string{"generic", "github", "gitlab"} {
		code, body := b.webhook(t, ns, "time", "wrong", kind, push("refs/heads/main"), github)
		if code != http.StatusUnauthorized || !strings.Contains(body, "did not accept your secret") {
			t.Errorf("%s webhook with a wrong secret: %d %s", kind, code, body)
		}
	}

	// A push to another branch is accepted and starts nothing.
	if code, body := b.webhook(t, ns, "time", "gh-secret", "github", push("refs/heads/other"), github); code != http.StatusOK {
		t.Errorf("github push to another branch: %d %s", code, body)
	}
	if code, body := b.webhook(t, ns, "time", "hook-secret", "generic", `{"git":{"ref":"refs/heads/other"}}`, map[string]string{"Content-Type": "application/json"}); code != http.StatusOK {
		t.Errorf("generic push to another branch: %d %s", code, body)
	}
	time.Sleep(2 * time.Second)
	if names := b.buildNames(t, ns); len(names) != last || names[len(names)-1] != fmt.Sprintf("time-%d", last) {
		t.Errorf("builds after pushes to another branch: %v, want time-1..time-%d", names, last)
	}
}

// dockerBC is a Docker-strategy BuildConfig with a ConfigChange trigger, so
// that creating it starts <name>-1.
func dockerBC(name, gitURI, contextDir, dockerfile, from string, output *corev1.ObjectReference, pushSecret string) *buildv1.BuildConfig {
	bc := &buildv1.BuildConfig{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: buildv1.BuildConfigSpec{
			CommonSpec: buildv1.CommonSpec{
				Source: buildv1.BuildSource{ContextDir: contextDir},
				Strategy: buildv1.BuildStrategy{
					Type:           buildv1.DockerBuildStrategyType,
					DockerStrategy: &buildv1.DockerBuildStrategy{},
				},
			},
			Triggers: []buildv1.BuildTriggerPolicy{{Type: buildv1.ConfigChangeBuildTriggerType}},
		},
	}
	if gitURI != "" {
		bc.Spec.Source.Type = buildv1.BuildSourceGit
		bc.Spec.Source.Git = &buildv1.GitBuildSource{URI: gitURI, Ref: "main"}
	}
	if dockerfile != "" {
		bc.Spec.Source.Dockerfile = &dockerfile
		if gitURI == "" {
			bc.Spec.Source.Type = buildv1.BuildSourceDockerfile
		}
	}
	if from != "" {
		bc.Spec.Strategy.DockerStrategy.From = &corev1.ObjectReference{Kind: "DockerImage", Name: from}
	}
	if output != nil {
		bc.Spec.Output.To = output
		if pushSecret != "" {
			bc.Spec.Output.PushSecret = &corev1.LocalObjectReference{Name: pushSecret}
		}
	}
	return bc
}

// TestBuildOutputsAndFailures runs, on one server, a build whose output is
// an ImageStreamTag in the internal registry, builds that fail at each step
// with their reasons, a build whose push secret does not exist, and a
// cancelled build whose pod and RUN step stop.
func TestBuildOutputsAndFailures(t *testing.T) {
	b := startBuildServer(t)
	c := b.c
	ctx := context.Background()
	uri, _ := gitRepo(t)
	ns := "builds"
	c.run("new-project", ns)
	c.run("create", "secret", "docker-registry", "dockerhub", "--docker-server="+b.hub.Host,
		"--docker-username="+hubUser, "--docker-password="+hubPassword)
	c.run("create", "secret", "docker-registry", "badhub", "--docker-server="+b.hub.Host,
		"--docker-username="+hubUser, "--docker-password="+wrongPassword)
	c.run("secrets", "link", "builder", "dockerhub", "--for=pull,mount")
	bcs := b.builds.BuildV1().BuildConfigs(ns)
	create := func(bc *buildv1.BuildConfig) {
		t.Helper()
		if _, err := bcs.Create(ctx, bc, createOpts); err != nil {
			t.Fatalf("creating bc %s: %v", bc.Name, err)
		}
	}
	hub := func(repo string) *corev1.ObjectReference {
		return &corev1.ObjectReference{Kind: "DockerImage", Name: b.hub.Host + "/" + repo}
	}

	// The failures all start at once, each in its own build config.
	failures := []struct {
		bc      *buildv1.BuildConfig
		reason  buildv1.StatusReason
		message string // in the message or the log
	}{
		{dockerBC("wrong-password", uri, "busybox", "", b.busybox, hub("veer/wrong:latest"), "badhub"),
			buildv1.StatusReasonPushImageToRegistryFailed, "unauthorized"},
		{dockerBC("unknown-host", "https://git.no-such-host.invalid/veer/time.git", "busybox", "", b.busybox, nil, ""),
			buildv1.StatusReasonFetchSourceFailed, "no-such-host.invalid"},
		{dockerBC("missing-context", uri, "nodir", "", b.busybox, nil, ""),
			buildv1.StatusReasonInvalidContextDirectory, "nodir"},
		{dockerBC("syntax-error", "", "", "FROM busybox\nBOGUS instruction\n", b.busybox, nil, ""),
			buildv1.StatusReasonDockerBuildFailed, "BOGUS"},
		{dockerBC("failing-run", "", "", "FROM busybox\nRUN echo about to fail && exit 3\n", b.busybox, nil, ""),
			buildv1.StatusReasonDockerBuildFailed, "exit code: 3"},
		{dockerBC("unknown-base", uri, "busybox", "", b.hub.Host+"/library/nothere:latest", nil, ""),
			buildv1.StatusReasonPullBuilderImageFailed, "nothere"},
	}
	for _, f := range failures {
		create(f.bc)
	}

	for _, f := range failures {
		got := b.waitBuild(t, ns, f.bc.Name+"-1", 3*time.Minute)
		log := b.buildLog(ns, got.Name)
		if got.Status.Phase != buildv1.BuildPhaseFailed || got.Status.Reason != f.reason || got.Status.Message == "" {
			t.Errorf("%s: %s (%s: %s), want Failed (%s)\n%s", got.Name, got.Status.Phase, got.Status.Reason, got.Status.Message, f.reason, log)
			continue
		}
		if !strings.Contains(got.Status.Message+"\n"+log, f.message) {
			t.Errorf("%s: %q neither in the message %q nor in the log:\n%s", got.Name, f.message, got.Status.Message, log)
		}
		if strings.Contains(log, wrongPassword) || strings.Contains(log, hubPassword) {
			t.Errorf("%s: the log shows a password:\n%s", got.Name, log)
		}
		t.Logf("%s: %s: %s", got.Name, got.Status.Reason, got.Status.Message)
	}

	// Then: output to an ImageStreamTag in the internal registry. Not while
	// wrong-password-1 runs: a build pulling from the same registry with the
	// right login at that moment has failed with 401 (suspected: BuildKit
	// sharing a registry's login between concurrent solves; open).
	images := imageclient.NewForConfigOrDie(b.restConfig())
	if _, err := images.ImageV1().ImageStreams(ns).Create(ctx, &imagev1.ImageStream{ObjectMeta: metav1.ObjectMeta{Name: "mytime"}}, createOpts); err != nil {
		t.Fatal(err)
	}
	create(dockerBC("mytime", uri, "busybox", "", b.busybox, &corev1.ObjectReference{Kind: "ImageStreamTag", Name: "mytime:latest"}, ""))
	got := b.waitBuild(t, ns, "mytime-1", 2*time.Minute)
	if got.Status.Phase != buildv1.BuildPhaseComplete {
		sa, _ := b.kube.CoreV1().ServiceAccounts(ns).Get(ctx, "builder", metav1.GetOptions{})
		t.Fatalf("mytime-1: %s (%s: %s)\npull secret %+v, builder's secrets %+v %+v\n%s", got.Status.Phase, got.Status.Reason, got.Status.Message,
			got.Spec.Strategy.DockerStrategy.PullSecret, sa.ImagePullSecrets, sa.Secrets, b.buildLog(ns, "mytime-1"))
	}
	if want := b.registry + "/" + ns + "/mytime:latest"; got.Status.OutputDockerImageReference != want {
		t.Errorf("mytime-1 output reference %q, want %q", got.Status.OutputDockerImageReference, want)
	}
	digest := got.Status.Output.To.ImageDigest
	eventually(t, 30*time.Second, func() error {
		is, err := images.ImageV1().ImageStreams(ns).Get(ctx, "mytime", getOpts)
		if err != nil {
			return err
		}
		for _, tag := range is.Status.Tags {
			if tag.Tag == "latest" && len(tag.Items) > 0 {
				item := tag.Items[0]
				if item.Image != digest || item.DockerImageReference != b.registry+"/"+ns+"/mytime@"+digest {
					return fmt.Errorf("tag event %+v, want image %s", item, digest)
				}
				return nil
			}
		}
		return fmt.Errorf("no latest tag in %+v", is.Status)
	})
	if out := c.run("get", "istag", "mytime:latest"); !strings.Contains(out, digest) {
		t.Errorf("get istag mytime:latest:\n%s", out)
	}

	// A push secret that does not exist.
	create(dockerBC("ghost-secret", uri, "busybox", "", b.busybox, hub("veer/ghost:latest"), "ghost"))
	if got := b.waitBuild(t, ns, "ghost-secret-1", time.Minute); got.Status.Phase != buildv1.BuildPhaseFailed ||
		got.Status.Reason != buildv1.StatusReasonMissingPushSecret || !strings.Contains(got.Status.Message, `"ghost"`) {
		t.Errorf("ghost-secret-1 is %s (%s: %s), want Failed (MissingPushSecret) naming the secret", got.Status.Phase, got.Status.Reason, got.Status.Message)
	}

	// A cancelled running build.
	create(dockerBC("sleeper", "", "", "FROM busybox\nRUN sleep 371\n", b.busybox, nil, ""))
	eventually(t, time.Minute, func() error {
		got, err := b.builds.BuildV1().Builds(ns).Get(ctx, "sleeper-1", getOpts)
		if err != nil {
			return err
		}
		if got.Status.Phase != buildv1.BuildPhaseRunning || !strings.Contains(b.buildLog(ns, "sleeper-1"), "sleep 371") {
			return fmt.Errorf("sleeper-1 is %s", got.Status.Phase)
		}
		return nil
	})
	if out := c.run("cancel-build", "sleeper-1"); !strings.Contains(out, "build.build.openshift.io/sleeper-1 cancelled") {
		t.Errorf("cancel-build: %s", out)
	}
	cancelled := b.waitBuild(t, ns, "sleeper-1", time.Minute)
	if cancelled.Status.Phase != buildv1.BuildPhaseCancelled || cancelled.Status.Reason != buildv1.StatusReasonCancelledBuild {
		t.Errorf("sleeper-1 is %s (%s: %s), want Cancelled", cancelled.Status.Phase, cancelled.Status.Reason, cancelled.Status.Message)
	}
	eventually(t, 30*time.Second, func() error {
		pod, err := b.kube.CoreV1().Pods(ns).Get(ctx, "sleeper-1-build", getOpts)
		if err == nil && pod.Status.Phase == corev1.PodRunning {
			return fmt.Errorf("pod sleeper-1-build still running")
		}
		if out, _ := exec.Command("pgrep", "-f", "sleep 371").Output(); len(out) > 0 {
			return fmt.Errorf("the build's RUN still runs: pids %s", out)
		}
		return nil
	})
}
