package e2e

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	appsv1 "github.com/openshift/api/apps/v1"
	buildv1 "github.com/openshift/api/build/v1"
	appsclient "github.com/openshift/client-go/apps/clientset/versioned"
	imageclient "github.com/openshift/client-go/image/clientset/versioned"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/rest"

	"github.com/slipway-dev/slipway/internal/testregistry"
)

// cheapDockerfile builds in well under a second: nothing to pull, run or
// push, so that 50 builds in a row stay a short test.
const cheapDockerfile = "FROM scratch\nLABEL io.slipway.test=concurrency\n"

// TestConcurrency sends requests that race on one object, as a busy team
// and its CI do, to one server: each is served (serialized inside the
// server, never refused with a conflict), and nothing is lost or counted
// twice.
func TestConcurrency(t *testing.T) {
	b := startBuildServer(t)
	t.Run("start-build", func(t *testing.T) {
		for _, policy := range []buildv1.BuildRunPolicy{buildv1.BuildRunPolicyParallel, buildv1.BuildRunPolicySerial, buildv1.BuildRunPolicySerialLatestOnly} {
			t.Run(string(policy), func(t *testing.T) { testConcurrentStartBuilds(t, b, policy) })
		}
	})
	t.Run("webhooks", func(t *testing.T) { testConcurrentWebhooks(t, b) })
	t.Run("pushes and tags", func(t *testing.T) { testConcurrentPushesAndTags(t, b) })
	t.Run("rollout latest", func(t *testing.T) { testConcurrentRollouts(t, b) })
}

// concurrently runs f(0..n-1) in n goroutines released at once and returns
// their errors by index.
func concurrently(n int, f func(i int) error) []error {
	errs := make([]error, n)
	var ready, done sync.WaitGroup
	start := make(chan struct{})
	ready.Add(n)
	done.Add(n)
	for i := range n {
		go func() {
			defer done.Done()
			ready.Done()
			<-start
			errs[i] = f(i)
		}()
	}
	ready.Wait()
	close(start)
	done.Wait()
	return errs
}

// cliErr is a failed command's error with its output, for concurrently.
func cliErr(args []string, stdout, stderr string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("slipway %s: %v\n%s%s", strings.Join(args, " "), err, stdout, stderr)
}

// createCheapBC creates a Docker-strategy BuildConfig building
// cheapDockerfile under policy, with only the given triggers (none: creating
// it starts nothing), keeping all its builds.
func (b *buildServer) createCheapBC(t *testing.T, ns, name string, policy buildv1.BuildRunPolicy, triggers ...buildv1.BuildTriggerPolicy) {
	t.Helper()
	bc := dockerBC(name, "", "", cheapDockerfile, "", nil, "")
	bc.Spec.RunPolicy = policy
	bc.Spec.Triggers = triggers
	// Every build is kept for the checks (the default prunes to 5).
	keep := int32(100)
	bc.Spec.SuccessfulBuildsHistoryLimit, bc.Spec.FailedBuildsHistoryLimit = &keep, &keep
	if _, err := b.builds.BuildV1().BuildConfigs(ns).Create(context.Background(), bc, createOpts); err != nil {
		t.Fatalf("creating bc %s: %v", name, err)
	}
}

// buildTimeline watches the builds of a BuildConfig and records, in the
// order the API server wrote them, which builds became active (Pending or
// Running), which ran, and the most that were active at once.
type buildTimeline struct {
	mu        sync.Mutex
	phases    map[string]buildv1.BuildPhase
	started   []string // in the order they first became active
	ran       map[string]bool
	maxActive int
	stop      func()
	done      chan struct{}
}

