// Package rollout_bench measures, on a real `slipway server` with app pods
// under runc, how long a new image pushed to an external registry (Debian's
// docker-registry) takes to answer through the app's host port: from the
// end of the push (the manifest is in the registry) until an HTTP GET on
// the host port returns the new content. Once with the registry's
// notifications sent to Slipway (the server keeps OpenShift's 15-minute
// import interval, so only the notification can move the tag) and once
// with a 2 s scheduled import and no notifications. The app is the seed's
// time app (busybox + init.sh answering on 8080) followed by an
// ImageStream and rolled out by `new-app`'s DeploymentConfig. It also
// measures a pod's start (create -> Running) for the time app's image. It
// prints the medians; nothing is asserted on the times.
//
//	go test -run '^$' -bench Rollout -benchtime 1x ./bench/rollout/
package rollout_bench

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	appsv1 "github.com/openshift/api/apps/v1"
	appsclient "github.com/openshift/client-go/apps/clientset/versioned"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/slipway-dev/slipway/bench/benchserver"
	"github.com/slipway-dev/slipway/internal/builder/build/buildtest"
	"github.com/slipway-dev/slipway/internal/testregistry"
)

const (
	// rounds is the number of pushes timed per mode, and of pods started.
	rounds = 3
	ns     = "bench"
	// scheduledInterval is the import interval of the mode without
	// notifications.
	scheduledInterval = "2s"
)

func BenchmarkRollout(b *testing.B) {
	if os.Geteuid() != 0 {
		b.Skip("app pods need root (runc, network namespaces); run the benchmark as root")
	}
	for _, bin := range []string{"go", "runc", "docker-registry", "busybox"} {
		if _, err := exec.LookPath(bin); err != nil {
			b.Skipf("%s is not installed (hack/install-deps.sh)", bin)
		}
	}
	if _, err := os.Stat("/usr/lib/cni/bridge"); err != nil {
		b.Skip("CNI plugins are not installed (apt-get install containernetworking-plugins; hack/install-deps.sh)")
	}
	root := benchserver.RepoRoot(b)
	initSh := timeAppInit(b, root)
	slipway := benchserver.BuildSlipway(b, root)

	var notified, scheduled, podStart []time.Duration
	b.ResetTimer()
	for range b.N {
		// With notifications: the server first, then the registry that
		// notifies it.
		srv := benchserver.Start(b, slipway)
		reg := testregistry.Start(b, testregistry.Options{
			Notify: []testregistry.Endpoint{{URL: "https://" + srv.Listen + "/registry/notifications", Token: srv.AdminToken(b)}},
			// docker-registry's notification client trusts the system's
			// CAs: give it Slipway's.
			Env: []string{"SSL_CERT_FILE=" + filepath.Join(srv.DataDir, "ca.crt")},
		})
		a := deployApp(b, srv, reg, initSh)
		notified = a.pushRounds(b)
		podStart = a.podStarts(b)
		srv.Stop(b)

		// A 2 s scheduled import, no notifications.
		srv = benchserver.Start(b, slipway, "--image-import-interval="+scheduledInterval)
		reg = testregistry.Start(b, testregistry.Options{})
		scheduled = deployApp(b, srv, reg, initSh).pushRounds(b)
		srv.Stop(b)
	}
	b.StopTimer()
	b.ReportMetric(benchserver.Median(notified).Seconds(), "notified-s")
	b.ReportMetric(benchserver.Median(scheduled).Seconds(), "scheduled-s")
	b.ReportMetric(benchserver.Median(podStart).Seconds(), "podstart-s")
	fmt.Printf("push -> new content on the host port: with notifications median %s %v, with a %s scheduled import median %s %v; pod start (create -> Running) median %s %v (target with notifications: under 3s)\n",
		benchserver.Median(notified).Round(time.Millisecond), rounded(notified), scheduledInterval,
		benchserver.Median(scheduled).Round(time.Millisecond), rounded(scheduled),
		benchserver.Median(podStart).Round(time.Millisecond), rounded(podStart))
}

// app is the time app deployed on one server from one registry.
type app struct {
	srv    *benchserver.Server
	reg    *testregistry.Registry
	kube   kubernetes.Interface
	apps   appsclient.Interface
	base   v1.Image
	initSh string
	// url is the app's host port.
	url string
	// version is the last version pushed; image its pull spec by digest.
	version int
	image   string
}

