// Package soak_bench runs `slipway server` under mixed traffic for a long
// time (an hour by default) and prints, every report interval and at the
// end, the requests by outcome, the latency of instantiate and list, and
// the server's resident memory, goroutines, etcd database size and open
// files: what must stay flat, or bounded, for a server that runs for weeks.
//
// It is not part of `go test ./...` or `make bench`; it runs when asked:
//
//	SLIPWAY_SOAK=1 go test -run '^$' -bench Soak -benchtime 1x -timeout 0 ./bench/soak/ \
//	    [-soak.duration=1h] [-soak.report=5m]
//
// (SLIPWAY_SOAK_DURATION and SLIPWAY_SOAK_REPORT set the same;
// SLIPWAY_SOAK_PROFILES=dir saves a heap profile at every report), as root,
// with bin/buildkitd built (make build) and docker-registry installed. It
// runs $SLIPWAY_TEST_BINARY when set, else builds ./cmd/slipway.
package soak_bench

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	appsv1 "github.com/openshift/api/apps/v1"
	buildv1 "github.com/openshift/api/build/v1"
	imagev1 "github.com/openshift/api/image/v1"
	appsclient "github.com/openshift/client-go/apps/clientset/versioned"
	buildclient "github.com/openshift/client-go/build/clientset/versioned"
	imageclient "github.com/openshift/client-go/image/clientset/versioned"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/slipway-dev/slipway/bench/benchserver"
	"github.com/slipway-dev/slipway/internal/testregistry"
)

var (
	duration = flag.Duration("soak.duration", envDuration("SLIPWAY_SOAK_DURATION", time.Hour), "how long the traffic runs")
	report   = flag.Duration("soak.report", envDuration("SLIPWAY_SOAK_REPORT", 5*time.Minute), "how often the figures are printed")
)

func envDuration(key string, def time.Duration) time.Duration {
	if d, err := time.ParseDuration(os.Getenv(key)); err == nil {
		return d
	}
	return def
}

// The traffic, per minute unless said otherwise.
const (
	buildsPerMinute   = 6  // start-build (instantiate) of a cheap Dockerfile build
	webhooksPerMinute = 6  // generic webhooks of another BuildConfig
	rolloutsPerMinute = 2  // rollout latest of a DeploymentConfig without replicas
	pushesPerMinute   = 10 // new images on tags the image streams follow
	clients           = 20 // each lists one kind every listEvery and keeps two watches open
	listEvery         = 2 * time.Second
	streams           = 10 // of tagsPerStream scheduled tags each: 1,000 tags
	tagsPerStream     = 100
	importInterval    = time.Minute // --image-import-interval
	ns                = "soak"
	cheapDockerfile   = "FROM scratch\nLABEL io.slipway.bench=soak\n"
)