// watchBuilds starts a timeline of the builds of bc; it ends with finish
// or with t.
func (b *buildServer) watchBuilds(t *testing.T, ns, bc string) *buildTimeline {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	w, err := b.builds.BuildV1().Builds(ns).Watch(ctx, metav1.ListOptions{LabelSelector: buildv1.BuildConfigLabel + "=" + bc})
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	tl := &buildTimeline{phases: map[string]buildv1.BuildPhase{}, ran: map[string]bool{}, stop: func() { w.Stop(); cancel() }, done: make(chan struct{})}
	go func() {
		defer close(tl.done)
		for ev := range w.ResultChan() {
			build, ok := ev.Object.(*buildv1.Build)
			if !ok || (ev.Type != watch.Added && ev.Type != watch.Modified) {
				continue
			}
			tl.record(build)
		}
	}()
	t.Cleanup(tl.finish)
	return tl
}

func (tl *buildTimeline) record(build *buildv1.Build) {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	active := func(p buildv1.BuildPhase) bool {
		return p == buildv1.BuildPhasePending || p == buildv1.BuildPhaseRunning
	}
	if active(build.Status.Phase) && !slices.Contains(tl.started, build.Name) {
		tl.started = append(tl.started, build.Name)
	}
	tl.phases[build.Name] = build.Status.Phase
	if build.Status.Phase == buildv1.BuildPhaseRunning {
		tl.ran[build.Name] = true
	}
	n := 0
	for _, p := range tl.phases {
		if active(p) {
			n++
		}
	}
	tl.maxActive = max(tl.maxActive, n)
}

// finish stops the watch.
func (tl *buildTimeline) finish() {
	tl.stop()
	<-tl.done
}

// startedOrder is the builds in the order they became active, and the
// most that were active at once.
func (tl *buildTimeline) startedOrder() ([]string, int) {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	return slices.Clone(tl.started), tl.maxActive
}

// hasRun reports whether build was seen Running.
func (tl *buildTimeline) hasRun(build string) bool {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	return tl.ran[build]
}

// waitBuilds waits until the n builds name-1..name-n all reached a terminal
// phase and returns them by number (index 0 is name-1).
func (b *buildServer) waitBuilds(t *testing.T, ns, name string, n int, timeout time.Duration) []buildv1.Build {
	t.Helper()
	var builds []buildv1.Build
	eventually(t, timeout, func() error {
		list, err := b.builds.BuildV1().Builds(ns).List(context.Background(), metav1.ListOptions{LabelSelector: buildv1.BuildConfigLabel + "=" + name})
		if err != nil {
			return err
		}
		builds = make([]buildv1.Build, n)
		var pending []string
		for _, got := range list.Items {
			i, err := strconv.Atoi(strings.TrimPrefix(got.Name, name+"-"))
			if err != nil || i < 1 || i > n {
				t.Fatalf("unexpected build %s (want %s-1..%s-%d)", got.Name, name, name, n)
			}
			builds[i-1] = got
			switch got.Status.Phase {
			case buildv1.BuildPhaseComplete, buildv1.BuildPhaseFailed, buildv1.BuildPhaseError, buildv1.BuildPhaseCancelled:
			default:
				pending = append(pending, fmt.Sprintf("%s %s", got.Name, got.Status.Phase))
			}
		}
		if len(list.Items) != n || len(pending) > 0 {
			return fmt.Errorf("%d of %d builds of %s; not done: %v", len(list.Items), n, name, pending)
		}
		return nil
	})
	return builds
}

var startedBuild = regexp.MustCompile(`build\.build\.openshift\.io/(\S+) started`)

