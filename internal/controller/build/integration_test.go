package build

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	buildv1 "github.com/openshift/api/build/v1"
	imagev1 "github.com/openshift/api/image/v1"
	buildclient "github.com/openshift/client-go/build/clientset/versioned"
	buildinformers "github.com/openshift/client-go/build/informers/externalversions"
	imageclient "github.com/openshift/client-go/image/clientset/versioned"
	imageinformers "github.com/openshift/client-go/image/informers/externalversions"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/slipway-dev/slipway/internal/testserver"
)

// env is the real API server with the build controller running against it.
type env struct {
	kube   kubernetes.Interface
	builds buildclient.Interface
	images imageclient.Interface
	ns     string
}

func startController(t *testing.T) *env {
	t.Helper()
	s := testserver.Start(t, testserver.Options{RegistryHostname: "127.0.0.1:5000"})
	kube := kubernetes.NewForConfigOrDie(s.Admin)
	builds := buildclient.NewForConfigOrDie(s.Admin)
	images := imageclient.NewForConfigOrDie(s.Admin)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)

	// The controller acts as Slipway's controllers do: only that identity
	// may create build pods (host processes).
	cfg := rest.CopyConfig(s.Admin)
	cfg.Impersonate.UserName = "system:openshift-controller-manager" // controlplane.OpenShiftControllersUser
	controllerKube := kubernetes.NewForConfigOrDie(cfg)
	controllerBuilds := buildclient.NewForConfigOrDie(cfg)
	kubeInformers := informers.NewSharedInformerFactory(controllerKube, 0)
	buildInformers := buildinformers.NewSharedInformerFactory(controllerBuilds, 0)
	imageInformers := imageinformers.NewSharedInformerFactory(imageclient.NewForConfigOrDie(cfg), 0)
	c := New(controllerBuilds, controllerKube, Informers{
		Builds:          buildInformers.Build().V1().Builds(),
		Pods:            kubeInformers.Core().V1().Pods(),
		ServiceAccounts: kubeInformers.Core().V1().ServiceAccounts(),
		Secrets:         kubeInformers.Core().V1().Secrets(),
		ImageStreams:    imageInformers.Image().V1().ImageStreams(),
	})
	kubeInformers.Start(ctx.Done())
	buildInformers.Start(ctx.Done())
	imageInformers.Start(ctx.Done())
	go func() { _ = c.Run(ctx, 2) }()

	e := &env{kube: kube, builds: builds, images: images, ns: "lifecycle"}
	must(t, create(kube.CoreV1().Namespaces(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: e.ns}}))
	// The internal registry's secret, as the service account controller
	// makes it; it is the push-secret fallback for other registries.
	must(t, create(kube.CoreV1().Secrets(e.ns), &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "builder-dockercfg-abcde"},
		Type:       corev1.SecretTypeDockercfg,
		Data:       map[string][]byte{corev1.DockerConfigKey: []byte(`{"127.0.0.1:5000":{"auth":"eDp5"}}`)},
	}))
	must(t, create(kube.CoreV1().ServiceAccounts(e.ns), &corev1.ServiceAccount{
		ObjectMeta:       metav1.ObjectMeta{Name: "builder"},
		ImagePullSecrets: []corev1.LocalObjectReference{{Name: "builder-dockercfg-abcde"}},
	}))
	return e
}

type creator[T any] interface {
	Create(context.Context, T, metav1.CreateOptions) (T, error)
}

