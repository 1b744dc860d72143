package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/types"
	appsv1 "github.com/openshift/api/apps/v1"
	buildv1 "github.com/openshift/api/build/v1"
	imagev1 "github.com/openshift/api/image/v1"
	appsclient "github.com/openshift/client-go/apps/clientset/versioned"
	imageclient "github.com/openshift/client-go/image/clientset/versioned"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/slipway-dev/slipway/internal/deployutil"
	"github.com/slipway-dev/slipway/internal/podlogs"
	"github.com/slipway-dev/slipway/internal/testregistry"
)

// TestCrashRounds kills `slipway server` with SIGKILL at ten moments and
// starts it again on its data directory each time: while a build's pod is
// Pending, while its RUN step runs, while BuildKit exports the image,
// while it pushes to the internal registry, right after a build completed;
// in the middle of a blob upload and of a manifest PUT to the internal
// registry; while a scheduled import waits for its registry; while a
// DeploymentConfig's deployer pod rolls out and just after the new
// deployment was created. After each restart every build is in a terminal
// phase with a reason a user can act on, the registry stores no partial
// blob or manifest and every image stream tag names an image whose
// manifest it serves whole, rollouts complete or fail with a reason while
// the DC and its RCs agree, a retried push, build or rollout succeeds, and
// no process, container or mount of the killed server is left. The rounds
// share one server and follow on from each other (the build configs and
// the DC of one are used by the next).
func TestCrashRounds(t *testing.T) {
	// The proxy exists before the server, which is told to trust it.
	proxy := startHoldProxy(t, "")
	b := startBuildServer(t, "--image-import-interval=1s", "--insecure-registry", proxy.addr())
	proxy.target = b.hub.Host
	cfg := noWarnings(b.restConfig())
	r := &crashRig{
		buildServer: b,
		images:      imageclient.NewForConfigOrDie(cfg),
		apps:        appsclient.NewForConfigOrDie(cfg),
		internal:    &testregistry.Registry{Host: b.registry, User: "admin", Password: b.adminToken()},
		proxy:       proxy,
		baseline:    mountsUnder(t, b.dataDir),
	}
	const ns = "crash"
	b.newProject(t, ns)
	// The app pods pull from the "Docker Hub"; imports go through the proxy.
	b.c.run("secrets", "link", "default", "dockerhub", "--for=pull")
	b.c.run("create", "secret", "docker-registry", "proxyhub", "--docker-server="+proxy.addr(),
		"--docker-username="+hubUser, "--docker-password="+hubPassword)

	rounds := []struct {
		name string
		f    func(t *testing.T, r *crashRig, ns string)
	}{
		{"build-pod-pending", crashBuildPending},
		{"build-run-step", crashBuildRunStep},
		{"build-export", crashBuildExport},
		{"build-push", crashBuildPush},
		{"build-just-complete", crashBuildComplete},
		{"registry-blob-upload", crashBlobUpload},
		{"registry-manifest-put", crashManifestPut},
		{"scheduled-import", crashScheduledImport},
		{"rollout-deployer-running", crashRolloutRunning},
		{"rollout-new-deployment", crashRolloutNew},
	}
	for _, round := range rounds {
		r.round(t, round.name, func(t *testing.T) {
			round.f(t, r, ns)
			r.checkBuilds(t, ns)
			r.checkRegistry(t, ns)
		})
	}
}

// createBC creates a Dockerfile build config of busybox without triggers,
// its output the ImageStreamTag output (none when ""), whose stream it
// creates.
func (r *crashRig) createBC(t *testing.T, ns, name, dockerfile, output string) {
	t.Helper()
	var to *corev1.ObjectReference
	if output != "" {
		to = &corev1.ObjectReference{Kind: "ImageStreamTag", Name: output}
		stream := &imagev1.ImageStream{ObjectMeta: metav1.ObjectMeta{Name: strings.Split(output, ":")[0]}}
		if _, err := r.images.ImageV1().ImageStreams(ns).Create(context.Background(), stream, createOpts); err != nil {
			t.Fatal(err)
		}
	}
	bc := dockerBC(name, "", "", "FROM "+r.busybox+"\n"+dockerfile, r.busybox, to, "")
	bc.Spec.Triggers = nil
	if _, err := r.builds.BuildV1().BuildConfigs(ns).Create(context.Background(), bc, createOpts); err != nil {
		t.Fatal(err)
	}
}

