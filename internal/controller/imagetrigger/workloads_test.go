package imagetrigger

import (
	"context"
	"fmt"
	"testing"
	"time"

	kappsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/utils/ptr"

	"github.com/slipway-dev/slipway/internal/triggerannotation"
)

// triggers is the annotation of triggers following tag (namespace "" for
// the object's own) into the container fieldPaths name; paused ones after
// a "!" prefix.
func triggers(tag string, fieldPaths ...string) string {
	var out []triggerannotation.Trigger
	for _, p := range fieldPaths {
		t := triggerannotation.Trigger{From: triggerannotation.Reference{Kind: "ImageStreamTag", Name: tag}, FieldPath: p}
		if p[0] == '!' {
			t.FieldPath, t.Paused = p[1:], true
		}
		out = append(out, t)
	}
	return triggerannotation.Format(out)
}

// waitFor polls get until it returns true, or fails the test with what
// the last call described.
func (h *harness) waitFor(what string, get func(ctx context.Context) (bool, string, error)) {
	h.t.Helper()
	var last string
	err := wait.PollUntilContextTimeout(context.Background(), 50*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		ok, desc, err := get(ctx)
		last = desc
		return ok, err
	})
	if err != nil {
		h.t.Fatalf("%s: %v (last seen: %s)", what, err, last)
	}
}

// replicaSetImages lists the web container images of the ReplicaSets of
// Deployment name, by revision.
func (h *harness) replicaSetImages(ctx context.Context, name string) ([]string, error) {
	list, err := h.kube.AppsV1().ReplicaSets(h.ns).List(ctx, metav1.ListOptions{LabelSelector: "deployment=" + name})
	if err != nil {
		return nil, err
	}
	images := make([]string, len(list.Items))
	for _, rs := range list.Items {
		var revision int
		if _, err := fmt.Sscan(rs.Annotations["deployment.kubernetes.io/revision"], &revision); err != nil || revision < 1 || revision > len(images) {
			return nil, nil // the deployment controller is not done with it
		}
		images[revision-1] = rs.Spec.Template.Spec.Containers[0].Image
	}
	return images, nil
}

func podTemplate(labels map[string]string) corev1.PodTemplateSpec {
	return corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: labels},
		Spec: corev1.PodSpec{
			InitContainers: []corev1.Container{{Name: "init", Image: "reg.test/init:v1"}},
			Containers:     []corev1.Container{{Name: "web", Image: " "}, {Name: "side", Image: "reg.test/side:manual"}},
		},
	}
}