// deployApp pushes version 1 of the time app to reg, follows it with a
// scheduled ImageStream, runs it with `new-app` and exposes it on a host
// port, and waits until it answers there.
func deployApp(b *testing.B, srv *benchserver.Server, reg *testregistry.Registry, initSh string) *app {
	cfg, err := clientcmd.BuildConfigFromFlags("", srv.Kubeconfig())
	if err != nil {
		b.Fatal(err)
	}
	// DeploymentConfigs are deprecated: every call warns.
	cfg.WarningHandler = rest.NoWarnings{}
	a := &app{srv: srv, reg: reg, kube: kubernetes.NewForConfigOrDie(cfg), apps: appsclient.NewForConfigOrDie(cfg), initSh: initSh}
	a.base = reg.Image(b, buildtest.PushBusybox(b, reg))
	a.push(b)
	srv.Run(b, "new-project", ns)
	srv.Run(b, "import-image", "mytime", "--from="+reg.Ref("veer/mytime:latest"), "--confirm", "--scheduled")
	srv.Run(b, "new-app", "mytime:latest", "--name", "mytime", "--as-deployment-config")
	a.waitVersion(b, 1, 3*time.Minute)
	port := strings.Split(testregistry.FreePort(b), ":")[1]
	srv.Run(b, "expose", "dc", "mytime", "--port=8080", "--host-port="+port, "--name=mytime-host")
	a.url = "http://127.0.0.1:" + port + "/"
	if _, err := a.waitContent(1, 2*time.Minute); err != nil {
		b.Fatalf("%v\nserver logs:\n%s", err, benchserver.Tail(srv.Logs(), 40))
	}
	return a
}

// push pushes the next version of the time app, whose answers start with
// "v<version> ", to veer/mytime:latest.
func (a *app) push(b *testing.B) {
	a.version++
	script := strings.Replace(a.initSh, `"$(date)"`, fmt.Sprintf(`"v%d $(date)"`, a.version), 1)
	if script == a.initSh {
		b.Fatal(`the time app's init.sh no longer prints "$(date)"`)
	}
	img, err := mutate.AppendLayers(a.base, fileLayer(b, "init.sh", script))
	if err != nil {
		b.Fatal(err)
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		b.Fatal(err)
	}
	c := cfg.Config
	// The seed Dockerfile: ADD ./init.sh ./, EXPOSE 8080, CMD ["./init.sh"].
	c.Cmd, c.WorkingDir = []string{"./init.sh"}, "/"
	c.ExposedPorts = map[string]struct{}{"8080/tcp": {}}
	if img, err = mutate.Config(img, c); err != nil {
		b.Fatal(err)
	}
	a.image = a.reg.Ref("veer/mytime@" + a.reg.Push(b, "veer/mytime:latest", img))
}

// pushRounds pushes rounds new versions and times each from the end of its
// push until the host port answers with it.
func (a *app) pushRounds(b *testing.B) []time.Duration {
	var out []time.Duration
	for range rounds {
		a.push(b)
		took, err := a.waitContent(a.version, 2*time.Minute)
		if err != nil {
			b.Fatalf("%v\nserver logs:\n%s", err, benchserver.Tail(a.srv.Logs(), 40))
		}
		out = append(out, took)
		// The next push starts from a finished rollout.
		a.waitVersion(b, int64(a.version), 2*time.Minute)
	}
	return out
}

// waitContent polls the host port until it answers with version and
// returns how long that took.
func (a *app) waitContent(version int, timeout time.Duration) (time.Duration, error) {
	start := time.Now()
	want := fmt.Sprintf("v%d ", version)
	client := &http.Client{Timeout: time.Second}
	var last string
	for time.Since(start) < timeout {
		resp, err := client.Get(a.url)
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if strings.HasPrefix(string(body), want) {
				return time.Since(start), nil
			}
			last = fmt.Sprintf("%s %q", resp.Status, body)
		} else {
			last = err.Error()
		}
		time.Sleep(20 * time.Millisecond)
	}
	return 0, fmt.Errorf("GET %s did not answer %q within %s; last answer: %s", a.url, want, timeout, last)
}

