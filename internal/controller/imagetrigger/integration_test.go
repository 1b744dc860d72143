package imagetrigger

import (
	"context"
	"crypto/sha256"
	"fmt"
	"sort"
	"sync/atomic"
	"testing"
	"time"

	appsv1 "github.com/openshift/api/apps/v1"
	buildv1 "github.com/openshift/api/build/v1"
	imagev1 "github.com/openshift/api/image/v1"
	appsclient "github.com/openshift/client-go/apps/clientset/versioned"
	appsinformers "github.com/openshift/client-go/apps/informers/externalversions"
	buildclient "github.com/openshift/client-go/build/clientset/versioned"
	buildinformers "github.com/openshift/client-go/build/informers/externalversions"
	imageclient "github.com/openshift/client-go/image/clientset/versioned"
	imageinformers "github.com/openshift/client-go/image/informers/externalversions"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	kubeinformers "k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"

	"github.com/slipway-dev/slipway/internal/controller/buildconfig"
	"github.com/slipway-dev/slipway/internal/testserver"
)

var (
	server     *testserver.Server
	namespaces atomic.Int64
)

func TestMain(m *testing.M) {
	testserver.Main(m, testserver.Options{}, func(s *testserver.Server) { server = s })
}

// harness is one test's namespace and clients.
type harness struct {
	t      *testing.T
	ns     string
	builds buildclient.Interface
	apps   appsclient.Interface
	images imageclient.Interface
	kube   kubernetes.Interface
}

func newHarness(t *testing.T, ns string) *harness {
	t.Helper()
	kube := kubernetes.NewForConfigOrDie(server.Admin)
	// A fresh namespace per run, so -count=N works on one server.
	ns = fmt.Sprintf("%s-%d", ns, namespaces.Add(1))
	if _, err := kube.CoreV1().Namespaces().Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	return &harness{
		t: t, ns: ns,
		builds: buildclient.NewForConfigOrDie(server.Admin),
		apps:   appsclient.NewForConfigOrDie(server.Admin),
		images: imageclient.NewForConfigOrDie(server.Admin),
		kube:   kube,
	}
}

// runController runs an image trigger controller with its own informers
// and workers until the returned stop is called (or the test ends).
func (h *harness) runController(workers int) (stop func()) {
	h.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	bi := buildinformers.NewSharedInformerFactory(h.builds, 0)
	ai := appsinformers.NewSharedInformerFactory(h.apps, 0)
	ii := imageinformers.NewSharedInformerFactory(h.images, 0)
	ki := kubeinformers.NewSharedInformerFactory(h.kube, 0)
	c, err := New(h.builds, h.apps, h.kube, Informers{
		ImageStreams:      ii.Image().V1().ImageStreams(),
		BuildConfigs:      bi.Build().V1().BuildConfigs(),
		DeploymentConfigs: ai.Apps().V1().DeploymentConfigs(),
		Deployments:       ki.Apps().V1().Deployments(),
		StatefulSets:      ki.Apps().V1().StatefulSets(),
		DaemonSets:        ki.Apps().V1().DaemonSets(),
		CronJobs:          ki.Batch().V1().CronJobs(),
	})
	if err != nil {
		h.t.Fatal(err)
	}
	bi.Start(ctx.Done())
	ai.Start(ctx.Done())
	ii.Start(ctx.Done())
	ki.Start(ctx.Done())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := c.Run(ctx, workers); err != nil {
			h.t.Errorf("Run: %v", err)
		}
	}()
	stopped := false
	stop = func() {
		if !stopped {
			stopped = true
			cancel()
			<-done
		}
	}
	h.t.Cleanup(stop)
	return stop
}

// push maps a new image (made from seed) into stream:tag as the internal
// registry does on a manifest PUT, and returns its pull spec.
func (h *harness) push(stream, tag, seed string) string {
	h.t.Helper()
	digest := fmt.Sprintf("sha256:%x", sha256.Sum256([]byte(seed)))
	ref := "reg.test/" + h.ns + "/" + stream + "@" + digest
	mapping := &imagev1.ImageStreamMapping{
		ObjectMeta: metav1.ObjectMeta{Name: stream, Namespace: h.ns},
		Image:      imagev1.Image{ObjectMeta: metav1.ObjectMeta{Name: digest}, DockerImageReference: ref},
		Tag:        tag,
	}
	if _, err := h.images.ImageV1().ImageStreamMappings(h.ns).Create(context.Background(), mapping, metav1.CreateOptions{}); err != nil {
		h.t.Fatalf("mapping %s into %s:%s: %v", digest, stream, tag, err)
	}
	return ref
}