// TestDeploymentImageTrigger: a Deployment whose annotation follows
// web:latest gets the tag's image as soon as it resolves and whenever it
// moves, and Kubernetes' deployment controller rolls each out as a new
// ReplicaSet. A paused trigger and other tags change nothing.
func TestDeploymentImageTrigger(t *testing.T) {
	h := newHarness(t, "deployment-trigger")
	ctx := context.Background()
	h.runController(2)
	labels := map[string]string{"deployment": "web"}
	d := &kappsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Annotations: map[string]string{
			triggerannotation.Key: triggers("web:latest",
				`spec.template.spec.containers[?(@.name=="web")].image`,
				`spec.template.spec.initContainers[0].image`,
				`!spec.template.spec.containers[?(@.name=="side")].image`),
		}},
		Spec: kappsv1.DeploymentSpec{
			Replicas: ptr.To[int32](1),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: podTemplate(labels),
		},
	}
	if _, err := h.kube.AppsV1().Deployments(h.ns).Create(ctx, d, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// follows waits for image in the Deployment and in its newest
	// ReplicaSet, revision at least revisions.
	follows := func(image string, revisions int) {
		t.Helper()
		h.waitFor("deployment follows "+image, func(ctx context.Context) (bool, string, error) {
			d, err := h.kube.AppsV1().Deployments(h.ns).Get(ctx, "web", metav1.GetOptions{})
			if err != nil {
				return false, "", err
			}
			spec := d.Spec.Template.Spec
			got := fmt.Sprintf("web %q init %q side %q", spec.Containers[0].Image, spec.InitContainers[0].Image, spec.Containers[1].Image)
			return spec.Containers[0].Image == image && spec.InitContainers[0].Image == image, got, nil
		})
		h.waitFor("a ReplicaSet for "+image, func(ctx context.Context) (bool, string, error) {
			images, err := h.replicaSetImages(ctx, "web")
			return len(images) >= revisions && images[len(images)-1] == image, fmt.Sprint(images), err
		})
		if d, err := h.kube.AppsV1().Deployments(h.ns).Get(ctx, "web", metav1.GetOptions{}); err != nil || d.Spec.Template.Spec.Containers[1].Image != "reg.test/side:manual" {
			t.Errorf("the paused trigger's container changed: %v %v", d.Spec.Template.Spec.Containers, err)
		}
	}
	// Created before the tag resolves: the blank image may make a first
	// ReplicaSet (whose pods cannot be created) before the tag's image.
	follows(h.push("web", "latest", "one"), 1)
	first, err := h.replicaSetImages(ctx, "web")
	if err != nil {
		t.Fatal(err)
	}

	before, err := h.kube.AppsV1().Deployments(h.ns).Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	h.push("web", "other", "two")
	time.Sleep(time.Second)
	if after, err := h.kube.AppsV1().Deployments(h.ns).Get(ctx, "web", metav1.GetOptions{}); err != nil || after.Generation != before.Generation {
		t.Errorf("Deployment rewritten for an unrelated tag (generation %d -> %d, err %v)", before.Generation, after.Generation, err)
	}

	follows(h.push("web", "latest", "three"), len(first)+1)

	// Setting a followed image by hand: the controller sets it back, as
	// OpenShift's does.
	image := h.push("web", "latest", "four")
	follows(image, len(first)+2)
	patch := `[{"op":"replace","path":"/spec/template/spec/containers/0/image","value":"reg.test/web:by-hand"}]`
	if _, err := h.kube.AppsV1().Deployments(h.ns).Patch(ctx, "web", types.JSONPatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	h.waitFor("the image set back", func(ctx context.Context) (bool, string, error) {
		d, err := h.kube.AppsV1().Deployments(h.ns).Get(ctx, "web", metav1.GetOptions{})
		if err != nil {
			return false, "", err
		}
		return d.Spec.Template.Spec.Containers[0].Image == image, d.Spec.Template.Spec.Containers[0].Image, nil
	})
}

// TestPausedDeploymentTrigger: a paused trigger never writes, even when
// its tag resolves.
func TestPausedDeploymentTrigger(t *testing.T) {
	h := newHarness(t, "deployment-paused")
	ctx := context.Background()
	h.runController(1)
	h.push("web", "latest", "one")
	labels := map[string]string{"deployment": "web"}
	d := &kappsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Annotations: map[string]string{
			triggerannotation.Key: triggers("web:latest", `!spec.template.spec.containers[?(@.name=="web")].image`),
		}},
		Spec: kappsv1.DeploymentSpec{Selector: &metav1.LabelSelector{MatchLabels: labels}, Template: podTemplate(labels)},
	}
	if _, err := h.kube.AppsV1().Deployments(h.ns).Create(ctx, d, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second)
	h.push("web", "latest", "two")
	time.Sleep(time.Second)
	got, err := h.kube.AppsV1().Deployments(h.ns).Get(ctx, "web", metav1.GetOptions{})
	if err != nil || got.Spec.Template.Spec.Containers[0].Image != " " || got.Generation != 1 {
		t.Errorf("paused trigger wrote: image %q generation %d err %v", got.Spec.Template.Spec.Containers[0].Image, got.Generation, err)
	}
}

