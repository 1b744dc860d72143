package e2e

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/types"
	buildv1 "github.com/openshift/api/build/v1"
	imagev1 "github.com/openshift/api/image/v1"
	imageclient "github.com/openshift/client-go/image/clientset/versioned"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/slipway-dev/slipway/internal/testregistry"
)

// importInterval is the scheduled import interval these tests run the
// server with (OpenShift's default is 15 minutes; Slipway accepts seconds).
const importInterval = 2 * time.Second

// latestImage is the image of the newest event of stream's tag, "" if none.
func latestImage(t *testing.T, images imageclient.Interface, ns, stream, tag string) (string, *imagev1.ImageStream) {
	t.Helper()
	is, err := images.ImageV1().ImageStreams(ns).Get(context.Background(), stream, metav1.GetOptions{})
	if err != nil {
		return "", nil
	}
	for _, st := range is.Status.Tags {
		if st.Tag == tag && len(st.Items) > 0 {
			return st.Items[0].Image, is
		}
	}
	return "", is
}

// waitTagImage waits until stream:tag's newest event is digest.
func waitTagImage(t *testing.T, images imageclient.Interface, ns, stream, tag, digest string, timeout time.Duration) *imagev1.ImageStream {
	t.Helper()
	var is *imagev1.ImageStream
	eventually(t, timeout, func() error {
		var got string
		got, is = latestImage(t, images, ns, stream, tag)
		if got != digest {
			return fmt.Errorf("%s/%s:%s is at %q, want %s", ns, stream, tag, got, digest)
		}
		return nil
	})
	return is
}