func BenchmarkSoak(b *testing.B) {
	if os.Getenv("SLIPWAY_SOAK") == "" {
		b.Skip("the soak runs for an hour: set SLIPWAY_SOAK=1 to run it")
	}
	if os.Geteuid() != 0 {
		b.Skip("builds need root (buildkitd's runc worker, build pods as host processes)")
	}
	for _, bin := range []string{"runc", "docker-registry"} {
		if _, err := exec.LookPath(bin); err != nil {
			b.Skipf("%s is not installed (hack/install-deps.sh)", bin)
		}
	}
	root := benchserver.RepoRoot(b)
	buildkitd := filepath.Join(root, "bin", "buildkitd")
	if _, err := os.Stat(buildkitd); err != nil {
		b.Skipf("bin/buildkitd is not built (make build): %v", err)
	}
	slipway := os.Getenv("SLIPWAY_TEST_BINARY")
	if slipway == "" {
		slipway = benchserver.BuildSlipway(b, root)
	}
	reg := testregistry.Start(b, testregistry.Options{})
	args := []string{"--buildkitd", buildkitd, "--image-import-interval=" + importInterval.String()}
	// SLIPWAY_SOAK_PROFILES=dir saves the server's heap profile at every
	// report (heap-<minutes>m.pprof), to compare with go tool pprof -base.
	profiles := os.Getenv("SLIPWAY_SOAK_PROFILES")
	if profiles != "" {
		args = append(args, "--profiling")
	}
	srv := benchserver.Start(b, slipway, args...)
	cfg, err := clientcmd.BuildConfigFromFlags("", srv.Kubeconfig())
	if err != nil {
		b.Fatal(err)
	}
	cfg.WarningHandler = rest.NoWarnings{} // DeploymentConfigs are deprecated: every call warns
	s := &soak{b: b, srv: srv, cfg: cfg, reg: reg, stats: newStats(), pushed: map[string]pushedTag{}}
	s.setUp()

	fmt.Printf("soak: %s of traffic, figures every %s. Per minute: %d start-builds, %d webhooks, %d rollouts, %d pushes to the %d tags of %d image streams imported every %s; %d clients listing every %s and watching builds and image streams\n",
		*duration, *report, buildsPerMinute, webhooksPerMinute, rolloutsPerMinute, pushesPerMinute, streams*tagsPerStream, streams, importInterval, clients, listEvery)
	ctx, cancel := context.WithTimeout(context.Background(), *duration)
	defer cancel()
	var wg sync.WaitGroup
	run := func(f func(context.Context)) {
		wg.Add(1)
		go func() { defer wg.Done(); f(ctx) }()
	}
	run(func(ctx context.Context) { every(ctx, time.Minute/buildsPerMinute, s.startBuild) })
	run(func(ctx context.Context) { every(ctx, time.Minute/webhooksPerMinute, s.webhook) })
	run(func(ctx context.Context) { every(ctx, time.Minute/rolloutsPerMinute, s.rollout) })
	run(func(ctx context.Context) { every(ctx, time.Minute/pushesPerMinute, s.push) })
	run(s.countBuilds)
	for i := range clients {
		c := s.newClient()
		run(func(ctx context.Context) {
			every(ctx, listEvery, func(ctx context.Context) { c.list(ctx, s.stats, i) })
		})
		run(func(ctx context.Context) { c.watch(ctx, s.stats, "builds") })
		run(func(ctx context.Context) { c.watch(ctx, s.stats, "imagestreams") })
	}
	start := time.Now()
	samples := &series{}
	run(func(ctx context.Context) {
		every(ctx, 30*time.Second, func(ctx context.Context) { samples.add(time.Since(start), s.sample(ctx)) })
	})
	b.ResetTimer()
	ticker := time.NewTicker(*report)
	for done := false; !done; {
		select {
		case <-ticker.C:
		case <-ctx.Done():
			done = true
		}
		s.print(time.Since(start), samples, done)
		if profiles != "" {
			out := filepath.Join(profiles, fmt.Sprintf("heap-%dm.pprof", int(time.Since(start).Round(time.Minute).Minutes())))
			if err := srv.SaveProfile(b, "heap", out); err != nil {
				b.Errorf("heap profile: %v", err)
			}
		}
	}
	ticker.Stop()
	wg.Wait()
	b.StopTimer()
	if failed := s.stats.failed(); failed > 0 {
		b.Errorf("%d requests failed that the client did not cause", failed)
	}
}

// every runs f now and then every interval until ctx ends.
func every(ctx context.Context, interval time.Duration, f func(context.Context)) {
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	for {
		f(ctx)
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
	}
}

// soak is the running benchmark: the server, its clients and what was
// seen.
type soak struct {
	b      *testing.B
	srv    *benchserver.Server
	cfg    *rest.Config
	reg    *testregistry.Registry
	stats  *stats
	builds buildclient.Interface
	apps   appsclient.Interface
	images imageclient.Interface
	kube   kubernetes.Interface

	mu     sync.Mutex
	pushed map[string]pushedTag // by tag of the local registry's soak/app
	built  map[string]buildv1.BuildPhase
}

// pushedTag is the last image pushed to a tag and when.
type pushedTag struct {
	digest string
	at     time.Time
}