func create[T any](c creator[T], obj T) error {
	_, err := c.Create(context.Background(), obj, metav1.CreateOptions{})
	return err
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// newBuild creates build number n of BuildConfig "time" as the generator
// would (the generator itself is tested through instantiate elsewhere).
func (e *env) newBuild(t *testing.T, n int) *buildv1.Build {
	t.Helper()
	name := fmt.Sprintf("time-%d", n)
	b, err := e.builds.BuildV1().Builds(e.ns).Create(context.Background(), &buildv1.Build{
		ObjectMeta: metav1.ObjectMeta{
			Name:        name,
			Labels:      map[string]string{buildv1.BuildConfigLabel: "time", buildv1.BuildRunPolicyLabel: "Serial"},
			Annotations: map[string]string{buildv1.BuildConfigAnnotation: "time", buildv1.BuildNumberAnnotation: fmt.Sprint(n)},
		},
		Spec: buildv1.BuildSpec{CommonSpec: buildv1.CommonSpec{
			Source:   buildv1.BuildSource{Git: &buildv1.GitBuildSource{URI: "https://git.test/time.git"}},
			Strategy: buildv1.BuildStrategy{DockerStrategy: &buildv1.DockerBuildStrategy{}},
			Output:   buildv1.BuildOutput{To: &corev1.ObjectReference{Kind: "DockerImage", Name: "reg.test:5443/veer/mytime:latest"}},
		}},
		Status: buildv1.BuildStatus{Phase: buildv1.BuildPhaseNew, Config: &corev1.ObjectReference{Kind: "BuildConfig", Name: "time", Namespace: e.ns}},
	}, metav1.CreateOptions{})
	must(t, err)
	return b
}

// waitBuild waits until the build satisfies cond and returns it.
func (e *env) waitBuild(t *testing.T, name, what string, cond func(*buildv1.Build) bool) *buildv1.Build {
	t.Helper()
	var last *buildv1.Build
	err := wait.PollUntilContextTimeout(context.Background(), 50*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		b, err := e.builds.BuildV1().Builds(e.ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		last = b
		return cond(b), nil
	})
	if err != nil {
		t.Fatalf("build %s never became %s; last status %+v", name, what, last.Status)
	}
	return last
}

func (e *env) waitPod(t *testing.T, name string) *corev1.Pod {
	t.Helper()
	var pod *corev1.Pod
	err := wait.PollUntilContextTimeout(context.Background(), 50*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		var err error
		pod, err = e.kube.CoreV1().Pods(e.ns).Get(ctx, name, metav1.GetOptions{})
		return err == nil, nil
	})
	if err != nil {
		t.Fatalf("pod %s never created", name)
	}
	return pod
}

// setPodPhase writes the pod status the node agent would write. The agent
// is another component; this test stands in for it through the same API.
func (e *env) setPodPhase(t *testing.T, name string, phase corev1.PodPhase, terminationMessage string) {
	t.Helper()
	ctx := context.Background()
	pod, err := e.kube.CoreV1().Pods(e.ns).Get(ctx, name, metav1.GetOptions{})
	must(t, err)
	now := metav1.Now()
	pod.Status.Phase = phase
	pod.Status.StartTime = &now
	state := corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: now}}
	switch phase {
	case corev1.PodSucceeded:
		state = corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 0, Reason: "Completed"}}
	case corev1.PodFailed:
		state = corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 1, Reason: "Error", Message: terminationMessage}}
	}
	pod.Status.ContainerStatuses = []corev1.ContainerStatus{{Name: ContainerName, Image: BuilderImage, State: state}}
	_, err = e.kube.CoreV1().Pods(e.ns).UpdateStatus(ctx, pod, metav1.UpdateOptions{})
	must(t, err)
}

func phaseIs(phase buildv1.BuildPhase) func(*buildv1.Build) bool {
	return func(b *buildv1.Build) bool { return b.Status.Phase == phase }
}