// waitVersion waits until dc/mytime's version is Complete.
func (a *app) waitVersion(b *testing.B, version int64, timeout time.Duration) {
	ctx := context.Background()
	deadline := time.Now().Add(timeout)
	for {
		dc, err := a.apps.AppsV1().DeploymentConfigs(ns).Get(ctx, "mytime", metav1.GetOptions{})
		if err == nil && dc.Status.LatestVersion == version {
			rc, err := a.kube.CoreV1().ReplicationControllers(ns).Get(ctx, fmt.Sprintf("mytime-%d", version), metav1.GetOptions{})
			if err == nil {
				switch phase := appsv1.DeploymentStatus(rc.Annotations["openshift.io/deployment.phase"]); phase {
				case appsv1.DeploymentStatusComplete:
					return
				case appsv1.DeploymentStatusFailed:
					b.Fatalf("%s failed: %s\nserver logs:\n%s", rc.Name, rc.Annotations["openshift.io/deployment.status-reason"], benchserver.Tail(a.srv.Logs(), 40))
				}
			}
		}
		if time.Now().After(deadline) {
			b.Fatalf("dc/mytime version %d not Complete after %s\nserver logs:\n%s", version, timeout, benchserver.Tail(a.srv.Logs(), 40))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// podStarts creates rounds pods of the app's current image one after the
// other and times each from its creation until the API shows it Running.
func (a *app) podStarts(b *testing.B) []time.Duration {
	ctx := context.Background()
	pods := a.kube.CoreV1().Pods(ns)
	var out []time.Duration
	for i := range rounds {
		name := fmt.Sprintf("start-%d", i)
		w, err := pods.Watch(ctx, metav1.ListOptions{FieldSelector: fields.OneTermEqualSelector("metadata.name", name).String()})
		if err != nil {
			b.Fatal(err)
		}
		pod := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "mytime", Image: a.image}}},
		}
		start := time.Now()
		if _, err := pods.Create(ctx, pod, metav1.CreateOptions{}); err != nil {
			w.Stop()
			b.Fatal(err)
		}
		timeout := time.After(2 * time.Minute)
	watch:
		for {
			select {
			case ev, ok := <-w.ResultChan():
				if !ok {
					w.Stop()
					b.Fatalf("watch of pod %s closed", name)
				}
				p, isPod := ev.Object.(*corev1.Pod)
				if !isPod {
					continue
				}
				switch p.Status.Phase {
				case corev1.PodRunning:
					out = append(out, time.Since(start))
					break watch
				case corev1.PodFailed, corev1.PodSucceeded:
					w.Stop()
					b.Fatalf("pod %s is %s: %s %s", name, p.Status.Phase, p.Status.Reason, p.Status.Message)
				}
			case <-timeout:
				w.Stop()
				b.Fatalf("pod %s not Running after 2m\nserver logs:\n%s", name, benchserver.Tail(a.srv.Logs(), 40))
			}
		}
		w.Stop()
		if err := pods.Delete(ctx, name, metav1.DeleteOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	return out
}

// fileLayer is a layer holding one executable file at the image's root.
func fileLayer(b *testing.B, name, content string) v1.Layer {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o755, Size: int64(len(content)), ModTime: time.Unix(0, 0)}); err != nil {
		b.Fatal(err)
	}
	if _, err := tw.Write([]byte(content)); err != nil {
		b.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		b.Fatal(err)
	}
	data := buf.Bytes()
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil })
	if err != nil {
		b.Fatal(err)
	}
	return layer
}

// timeAppInit is the seed time app's init.sh, from ../shared or the copy
// under test/e2e/testdata.
func timeAppInit(b *testing.B, root string) string {
	for _, dir := range []string{
		filepath.Join(root, "..", "shared", "fixtures", "seed-walkthrough", "time-app"),
		filepath.Join(root, "test", "e2e", "testdata", "seed-walkthrough", "time-app"),
	} {
		if data, err := os.ReadFile(filepath.Join(dir, "busybox", "init.sh")); err == nil {
			return string(data)
		}
	}
	b.Skip("seed-walkthrough time-app fixture not found")
	return ""
}

// rounded is ds to the millisecond, for printing.
func rounded(ds []time.Duration) []time.Duration {
	out := make([]time.Duration, len(ds))
	for i, d := range ds {
		out[i] = d.Round(time.Millisecond)
	}
	return out
}