// testConcurrentStartBuilds runs 50 `start-build` at once on one config
// under policy: every command starts a build of its own, numbered 1..50,
// and the builds run as the policy says.
func testConcurrentStartBuilds(t *testing.T, b *buildServer, policy buildv1.BuildRunPolicy) {
	const n = 50
	ns := "starts-" + strings.ToLower(string(policy))
	name := "cheap"
	b.c.run("new-project", ns)
	b.createCheapBC(t, ns, name, policy)
	timeline := b.watchBuilds(t, ns, name)

	started := make([]string, n)
	begin := time.Now()
	errs := concurrently(n, func(i int) error {
		args := []string{"start-build", "-n", ns, name}
		out, errOut, err := b.c.exec(nil, args...)
		if m := startedBuild.FindStringSubmatch(out); err == nil && m != nil {
			started[i] = m[1]
			return nil
		}
		return cliErr(args, out, errOut, err)
	})
	t.Logf("%d start-builds answered in %s", n, time.Since(begin).Round(time.Millisecond))
	var names []string
	for i, err := range errs {
		if err != nil {
			t.Error(err)
			continue
		}
		names = append(names, started[i])
	}
	slices.SortFunc(names, func(a, b string) int { return buildNumber(a) - buildNumber(b) })
	if want := buildNames(name, len(names)); !slices.Equal(names, want) {
		t.Errorf("start-builds started %v, want %v: one each", names, want)
	}
	if len(names) < n {
		t.Fatalf("%d of %d concurrent start-builds failed", n-len(names), n)
	}

	builds := b.waitBuilds(t, ns, name, n, 3*time.Minute)
	t.Logf("%d builds done %s after the first start-build", n, time.Since(begin).Round(time.Millisecond))
	timeline.finish()
	order, maxActive := timeline.startedOrder()
	phases := map[buildv1.BuildPhase][]string{}
	for _, got := range builds {
		phases[got.Status.Phase] = append(phases[got.Status.Phase], got.Name)
	}
	t.Logf("builds by phase: %v; at most %d active at once", phases, maxActive)

	switch policy {
	case buildv1.BuildRunPolicyParallel:
		if len(phases[buildv1.BuildPhaseComplete]) != n {
			t.Errorf("%d of %d Parallel builds Complete: %v", len(phases[buildv1.BuildPhaseComplete]), n, phases)
		}
		if maxActive < 2 {
			t.Errorf("Parallel builds never ran side by side (at most %d active)", maxActive)
		}
	case buildv1.BuildRunPolicySerial:
		if len(phases[buildv1.BuildPhaseComplete]) != n {
			t.Errorf("%d of %d Serial builds Complete: %v", len(phases[buildv1.BuildPhaseComplete]), n, phases)
		}
		checkOneAtATimeInOrder(t, order, maxActive)
		if len(order) != n {
			t.Errorf("%d builds seen active, want all %d: %v", len(order), n, order)
		}
	case buildv1.BuildRunPolicySerialLatestOnly:
		// OpenShift's rule: a new build cancels the older ones that are
		// New or Pending; a running one finishes; the latest runs.
		if last := builds[n-1]; last.Status.Phase != buildv1.BuildPhaseComplete {
			t.Errorf("the latest build %s is %s (%s), want Complete", last.Name, last.Status.Phase, last.Status.Message)
		}
		cancelled := phases[buildv1.BuildPhaseCancelled]
		if len(cancelled)+len(phases[buildv1.BuildPhaseComplete]) != n || len(cancelled) == 0 {
			t.Errorf("SerialLatestOnly builds by phase %v, want Complete or Cancelled, some Cancelled", phases)
		}
		checkOneAtATimeInOrder(t, order, maxActive)
		for _, name := range cancelled {
			if timeline.hasRun(name) {
				t.Errorf("%s was cancelled while it ran (started: %v)", name, order)
			}
		}
	}
}

// checkOneAtATimeInOrder fails t unless the builds started one at a time in
// number order.
func checkOneAtATimeInOrder(t *testing.T, order []string, maxActive int) {
	t.Helper()
	if maxActive != 1 {
		t.Errorf("%d builds were active at once, want 1", maxActive)
	}
	if !slices.IsSortedFunc(order, func(a, b string) int { return buildNumber(a) - buildNumber(b) }) {
		t.Errorf("builds started in the order %v, want number order", order)
	}
}

// buildNames is "<bc>-1" .. "<bc>-<n>".
func buildNames(bc string, n int) []string {
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("%s-%d", bc, i+1)
	}
	return names
}

