package replicationcontroller

import (
	"context"
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"

	"github.com/slipway-dev/slipway/internal/testserver"
)

var kube kubernetes.Interface

func TestMain(m *testing.M) {
	testserver.Main(m, testserver.Options{}, func(s *testserver.Server) {
		kube = kubernetes.NewForConfigOrDie(s.Admin)
		factory := informers.NewSharedInformerFactory(kube, 0)
		c := New(kube, factory.Core().V1().ReplicationControllers(), factory.Core().V1().Pods())
		ctx := context.Background()
		factory.Start(ctx.Done())
		go func() { _ = c.Run(ctx, 2) }()
	})
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func namespace(t *testing.T, name string) string {
	t.Helper()
	_, err := kube.CoreV1().Namespaces().Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
	must(t, err)
	return name
}

func newRC(ns, name string, replicas int32) *corev1.ReplicationController {
	return &corev1.ReplicationController{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: corev1.ReplicationControllerSpec{
			Replicas: &replicas,
			Selector: map[string]string{"app": name},
			Template: &corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": name, "tier": "web"}, Annotations: map[string]string{"note": "x"}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "busybox"}}},
			},
		},
	}
}

// pods lists the pods of ns whose labels match app=name.
func pods(t *testing.T, ns, name string) []corev1.Pod {
	t.Helper()
	list, err := kube.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{LabelSelector: labels.Set{"app": name}.String()})
	must(t, err)
	return list.Items
}

func waitFor(t *testing.T, what string, cond func() (bool, error)) {
	t.Helper()
	var last error
	err := wait.PollUntilContextTimeout(context.Background(), 50*time.Millisecond, 20*time.Second, true, func(context.Context) (bool, error) {
		ok, err := cond()
		last = err
		return ok && err == nil, nil
	})
	if err != nil {
		t.Fatalf("waiting for %s: %v (last: %v)", what, err, last)
	}
}

func waitStatus(t *testing.T, ns, name string, cond func(corev1.ReplicationControllerStatus) bool) {
	t.Helper()
	waitFor(t, "status of "+name, func() (bool, error) {
		rc, err := kube.CoreV1().ReplicationControllers(ns).Get(context.Background(), name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		if !cond(rc.Status) {
			return false, fmt.Errorf("status %+v", rc.Status)
		}
		return true, nil
	})
}

func setReady(t *testing.T, pod *corev1.Pod, at time.Time) {
	t.Helper()
	pod.Status.Phase = corev1.PodRunning
	pod.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue, LastTransitionTime: metav1.NewTime(at)}}
	_, err := kube.CoreV1().Pods(pod.Namespace).UpdateStatus(context.Background(), pod, metav1.UpdateOptions{})
	must(t, err)
}