// startBuild starts a build of bc with build args and returns its name.
func (r *crashRig) startBuild(t *testing.T, ns, bc string, args ...string) string {
	t.Helper()
	cmd := []string{"start-build", "-n", ns, bc}
	for _, a := range args {
		cmd = append(cmd, "--build-arg", a)
	}
	out := r.c.run(cmd...)
	for _, f := range strings.Fields(out) {
		if name, ok := strings.CutPrefix(f, "build.build.openshift.io/"); ok {
			return name
		}
	}
	t.Fatalf("start-build printed no build name:\n%s", out)
	return ""
}

// waitFor polls ns's build until moment says it has come, every 10 ms.
func (r *crashRig) waitFor(t *testing.T, ns, build string, timeout time.Duration, moment func(*buildv1.Build) (bool, error)) *buildv1.Build {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var last error
	for time.Now().Before(deadline) {
		got, err := r.builds.BuildV1().Builds(ns).Get(context.Background(), build, getOpts)
		if err == nil {
			var ok bool
			if ok, err = moment(got); ok {
				return got
			}
		}
		if err != nil {
			last = err
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("build %s: the moment did not come in %s: %v\n%s", build, timeout, last, r.buildLog(ns, build))
	return nil
}

// builderStarted reports whether the build pod's builder process runs
// (the node wrote its pid file).
func (r *crashRig) builderStarted(ns, build string) bool {
	_, err := os.Stat(filepath.Join(podlogs.Dir(r.dataDir).PodDir(ns, build+"-build"), "pid"))
	return err == nil
}

// crashBuildPending: killed as soon as the build's pod exists (a watch
// sees it created), before the node started its builder. After the
// restart the build runs to its end or fails with a reason, and a new
// build completes.
func crashBuildPending(t *testing.T, r *crashRig, ns string) {
	r.createBC(t, ns, "quick", "ARG N=0\nRUN echo $N > /n\n", "quick:latest")
	pods, err := r.kube.CoreV1().Pods(ns).Watch(context.Background(), metav1.ListOptions{FieldSelector: "metadata.name=quick-1-build"})
	if err != nil {
		t.Fatal(err)
	}
	build := r.startBuild(t, ns, "quick", "N=pending")
	if build != "quick-1" {
		t.Fatalf("the first build of quick is %s", build)
	}
	var pod *corev1.Pod
	timeout := time.After(time.Minute)
	for pod == nil {
		select {
		case ev := <-pods.ResultChan():
			pod, _ = ev.Object.(*corev1.Pod)
		case <-timeout:
			t.Fatalf("no pod of %s after a minute", build)
		}
	}
	started := r.builderStarted(ns, build)
	r.crash(t)
	pods.Stop()
	if started {
		t.Logf("the builder had started when the server was killed")
	}
	got := r.waitBuild(t, ns, build, 2*time.Minute)
	t.Logf("%s, killed with its pod %s (node %q): %s %s %q", build, pod.Status.Phase, pod.Spec.NodeName, got.Status.Phase, got.Status.Reason, got.Status.Message)
	if got.Status.Phase != buildv1.BuildPhaseComplete {
		next := r.startBuild(t, ns, "quick", "N=pending")
		if done := r.waitBuild(t, ns, next, 2*time.Minute); done.Status.Phase != buildv1.BuildPhaseComplete {
			t.Fatalf("%s after the restart: %s (%s: %s)\n%s", next, done.Status.Phase, done.Status.Reason, done.Status.Message, r.buildLog(ns, next))
		}
	}
}

// crashBuildRunStep: killed while the build runs a long RUN step. The
// build ends Error/BuildPodLost, its builder process is gone, and the next
// build of the config completes.
func crashBuildRunStep(t *testing.T, r *crashRig, ns string) {
	// The step's duration comes from a build arg, so the second build is
	// quick and the first one's cache does not answer for it.
	r.createBC(t, ns, "slow", "ARG NAP=0\nRUN sleep $NAP\n", "")
	build := r.startBuild(t, ns, "slow", "NAP=60")
	r.waitFor(t, ns, build, 2*time.Minute, func(b *buildv1.Build) (bool, error) {
		return b.Status.Phase == buildv1.BuildPhaseRunning && strings.Contains(r.buildLog(ns, build), "sleep"), nil
	})
	data, err := os.ReadFile(filepath.Join(podlogs.Dir(r.dataDir).PodDir(ns, build+"-build"), "pid"))
	if err != nil {
		t.Fatalf("the build pod's pid file: %v", err)
	}
	// "<pid> <pod UID> <container>"
	builder, err := strconv.Atoi(strings.Fields(string(data))[0])
	if err != nil {
		t.Fatalf("pid file %q: %v", data, err)
	}
	r.crash(t)
	got := r.waitBuild(t, ns, build, 2*time.Minute)
	if got.Status.Phase != buildv1.BuildPhaseError || got.Status.Reason != "BuildPodLost" {
		t.Errorf("%s after the restart: %s %s %q, want Error BuildPodLost", build, got.Status.Phase, got.Status.Reason, got.Status.Message)
	}
	if processAlive(builder) {
		t.Errorf("the killed server's builder process %d still runs", builder)
	}
	next := r.startBuild(t, ns, "slow", "NAP=0")
	if done := r.waitBuild(t, ns, next, 2*time.Minute); done.Status.Phase != buildv1.BuildPhaseComplete {
		t.Fatalf("%s after the restart: %s (%s: %s)\n%s", next, done.Status.Phase, done.Status.Reason, done.Status.Message, r.buildLog(ns, next))
	}
}

// bigDockerfile makes a 48 MiB layer of random bytes (incompressible, so
// exporting and pushing it take a while).
const bigDockerfile = "ARG SEED=0\nRUN echo $SEED > /seed && head -c 50331648 /dev/urandom > /blob\n"

// uploading is how many bytes the internal registry has of the largest
// blob upload in progress to repository ns/stream.
func (r *crashRig) uploading(ns, stream string) int64 {
	uploads, _ := filepath.Glob(filepath.Join(r.registryRoot(), "repositories", ns, stream, "_uploads", "*", "data"))
	var most int64
	for _, u := range uploads {
		if fi, err := os.Stat(u); err == nil {
			most = max(most, fi.Size())
		}
	}
	return most
}

// crashBuildExport: killed once the RUN step is done and BuildKit exports
// the image (compressing the layer), before the push reaches the
// registry. The build ends with a reason; the stream has no tag of it.
func crashBuildExport(t *testing.T, r *crashRig, ns string) {
	r.createBC(t, ns, "big", bigDockerfile, "big:latest")
	build := r.startBuild(t, ns, "big", "SEED=export")
	r.waitFor(t, ns, build, 2*time.Minute, func(b *buildv1.Build) (bool, error) {
		if b.Status.Phase != buildv1.BuildPhaseRunning {
			return false, fmt.Errorf("%s is %s", b.Name, b.Status.Phase)
		}
		log := r.buildLog(ns, build)
		return strings.Contains(log, "exporting") || strings.Contains(log, "COMMIT"), nil
	})
	if n := r.uploading(ns, "big"); n > 0 {
		t.Logf("the push had begun when the server was killed (%d bytes uploaded)", n)
	}
	r.crash(t)
	got := r.waitBuild(t, ns, build, 2*time.Minute)
	t.Logf("%s after the restart: %s %s %q", build, got.Status.Phase, got.Status.Reason, got.Status.Message)
}

// crashBuildPush: killed while BuildKit uploads the image's big layer to
// the internal registry. The build ends Error/BuildPodLost, the registry
// stores no part of the layer as a blob, the stream's tag (if any) names
// a manifest it serves, and the build started again pushes.
func crashBuildPush(t *testing.T, r *crashRig, ns string) {
	build := r.startBuild(t, ns, "big", "SEED=push")
	// The registry's disk is watched closely: the upload of the big
	// layer over loopback is quick.
	deadline, check := time.Now().Add(2*time.Minute), time.Now()
	var uploaded int64
	for uploaded = r.uploading(ns, "big"); uploaded < 1<<20; uploaded = r.uploading(ns, "big") {
		if time.Now().After(deadline) {
			t.Fatalf("%s pushed no big layer in 2 minutes\n%s", build, r.buildLog(ns, build))
		}
		if time.Since(check) > time.Second {
			check = time.Now()
			if b, err := r.builds.BuildV1().Builds(ns).Get(context.Background(), build, getOpts); err == nil &&
				b.Status.Phase != buildv1.BuildPhaseNew && b.Status.Phase != buildv1.BuildPhasePending && b.Status.Phase != buildv1.BuildPhaseRunning {
				t.Fatalf("%s ended %s before its push was seen (%s: %s)", build, b.Status.Phase, b.Status.Reason, b.Status.Message)
			}
		}
		time.Sleep(2 * time.Millisecond)
	}
	r.crash(t)
	t.Logf("killed with %d bytes of the layer uploaded", uploaded)
	got := r.waitBuild(t, ns, build, 2*time.Minute)
	if got.Status.Phase != buildv1.BuildPhaseError || got.Status.Reason != "BuildPodLost" {
		t.Errorf("%s after the restart: %s %s %q, want Error BuildPodLost", build, got.Status.Phase, got.Status.Reason, got.Status.Message)
	}
	r.checkRegistry(t, ns)
	next := r.startBuild(t, ns, "big", "SEED=push")
	done := r.waitBuild(t, ns, next, 2*time.Minute)
	if done.Status.Phase != buildv1.BuildPhaseComplete {
		t.Fatalf("%s after the restart: %s (%s: %s)\n%s", next, done.Status.Phase, done.Status.Reason, done.Status.Message, r.buildLog(ns, next))
	}
	if digest, _ := latestImage(t, r.images, ns, "big", "latest"); digest != done.Status.Output.To.ImageDigest {
		t.Errorf("big:latest is at %q, want %s's %s", digest, next, done.Status.Output.To.ImageDigest)
	}
}

// crashBuildComplete: killed as soon as a build is Complete. It stays
// Complete, and the stream's tag names its image.
func crashBuildComplete(t *testing.T, r *crashRig, ns string) {
	build := r.startBuild(t, ns, "quick", "N=complete")
	r.waitFor(t, ns, build, 2*time.Minute, func(b *buildv1.Build) (bool, error) {
		switch b.Status.Phase {
		case buildv1.BuildPhaseComplete:
			return true, nil
		case buildv1.BuildPhaseFailed, buildv1.BuildPhaseError, buildv1.BuildPhaseCancelled:
			t.Fatalf("%s is %s (%s: %s)", b.Name, b.Status.Phase, b.Status.Reason, b.Status.Message)
		}
		return false, nil
	})
	r.crash(t)
	// Long enough for the controllers to have had a pass at it.
	time.Sleep(3 * time.Second)
	got := r.waitBuild(t, ns, build, time.Minute)
	if got.Status.Phase != buildv1.BuildPhaseComplete || got.Status.Output.To == nil {
		t.Fatalf("%s after the restart: %s (%s: %s), output %+v; want it to stay Complete", build, got.Status.Phase, got.Status.Reason, got.Status.Message, got.Status.Output)
	}
	if digest, _ := latestImage(t, r.images, ns, "quick", "latest"); digest != got.Status.Output.To.ImageDigest {
		t.Errorf("quick:latest is at %q, want %s's %s", digest, build, got.Status.Output.To.ImageDigest)
	}
}

// crashBlobUpload: killed while a client streams a blob into the internal
// registry (a PATCH in flight). After the restart the registry has no
// blob of it, the upload is not resumed, and a push of the image it
// belongs to succeeds.
func crashBlobUpload(t *testing.T, r *crashRig, ns string) {
	const size, sentAtKill = 32 << 20, 8 << 20
	content := make([]byte, size)
	if _, err := rand.Read(content); err != nil {
		t.Fatal(err)
	}
	digest := "sha256:" + sha256Hex(content)
	partial := "sha256:" + sha256Hex(content[:sentAtKill])
	code, _, location := r.startUpload(t, ns+"/raw")
	if code != http.StatusAccepted {
		t.Fatalf("starting an upload: %d", code)
	}
	body, feed := io.Pipe()
	patched := make(chan error, 1)
	go func() {
		req, _ := http.NewRequest("PATCH", location, body)
		req.SetBasicAuth("admin", r.adminToken())
		req.Header.Set("Content-Type", "application/octet-stream")
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
			err = fmt.Errorf("PATCH answered %s", resp.Status)
		}
		patched <- err
	}()
	if _, err := feed.Write(content[:sentAtKill]); err != nil {
		t.Fatal(err)
	}
	// The upload's data reached the registry's disk.
	eventually(t, 30*time.Second, func() error {
		if r.uploading(ns, "raw") == 0 {
			return fmt.Errorf("no upload data in the registry yet")
		}
		return nil
	})
	r.crash(t)
	feed.CloseWithError(fmt.Errorf("the server was killed"))
	t.Logf("the PATCH in flight ended: %v", <-patched)
	for _, d := range []string{digest, partial} {
		if code, _ := r.registryDo(t, "HEAD", "/v2/"+ns+"/raw/blobs/"+d, "", nil); code != http.StatusNotFound {
			t.Errorf("HEAD of blob %s after the restart: %d, want 404", d, code)
		}
	}
	// The upload may go on where the registry's disk says it stopped: then
	// the rest completes it, and the blob is whole.
	if code, end, next := r.uploadStatus(t, location); code/100 == 2 {
		t.Logf("the killed server's upload goes on after byte %d", end)
		if end < 0 || end >= size {
			t.Fatalf("the upload reports range 0-%d of a %d byte blob", end, size)
		}
		sep := "?"
		if strings.Contains(next, "?") {
			sep = "&"
		}
		req, _ := http.NewRequest("PUT", next+sep+"digest="+digest, bytes.NewReader(content[end+1:]))
		req.SetBasicAuth("admin", r.adminToken())
		req.Header.Set("Content-Type", "application/octet-stream")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		answer, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusCreated {
			t.Errorf("completing the upload the killed server began: %s %s", resp.Status, answer)
		}
	}
	// The image with that layer, pushed again whole.
	layer := static.NewLayer(content, types.OCILayer)
	img, err := mutate.AppendLayers(mutate.MediaType(empty.Image, types.OCIManifestSchema1), layer)
	if err != nil {
		t.Fatal(err)
	}
	pushed := r.internal.Push(t, ns+"/raw:latest", img)
	waitTagImage(t, r.images, ns, "raw", "latest", pushed, 30*time.Second)
	if code, got := r.registryGet(t, "/v2/"+ns+"/raw/blobs/"+digest); code != http.StatusOK || "sha256:"+sha256Hex(got) != digest {
		t.Errorf("GET of blob %s after the push: %d, %d bytes", digest, code, len(got))
	}
}

// uploadStatus is GET of an upload's location: the status, the last byte
// the registry has and the location to go on with.
func (r *crashRig) uploadStatus(t *testing.T, location string) (int, int, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", location, nil)
	req.SetBasicAuth("admin", r.adminToken())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	end := -1
	if _, last, ok := strings.Cut(resp.Header.Get("Range"), "-"); ok {
		end, _ = strconv.Atoi(last)
	}
	next := resp.Header.Get("Location")
	if strings.HasPrefix(next, "/") {
		next = "http://" + r.registry + next
	}
	return resp.StatusCode, end, next
}

// startUpload is POST /v2/repo/blobs/uploads/: the status, body and
// upload location.
func (r *crashRig) startUpload(t *testing.T, repo string) (int, []byte, string) {
	t.Helper()
	req, err := http.NewRequest("POST", "http://"+r.registry+"/v2/"+repo+"/blobs/uploads/", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth("admin", r.adminToken())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	location := resp.Header.Get("Location")
	if strings.HasPrefix(location, "/") {
		location = "http://" + r.registry + location
	}
	return resp.StatusCode, data, location
}

// crashManifestPut: killed while a manifest PUT's body is half sent (its
// blobs are in the registry). After the restart neither the tag nor the
// digest is served, the stream has no such tag, and the PUT again
// succeeds and tags the stream.
func crashManifestPut(t *testing.T, r *crashRig, ns string) {
	img := testregistry.RandomImage(t, "linux", "amd64")
	repo, err := name.NewRepository(r.internal.Ref(ns+"/manifest"), name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	rawConfig, err := img.RawConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range append(layers, static.NewLayer(rawConfig, types.DockerConfigJSON)) {
		if err := remote.WriteLayer(repo, l, r.internal.Options()...); err != nil {
			t.Fatal(err)
		}
	}
	manifest, err := img.RawManifest()
	if err != nil {
		t.Fatal(err)
	}
	mediaType, err := img.MediaType()
	if err != nil {
		t.Fatal(err)
	}
	digest := "sha256:" + sha256Hex(manifest)
	body, feed := io.Pipe()
	put := make(chan error, 1)
	go func() {
		req, _ := http.NewRequest("PUT", "http://"+r.registry+"/v2/"+ns+"/manifest/manifests/latest", body)
		req.SetBasicAuth("admin", r.adminToken())
		req.Header.Set("Content-Type", string(mediaType))
		req.ContentLength = int64(len(manifest))
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
			err = fmt.Errorf("PUT answered %s", resp.Status)
		}
		put <- err
	}()
	if _, err := feed.Write(manifest[:len(manifest)/2]); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	r.crash(t)
	feed.CloseWithError(fmt.Errorf("the server was killed"))
	t.Logf("the PUT in flight ended: %v", <-put)
	for _, ref := range []string{digest, "latest"} {
		if code, _ := r.registryGet(t, "/v2/"+ns+"/manifest/manifests/"+ref); code != http.StatusNotFound {
			t.Errorf("GET of manifest %s after the restart: %d, want 404", ref, code)
		}
	}
	if got, _ := latestImage(t, r.images, ns, "manifest", "latest"); got != "" {
		t.Errorf("manifest:latest names %s, pushed by no complete PUT", got)
	}
	code, answer := r.registryDo(t, "PUT", "/v2/"+ns+"/manifest/manifests/latest", string(mediaType), bytes.NewReader(manifest))
	if code != http.StatusCreated {
		t.Fatalf("PUT of the manifest again: %d %s", code, answer)
	}
	waitTagImage(t, r.images, ns, "manifest", "latest", digest, 30*time.Second)
}

// crashScheduledImport: a tag imported on a schedule (every second) from a
// registry behind a proxy; the registry gets a new image and the server is
// killed while its import waits for the registry's answer. After the
// restart the tag gets the new image, its import conditions are sane, and
// every image it names exists.
func crashScheduledImport(t *testing.T, r *crashRig, ns string) {
	first := r.hub.PushRandom(t, "veer/imported:latest")
	is := &imagev1.ImageStream{
		ObjectMeta: metav1.ObjectMeta{Name: "imported"},
		Spec: imagev1.ImageStreamSpec{Tags: []imagev1.TagReference{{
			Name:         "latest",
			From:         &corev1.ObjectReference{Kind: "DockerImage", Name: r.proxy.addr() + "/veer/imported:latest"},
			ImportPolicy: imagev1.TagImportPolicy{Scheduled: true},
		}}},
	}
	if _, err := r.images.ImageV1().ImageStreams(ns).Create(context.Background(), is, createOpts); err != nil {
		t.Fatal(err)
	}
	waitTagImage(t, r.images, ns, "imported", "latest", first, 30*time.Second)
	r.proxy.hold()
	second := r.hub.PushRandom(t, "veer/imported:latest")
	eventually(t, 30*time.Second, func() error {
		if r.proxy.holding() == 0 {
			return fmt.Errorf("no import has reached the registry yet")
		}
		return nil
	})
	r.crash(t)
	r.proxy.open()
	got := waitTagImage(t, r.images, ns, "imported", "latest", second, 30*time.Second)
	for _, tag := range got.Status.Tags {
		for _, c := range tag.Conditions {
			if c.Type == imagev1.ImportSuccess && c.Status != corev1.ConditionTrue {
				t.Errorf("imported:%s has condition %+v after a successful import", tag.Tag, c)
			}
		}
	}
	if digest, _ := latestImage(t, r.images, ns, "imported", "latest"); digest != second {
		t.Errorf("imported:latest is at %s, want %s", digest, second)
	}
}

// rollDC is a Rolling DC "web" of two pods of image, slow enough to be
// caught in the middle (each new pod waits a second before it counts).
func rollDC(image string) *appsv1.DeploymentConfig {
	dc := webDC("web", image, 2)
	dc.Spec.MinReadySeconds = 1
	return dc
}

// checkDeployments: the DC's latestVersion is its newest deployment's, no
// version has two, every one is terminal, and the active one's pods (the
// newest Complete) answer body. It returns the newest deployment.
func (r *crashRig) checkDeployments(t *testing.T, ns, dc string, timeout time.Duration) *corev1.ReplicationController {
	t.Helper()
	var latest *corev1.ReplicationController
	eventually(t, timeout, func() error {
		config, err := r.apps.AppsV1().DeploymentConfigs(ns).Get(context.Background(), dc, getOpts)
		if err != nil {
			return err
		}
		rcs, err := r.kube.CoreV1().ReplicationControllers(ns).List(context.Background(), metav1.ListOptions{LabelSelector: "openshift.io/deployment-config.name=" + dc})
		if err != nil {
			return err
		}
		versions := map[string]string{}
		latest = nil
		for i, rc := range rcs.Items {
			v := rc.Annotations["openshift.io/deployment-config.latest-version"]
			if other, dup := versions[v]; dup {
				return fmt.Errorf("deployments %s and %s are both version %s", other, rc.Name, v)
			}
			versions[v] = rc.Name
			phase := rc.Annotations["openshift.io/deployment.phase"]
			if phase != "Complete" && phase != "Failed" {
				return fmt.Errorf("%s is %s", rc.Name, phase)
			}
			if reason := deployutil.StatusReasonFor(&rc); phase == "Failed" && (reason == "" ||
				reason == deployutil.MessageConfigChange || reason == deployutil.MessageImageChange || reason == deployutil.MessageManualChange) {
				// The annotation holds the deployment's cause until a
				// failure says why.
				return fmt.Errorf("%s failed without a reason (status reason %q)", rc.Name, reason)
			}
			if n, _ := strconv.ParseInt(v, 10, 64); n == config.Status.LatestVersion {
				latest = &rcs.Items[i]
			}
		}
		if latest == nil {
			return fmt.Errorf("dc/%s is at version %d, which has no deployment (%v)", dc, config.Status.LatestVersion, versions)
		}
		if int64(len(rcs.Items)) > config.Status.LatestVersion {
			return fmt.Errorf("dc/%s is at version %d with %d deployments %v", dc, config.Status.LatestVersion, len(rcs.Items), versions)
		}
		return nil
	})
	return latest
}

// activeDeployment is the newest Complete deployment of dc, as the
// controller scales it up.
func (r *crashRig) activeDeployment(t *testing.T, ns, dc string) string {
	t.Helper()
	rcs, err := r.kube.CoreV1().ReplicationControllers(ns).List(context.Background(), metav1.ListOptions{LabelSelector: "openshift.io/deployment-config.name=" + dc})
	if err != nil {
		t.Fatal(err)
	}
	active, newest := "", int64(0)
	for _, rc := range rcs.Items {
		v, _ := strconv.ParseInt(rc.Annotations["openshift.io/deployment-config.latest-version"], 10, 64)
		if rc.Annotations["openshift.io/deployment.phase"] == "Complete" && v > newest {
			active, newest = rc.Name, v
		}
	}
	return active
}

// webImages are the app's versions in the "Docker Hub", pushed once.
var webImages = map[string]string{}

func (r *crashRig) webImage(t *testing.T, version string) string {
	t.Helper()
	if img, ok := webImages[version]; ok {
		return img
	}
	webImages[version] = webImage(t, r.hub, version)
	return webImages[version]
}

// crashRolloutRunning: killed while the deployer pod rolls "web" from v1 to
// v2 (the new deployment has pods). After the restart the rollout is
// Complete or Failed with a reason, the DC and its deployments agree, the
// active deployment's pods serve, and a rollout started again completes.
func crashRolloutRunning(t *testing.T, r *crashRig, ns string) {
	requireAppPods(t)
	v1, v2 := r.webImage(t, "v1"), r.webImage(t, "v2")
	if _, err := r.apps.AppsV1().DeploymentConfigs(ns).Create(context.Background(), rollDC(v1), createOpts); err != nil {
		t.Fatal(err)
	}
	waitRollout(t, r.apps, r.buildServer, ns, "web", 1, 2*time.Minute)
	update(t, r.apps, ns, "web", func(dc *appsv1.DeploymentConfig) { dc.Spec.Template.Spec.Containers[0].Image = v2 })
	eventually(t, time.Minute, func() error {
		pod, err := r.kube.CoreV1().Pods(ns).Get(context.Background(), "web-2-deploy", getOpts)
		if err != nil {
			return err
		}
		rc, err := r.kube.CoreV1().ReplicationControllers(ns).Get(context.Background(), "web-2", getOpts)
		if err != nil {
			return err
		}
		if pod.Status.Phase != corev1.PodRunning || rc.Spec.Replicas == nil || *rc.Spec.Replicas == 0 {
			return fmt.Errorf("deployer pod %s, web-2 replicas %v", pod.Status.Phase, rc.Spec.Replicas)
		}
		return nil
	})
	r.crash(t)
	r.afterRolloutCrash(t, ns, 2, map[string]string{"web-1": "v1\n", "web-2": "v2\n"}, "v2\n")
}

// afterRolloutCrash checks the deployments of "web" after a crash during
// the rollout of version; when the rollout failed, the previous version
// serves and `rollout latest` completes a new one, serving want.
func (r *crashRig) afterRolloutCrash(t *testing.T, ns string, version int64, bodies map[string]string, want string) {
	t.Helper()
	latest := r.checkDeployments(t, ns, "web", 2*time.Minute)
	phase := latest.Annotations["openshift.io/deployment.phase"]
	t.Logf("%s after the restart: %s %q", latest.Name, phase, latest.Annotations["openshift.io/deployment.status-reason"])
	if latest.Name != fmt.Sprintf("web-%d", version) {
		t.Fatalf("dc/web's latest deployment after the restart is %s, want web-%d", latest.Name, version)
	}
	active := r.activeDeployment(t, ns, "web")
	waitServing(t, r.kube, ns, "web", active, 2, bodies[active], 2*time.Minute)
	if phase == "Complete" {
		return
	}
	r.c.run("rollout", "latest", "-n", ns, "dc/web")
	waitRollout(t, r.apps, r.buildServer, ns, "web", version+1, 2*time.Minute)
	waitServing(t, r.kube, ns, "web", fmt.Sprintf("web-%d", version+1), 2, want, time.Minute)
	r.checkDeployments(t, ns, "web", 30*time.Second)
}

// crashRolloutNew: killed as soon as the deployment of a new version
// exists, before its deployer pod ran.
func crashRolloutNew(t *testing.T, r *crashRig, ns string) {
	requireAppPods(t)
	v3 := r.webImage(t, "v3")
	config, err := r.apps.AppsV1().DeploymentConfigs(ns).Get(context.Background(), "web", getOpts)
	if err != nil {
		t.Fatal(err)
	}
	version := config.Status.LatestVersion + 1
	update(t, r.apps, ns, "web", func(dc *appsv1.DeploymentConfig) { dc.Spec.Template.Spec.Containers[0].Image = v3 })
	rcName := fmt.Sprintf("web-%d", version)
	deadline := time.Now().Add(time.Minute)
	for {
		if _, err := r.kube.CoreV1().ReplicationControllers(ns).Get(context.Background(), rcName, getOpts); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s was not created", rcName)
		}
		time.Sleep(10 * time.Millisecond)
	}
	r.crash(t)
	bodies := map[string]string{rcName: "v3\n"}
	for i := int64(1); i < version; i++ {
		bodies[fmt.Sprintf("web-%d", i)] = map[bool]string{true: "v1\n", false: "v2\n"}[i == 1]
	}
	r.afterRolloutCrash(t, ns, version, bodies, "v3\n")
}