// buildNumber is the number at the end of a build's name, 0 for none.
func buildNumber(build string) int {
	i := strings.LastIndexByte(build, '-')
	n, _ := strconv.Atoi(build[i+1:])
	return n
}

// testConcurrentWebhooks delivers 50 generic webhooks at once: each is
// answered 200 with a build of its own.
func testConcurrentWebhooks(t *testing.T, b *buildServer) {
	const n = 50
	ns, name := "webhooks", "hooked"
	b.c.run("new-project", ns)
	b.createCheapBC(t, ns, name, buildv1.BuildRunPolicyParallel, buildv1.BuildTriggerPolicy{
		Type:           buildv1.GenericWebHookBuildTriggerType,
		GenericWebHook: &buildv1.WebHookTrigger{Secret: "hook-secret"},
	})
	begin := time.Now()
	errs := concurrently(n, func(i int) error {
		code, body := b.webhook(t, ns, name, "hook-secret", "generic", "", nil)
		if code != http.StatusOK || !strings.Contains(body, `"kind":"Build"`) {
			return fmt.Errorf("webhook %d: %d %s", i, code, body)
		}
		return nil
	})
	t.Logf("%d webhooks answered in %s", n, time.Since(begin).Round(time.Millisecond))
	built := 0
	for _, err := range errs {
		if err != nil {
			t.Error(err)
			continue
		}
		built++
	}
	if built < n {
		t.Errorf("%d of %d concurrent webhooks built nothing", n-built, n)
	}
	for _, got := range b.waitBuilds(t, ns, name, built, 3*time.Minute) {
		if got.Status.Phase != buildv1.BuildPhaseComplete {
			t.Errorf("%s is %s (%s: %s)", got.Name, got.Status.Phase, got.Status.Reason, got.Status.Message)
		}
	}
}