// setUp makes the project, the two BuildConfigs, the DeploymentConfig, the
// local registry's 1,000 tags and the image streams following them.
func (s *soak) setUp() {
	b, ctx := s.b, context.Background()
	s.builds = buildclient.NewForConfigOrDie(s.cfg)
	s.apps = appsclient.NewForConfigOrDie(s.cfg)
	s.images = imageclient.NewForConfigOrDie(s.cfg)
	s.kube = kubernetes.NewForConfigOrDie(s.cfg)
	s.srv.Run(b, "new-project", ns)
	for _, bc := range []*buildv1.BuildConfig{cheapBC("cheap", nil), cheapBC("hooked", &buildv1.WebHookTrigger{Secret: "soak-secret"})} {
		if _, err := s.builds.BuildV1().BuildConfigs(ns).Create(ctx, bc, metav1.CreateOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	dc := &appsv1.DeploymentConfig{
		ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec: appsv1.DeploymentConfigSpec{
			Replicas: 0,
			Selector: map[string]string{"app": "web"},
			Strategy: appsv1.DeploymentStrategy{Type: appsv1.DeploymentStrategyTypeRecreate},
			Template: &corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: "busybox"}}},
			},
		},
	}
	if _, err := s.apps.AppsV1().DeploymentConfigs(ns).Create(ctx, dc, metav1.CreateOptions{}); err != nil {
		b.Fatal(err)
	}

	// One image under 1,000 tags (a manifest PUT each), then the streams.
	base := testregistry.RandomImage(b, "linux", "amd64")
	digest, err := base.Digest()
	if err != nil {
		b.Fatal(err)
	}
	for i := range streams * tagsPerStream {
		tag := tagName(i)
		ref, err := name.ParseReference(s.reg.Ref("soak/app:"+tag), name.Insecure)
		if err != nil {
			b.Fatal(err)
		}
		if err := remote.Write(ref, base, s.reg.Options()...); err != nil {
			b.Fatalf("tagging %s: %v", ref, err)
		}
		s.pushed[tag] = pushedTag{digest: digest.String(), at: time.Now()}
	}
	for i := range streams {
		stream := &imagev1.ImageStream{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("app%d", i)}}
		for j := range tagsPerStream {
			tag := tagName(i*tagsPerStream + j)
			stream.Spec.Tags = append(stream.Spec.Tags, imagev1.TagReference{
				Name:         tag,
				From:         &corev1.ObjectReference{Kind: "DockerImage", Name: s.reg.Ref("soak/app:" + tag)},
				ImportPolicy: imagev1.TagImportPolicy{Scheduled: true},
			})
		}
		if _, err := s.images.ImageV1().ImageStreams(ns).Create(ctx, stream, metav1.CreateOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

func tagName(i int) string { return fmt.Sprintf("t%04d", i) }

// streamOf is the image stream following tag.
func streamOf(tag string) string {
	i, _ := strconv.Atoi(strings.TrimPrefix(tag, "t"))
	return fmt.Sprintf("app%d", i/tagsPerStream)
}

// cheapBC is a Serial Docker build of cheapDockerfile (no pull, no push),
// with a generic webhook when hook is set; OpenShift's default history
// limits prune its builds.
func cheapBC(name string, hook *buildv1.WebHookTrigger) *buildv1.BuildConfig {
	dockerfile := cheapDockerfile
	bc := &buildv1.BuildConfig{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: buildv1.BuildConfigSpec{CommonSpec: buildv1.CommonSpec{
			Source:   buildv1.BuildSource{Type: buildv1.BuildSourceDockerfile, Dockerfile: &dockerfile},
			Strategy: buildv1.BuildStrategy{Type: buildv1.DockerBuildStrategyType, DockerStrategy: &buildv1.DockerBuildStrategy{}},
		}},
	}
	if hook != nil {
		bc.Spec.Triggers = []buildv1.BuildTriggerPolicy{{Type: buildv1.GenericWebHookBuildTriggerType, GenericWebHook: hook}}
	}
	return bc
}

func (s *soak) startBuild(ctx context.Context) {
	start := time.Now()
	_, err := s.builds.BuildV1().BuildConfigs(ns).Instantiate(ctx, "cheap", &buildv1.BuildRequest{
		ObjectMeta:  metav1.ObjectMeta{Name: "cheap"},
		TriggeredBy: []buildv1.BuildTriggerCause{{Message: "Manually triggered"}},
	}, metav1.CreateOptions{})
	s.stats.record(ctx, "instantiate", time.Since(start), err)
}

var webhookClient = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}

func (s *soak) webhook(ctx context.Context) {
	url := fmt.Sprintf("https://%s/apis/build.openshift.io/v1/namespaces/%s/buildconfigs/hooked/webhooks/soak-secret/generic", s.srv.Listen, ns)
	start := time.Now()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, nil)
	var resp *http.Response
	if err == nil {
		resp, err = webhookClient.Do(req)
	}
	if err == nil {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			err = &apierrors.StatusError{ErrStatus: metav1.Status{Code: int32(resp.StatusCode), Message: string(body)}}
		}
	}
	s.stats.record(ctx, "webhook", time.Since(start), err)
}

func (s *soak) rollout(ctx context.Context) {
	start := time.Now()
	_, err := s.apps.AppsV1().DeploymentConfigs(ns).Instantiate(ctx, "web",
		&appsv1.DeploymentRequest{Name: "web", Latest: true, Force: true}, metav1.CreateOptions{})
	s.stats.record(ctx, "rollout", time.Since(start), err)
}

