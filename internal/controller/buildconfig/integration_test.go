package buildconfig

import (
	"context"
	"strings"
	"testing"
	"time"

	buildv1 "github.com/openshift/api/build/v1"
	buildclient "github.com/openshift/client-go/build/clientset/versioned"
	buildinformers "github.com/openshift/client-go/build/informers/externalversions"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"

	"github.com/slipway-dev/slipway/internal/testserver"
)

func newBC(name string, triggers ...buildv1.BuildTriggerPolicy) *buildv1.BuildConfig {
	return &buildv1.BuildConfig{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"app": name}},
		Spec: buildv1.BuildConfigSpec{
			Triggers: triggers,
			CommonSpec: buildv1.CommonSpec{
				Source:   buildv1.BuildSource{Git: &buildv1.GitBuildSource{URI: "https://git.test/time.git"}},
				Strategy: buildv1.BuildStrategy{DockerStrategy: &buildv1.DockerBuildStrategy{From: &corev1.ObjectReference{Kind: "DockerImage", Name: "busybox"}}},
				Output:   buildv1.BuildOutput{To: &corev1.ObjectReference{Kind: "DockerImage", Name: "reg.test/veer/" + name}},
			},
		},
	}
}

// TestInstantiateAndConfigChange runs the generator behind the real API
// server's buildconfigs/instantiate and this controller against it.
func TestInstantiateAndConfigChange(t *testing.T) {
	s := testserver.Start(t, testserver.Options{})
	kube := kubernetes.NewForConfigOrDie(s.Admin)
	builds := buildclient.NewForConfigOrDie(s.Admin)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	const ns = "gen"
	if _, err := kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	bcs := builds.BuildV1().BuildConfigs(ns)
	if _, err := bcs.Create(ctx, newBC("time"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	manual := &buildv1.BuildRequest{ObjectMeta: metav1.ObjectMeta{Name: "time"}, TriggeredBy: []buildv1.BuildTriggerCause{{Message: "Manually triggered"}}}
	b1, err := bcs.Instantiate(ctx, "time", manual, metav1.CreateOptions{})
	if apierrors.IsNotFound(err) {
		t.Skip("buildconfigs/instantiate is not wired into the API server yet (buildregistry.WithLoopbackConfig)")
	}
	if err != nil {
		t.Fatal(err)
	}
	b2, err := bcs.Instantiate(ctx, "time", manual, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if b1.Name != "time-1" || b2.Name != "time-2" {
		t.Errorf("builds %s, %s; want time-1, time-2", b1.Name, b2.Name)
	}
	wantLabels := map[string]string{"app": "time", buildv1.BuildConfigLabel: "time", buildv1.BuildConfigLabelDeprecated: "time", buildv1.BuildRunPolicyLabel: "Serial"}
	for k, v := range wantLabels {
		if b2.Labels[k] != v {
			t.Errorf("label %s = %q, want %q", k, b2.Labels[k], v)
		}
	}
	if b2.Annotations[buildv1.BuildNumberAnnotation] != "2" || b2.Annotations[buildv1.BuildConfigAnnotation] != "time" ||
		b2.Status.Phase != buildv1.BuildPhaseNew || b2.Status.Config.Name != "time" || len(b2.OwnerReferences) != 1 ||
		b2.Spec.ServiceAccount != "builder" || b2.Spec.TriggeredBy[0].Message != "Manually triggered" {
		t.Errorf("build time-2 = %+v", b2)
	}
	if bc, _ := bcs.Get(ctx, "time", metav1.GetOptions{}); bc.Status.LastVersion != 2 {
		t.Errorf("lastVersion = %d, want 2", bc.Status.LastVersion)
	}
	stale := int64(0)
	if _, err := bcs.Instantiate(ctx, "time", &buildv1.BuildRequest{ObjectMeta: metav1.ObjectMeta{Name: "time"}, LastVersion: &stale}, metav1.CreateOptions{}); !apierrors.IsBadRequest(err) {
		t.Errorf("stale lastVersion guard: err = %v, want 400", err)
	}
	clone, err := builds.BuildV1().Builds(ns).Clone(ctx, "time-1", &buildv1.BuildRequest{ObjectMeta: metav1.ObjectMeta{Name: "time-1"}}, metav1.CreateOptions{})
	if err != nil || clone.Name != "time-3" || clone.Annotations[buildv1.BuildCloneAnnotation] != "time-1" {
		t.Errorf("clone: %v %+v", err, clone)
	}

	// Webhooks: the right secret starts a build, a wrong one is a 401, a
	// push to another branch starts none.
	hook := newBC("hook", buildv1.BuildTriggerPolicy{Type: buildv1.GenericWebHookBuildTriggerType, GenericWebHook: &buildv1.WebHookTrigger{Secret: "s3cret"}})
	if _, err := bcs.Create(ctx, hook, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	post := func(secret, body string) ([]byte, error) {
		return builds.BuildV1().RESTClient().Post().Namespace(ns).Resource("buildconfigs").Name("hook").
			SubResource("webhooks", secret, "generic").SetHeader("Content-Type", "application/json").Body([]byte(body)).DoRaw(ctx)
	}
	if raw, err := post("s3cret", `{"git":{"ref":"refs/heads/main","commit":"abc"}}`); err != nil || !strings.Contains(string(raw), `"name":"hook-1"`) {
		t.Errorf("generic webhook: %v %s", err, raw)
	}
	if raw, err := post("wrong", `{}`); !apierrors.IsUnauthorized(err) || !strings.Contains(string(raw), `the webhook \"generic\" for \"hook\" did not accept your secret`) {
		t.Errorf("wrong secret: err = %v, body %s; want 401 with OpenShift's message", err, raw)
	}
	if raw, err := post("s3cret", `{"git":{"ref":"refs/heads/feature"}}`); err != nil || strings.Contains(string(raw), `"kind":"Build"`) {
		t.Errorf("push to another branch: %v %s", err, raw)
	}
	if bc, _ := bcs.Get(ctx, "hook", metav1.GetOptions{}); bc.Status.LastVersion != 1 {
		t.Errorf("hook lastVersion = %d, want 1 (one build)", bc.Status.LastVersion)
	}

	paused := newBC("paused")
	paused.Annotations = map[string]string{buildv1.BuildConfigPausedAnnotation: "true"}
	if _, err := bcs.Create(ctx, paused, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := bcs.Instantiate(ctx, "paused", &buildv1.BuildRequest{ObjectMeta: metav1.ObjectMeta{Name: "paused"}}, metav1.CreateOptions{}); !apierrors.IsBadRequest(err) || !strings.Contains(err.Error(), "BuildConfig is paused") {
		t.Errorf("paused: err = %v, want 400 BuildConfig is paused", err)
	}

	// ConfigChange: the controller starts exactly one build, even with two
	// workers and repeated syncs.
	informers := buildinformers.NewSharedInformerFactory(builds, 0)
	c := New(builds, informers.Build().V1().BuildConfigs(), informers.Build().V1().Builds())
	informers.Start(ctx.Done())
	go func() { _ = c.Run(ctx, 2) }()
	if _, err := bcs.Create(ctx, newBC("cc", buildv1.BuildTriggerPolicy{Type: buildv1.ConfigChangeBuildTriggerType}), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	var list *buildv1.BuildList
	err = wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		list, err = builds.BuildV1().Builds(ns).List(ctx, metav1.ListOptions{LabelSelector: buildv1.BuildConfigLabel + "=cc"})
		return err == nil && len(list.Items) > 0, nil
	})
	if err != nil {
		t.Fatal("the config change trigger started no build")
	}
	// Touch the config: no second build.
	bc, _ := bcs.Get(ctx, "cc", metav1.GetOptions{})
	bc.Labels["touched"] = "yes"
	if _, err := bcs.Update(ctx, bc, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second)
	list, _ = builds.BuildV1().Builds(ns).List(ctx, metav1.ListOptions{LabelSelector: buildv1.BuildConfigLabel + "=cc"})
	if len(list.Items) != 1 || list.Items[0].Name != "cc-1" || list.Items[0].Spec.TriggeredBy[0].Message != "Build configuration change" {
		t.Errorf("config change builds = %d (%+v), want exactly cc-1", len(list.Items), list.Items)
	}
}
