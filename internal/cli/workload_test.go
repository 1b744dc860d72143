package cli

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	kappsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/utils/ptr"

	"github.com/slipway-dev/slipway/internal/triggerannotation"
)

func TestGenerateNewAppObjects(t *testing.T) {
	image := &appImage{Stream: "mytime", Tag: "latest", PullSpec: "reg.test/p/mytime@sha256:1", Ports: []string{"8080/tcp", "53/udp", "1000-2000/tcp"}}
	env := []corev1.EnvVar{{Name: "GREETING", Value: "hi"}}
	wantLabels := "map[app:mytime app.kubernetes.io/component:mytime app.kubernetes.io/instance:mytime team:a]"

	gen := generateNewApp("mytime", image, env, map[string]string{"team": "a"}, false)
	d := gen.Deployment
	if gen.Config != nil || d == nil {
		t.Fatalf("objects: deployment %v, dc %v", d != nil, gen.Config != nil)
	}
	if d.Name != "mytime" || fmt.Sprint(d.Labels) != wantLabels || d.Annotations["openshift.io/generated-by"] != "OpenShiftNewApp" {
		t.Errorf("deployment meta: %s %v %v", d.Name, d.Labels, d.Annotations)
	}
	wantTriggers := `[{"from":{"kind":"ImageStreamTag","name":"mytime:latest"},"fieldPath":"spec.template.spec.containers[?(@.name==\"mytime\")].image"}]`
	if got := d.Annotations[triggerannotation.Key]; got != wantTriggers {
		t.Errorf("triggers annotation = %s\nwant %s", got, wantTriggers)
	}
	if ptr.Deref(d.Spec.Replicas, 0) != 1 || fmt.Sprint(d.Spec.Selector.MatchLabels) != "map[deployment:mytime]" ||
		fmt.Sprint(d.Spec.Template.Labels) != "map[deployment:mytime]" || d.Spec.Template.Annotations["openshift.io/generated-by"] != "OpenShiftNewApp" {
		t.Errorf("deployment spec: replicas %v selector %v template %v %v", d.Spec.Replicas, d.Spec.Selector, d.Spec.Template.Labels, d.Spec.Template.Annotations)
	}
	c := d.Spec.Template.Spec.Containers
	if len(c) != 1 || c[0].Name != "mytime" || c[0].Image != image.PullSpec || fmt.Sprint(c[0].Env) != fmt.Sprint(env) ||
		fmt.Sprint(c[0].Ports) != fmt.Sprint([]corev1.ContainerPort{{ContainerPort: 8080, Protocol: "TCP"}, {ContainerPort: 53, Protocol: "UDP"}}) {
		t.Errorf("containers = %+v", c)
	}
	if svc := gen.Service; svc == nil || fmt.Sprint(svc.Spec.Selector) != "map[deployment:mytime]" || len(svc.Spec.Ports) != 2 || fmt.Sprint(svc.Labels) != wantLabels {
		t.Errorf("service = %+v", svc)
	}

	// A tag that does not resolve yet: oc's blank image, filled in by the
	// trigger. No ports: no service.
	gen = generateNewApp("later", &appImage{Stream: "later", Tag: "v1"}, nil, nil, false)
	if img := gen.Deployment.Spec.Template.Spec.Containers[0].Image; img != " " || gen.Service != nil {
		t.Errorf("unresolved: image %q service %v", img, gen.Service)
	}

	gen = generateNewApp("mytime", image, nil, nil, true)
	if gen.Deployment != nil || gen.Config == nil || fmt.Sprint(gen.Config.Spec.Selector) != "map[deploymentconfig:mytime]" ||
		fmt.Sprint(gen.Service.Spec.Selector) != "map[deploymentconfig:mytime]" || gen.Config.Annotations[triggerannotation.Key] != "" {
		t.Errorf("--as-deployment-config: %+v", gen)
	}
}