// buildsOf lists the builds of BuildConfig bc by name.
func (h *harness) buildsOf(bc string) []buildv1.Build {
	h.t.Helper()
	list, err := h.builds.BuildV1().Builds(h.ns).List(context.Background(), metav1.ListOptions{LabelSelector: buildv1.BuildConfigLabel + "=" + bc})
	if err != nil {
		h.t.Fatal(err)
	}
	sort.Slice(list.Items, func(i, j int) bool { return list.Items[i].Name < list.Items[j].Name })
	return list.Items
}

// waitBuilds waits until bc has n builds, then a little longer to catch a
// duplicate, and returns them.
func (h *harness) waitBuilds(bc string, n int) []buildv1.Build {
	h.t.Helper()
	var builds []buildv1.Build
	err := wait.PollUntilContextTimeout(context.Background(), 50*time.Millisecond, 20*time.Second, true, func(context.Context) (bool, error) {
		builds = h.buildsOf(bc)
		return len(builds) >= n, nil
	})
	if err != nil {
		h.t.Fatalf("BuildConfig %s has %d builds, want %d", bc, len(builds), n)
	}
	time.Sleep(time.Second)
	if builds = h.buildsOf(bc); len(builds) != n {
		h.t.Fatalf("BuildConfig %s has %d builds %v, want %d", bc, len(builds), names(builds), n)
	}
	return builds
}

func names(builds []buildv1.Build) []string {
	var out []string
	for _, b := range builds {
		out = append(out, b.Name)
	}
	return out
}

func newBuildConfig(name string, triggers ...buildv1.BuildTriggerPolicy) *buildv1.BuildConfig {
	return &buildv1.BuildConfig{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: buildv1.BuildConfigSpec{
			Triggers: triggers,
			CommonSpec: buildv1.CommonSpec{
				Source:   buildv1.BuildSource{Git: &buildv1.GitBuildSource{URI: "https://git.test/time.git"}},
				Strategy: buildv1.BuildStrategy{DockerStrategy: &buildv1.DockerBuildStrategy{From: &corev1.ObjectReference{Kind: "ImageStreamTag", Name: "base:latest"}}},
				Output:   buildv1.BuildOutput{To: &corev1.ObjectReference{Kind: "DockerImage", Name: "reg.test/veer/" + name}},
			},
		},
	}
}

var imageChangeTrigger = buildv1.BuildTriggerPolicy{Type: buildv1.ImageChangeBuildTriggerType, ImageChange: &buildv1.ImageChangeTrigger{}}

// checkImageChangeBuild checks that b was caused by image and builds on it.
func checkImageChangeBuild(t *testing.T, b buildv1.Build, image string) {
	t.Helper()
	if len(b.Spec.TriggeredBy) != 1 || b.Spec.TriggeredBy[0].Message != "Image change" || b.Spec.TriggeredBy[0].ImageChangeBuild == nil ||
		b.Spec.TriggeredBy[0].ImageChangeBuild.ImageID != image || b.Spec.TriggeredBy[0].ImageChangeBuild.FromRef.Name != "base:latest" {
		t.Errorf("build %s triggeredBy = %+v, want one Image change cause for %s", b.Name, b.Spec.TriggeredBy, image)
	}
	if from := b.Spec.Strategy.DockerStrategy.From; from == nil || from.Kind != "DockerImage" || from.Name != image {
		t.Errorf("build %s strategy from = %+v, want DockerImage %s", b.Name, from, image)
	}
}