func TestBuildLifecycle(t *testing.T) {
	e := startController(t)
	ctx := context.Background()

	// time-1 starts: a pod per the contract, Pending, the push secret
	// falling back to the service account's docker secret.
	e.newBuild(t, 1)
	b1 := e.waitBuild(t, "time-1", "Pending", phaseIs(buildv1.BuildPhasePending))
	if b1.Annotations[buildv1.BuildPodNameAnnotation] != "time-1-build" || b1.Status.OutputDockerImageReference != "reg.test:5443/veer/mytime:latest" {
		t.Errorf("pending build: annotations %v, output %q", b1.Annotations, b1.Status.OutputDockerImageReference)
	}
	pod := e.waitPod(t, "time-1-build")
	// Besides the push secret, the pod has the service account's token
	// volume (kube-api-access-*) that ServiceAccount admission adds.
	var pushSecrets []string
	for _, v := range pod.Spec.Volumes {
		if v.Secret != nil {
			pushSecrets = append(pushSecrets, v.Name+"="+v.Secret.SecretName)
		}
	}
	if len(pushSecrets) != 1 || pushSecrets[0] != "push-secret=builder-dockercfg-abcde" {
		t.Errorf("push secret volumes = %v, want the fallback builder-dockercfg-abcde", pushSecrets)
	}
	if b1 = e.waitBuild(t, "time-1", "push secret recorded", func(b *buildv1.Build) bool { return b.Spec.Output.PushSecret != nil }); b1.Spec.Output.PushSecret.Name != "builder-dockercfg-abcde" {
		t.Errorf("chosen push secret not written back: %+v", b1.Spec.Output.PushSecret)
	}

	// Serial: time-2 waits while time-1 runs.
	e.newBuild(t, 2)
	e.setPodPhase(t, "time-1-build", corev1.PodRunning, "")
	b1 = e.waitBuild(t, "time-1", "Running", phaseIs(buildv1.BuildPhaseRunning))
	if b1.Status.StartTimestamp == nil {
		t.Error("running build has no startTimestamp")
	}
	if _, err := e.kube.CoreV1().Pods(e.ns).Get(ctx, "time-2-build", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Fatalf("time-2 got a pod while time-1 runs (err %v)", err)
	}
	if b2, _ := e.builds.BuildV1().Builds(e.ns).Get(ctx, "time-2", metav1.GetOptions{}); b2.Status.Phase != buildv1.BuildPhaseNew {
		t.Fatalf("time-2 is %s while time-1 runs, want New", b2.Status.Phase)
	}

	e.setPodPhase(t, "time-1-build", corev1.PodSucceeded, "")
	b1 = e.waitBuild(t, "time-1", "Complete", phaseIs(buildv1.BuildPhaseComplete))
	if b1.Status.CompletionTimestamp == nil || b1.Status.Duration <= 0 && b1.Status.StartTimestamp == nil {
		t.Errorf("complete build lacks timestamps: %+v", b1.Status)
	}

	// time-2 starts now, and fails with a generic failure and a snippet.
	e.waitBuild(t, "time-2", "Pending", phaseIs(buildv1.BuildPhasePending))
	e.setPodPhase(t, "time-2-build", corev1.PodFailed, "step 1\nstep 2\nerror: boom\n")
	b2 := e.waitBuild(t, "time-2", "Failed", phaseIs(buildv1.BuildPhaseFailed))
	if b2.Status.Reason != buildv1.StatusReasonGenericBuildFailed || !strings.Contains(b2.Status.LogSnippet, "error: boom") || b2.Status.CompletionTimestamp == nil {
		t.Errorf("failed build: reason %s, snippet %q", b2.Status.Reason, b2.Status.LogSnippet)
	}

	// time-3: the builder reports its own reason through builds/details;
	// the pod's failure then keeps it.
	e.newBuild(t, 3)
	e.waitBuild(t, "time-3", "Pending", phaseIs(buildv1.BuildPhasePending))
	e.setPodPhase(t, "time-3-build", corev1.PodRunning, "")
	b3 := e.waitBuild(t, "time-3", "Running", phaseIs(buildv1.BuildPhaseRunning))
	b3.Status.Phase = buildv1.BuildPhaseFailed
	b3.Status.Reason = buildv1.StatusReasonDockerBuildFailed
	b3.Status.Message = "Docker build strategy has failed."
	_, err := e.builds.BuildV1().Builds(e.ns).UpdateDetails(ctx, "time-3", b3, metav1.UpdateOptions{})
	if apierrors.IsNotFound(err) {
		t.Log("builds/details is not served by this server; skipping the builder-reason step")
	} else {
		must(t, err)
		e.setPodPhase(t, "time-3-build", corev1.PodFailed, "")
		b3 = e.waitBuild(t, "time-3", "completed", func(b *buildv1.Build) bool { return b.Status.CompletionTimestamp != nil })
		if b3.Status.Phase != buildv1.BuildPhaseFailed || b3.Status.Reason != buildv1.StatusReasonDockerBuildFailed {
			t.Errorf("builder's reason lost: %s/%s", b3.Status.Phase, b3.Status.Reason)
		}
	}
	e.setPodPhase(t, "time-3-build", corev1.PodFailed, "")

	// time-4: cancelled while running: the pod is deleted.
	e.newBuild(t, 4)
	e.waitBuild(t, "time-4", "Pending", phaseIs(buildv1.BuildPhasePending))
	e.setPodPhase(t, "time-4-build", corev1.PodRunning, "")
	b4 := e.waitBuild(t, "time-4", "Running", phaseIs(buildv1.BuildPhaseRunning))
	b4.Status.Cancelled = true
	_, err = e.builds.BuildV1().Builds(e.ns).Update(ctx, b4, metav1.UpdateOptions{})
	must(t, err)
	b4 = e.waitBuild(t, "time-4", "Cancelled", phaseIs(buildv1.BuildPhaseCancelled))
	if b4.Status.Reason != buildv1.StatusReasonCancelledBuild || b4.Status.Message != "The build was cancelled by the user." {
		t.Errorf("cancelled build: %s %q", b4.Status.Reason, b4.Status.Message)
	}
	err = wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, 10*time.Second, true, func(ctx context.Context) (bool, error) {
		p, err := e.kube.CoreV1().Pods(e.ns).Get(ctx, "time-4-build", metav1.GetOptions{})
		return apierrors.IsNotFound(err) || (err == nil && p.DeletionTimestamp != nil), nil
	})
	if err != nil {
		t.Error("the cancelled build's pod was not deleted")
	}

	// time-5: its pod is deleted under it.
	e.newBuild(t, 5)
	e.waitBuild(t, "time-5", "Pending", phaseIs(buildv1.BuildPhasePending))
	must(t, e.kube.CoreV1().Pods(e.ns).Delete(ctx, "time-5-build", metav1.DeleteOptions{}))
	b5 := e.waitBuild(t, "time-5", "Error", phaseIs(buildv1.BuildPhaseError))
	if b5.Status.Reason != buildv1.StatusReasonBuildPodDeleted {
		t.Errorf("deleted pod: reason %s", b5.Status.Reason)
	}

	// The events a user sees in oc describe.
	err = wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 10*time.Second, true, func(ctx context.Context) (bool, error) {
		events, err := e.kube.CoreV1().Events(e.ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, nil
		}
		seen := map[string]bool{}
		for _, ev := range events.Items {
			seen[ev.Reason+"/"+ev.InvolvedObject.Name] = true
		}
		return seen["BuildStarted/time-1"] && seen["BuildCompleted/time-1"] && seen["BuildFailed/time-2"] && seen["BuildCancelled/time-4"], nil
	})
	if err != nil {
		t.Error("missing BuildStarted/BuildCompleted/BuildFailed/BuildCancelled events")
	}
}