// TestStatefulSetAndCronJobTriggers: the other kinds OpenShift follows,
// a CronJob through its job template, a tag of another namespace.
func TestStatefulSetAndCronJobTriggers(t *testing.T) {
	h := newHarness(t, "workload-triggers")
	other := newHarness(t, "workload-triggers-shared")
	ctx := context.Background()
	h.runController(2)
	labels := map[string]string{"app": "db"}
	sts := &kappsv1.StatefulSet{
		ObjectMeta: metav1.ObjectMeta{Name: "db", Annotations: map[string]string{
			triggerannotation.Key: triggers("web:latest", `spec.template.spec.containers[?(@.name=="web")].image`),
		}},
		Spec: kappsv1.StatefulSetSpec{Selector: &metav1.LabelSelector{MatchLabels: labels}, Template: podTemplate(labels)},
	}
	if _, err := h.kube.AppsV1().StatefulSets(h.ns).Create(ctx, sts, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	job := podTemplate(nil)
	job.Spec.RestartPolicy = corev1.RestartPolicyNever
	cj := &batchv1.CronJob{
		ObjectMeta: metav1.ObjectMeta{Name: "report", Annotations: map[string]string{
			triggerannotation.Key: triggerannotation.Format([]triggerannotation.Trigger{{
				From:      triggerannotation.Reference{Kind: "ImageStreamTag", Name: "base:v1", Namespace: other.ns},
				FieldPath: `spec.jobTemplate.spec.template.spec.containers[?(@.name=="web")].image`,
			}}),
		}},
		Spec: batchv1.CronJobSpec{Schedule: "0 0 1 1 *", JobTemplate: batchv1.JobTemplateSpec{Spec: batchv1.JobSpec{Template: job}}},
	}
	if _, err := h.kube.BatchV1().CronJobs(h.ns).Create(ctx, cj, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	stsImage := h.push("web", "latest", "one")
	cronImage := other.push("base", "v1", "two")
	h.waitFor("the StatefulSet follows web:latest", func(ctx context.Context) (bool, string, error) {
		s, err := h.kube.AppsV1().StatefulSets(h.ns).Get(ctx, "db", metav1.GetOptions{})
		if err != nil {
			return false, "", err
		}
		return s.Spec.Template.Spec.Containers[0].Image == stsImage, s.Spec.Template.Spec.Containers[0].Image, nil
	})
	h.waitFor("the CronJob follows base:v1 of "+other.ns, func(ctx context.Context) (bool, string, error) {
		c, err := h.kube.BatchV1().CronJobs(h.ns).Get(ctx, "report", metav1.GetOptions{})
		if err != nil {
			return false, "", err
		}
		image := c.Spec.JobTemplate.Spec.Template.Spec.Containers[0].Image
		return image == cronImage, image, nil
	})
}

// TestDaemonSetTriggerAndJobs: a DaemonSet follows its tag as the other
// kinds do. A Job does not, as on OpenShift, whose trigger controller
// watches no Jobs (a Job's pod template cannot change once it is created;
// a CronJob's job template follows instead, and lookupPolicy.local names a
// new Job's image): its annotation is left as it is, and so is its image,
// while the DaemonSet following the same tag has moved twice.
func TestDaemonSetTriggerAndJobs(t *testing.T) {
	h := newHarness(t, "daemonset-trigger")
	ctx := context.Background()
	h.runController(2)
	fieldPath := `spec.template.spec.containers[?(@.name=="web")].image`
	labels := map[string]string{"app": "agent"}
	ds := &kappsv1.DaemonSet{
		ObjectMeta: metav1.ObjectMeta{Name: "agent", Annotations: map[string]string{triggerannotation.Key: triggers("web:latest", fieldPath)}},
		Spec:       kappsv1.DaemonSetSpec{Selector: &metav1.LabelSelector{MatchLabels: labels}, Template: podTemplate(labels)},
	}
	if _, err := h.kube.AppsV1().DaemonSets(h.ns).Create(ctx, ds, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	template := podTemplate(nil)
	template.Spec.RestartPolicy = corev1.RestartPolicyNever
	template.Spec.Containers[0].Image = "reg.test/web:created"
	job := &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: "report", Annotations: map[string]string{triggerannotation.Key: triggers("web:latest", fieldPath)}},
		// Suspended: no pods, only the template matters here.
		Spec: batchv1.JobSpec{Suspend: ptr.To(true), Template: template},
	}
	job, err := h.kube.BatchV1().Jobs(h.ns).Create(ctx, job, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}

	for _, seed := range []string{"one", "two"} {
		image := h.push("web", "latest", seed)
		h.waitFor("the DaemonSet follows web:latest to "+image, func(ctx context.Context) (bool, string, error) {
			d, err := h.kube.AppsV1().DaemonSets(h.ns).Get(ctx, "agent", metav1.GetOptions{})
			if err != nil {
				return false, "", err
			}
			got := d.Spec.Template.Spec.Containers[0].Image
			return got == image, got, nil
		})
	}
	got, err := h.kube.BatchV1().Jobs(h.ns).Get(ctx, "report", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// The job controller writes its status (Suspended); its spec is the
	// user's.
	if image := got.Spec.Template.Spec.Containers[0].Image; image != "reg.test/web:created" || got.Generation != job.Generation {
		t.Errorf("the Job's spec was written (image %q, generation %d -> %d); Jobs follow no tag", image, job.Generation, got.Generation)
	}
}