// push puts a new image on a random followed tag of the local registry.
func (s *soak) push(ctx context.Context) {
	tag := tagName(rand.IntN(streams * tagsPerStream))
	img, err := random.Image(256, 1)
	if err != nil {
		s.stats.record(ctx, "push", 0, err)
		return
	}
	digest, err := img.Digest()
	ref, rerr := name.ParseReference(s.reg.Ref("soak/app:"+tag), name.Insecure)
	start := time.Now()
	if err = errors.Join(err, rerr); err == nil {
		err = remote.Write(ref, img, append(s.reg.Options(), remote.WithContext(ctx))...)
	}
	s.stats.record(ctx, "push", time.Since(start), err)
	if err == nil {
		s.mu.Lock()
		s.pushed[tag] = pushedTag{digest: digest.String(), at: time.Now()}
		s.mu.Unlock()
	}
}

// countBuilds follows the builds' phases: each build that ends counts as
// a "build" outcome (Complete ok, Cancelled refused, Failed or Error
// failed, with its reason).
func (s *soak) countBuilds(ctx context.Context) {
	s.mu.Lock()
	s.built = map[string]buildv1.BuildPhase{}
	s.mu.Unlock()
	for ctx.Err() == nil {
		w, err := s.builds.BuildV1().Builds(ns).Watch(ctx, metav1.ListOptions{})
		if err != nil {
			time.Sleep(time.Second)
			continue
		}
		for ev := range w.ResultChan() {
			build, isBuild := ev.Object.(*buildv1.Build)
			if !isBuild || ev.Type == watch.Deleted {
				continue
			}
			s.mu.Lock()
			before := s.built[build.Name]
			s.built[build.Name] = build.Status.Phase
			s.mu.Unlock()
			if before == build.Status.Phase {
				continue
			}
			switch build.Status.Phase {
			case buildv1.BuildPhaseComplete:
				s.stats.record(ctx, "build", 0, nil)
			case buildv1.BuildPhaseCancelled:
				s.stats.record(ctx, "build", 0, apierrors.NewBadRequest("cancelled"))
			case buildv1.BuildPhaseFailed, buildv1.BuildPhaseError:
				s.stats.record(ctx, "build", 0, fmt.Errorf("%s %s: %s: %s", build.Name, build.Status.Phase, build.Status.Reason, build.Status.Message))
			}
		}
	}
}