func TestMissingOutputStreamAndServiceAccount(t *testing.T) {
	e := startController(t)
	ctx := context.Background()
	// An ImageStreamTag output whose stream does not exist keeps the
	// build New with InvalidOutputReference.
	_, err := e.builds.BuildV1().Builds(e.ns).Create(ctx, &buildv1.Build{
		ObjectMeta: metav1.ObjectMeta{Name: "other-1", Annotations: map[string]string{buildv1.BuildNumberAnnotation: "1"}},
		Spec: buildv1.BuildSpec{CommonSpec: buildv1.CommonSpec{
			ServiceAccount: "nobody",
			Source:         buildv1.BuildSource{Git: &buildv1.GitBuildSource{URI: "https://git.test/time.git"}},
			Strategy:       buildv1.BuildStrategy{DockerStrategy: &buildv1.DockerBuildStrategy{}},
			Output:         buildv1.BuildOutput{To: &corev1.ObjectReference{Kind: "ImageStreamTag", Name: "app:latest"}},
		}},
	}, metav1.CreateOptions{})
	must(t, err)
	got := e.waitBuild(t, "other-1", "InvalidOutputReference", func(b *buildv1.Build) bool {
		return b.Status.Reason == buildv1.StatusReasonInvalidOutputReference
	})
	if got.Status.Phase != buildv1.BuildPhaseNew || got.Status.Message != "Output image could not be resolved." {
		t.Errorf("unresolvable output: %s %q", got.Status.Phase, got.Status.Message)
	}
	// Once the stream exists the output resolves, and the build waits for
	// its missing service account instead.
	must(t, create(e.images.ImageV1().ImageStreams(e.ns), &imagev1.ImageStream{ObjectMeta: metav1.ObjectMeta{Name: "app"}}))
	got = e.waitBuild(t, "other-1", "CannotRetrieveServiceAccount", func(b *buildv1.Build) bool {
		return b.Status.Reason == buildv1.StatusReasonCannotRetrieveServiceAccount
	})
	if got.Status.Phase != buildv1.BuildPhaseNew {
		t.Errorf("build without service account is %s, want New", got.Status.Phase)
	}
	// The account appears: the build starts, pushing to the stream's
	// repository in the internal registry with the matching secret.
	must(t, create(e.kube.CoreV1().ServiceAccounts(e.ns), &corev1.ServiceAccount{
		ObjectMeta: metav1.ObjectMeta{Name: "nobody"},
		Secrets:    []corev1.ObjectReference{{Name: "builder-dockercfg-abcde"}},
	}))
	got = e.waitBuild(t, "other-1", "Pending", phaseIs(buildv1.BuildPhasePending))
	if got.Status.OutputDockerImageReference != "127.0.0.1:5000/lifecycle/app:latest" {
		t.Errorf("output reference = %q", got.Status.OutputDockerImageReference)
	}
}