// TestImageStreamWalkthrough is the second walkthrough's image part: an
// ImageStream following an image in the external registry ("Docker Hub",
// private, TLS), re-imported on a schedule, the CLI's tag and import-image
// forms, and a registry that notifies Slipway of pushes.
func TestImageStreamWalkthrough(t *testing.T) {
	b := startBuildServer(t, "--image-import-interval="+importInterval.String())
	c := b.c
	images := imageclient.NewForConfigOrDie(b.restConfig())
	ns := "snow"
	c.run("new-project", ns)
	c.run("create", "secret", "docker-registry", "dockerhub", "--docker-server="+b.hub.Host,
		"--docker-username="+hubUser, "--docker-password="+hubPassword)

	first := b.hub.PushRandom(t, "veer/mytime:latest")
	c.run("create", "-f", fixture(t, "imagestream.yaml", "REGISTRY", b.hub.Host))
	waitTagImage(t, images, ns, "mytime", "latest", first, 30*time.Second)
	if out := c.run("get", "is", "mytime"); !strings.Contains(out, "latest") {
		t.Errorf("get is mytime:\n%s", out)
	}
	out := c.run("describe", "is", "mytime")
	for _, want := range []string{"updates automatically from registry " + b.hub.Host + "/veer/mytime:latest", b.hub.Host + "/veer/mytime@" + first} {
		if !strings.Contains(out, want) {
			t.Errorf("describe is mytime lacks %q:\n%s", want, out)
		}
	}

	// A new push reaches the stream by the next scheduled check.
	second := b.hub.PushRandom(t, "veer/mytime:latest")
	pushed := time.Now()
	is := waitTagImage(t, images, ns, "mytime", "latest", second, 10*importInterval)
	t.Logf("scheduled import picked up the push after %s", time.Since(pushed).Round(time.Millisecond))

	// Pushing the same content again changes nothing: the stream is not
	// written, so nothing downstream is triggered.
	same := b.hub.Image(t, b.hub.Ref("veer/mytime@"+second))
	if d := b.hub.Push(t, "veer/mytime:latest", same); d != second {
		t.Fatalf("re-push gave %s, want %s", d, second)
	}
	time.Sleep(3 * importInterval)
	if _, now := latestImage(t, images, ns, "mytime", "latest"); now == nil || now.ResourceVersion != is.ResourceVersion {
		t.Errorf("an identical re-push rewrote the stream (resourceVersion %s -> %v)", is.ResourceVersion, now)
	}

	// oc tag: the scheduled form, a snapshot, an alias, and back to the
	// default policy.
	ref := b.hub.Host + "/veer/mytime:latest"
	if out := c.run("tag", ref, "mytime:latest", "--scheduled"); !strings.Contains(out, "mytime:latest") {
		t.Errorf("tag --scheduled:\n%s", out)
	}
	c.run("tag", "mytime:latest", "mytime:stable")
	waitTagImage(t, images, ns, "mytime", "stable", second, 10*time.Second)
	c.run("tag", "mytime:latest", "mytime:edge", "--alias")
	waitTagImage(t, images, ns, "mytime", "edge", second, 10*time.Second)
	c.run("tag", ref, "mytime:latest")
	is, err := images.ImageV1().ImageStreams(ns).Get(context.Background(), "mytime", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tag := range is.Spec.Tags {
		if tag.Name == "latest" && tag.ImportPolicy.Scheduled {
			t.Errorf("tag without --scheduled left latest scheduled")
		}
	}

	// import-image of another tag, then istag and isimage views.
	v2 := b.hub.PushRandom(t, "veer/mytime:v2")
	if out := c.run("import-image", "mytime:v2", "--from="+b.hub.Host+"/veer/mytime:v2", "--confirm"); !strings.Contains(out, "imported") {
		t.Errorf("import-image:\n%s", out)
	}
	waitTagImage(t, images, ns, "mytime", "v2", v2, 10*time.Second)
	if out := c.run("get", "istag"); !regexp.MustCompile(`mytime:v2\s`).MatchString(out) || !strings.Contains(out, "mytime:stable") {
		t.Errorf("get istag:\n%s", out)
	}
	if out := c.run("get", "isimage", "mytime@"+v2); !strings.Contains(out, v2) {
		t.Errorf("get isimage:\n%s", out)
	}

	// Without the secret the private registry refuses: the import fails
	// with a readable Unauthorized condition and the command says so.
	c.run("new-project", "nosecret")
	_, errOut, err := c.exec(nil, "import-image", "-n", "nosecret", "mytime", "--from="+ref, "--confirm")
	if err == nil {
		t.Errorf("import-image from a private registry without a secret succeeded")
	}
	eventually(t, 10*time.Second, func() error {
		is, err := images.ImageV1().ImageStreams("nosecret").Get(context.Background(), "mytime", metav1.GetOptions{})
		if err != nil {
			return err
		}
		for _, st := range is.Status.Tags {
			for _, cond := range st.Conditions {
				if cond.Type == imagev1.ImportSuccess && cond.Reason == "Unauthorized" {
					return nil
				}
			}
		}
		return fmt.Errorf("no Unauthorized condition: %+v (%s)", is.Status.Tags, errOut)
	})

}

// TestBuildOnImageChange: a BuildConfig whose base image stream tag follows
// the external registry builds again when a new base image is pushed there,
// once, with cause "Image change".
func TestBuildOnImageChange(t *testing.T) {
	b := startBuildServer(t, "--image-import-interval="+importInterval.String())
	c := b.c
	images := imageclient.NewForConfigOrDie(b.restConfig())
	uri, _ := gitRepo(t)
	ns := "trigger"
	c.run("new-project", ns)
	c.run("create", "secret", "docker-registry", "dockerhub", "--docker-server="+b.hub.Host,
		"--docker-username="+hubUser, "--docker-password="+hubPassword)
	c.run("secrets", "link", "builder", "dockerhub", "--for=pull,mount")
	base := b.hub.Host + "/library/busybox:latest"
	c.run("tag", base, "busybox:latest", "--scheduled")
	baseDigest, err := b.hub.Image(t, base).Digest()
	if err != nil {
		t.Fatal(err)
	}
	waitTagImage(t, images, ns, "busybox", "latest", baseDigest.String(), 30*time.Second)

	bcFile := t.TempDir() + "/bc.yaml"
	writeFile(t, bcFile, fmt.Sprintf(`apiVersion: build.openshift.io/v1
kind: BuildConfig
metadata:
  name: time
spec:
  source:
    git:
      uri: %s
      ref: main
    contextDir: busybox
  strategy:
    dockerStrategy:
      from:
        kind: ImageStreamTag
        name: busybox:latest
  output:
    to:
      kind: ImageStreamTag
      name: mytime:latest
  triggers:
  - type: ImageChange
    imageChange: {}
`, uri))
	if _, err := images.ImageV1().ImageStreams(ns).Create(context.Background(), &imagev1.ImageStream{ObjectMeta: metav1.ObjectMeta{Name: "mytime"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	c.run("create", "-f", bcFile)
	first := b.waitBuild(t, ns, "time-1", 3*time.Minute)
	if first.Status.Phase != buildv1.BuildPhaseComplete {
		t.Fatalf("time-1 is %s (%s: %s), output %+v\n%s", first.Status.Phase, first.Status.Reason, first.Status.Message, first.Spec.Output, b.buildLog(ns, "time-1"))
	}

	// A new base image: busybox plus one more layer.
	layer, err := random.Layer(512, types.DockerLayer)
	if err != nil {
		t.Fatal(err)
	}
	newer, err := mutate.AppendLayers(b.hub.Image(t, base), layer)
	if err != nil {
		t.Fatal(err)
	}
	digest := b.hub.Push(t, "library/busybox:latest", newer)
	second := b.waitBuild(t, ns, "time-2", 2*time.Minute)
	if second.Status.Phase != buildv1.BuildPhaseComplete {
		t.Fatalf("time-2 is %s (%s: %s)\n%s", second.Status.Phase, second.Status.Reason, second.Status.Message, b.buildLog(ns, "time-2"))
	}
	if len(second.Spec.TriggeredBy) == 0 || second.Spec.TriggeredBy[0].Message != "Image change" {
		t.Errorf("time-2 triggered by %+v, want Image change", second.Spec.TriggeredBy)
	}
	if from := second.Spec.Strategy.DockerStrategy.From; from == nil || !strings.HasSuffix(from.Name, digest) {
		t.Errorf("time-2 built from %+v, want the new base %s", from, digest)
	}
	// Scheduled checks go on; nothing new is pushed: no third build.
	time.Sleep(3 * importInterval)
	if names := b.buildNames(t, ns); len(names) != 2 {
		t.Errorf("builds %v, want time-1 and time-2 only", names)
	}
}

// TestRegistryNotification: a registry configured to notify Slipway (an
// endpoint in its notifications section, with the admin token) moves the
// scheduled tags that follow the pushed repository at once. The server
// keeps OpenShift's 15-minute interval, so only the notification can move
// the tag within the test.
func TestRegistryNotification(t *testing.T) {
	s := startServer(t)
	c := s.newCLI()
	images := imageclient.NewForConfigOrDie(s.restConfig())
	ns := "notify"
	c.run("new-project", ns)
	// docker-registry's notification client trusts the system's CAs: give
	// it Slipway's through SSL_CERT_FILE.
	reg := testregistry.Start(t, testregistry.Options{
		Notify: []testregistry.Endpoint{{URL: s.url() + "/registry/notifications", Token: s.adminToken()}},
		Env:    []string{"SSL_CERT_FILE=" + s.caFile()},
	})
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("registry log:\n%s", tail(reg.Log(), 30))
		}
	})
	one := reg.PushRandom(t, "veer/notified:latest")
	c.run("import-image", "notified", "--from="+reg.Host+"/veer/notified:latest", "--confirm", "--scheduled")
	waitTagImage(t, images, ns, "notified", "latest", one, 10*time.Second)
	two := reg.PushRandom(t, "veer/notified:latest")
	pushed := time.Now()
	waitTagImage(t, images, ns, "notified", "latest", two, 10*time.Second)
	if took := time.Since(pushed); took > time.Second {
		t.Errorf("notified tag moved %s after the push, want under a second", took)
	} else {
		t.Logf("notified tag moved %s after the push", took.Round(time.Millisecond))
	}
}