// importsBehind counts the pushes older than two import intervals whose
// image their stream's tag does not have yet, among the streams' tags.
func (s *soak) importsBehind(ctx context.Context) (behind, checked int, err error) {
	list, err := s.images.ImageV1().ImageStreams(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return 0, 0, err
	}
	latest := map[string]string{}
	for _, is := range list.Items {
		for _, st := range is.Status.Tags {
			if len(st.Items) > 0 {
				latest[is.Name+":"+st.Tag] = st.Items[0].Image
			}
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for tag, p := range s.pushed {
		if time.Since(p.at) < 2*importInterval {
			continue
		}
		checked++
		if latest[streamOf(tag)+":"+tag] != p.digest {
			behind++
		}
	}
	return behind, checked, nil
}

// client is one of the listing and watching clients, with a connection
// of its own.
type client struct {
	builds buildclient.Interface
	images imageclient.Interface
	apps   appsclient.Interface
	kube   kubernetes.Interface
}

func (s *soak) newClient() *client {
	cfg := rest.CopyConfig(s.cfg)
	// A dialer of its own keeps client-go from sharing one transport
	// (and one HTTP/2 connection) between the clients.
	dialer := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}
	cfg.Dial = dialer.DialContext
	return &client{
		builds: buildclient.NewForConfigOrDie(cfg),
		images: imageclient.NewForConfigOrDie(cfg),
		apps:   appsclient.NewForConfigOrDie(cfg),
		kube:   kubernetes.NewForConfigOrDie(cfg),
	}
}

// list lists one kind, the next one each time (builds, image streams,
// deployment configs, pods, events).
func (c *client) list(ctx context.Context, st *stats, i int) {
	st.mu.Lock()
	st.turn[i]++
	kind := st.turn[i] % 5
	st.mu.Unlock()
	start := time.Now()
	var err error
	switch kind {
	case 0:
		_, err = c.builds.BuildV1().Builds(ns).List(ctx, metav1.ListOptions{})
	case 1:
		_, err = c.images.ImageV1().ImageStreams(ns).List(ctx, metav1.ListOptions{})
	case 2:
		_, err = c.apps.AppsV1().DeploymentConfigs(ns).List(ctx, metav1.ListOptions{})
	case 3:
		_, err = c.kube.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
	case 4:
		_, err = c.kube.CoreV1().Events(ns).List(ctx, metav1.ListOptions{})
	}
	st.record(ctx, "list", time.Since(start), err)
}

// watch keeps a watch of kind open, opening it again when the server ends
// it; each opening is a request.
func (c *client) watch(ctx context.Context, st *stats, kind string) {
	for ctx.Err() == nil {
		var w watch.Interface
		var err error
		start := time.Now()
		if kind == "builds" {
			w, err = c.builds.BuildV1().Builds(ns).Watch(ctx, metav1.ListOptions{})
		} else {
			w, err = c.images.ImageV1().ImageStreams(ns).Watch(ctx, metav1.ListOptions{})
		}
		st.record(ctx, "watch", time.Since(start), err)
		if err != nil {
			select {
			case <-ctx.Done():
			case <-time.After(time.Second):
			}
			continue
		}
		for ev := range w.ResultChan() {
			if ev.Type == watch.Error {
				st.record(ctx, "watch event", 0, apierrors.FromObject(ev.Object))
				continue
			}
			st.mu.Lock()
			st.watchEvents++
			st.mu.Unlock()
		}
	}
}

// stats counts requests by kind and outcome and keeps the latencies of the
// current report interval and of the whole run.
type stats struct {
	mu          sync.Mutex
	outcomes    map[string]*[3]int // ok, refused (the client's doing), failed
	window      map[string][]time.Duration
	all         map[string][]time.Duration
	failures    []string // the first few, to say what failed
	watchEvents int
	turn        [clients]int
}

const (
	ok = iota
	refused
	failed
)

func newStats() *stats {
	return &stats{outcomes: map[string]*[3]int{}, window: map[string][]time.Duration{}, all: map[string][]time.Duration{}}
}

// outcome sorts an error: a 4xx the request deserved (bad input, a
// rollout already in progress) is refused; a conflict, throttling, a 5xx
// or no answer is a failure of the server. The benchmark ending the
// request counts as nothing.
func outcome(err error) int {
	if err == nil {
		return ok
	}
	var status apierrors.APIStatus
	if errors.As(err, &status) {
		code := status.Status().Code
		if code >= 400 && code < 500 && code != http.StatusConflict && code != http.StatusTooManyRequests {
			return refused
		}
	}
	return failed
}

func (st *stats) record(ctx context.Context, kind string, took time.Duration, err error) {
	if err != nil && ctx.Err() != nil {
		return // the run ended under the request
	}
	o := outcome(err)
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.outcomes[kind] == nil {
		st.outcomes[kind] = &[3]int{}
	}
	st.outcomes[kind][o]++
	if o == ok {
		st.window[kind] = append(st.window[kind], took)
		st.all[kind] = append(st.all[kind], took)
	}
	if o == failed && len(st.failures) < 20 {
		st.failures = append(st.failures, fmt.Sprintf("%s %s: %v", time.Now().Format(time.TimeOnly), kind, err))
	}
}

func (st *stats) failed() int {
	st.mu.Lock()
	defer st.mu.Unlock()
	n := 0
	for _, o := range st.outcomes {
		n += o[failed]
	}
	return n
}

// percentile is the p-th percentile of ds (0 for none).
func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[min(len(s)-1, int(float64(len(s))*p))]
}

// sample is the server's footprint at one moment.
type sample struct {
	rss        int64 // bytes
	goroutines int
	etcdDB     int64 // bytes
	fds        int
	err        error
}

func (s *soak) sample(ctx context.Context) sample {
	var out sample
	pid := s.srv.Pid()
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		out.err = err
		return out
	}
	for line := range strings.Lines(string(status)) {
		if v, found := strings.CutPrefix(line, "VmRSS:"); found {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			out.rss = kb << 10
		}
	}
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		out.err = err
	}
	out.fds = len(fds)
	out.etcdDB, err = etcdDBSize(s.srv.DataDir)
	if err != nil {
		out.err = err
	}
	metrics, err := s.kube.CoreV1().RESTClient().Get().AbsPath("/metrics").DoRaw(ctx)
	if err != nil {
		out.err = err
		return out
	}
	for line := range strings.Lines(string(metrics)) {
		if v, found := strings.CutPrefix(line, "go_goroutines "); found {
			out.goroutines, _ = strconv.Atoi(strings.TrimSpace(v))
		}
	}
	return out
}