func (e *appsEnv) kubeDeployment(name string) *kappsv1.Deployment {
	e.t.Helper()
	d, err := api.kube.AppsV1().Deployments(e.ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		e.t.Fatal(err)
	}
	return d
}

// replicaSetImages waits until Kubernetes' deployment controller made n
// ReplicaSets for Deployment name and returns their images, oldest first.
func (e *appsEnv) replicaSetImages(name string, n int) []string {
	e.t.Helper()
	var images []string
	err := wait.PollUntilContextTimeout(context.Background(), 100*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		list, err := api.kube.AppsV1().ReplicaSets(e.ns).List(ctx, metav1.ListOptions{LabelSelector: "deployment=" + name})
		if err != nil {
			return false, err
		}
		images = make([]string, len(list.Items))
		for _, rs := range list.Items {
			var revision int
			if _, err := fmt.Sscan(rs.Annotations["deployment.kubernetes.io/revision"], &revision); err != nil || revision < 1 || revision > len(images) {
				return false, nil
			}
			images[revision-1] = rs.Spec.Template.Spec.Containers[0].Image
		}
		return len(images) == n, nil
	})
	if err != nil {
		e.t.Fatalf("Deployment %s: ReplicaSets running %q, want %d: %v", name, images, n, err)
	}
	return images
}

func TestNewAppDeployment(t *testing.T) {
	e := newAppsEnv(t, "newapp-deployment")
	pullSpec := pushImageWithPorts(t, e.images, e.ns, "mytime", "latest", "8080/tcp")

	out := e.mustRun("new-app", "mytime:latest", "--name", "mytime")
	for _, want := range []string{
		` in image stream "newapp-deployment/mytime" under tag "latest" for "mytime:latest"` + "\n",
		`    deployment.apps "mytime" created` + "\n",
		`    service "mytime" created` + "\n",
		"'slipway expose svc/mytime --host-port=HOST_PORT'",
		"'slipway rollout status deployment/mytime'",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "deployment config") {
		t.Errorf("output names a deployment config:\n%s", out)
	}
	if _, err := e.apps.AppsV1().DeploymentConfigs(e.ns).Get(context.Background(), "mytime", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("a DeploymentConfig was made too: %v", err)
	}
	d := e.kubeDeployment("mytime")
	triggers, err := triggerannotation.Parse(d.Annotations)
	if err != nil || len(triggers) != 1 || triggers[0].From.Name != "mytime:latest" || triggers[0].Paused {
		t.Errorf("triggers %+v, %v", triggers, err)
	}
	if svc := e.service("mytime"); fmt.Sprint(svc.Spec.Selector) != "map[deployment:mytime]" {
		t.Errorf("service selector %v", svc.Spec.Selector)
	}
	// Kubernetes rolls it out once, on the tag's image.
	if images := e.replicaSetImages("mytime", 1); images[0] != pullSpec {
		t.Errorf("ReplicaSet image %q, want %s", images[0], pullSpec)
	}
}

// createDeployment creates a Deployment with containers web and side and
// init container init, selected by deployment=name.
func (e *appsEnv) createDeployment(name, image string) {
	e.t.Helper()
	labels := map[string]string{"deployment": name}
	d := &kappsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: kappsv1.DeploymentSpec{
			Replicas: ptr.To[int32](1),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{
					InitContainers: []corev1.Container{{Name: "init", Image: "reg.test/init:v1"}},
					Containers:     []corev1.Container{{Name: "web", Image: image}, {Name: "side", Image: "reg.test/side:v1"}},
				},
			},
		},
	}
	if _, err := api.kube.AppsV1().Deployments(e.ns).Create(context.Background(), d, metav1.CreateOptions{}); err != nil {
		e.t.Fatal(err)
	}
}