func TestBuildConfigImageChange(t *testing.T) {
	h := newHarness(t, "bc-image-change")
	ctx := context.Background()
	stop := h.runController(2)
	if _, err := h.images.ImageV1().ImageStreams(h.ns).Create(ctx, &imagev1.ImageStream{ObjectMeta: metav1.ObjectMeta{Name: "base"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := h.builds.BuildV1().BuildConfigs(h.ns).Create(ctx, newBuildConfig("app", imageChangeTrigger), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// A tag with no image yet starts nothing.
	h.waitBuilds("app", 0)

	first := h.push("base", "latest", "one")
	builds := h.waitBuilds("app", 1)
	checkImageChangeBuild(t, builds[0], first)
	bc, err := h.builds.BuildV1().BuildConfigs(h.ns).Get(ctx, "app", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := bc.Status.ImageChangeTriggers; len(got) != 1 || got[0].LastTriggeredImageID != first || got[0].From.Name != "base:latest" {
		t.Errorf("imageChangeTriggers = %+v, want base:latest at %s", got, first)
	}

	// The same image again, and a rewrite of the stream that leaves the
	// tag where it is, start nothing.
	h.push("base", "latest", "one")
	h.push("base", "other", "two")
	h.waitBuilds("app", 1)

	// A restarted controller does not build the recorded image again.
	stop()
	h.runController(2)
	h.waitBuilds("app", 1)

	second := h.push("base", "latest", "three")
	builds = h.waitBuilds("app", 2)
	checkImageChangeBuild(t, builds[1], second)

	// Two moves in quick succession: never two builds for one image.
	third := h.push("base", "latest", "four")
	fourth := h.push("base", "latest", "five")
	err = wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, 20*time.Second, true, func(context.Context) (bool, error) {
		bc, err := h.builds.BuildV1().BuildConfigs(h.ns).Get(ctx, "app", metav1.GetOptions{})
		return err == nil && len(bc.Status.ImageChangeTriggers) == 1 && bc.Status.ImageChangeTriggers[0].LastTriggeredImageID == fourth, nil
	})
	if err != nil {
		t.Fatalf("the trigger never recorded %s", fourth)
	}
	time.Sleep(time.Second)
	seen := map[string]string{}
	for _, b := range h.buildsOf("app")[2:] {
		image := b.Spec.TriggeredBy[0].ImageChangeBuild.ImageID
		if image != third && image != fourth {
			t.Errorf("build %s for %s, want %s or %s", b.Name, image, third, fourth)
		}
		if seen[image] != "" {
			t.Errorf("builds %s and %s both for %s", seen[image], b.Name, image)
		}
		seen[image] = b.Name
	}
	if seen[fourth] == "" {
		t.Errorf("no build for %s", fourth)
	}
}

func TestPausedTriggerAndPausedConfig(t *testing.T) {
	h := newHarness(t, "bc-image-paused")
	ctx := context.Background()
	h.runController(1)
	h.push("base", "latest", "one")
	paused := buildv1.BuildTriggerPolicy{Type: buildv1.ImageChangeBuildTriggerType, ImageChange: &buildv1.ImageChangeTrigger{Paused: true}}
	if _, err := h.builds.BuildV1().BuildConfigs(h.ns).Create(ctx, newBuildConfig("trigger-paused", paused), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	bc := newBuildConfig("config-paused", imageChangeTrigger)
	bc.Annotations = map[string]string{buildv1.BuildConfigPausedAnnotation: "true"}
	if _, err := h.builds.BuildV1().BuildConfigs(h.ns).Create(ctx, bc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	h.waitBuilds("trigger-paused", 0)
	h.waitBuilds("config-paused", 0)
}

// TestConfigChangeAndImageChange: a new BuildConfig with both triggers
// whose base tag already resolves gets exactly one build, whichever
// trigger wins, and the image is recorded.
func TestConfigChangeAndImageChange(t *testing.T) {
	h := newHarness(t, "bc-config-and-image")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	image := h.push("base", "latest", "one")
	bi := buildinformers.NewSharedInformerFactory(h.builds, 0)
	bcc := buildconfig.New(h.builds, bi.Build().V1().BuildConfigs(), bi.Build().V1().Builds())
	bi.Start(ctx.Done())
	go func() { _ = bcc.Run(ctx, 2) }()
	h.runController(2)
	if _, err := h.builds.BuildV1().BuildConfigs(h.ns).Create(ctx, newBuildConfig("app", buildv1.BuildTriggerPolicy{Type: buildv1.ConfigChangeBuildTriggerType}, imageChangeTrigger), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	builds := h.waitBuilds("app", 1)
	if from := builds[0].Spec.Strategy.DockerStrategy.From; from == nil || from.Name != image {
		t.Errorf("build strategy from = %+v, want %s", from, image)
	}
	bc, err := h.builds.BuildV1().BuildConfigs(h.ns).Get(ctx, "app", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := bc.Status.ImageChangeTriggers; len(got) != 1 || got[0].LastTriggeredImageID != image {
		t.Errorf("imageChangeTriggers = %+v, want %s recorded", got, image)
	}
}

func newDeploymentConfig() *appsv1.DeploymentConfig {
	return &appsv1.DeploymentConfig{
		ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec: appsv1.DeploymentConfigSpec{
			Replicas: 1,
			Triggers: appsv1.DeploymentTriggerPolicies{
				{Type: appsv1.DeploymentTriggerOnImageChange, ImageChangeParams: &appsv1.DeploymentTriggerImageChangeParams{
					Automatic:      true,
					ContainerNames: []string{"web", "init"},
					From:           corev1.ObjectReference{Kind: "ImageStreamTag", Name: "web:latest"},
				}},
				{Type: appsv1.DeploymentTriggerOnImageChange, ImageChangeParams: &appsv1.DeploymentTriggerImageChangeParams{
					Automatic:      false,
					ContainerNames: []string{"side"},
					From:           corev1.ObjectReference{Kind: "ImageStreamTag", Name: "side:latest"},
				}},
			},
			Template: &corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"deploymentconfig": "web"}},
				Spec: corev1.PodSpec{
					InitContainers: []corev1.Container{{Name: "init", Image: " "}},
					Containers:     []corev1.Container{{Name: "web", Image: " "}, {Name: "side", Image: "side:manual"}},
				},
			},
		},
	}
}

func TestDeploymentConfigImageChange(t *testing.T) {
	h := newHarness(t, "dc-image-change")
	ctx := context.Background()
	h.runController(2)
	h.push("side", "latest", "side")
	if _, err := h.apps.AppsV1().DeploymentConfigs(h.ns).Create(ctx, newDeploymentConfig(), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	follows := func(image string) {
		t.Helper()
		var dc *appsv1.DeploymentConfig
		err := wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, 20*time.Second, true, func(context.Context) (bool, error) {
			var err error
			dc, err = h.apps.AppsV1().DeploymentConfigs(h.ns).Get(ctx, "web", metav1.GetOptions{})
			return err == nil && dc.Spec.Triggers[0].ImageChangeParams.LastTriggeredImage == image, nil
		})
		if err != nil {
			t.Fatalf("lastTriggeredImage = %q, want %s", dc.Spec.Triggers[0].ImageChangeParams.LastTriggeredImage, image)
		}
		spec := dc.Spec.Template.Spec
		if spec.Containers[0].Image != image || spec.InitContainers[0].Image != image {
			t.Errorf("images = %q (web), %q (init), want %s", spec.Containers[0].Image, spec.InitContainers[0].Image, image)
		}
		// The manual trigger is left alone.
		if spec.Containers[1].Image != "side:manual" || dc.Spec.Triggers[1].ImageChangeParams.LastTriggeredImage != "" {
			t.Errorf("non-automatic trigger touched: side image %q, lastTriggeredImage %q", spec.Containers[1].Image, dc.Spec.Triggers[1].ImageChangeParams.LastTriggeredImage)
		}
	}
	follows(h.push("web", "latest", "one"))

	// A stream write that leaves the tag alone does not touch the DC.
	dc, err := h.apps.AppsV1().DeploymentConfigs(h.ns).Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	h.push("web", "other", "two")
	time.Sleep(time.Second)
	if again, err := h.apps.AppsV1().DeploymentConfigs(h.ns).Get(ctx, "web", metav1.GetOptions{}); err != nil || again.ResourceVersion != dc.ResourceVersion {
		t.Errorf("DeploymentConfig rewritten for an unrelated tag (resourceVersion %s -> %s, err %v)", dc.ResourceVersion, again.ResourceVersion, err)
	}

	follows(h.push("web", "latest", "three"))
}