// testConcurrentPushesAndTags pushes 20 images at once to one tag of the
// internal registry, then runs 20 `tag` commands at once into one tag of
// another stream: every image is in each tag's history.
func testConcurrentPushesAndTags(t *testing.T, b *buildServer) {
	const n = 20
	ns := "images"
	b.c.run("new-project", ns)
	images := imageclient.NewForConfigOrDie(b.restConfig())
	internal := &testregistry.Registry{Host: b.registry, User: "admin", Password: b.adminToken()}

	// 20 pushes of different images to pushed:latest at once.
	imgs := make([]v1.Image, n)
	want := make([]string, n)
	for i := range imgs {
		imgs[i] = testregistry.RandomImage(t, "linux", "amd64")
		d, err := imgs[i].Digest()
		if err != nil {
			t.Fatal(err)
		}
		want[i] = d.String()
	}
	ref, err := name.ParseReference(internal.Ref(ns+"/pushed:latest"), name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	begin := time.Now()
	errs := concurrently(n, func(i int) error {
		if err := remote.Write(ref, imgs[i], internal.Options()...); err != nil {
			return fmt.Errorf("pushing image %d (%s) to %s: %w", i, want[i], ref, err)
		}
		return nil
	})
	t.Logf("%d pushes done in %s", n, time.Since(begin).Round(time.Millisecond))
	for _, err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	checkHistory(t, images, ns, "pushed", "latest", want)

	// 20 `tag pushed@<digest> tagged:latest` at once, one per image.
	begin = time.Now()
	errs = concurrently(n, func(i int) error {
		args := []string{"tag", "-n", ns, "pushed@" + want[i], "tagged:latest"}
		out, errOut, err := b.c.exec(nil, args...)
		return cliErr(args, out, errOut, err)
	})
	t.Logf("%d tag commands done in %s", n, time.Since(begin).Round(time.Millisecond))
	for _, err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	checkHistory(t, images, ns, "tagged", "latest", want)
}

// checkHistory fails t unless every image of want is in the history of
// stream:tag, and nothing else is.
func checkHistory(t *testing.T, images imageclient.Interface, ns, stream, tag string, want []string) {
	t.Helper()
	is, err := images.ImageV1().ImageStreams(ns).Get(context.Background(), stream, getOpts)
	if err != nil {
		t.Fatal(err)
	}
	var history []string
	for _, st := range is.Status.Tags {
		if st.Tag == tag {
			for _, ev := range st.Items {
				history = append(history, ev.Image)
			}
		}
	}
	var missing []string
	for _, d := range want {
		if !slices.Contains(history, d) {
			missing = append(missing, d)
		}
	}
	if len(missing) > 0 || len(history) != len(want) {
		t.Errorf("%s:%s's history has %d images, want the %d written; missing %v", stream, tag, len(history), len(want), missing)
	}
}

// testConcurrentRollouts runs rounds of 10 `rollout latest` at once on one
// DeploymentConfig: each command rolls out or is told a rollout is in
// progress (never a conflict); every version a command rolled out has its
// deployment, which completes, and no version is skipped or made twice.
func testConcurrentRollouts(t *testing.T, b *buildServer) {
	const rounds, n = 3, 10
	ns, name := "rollouts", "web"
	b.c.run("new-project", ns)
	cfg := b.restConfig()
	cfg.WarningHandler = rest.NoWarnings{} // DeploymentConfigs are deprecated: every call warns
	apps := appsclient.NewForConfigOrDie(cfg)
	// No replicas: the deployer runs and completes, no image is pulled.
	// Its ConfigChange trigger rolls out version 1.
	dc := webDC(name, "busybox", 0)
	dc.Spec.Strategy = appsv1.DeploymentStrategy{Type: appsv1.DeploymentStrategyTypeRecreate}
	limit := int32(100)
	dc.Spec.RevisionHistoryLimit = &limit
	if _, err := apps.AppsV1().DeploymentConfigs(ns).Create(context.Background(), dc, createOpts); err != nil {
		t.Fatal(err)
	}
	rolledOut := 1
	waitRollout(t, apps, b, ns, name, 1, 2*time.Minute)
	for round := range rounds {
		errs := concurrently(n, func(i int) error {
			args := []string{"rollout", "latest", "-n", ns, "dc/" + name}
			out, errOut, err := b.c.exec(nil, args...)
			switch {
			case err == nil && strings.Contains(out, "rolled out"):
				return nil
			case err != nil && strings.Contains(errOut, "already in progress"):
				return errInProgress
			}
			return cliErr(args, out, errOut, err)
		})
		succeeded := 0
		for _, err := range errs {
			switch err {
			case nil:
				succeeded++
			case errInProgress:
			default:
				t.Errorf("round %d: %v", round+1, err)
			}
		}
		if succeeded == 0 {
			t.Fatalf("round %d: none of %d rollout latest rolled out", round+1, n)
		}
		rolledOut += succeeded
		got := waitRollout(t, apps, b, ns, name, int64(rolledOut), 2*time.Minute)
		t.Logf("round %d: %d of %d rolled out; dc/%s at version %d", round+1, succeeded, n, name, got.Status.LatestVersion)
	}
	rcs, err := b.kube.CoreV1().ReplicationControllers(ns).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var versions []string
	for _, rc := range rcs.Items {
		versions = append(versions, rc.Name)
		if phase := rc.Annotations[appsv1.DeploymentStatusAnnotation]; phase != string(appsv1.DeploymentStatusComplete) {
			t.Errorf("deployment %s is %s (%s), want Complete", rc.Name, phase, rc.Annotations[appsv1.DeploymentStatusReasonAnnotation])
		}
	}
	slices.SortFunc(versions, func(a, b string) int { return buildNumber(a) - buildNumber(b) })
	if want := buildNames(name, rolledOut); !slices.Equal(versions, want) {
		t.Errorf("deployments %v, want %v: one per successful rollout latest", versions, want)
	}
}

// errInProgress is a rollout latest refused because one is in progress.
var errInProgress = errors.New("a rollout is already in progress")