func TestSetTriggersDeployment(t *testing.T) {
	e := newAppsEnv(t, "set-triggers-deployment")
	e.createDeployment("web", "reg.test/web:v1")
	annotation := func() string { return e.kubeDeployment("web").Annotations[triggerannotation.Key] }

	if got := tableLines(e.mustRun("set", "triggers", "deployment/web")); fmt.Sprint(got) != fmt.Sprint([]string{"NAME TYPE VALUE AUTO", "deployments/web config true"}) {
		t.Errorf("listing of a plain deployment = %q", got)
	}
	if out := e.mustRun("set", "triggers", "deployment/web", "--from-image=web:latest", "-c", "web"); out != "deployment.apps/web triggers updated\n" {
		t.Errorf("--from-image printed %q", out)
	}
	want := `[{"from":{"kind":"ImageStreamTag","name":"web:latest"},"fieldPath":"spec.template.spec.containers[?(@.name==\"web\")].image"}]`
	if got := annotation(); got != want {
		t.Errorf("annotation = %s\nwant %s", got, want)
	}
	e.mustRun("set", "triggers", "deploy/web", "--from-image=other/base:v1", "-c", "init", "--manual")
	want = `[{"from":{"kind":"ImageStreamTag","name":"web:latest"},"fieldPath":"spec.template.spec.containers[?(@.name==\"web\")].image"},` +
		`{"from":{"kind":"ImageStreamTag","name":"base:v1","namespace":"other"},"fieldPath":"spec.template.spec.initContainers[?(@.name==\"init\")].image","paused":true}]`
	if got := annotation(); got != want {
		t.Errorf("annotation = %s\nwant %s", got, want)
	}
	wantRows := []string{
		"NAME TYPE VALUE AUTO",
		"deployments/web config true",
		"deployments/web image web:latest (web) true",
		"deployments/web image other/base:v1 (init) false",
	}
	if got := tableLines(e.mustRun("set", "triggers", "deployments", "web")); fmt.Sprint(got) != fmt.Sprint(wantRows) {
		t.Errorf("listing = %q\nwant %q", got, wantRows)
	}

	// --manual pauses the triggers and the Deployment (its config change
	// trigger); --auto resumes both.
	e.mustRun("set", "triggers", "deployment/web", "--manual")
	if d := e.kubeDeployment("web"); !d.Spec.Paused || !strings.Contains(d.Annotations[triggerannotation.Key], `"web\")].image","paused":true}`) {
		t.Errorf("after --manual: paused %t, %s", d.Spec.Paused, d.Annotations[triggerannotation.Key])
	}
	e.mustRun("set", "triggers", "deployment/web", "--auto")
	if d := e.kubeDeployment("web"); d.Spec.Paused || strings.Contains(d.Annotations[triggerannotation.Key], "paused") {
		t.Errorf("after --auto: paused %t, %s", d.Spec.Paused, d.Annotations[triggerannotation.Key])
	}
	if out := e.mustRun("set", "triggers", "deployment/web", "--auto"); out != "deployment.apps/web triggers unchanged\n" {
		t.Errorf("second --auto printed %q", out)
	}

	for _, bad := range []struct {
		args []string
		err  string
	}{
		{[]string{"--from-image=web:v2", "-c", "nope"}, "not all container names exist: nope"},
		{[]string{"--from-image=web:v2", "-c", "web"}, "only one trigger may reference each container: web"},
		{[]string{"--from-image=web:v2"}, "you must specify --containers"},
		{[]string{"--from-github"}, "does not support web hooks"},
	} {
		if _, _, err := e.run(append([]string{"set", "triggers", "deployment/web"}, bad.args...)...); err == nil || !strings.Contains(err.Error(), bad.err) {
			t.Errorf("set triggers %v: err = %v, want %q", bad.args, err, bad.err)
		}
	}

	e.mustRun("set", "triggers", "deployment/web", "--from-image=other/base:v1", "--remove")
	e.mustRun("set", "triggers", "deployment/web", "--from-config", "--remove")
	if d := e.kubeDeployment("web"); !d.Spec.Paused || d.Annotations[triggerannotation.Key] != `[{"from":{"kind":"ImageStreamTag","name":"web:latest"},"fieldPath":"spec.template.spec.containers[?(@.name==\"web\")].image"}]` {
		t.Errorf("after removals: paused %t, %s", d.Spec.Paused, d.Annotations[triggerannotation.Key])
	}
	e.mustRun("set", "triggers", "deployment/web", "--remove-all")
	if got := annotation(); got != "[]" {
		t.Errorf("after --remove-all: %s", got)
	}

	// The other annotated kinds: a StatefulSet's path is the same, a
	// CronJob's goes through its job template.
	labels := map[string]string{"app": "db"}
	sts := &kappsv1.StatefulSet{
		ObjectMeta: metav1.ObjectMeta{Name: "db"},
		Spec: kappsv1.StatefulSetSpec{
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "db", Image: "reg.test/db:v1"}}}},
		},
	}
	if _, err := api.kube.AppsV1().StatefulSets(e.ns).Create(context.Background(), sts, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if out := e.mustRun("set", "triggers", "sts/db", "--from-image=db:latest"); out != "statefulset.apps/db triggers updated\n" {
		t.Errorf("set triggers sts printed %q", out)
	}
	got, err := api.kube.AppsV1().StatefulSets(e.ns).Get(context.Background(), "db", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if a := got.Annotations[triggerannotation.Key]; a != `[{"from":{"kind":"ImageStreamTag","name":"db:latest"},"fieldPath":"spec.template.spec.containers[?(@.name==\"db\")].image"}]` {
		t.Errorf("statefulset annotation %s", a)
	}
}

func TestRolloutDeployment(t *testing.T) {
	e := newAppsEnv(t, "rollout-deployment")
	e.createDeployment("web", "reg.test/web:v1")
	e.replicaSetImages("web", 1)

	// A JSON patch, as the deployment controller writes the status
	// meanwhile.
	patch := `[{"op":"replace","path":"/spec/template/spec/containers/0/image","value":"reg.test/web:v2"}]`
	if _, err := api.kube.AppsV1().Deployments(e.ns).Patch(context.Background(), "web", types.JSONPatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	e.replicaSetImages("web", 2)

	out := e.mustRun("rollout", "history", "deployment/web")
	if lines := tableLines(out); len(lines) != 4 || lines[0] != "deployment.apps/web" || lines[1] != "REVISION CHANGE-CAUSE" || lines[2] != "1 <none>" || lines[3] != "2 <none>" {
		t.Errorf("history printed %q", out)
	}
	if out := e.mustRun("rollout", "status", "deploy/web", "--watch=false"); !strings.HasPrefix(out, "Waiting for deployment") {
		t.Errorf("status printed %q", out)
	}
	if out := e.mustRun("rollout", "undo", "deployment/web"); out != "deployment.apps/web rolled back\n" {
		t.Errorf("undo printed %q", out)
	}
	if img := e.kubeDeployment("web").Spec.Template.Spec.Containers[0].Image; img != "reg.test/web:v1" {
		t.Errorf("image after undo %q", img)
	}
	if out := e.mustRun("rollout", "pause", "deployment/web"); out != "deployment.apps/web paused\n" || !e.kubeDeployment("web").Spec.Paused {
		t.Errorf("pause printed %q", out)
	}
	if out := e.mustRun("rollout", "resume", "deployment", "web"); out != "deployment.apps/web resumed\n" || e.kubeDeployment("web").Spec.Paused {
		t.Errorf("resume printed %q", out)
	}
	if out := e.mustRun("rollout", "restart", "deployment/web"); out != "deployment.apps/web restarted\n" ||
		e.kubeDeployment("web").Spec.Template.Annotations["kubectl.kubernetes.io/restartedAt"] == "" {
		t.Errorf("restart printed %q", out)
	}
	// latest is a deployment config verb, as in oc.
	if _, _, err := e.run("rollout", "latest", "deployment/web"); err == nil || !strings.Contains(err.Error(), "web is not a deployment config") ||
		!strings.Contains(err.Error(), "rollout restart deployment/web") {
		t.Errorf("rollout latest deployment/web: err = %v", err)
	}
}