// etcdDBSize is the size of the embedded etcd's bbolt file
// (<data-dir>/.../member/snap/db).
func etcdDBSize(dataDir string) (int64, error) {
	size := int64(-1)
	err := filepath.WalkDir(dataDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || d.Name() != "db" || filepath.Base(filepath.Dir(path)) != "snap" {
			return nil
		}
		info, err := d.Info()
		if err == nil {
			size = info.Size()
		}
		return fs.SkipAll
	})
	if err == nil && size < 0 {
		err = fmt.Errorf("no member/snap/db under %s", dataDir)
	}
	return size, err
}

// series is the samples taken every 30 s, by time since the start.
type series struct {
	mu      sync.Mutex
	at      []time.Duration
	samples []sample
}

func (s *series) add(at time.Duration, x sample) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.at, s.samples = append(s.at, at), append(s.samples, x)
}

// since returns the first sample at or after from and the last one.
func (s *series) since(from time.Duration) (first, last sample, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, at := range s.at {
		if at >= from && s.samples[i].err == nil {
			return s.samples[i], s.samples[len(s.samples)-1], true
		}
	}
	return sample{}, sample{}, false
}

// warmUp is the part of the run the growth figures leave out: a quarter,
// up to 15 minutes (the hour: its last 45 minutes count).
func warmUp() time.Duration { return min(*duration/4, 15*time.Minute) }

func growth(from, to int64) string {
	if from == 0 {
		return "n/a"
	}
	return fmt.Sprintf("%+.1f%%", 100*float64(to-from)/float64(from))
}

func (s *soak) print(elapsed time.Duration, samples *series, final bool) {
	title := "after"
	if final {
		title = "end,"
	}
	var out strings.Builder
	fmt.Fprintf(&out, "\nsoak %s %s:\n", title, elapsed.Round(time.Second))
	st := s.stats
	st.mu.Lock()
	kinds := make([]string, 0, len(st.outcomes))
	for k := range st.outcomes {
		kinds = append(kinds, k)
	}
	slices.Sort(kinds)
	fmt.Fprintf(&out, "  %-12s %8s %8s %8s\n", "requests", "ok", "refused", "failed")
	for _, k := range kinds {
		o := st.outcomes[k]
		fmt.Fprintf(&out, "  %-12s %8d %8d %8d\n", k, o[ok], o[refused], o[failed])
	}
	for _, k := range []string{"instantiate", "list"} {
		fmt.Fprintf(&out, "  %-12s last %s: p50 %s p99 %s; whole run: p50 %s p99 %s\n", k, *report,
			percentile(st.window[k], 0.5).Round(100*time.Microsecond), percentile(st.window[k], 0.99).Round(100*time.Microsecond),
			percentile(st.all[k], 0.5).Round(100*time.Microsecond), percentile(st.all[k], 0.99).Round(100*time.Microsecond))
		st.window[k] = nil
	}
	fmt.Fprintf(&out, "  watch events received: %d\n", st.watchEvents)
	for _, f := range st.failures {
		fmt.Fprintf(&out, "  failed: %s\n", f)
	}
	st.mu.Unlock()

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if behind, checked, err := s.importsBehind(ctx); err != nil {
		fmt.Fprintf(&out, "  imports: %v\n", err)
	} else {
		fmt.Fprintf(&out, "  imports: %d of %d tags pushed over 2 intervals ago not imported yet\n", behind, checked)
	}
	now := s.sample(ctx)
	if now.err != nil {
		fmt.Fprintf(&out, "  server: %v\n", now.err)
	}
	fmt.Fprintf(&out, "  server: RSS %d MiB, %d goroutines, etcd db %d MiB, %d open fds\n", now.rss>>20, now.goroutines, now.etcdDB>>20, now.fds)
	if first, last, found := samples.since(warmUp()); found && elapsed > warmUp() {
		fmt.Fprintf(&out, "  since warm-up (%s): RSS %s, goroutines %s, etcd db %s, fds %s\n", warmUp(),
			growth(first.rss, last.rss), growth(int64(first.goroutines), int64(last.goroutines)),
			growth(first.etcdDB, last.etcdDB), growth(int64(first.fds), int64(last.fds)))
	}
	fmt.Print(out.String())
}
