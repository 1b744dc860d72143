package imageimport

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	imagev1 "github.com/openshift/api/image/v1"
	imageclient "github.com/openshift/client-go/image/clientset/versioned"
	imageinformers "github.com/openshift/client-go/image/informers/externalversions"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/component-base/metrics/testutil"

	"github.com/slipway-dev/slipway/internal/testregistry"
	"github.com/slipway-dev/slipway/internal/testserver"
)

// server is the API server the integration tests share (one per binary:
// Kubernetes' server keeps process-wide state).
var server *testserver.Server

func TestMain(m *testing.M) {
	testserver.Main(m, testserver.Options{}, func(s *testserver.Server) { server = s })
}

// harness is one test's namespace, clients and running controller.
type harness struct {
	t      *testing.T
	ns     string
	images imageclient.Interface
	c      *Controller
}

// start makes namespace ns and runs a controller with cfg until the test
// ends. It skips when the API server does not serve imagestreamimports.
func start(t *testing.T, ns string, cfg Config) *harness {
	t.Helper()
	kube := kubernetes.NewForConfigOrDie(server.Admin)
	images := imageclient.NewForConfigOrDie(server.Admin)
	resources, err := kube.Discovery().ServerResourcesForGroupVersion("image.openshift.io/v1")
	if err != nil {
		t.Fatal(err)
	}
	served := false
	for _, r := range resources.APIResources {
		served = served || r.Name == "imagestreamimports"
	}
	if !served {
		t.Skip("imagestreamimports is not served yet: internal/apiserver/groups.go must pass imagegroup.WithSecrets and WithImporter")
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	if _, err := kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	factory := imageinformers.NewSharedInformerFactory(images, 0)
	c := New(images, factory.Image().V1().ImageStreams(), cfg)
	factory.Start(ctx.Done())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := c.Run(ctx, 2); err != nil && ctx.Err() == nil {
			t.Errorf("Run: %v", err)
		}
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	return &harness{t: t, ns: ns, images: images, c: c}
}

// createStream creates stream name with one tag following from.
func (h *harness) createStream(name, tag, from string, scheduled bool) {
	h.t.Helper()
	stream := &imagev1.ImageStream{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: imagev1.ImageStreamSpec{Tags: []imagev1.TagReference{{
			Name:         tag,
			From:         &corev1.ObjectReference{Kind: "DockerImage", Name: from},
			ImportPolicy: imagev1.TagImportPolicy{Scheduled: scheduled},
		}}},
	}
	if _, err := h.images.ImageV1().ImageStreams(h.ns).Create(context.Background(), stream, metav1.CreateOptions{}); err != nil {
		h.t.Fatal(err)
	}
}

// waitFor polls stream name until ok accepts it or timeout passes.
func (h *harness) waitFor(name string, timeout time.Duration, what string, ok func(*imagev1.ImageStream) bool) *imagev1.ImageStream {
	h.t.Helper()
	deadline := time.Now().Add(timeout)
	var last *imagev1.ImageStream
	for {
		s, err := h.images.ImageV1().ImageStreams(h.ns).Get(context.Background(), name, metav1.GetOptions{})
		if err == nil {
			last = s
			if ok(s) {
				return s
			}
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("stream %s/%s: %s not within %v; last status %+v (err %v)", h.ns, name, what, timeout, last.Status, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// hasImage reports whether tag's newest event is digest.
func hasImage(tag, digest string) func(*imagev1.ImageStream) bool {
	return func(s *imagev1.ImageStream) bool { return newestImage(s, tag) == digest }
}

func TestImportsNewStreamAndFailureDoesNotLoop(t *testing.T) {
	reg := testregistry.Start(t, testregistry.Options{})
	h := start(t, "import-new", Config{Disabled: true})
	digest := reg.PushRandom(t, "veer/time:latest")
	h.createStream("time", "latest", reg.Host+"/veer/time:latest", false)
	s := h.waitFor("time", 10*time.Second, "tag latest imported", hasImage("latest", digest))
	if ref := s.Status.Tags[0].Items[0].DockerImageReference; !strings.HasSuffix(ref, "/veer/time@"+digest) {
		t.Errorf("dockerImageReference = %q, want the digest-pinned source", ref)
	}

	// A tag that cannot be imported gets a condition at its generation and
	// is then left alone: the stream is not written again.
	h.createStream("missing", "v9", reg.Host+"/veer/time:v9", false)
	s = h.waitFor("missing", 10*time.Second, "ImportSuccess=False condition", func(s *imagev1.ImageStream) bool {
		for _, list := range s.Status.Tags {
			for _, c := range list.Conditions {
				if c.Type == imagev1.ImportSuccess && c.Status == corev1.ConditionFalse {
					return true
				}
			}
		}
		return false
	})
	if c := s.Status.Tags[0].Conditions[0]; c.Reason != "NotFound" || c.Generation < *s.Spec.Tags[0].Generation {
		t.Errorf("condition = %+v, want NotFound at generation >= %d", c, *s.Spec.Tags[0].Generation)
	}
	rv := s.ResourceVersion
	time.Sleep(2 * time.Second)
	if now, _ := h.images.ImageV1().ImageStreams(h.ns).Get(context.Background(), "missing", metav1.GetOptions{}); now.ResourceVersion != rv {
		t.Errorf("failed import retried: resourceVersion %s -> %s", rv, now.ResourceVersion)
	}
}

func TestScheduledImportFollowsRepush(t *testing.T) {
	const interval = 2 * time.Second
	reg := testregistry.Start(t, testregistry.Options{})
	h := start(t, "import-scheduled", Config{Interval: interval})
	ref := reg.Host + "/veer/sched:latest"
	img := testregistry.RandomImage(t, "linux", "amd64")
	first := reg.Push(t, "veer/sched:latest", img)
	h.createStream("sched", "latest", ref, true)
	s := h.waitFor("sched", 10*time.Second, "first import", hasImage("latest", first))

	// Identical content again: the checks run and write nothing.
	checks, _ := testutil.GetCounterMetricValue(checksTotal.WithLabelValues("success"))
	reg.Push(t, "veer/sched:latest", img)
	time.Sleep(3 * interval)
	now, err := h.images.ImageV1().ImageStreams(h.ns).Get(context.Background(), "sched", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if now.ResourceVersion != s.ResourceVersion {
		t.Errorf("identical re-push changed the stream: resourceVersion %s -> %s, status %+v", s.ResourceVersion, now.ResourceVersion, now.Status)
	}
	if after, _ := testutil.GetCounterMetricValue(checksTotal.WithLabelValues("success")); after-checks < 2 {
		t.Errorf("%v scheduled checks in %v, want at least 2", after-checks, 3*interval)
	}

	// New content: the next check moves the tag.
	second := reg.PushRandom(t, "veer/sched:latest")
	s = h.waitFor("sched", 2*interval+2*time.Second, "re-pushed tag imported", hasImage("latest", second))
	if items := s.Status.Tags[0].Items; len(items) != 2 || items[1].Image != first {
		t.Errorf("history = %+v, want the new image first, then the old", items)
	}
}

func TestNotificationMovesTagWithinASecond(t *testing.T) {
	const token = "notify-secret"
	h := start(t, "import-notify", Config{Interval: time.Hour})
	handler := h.c.NotificationHandler()
	// The API server authenticates callers in production; this stands in
	// for it so the test checks the registry sends its token.
	notify := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+token {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		handler.ServeHTTP(w, r)
	}))
	defer notify.Close()
	reg := testregistry.Start(t, testregistry.Options{Notify: []testregistry.Endpoint{{URL: notify.URL, Token: token}}})
	ref := reg.Host + "/veer/notify:latest"
	first := reg.PushRandom(t, "veer/notify:latest")
	h.createStream("notify", "latest", ref, true)
	h.waitFor("notify", 10*time.Second, "first import", hasImage("latest", first))

	second := reg.PushRandom(t, "veer/notify:latest")
	pushed := time.Now()
	h.waitFor("notify", 5*time.Second, "notified import", hasImage("latest", second))
	if took := time.Since(pushed); took > time.Second {
		t.Errorf("tag moved %v after the push, want under 1s", took)
	} else {
		t.Logf("tag moved %v after the push", took)
	}
}