func TestScalesPodsToReplicas(t *testing.T) {
	ctx := context.Background()
	ns := namespace(t, "rc-scale")
	rc, err := kube.CoreV1().ReplicationControllers(ns).Create(ctx, newRC(ns, "web", 3), metav1.CreateOptions{})
	must(t, err)

	waitStatus(t, ns, "web", func(s corev1.ReplicationControllerStatus) bool {
		return s.Replicas == 3 && s.FullyLabeledReplicas == 3 && s.ObservedGeneration == 1
	})
	// Expectations: a fast informer must not make it create more.
	time.Sleep(300 * time.Millisecond)
	created := pods(t, ns, "web")
	if len(created) != 3 {
		t.Fatalf("pods = %d, want 3", len(created))
	}
	for _, p := range created {
		ref := metav1.GetControllerOf(&p)
		if ref == nil || ref.UID != rc.UID || ref.Kind != "ReplicationController" {
			t.Errorf("pod %s controller = %+v, want the RC", p.Name, ref)
		}
		if p.GenerateName != "web-" || p.Labels["tier"] != "web" || p.Annotations["note"] != "x" {
			t.Errorf("pod %s not made from the template: %+v", p.Name, p.ObjectMeta)
		}
	}

	// Two Ready pods: one long enough for minReadySeconds, one not yet.
	rc, err = kube.CoreV1().ReplicationControllers(ns).Get(ctx, "web", metav1.GetOptions{})
	must(t, err)
	rc.Spec.MinReadySeconds = 2
	_, err = kube.CoreV1().ReplicationControllers(ns).Update(ctx, rc, metav1.UpdateOptions{})
	must(t, err)
	setReady(t, &created[0], time.Now().Add(-time.Minute))
	setReady(t, &created[1], time.Now())
	waitStatus(t, ns, "web", func(s corev1.ReplicationControllerStatus) bool {
		return s.ReadyReplicas == 2 && s.AvailableReplicas == 1 && s.ObservedGeneration == 2
	})
	// The controller comes back by itself once minReadySeconds passed.
	waitStatus(t, ns, "web", func(s corev1.ReplicationControllerStatus) bool { return s.AvailableReplicas == 2 })

	// Scale down to 1: the not-ready pod and the newer ready one go.
	rc, err = kube.CoreV1().ReplicationControllers(ns).Get(ctx, "web", metav1.GetOptions{})
	must(t, err)
	one := int32(1)
	rc.Spec.Replicas = &one
	_, err = kube.CoreV1().ReplicationControllers(ns).Update(ctx, rc, metav1.UpdateOptions{})
	must(t, err)
	waitStatus(t, ns, "web", func(s corev1.ReplicationControllerStatus) bool { return s.Replicas == 1 && s.ReadyReplicas == 1 })
	left := pods(t, ns, "web")
	if len(left) != 1 || left[0].Name != created[0].Name {
		t.Fatalf("left %v, want only the oldest ready pod %s", names(left), created[0].Name)
	}

	// A pod deleted by someone else is replaced.
	must(t, kube.CoreV1().Pods(ns).Delete(ctx, left[0].Name, metav1.DeleteOptions{}))
	waitFor(t, "a replacement pod", func() (bool, error) {
		p := pods(t, ns, "web")
		return len(p) == 1 && p[0].Name != left[0].Name, nil
	})
}

func names(pods []corev1.Pod) []string {
	var out []string
	for _, p := range pods {
		out = append(out, p.Name)
	}
	return out
}

func TestAdoptsAndReleases(t *testing.T) {
	ctx := context.Background()
	ns := namespace(t, "rc-adopt")
	orphan, err := kube.CoreV1().Pods(ns).Create(ctx, &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "orphan", Labels: map[string]string{"app": "api"}},
		Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "busybox"}}},
	}, metav1.CreateOptions{})
	must(t, err)
	rc, err := kube.CoreV1().ReplicationControllers(ns).Create(ctx, newRC(ns, "api", 2), metav1.CreateOptions{})
	must(t, err)

	waitStatus(t, ns, "api", func(s corev1.ReplicationControllerStatus) bool { return s.Replicas == 2 && s.FullyLabeledReplicas == 1 })
	time.Sleep(300 * time.Millisecond)
	if got := pods(t, ns, "api"); len(got) != 2 {
		t.Fatalf("pods = %v, want the orphan and one new pod", names(got))
	}
	adopted, err := kube.CoreV1().Pods(ns).Get(ctx, orphan.Name, metav1.GetOptions{})
	must(t, err)
	if ref := metav1.GetControllerOf(adopted); ref == nil || ref.UID != rc.UID {
		t.Fatalf("orphan not adopted: owner %+v", ref)
	}

	// Relabelled out of the selector: released, and replaced.
	adopted.Labels = map[string]string{"app": "other"}
	_, err = kube.CoreV1().Pods(ns).Update(ctx, adopted, metav1.UpdateOptions{})
	must(t, err)
	waitFor(t, "release", func() (bool, error) {
		p, err := kube.CoreV1().Pods(ns).Get(ctx, orphan.Name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		return metav1.GetControllerOf(p) == nil, nil
	})
	waitFor(t, "a replacement", func() (bool, error) { return len(pods(t, ns, "api")) == 2, nil })
}
