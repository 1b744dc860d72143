package build

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"

	buildv1 "github.com/openshift/api/build/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func numbered(n int, phase buildv1.BuildPhase, policy buildv1.BuildRunPolicy) *buildv1.Build {
	return &buildv1.Build{
		ObjectMeta: metav1.ObjectMeta{
			Name:        "time-" + strconv.Itoa(n),
			Namespace:   "p",
			Labels:      map[string]string{buildv1.BuildRunPolicyLabel: string(policy), buildv1.BuildConfigLabel: "time"},
			Annotations: map[string]string{buildv1.BuildNumberAnnotation: strconv.Itoa(n), buildv1.BuildConfigAnnotation: "time"},
		},
		Status: buildv1.BuildStatus{Phase: phase, Config: &corev1.ObjectReference{Kind: "BuildConfig", Name: "time"}},
	}
}

func TestIsRunnable(t *testing.T) {
	const (
		serial   = buildv1.BuildRunPolicySerial
		latest   = buildv1.BuildRunPolicySerialLatestOnly
		parallel = buildv1.BuildRunPolicyParallel
		newPhase = buildv1.BuildPhaseNew
	)
	tests := []struct {
		name     string
		build    *buildv1.Build
		siblings []*buildv1.Build
		want     bool
	}{
		{"serial alone", numbered(1, newPhase, serial), nil, true},
		{"serial after a complete build", numbered(2, newPhase, serial), []*buildv1.Build{numbered(1, buildv1.BuildPhaseComplete, serial)}, true},
		{"serial waits for a running build", numbered(2, newPhase, serial), []*buildv1.Build{numbered(1, buildv1.BuildPhaseRunning, serial)}, false},
		{"serial waits for a pending build", numbered(2, newPhase, serial), []*buildv1.Build{numbered(1, buildv1.BuildPhasePending, serial)}, false},
		{"serial waits for a lower New build", numbered(3, newPhase, serial), []*buildv1.Build{numbered(2, newPhase, serial)}, false},
		{"the lowest New build goes first", numbered(2, newPhase, serial), []*buildv1.Build{numbered(3, newPhase, serial)}, true},
		{"a cancelled lower build does not block", numbered(3, newPhase, latest), []*buildv1.Build{func() *buildv1.Build {
			b := numbered(2, newPhase, latest)
			b.Status.Cancelled = true
			return b
		}()}, true},
		{"parallel runs beside parallel", numbered(2, newPhase, parallel), []*buildv1.Build{numbered(1, buildv1.BuildPhaseRunning, parallel)}, true},
		{"parallel waits for a running serial build", numbered(2, newPhase, parallel), []*buildv1.Build{numbered(1, buildv1.BuildPhaseRunning, serial)}, false},
	}
	for _, tt := range tests {
		siblings := append([]*buildv1.Build{tt.build}, tt.siblings...)
		if got := IsRunnable(tt.build, siblings); got != tt.want {
			t.Errorf("%s: IsRunnable = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestToCancel(t *testing.T) {
	const latest = buildv1.BuildRunPolicySerialLatestOnly
	b := numbered(4, buildv1.BuildPhaseNew, latest)
	siblings := []*buildv1.Build{
		b,
		numbered(1, buildv1.BuildPhaseRunning, latest),
		numbered(2, buildv1.BuildPhasePending, latest),
		numbered(3, buildv1.BuildPhaseNew, latest),
		numbered(5, buildv1.BuildPhaseNew, latest),
		numbered(0, buildv1.BuildPhaseComplete, latest),
	}
	var names []string
	for _, c := range ToCancel(b, siblings) {
		names = append(names, c.Name)
	}
	if got := strings.Join(names, ","); got != "time-2,time-3" {
		t.Errorf("ToCancel = %s, want the older New and Pending builds time-2,time-3", got)
	}
	if got := ToCancel(numbered(4, buildv1.BuildPhaseNew, buildv1.BuildRunPolicySerial), siblings); got != nil {
		t.Errorf("Serial builds cancel nothing, got %d", len(got))
	}
}

func TestBuildPod(t *testing.T) {
	deadline := int64(600)
	b := &buildv1.Build{
		ObjectMeta: metav1.ObjectMeta{Name: "time-2", Namespace: "p", UID: "uid-1"},
		Spec: buildv1.BuildSpec{CommonSpec: buildv1.CommonSpec{
			ServiceAccount: "builder",
			Source: buildv1.BuildSource{
				Git:          &buildv1.GitBuildSource{URI: "https://git.test/time.git", Ref: "main"},
				ContextDir:   "busybox",
				SourceSecret: &corev1.LocalObjectReference{Name: "git-creds"},
			},
			Strategy: buildv1.BuildStrategy{DockerStrategy: &buildv1.DockerBuildStrategy{
				PullSecret: &corev1.LocalObjectReference{Name: "dockerhub"},
				Env:        []corev1.EnvVar{{Name: "BUILD_LOGLEVEL", Value: "5"}, {Name: "SECRET_THING", Value: "x"}},
			}},
			Output:                    buildv1.BuildOutput{To: &corev1.ObjectReference{Kind: "DockerImage", Name: "reg/veer/mytime:latest"}, PushSecret: &corev1.LocalObjectReference{Name: "dockerhub"}},
			CompletionDeadlineSeconds: &deadline,
		}},
	}
	pod, err := BuildPod(b)
	if err != nil {
		t.Fatal(err)
	}
	if pod.Name != "time-2-build" || pod.Labels[buildv1.BuildLabel] != "time-2" || pod.Annotations[buildv1.BuildAnnotation] != "time-2" || pod.Annotations[HostProcessAnnotation] != "true" {
		t.Errorf("pod metadata = %+v", pod.ObjectMeta)
	}
	if len(pod.OwnerReferences) != 1 || pod.OwnerReferences[0].Kind != "Build" || pod.OwnerReferences[0].UID != "uid-1" || !*pod.OwnerReferences[0].Controller {
		t.Errorf("owner references = %+v", pod.OwnerReferences)
	}
	if pod.Spec.RestartPolicy != corev1.RestartPolicyNever || *pod.Spec.ActiveDeadlineSeconds != 600 || pod.Spec.ServiceAccountName != "builder" || pod.Spec.NodeName != "" {
		t.Errorf("pod spec = %+v", pod.Spec)
	}
	c := pod.Spec.Containers[0]
	if c.Name != "docker-build" || c.Image != "slipway/builder" || strings.Join(c.Command, " ") != "slipway builder" {
		t.Errorf("container = %s %s %v", c.Name, c.Image, c.Command)
	}
	env := map[string]string{}
	for _, e := range c.Env {
		env[e.Name] = e.Value
	}
	want := map[string]string{
		"LANG": "C.utf8", "SOURCE_REPOSITORY": "https://git.test/time.git", "SOURCE_URI": "https://git.test/time.git",
		"SOURCE_REF": "main", "SOURCE_CONTEXT_DIR": "busybox", "BUILD_LOGLEVEL": "5",
		"PUSH_DOCKERCFG_PATH": PushSecretMountPath, "PULL_DOCKERCFG_PATH": PullSecretMountPath, "SOURCE_SECRET_PATH": SourceSecretMountPath,
	}
	for k, v := range want {
		if env[k] != v {
			t.Errorf("env %s = %q, want %q", k, env[k], v)
		}
	}
	if _, ok := env["SECRET_THING"]; ok {
		t.Error("a strategy env var outside the whitelist reached the builder process")
	}
	var decoded buildv1.Build
	if err := json.Unmarshal([]byte(env["BUILD"]), &decoded); err != nil || decoded.Name != "time-2" || decoded.Kind != "Build" || decoded.APIVersion != "build.openshift.io/v1" {
		t.Errorf("BUILD env does not decode to the build: %v %+v", err, decoded.TypeMeta)
	}
	mounts := map[string]string{}
	for _, m := range c.VolumeMounts {
		mounts[m.MountPath] = m.Name
	}
	secrets := map[string]string{}
	for _, v := range pod.Spec.Volumes {
		secrets[v.Name] = v.Secret.SecretName
	}
	for path, secret := range map[string]string{PushSecretMountPath: "dockerhub", PullSecretMountPath: "dockerhub", SourceSecretMountPath: "git-creds"} {
		if secrets[mounts[path]] != secret {
			t.Errorf("mount %s holds secret %q, want %q", path, secrets[mounts[path]], secret)
		}
	}

	b.Spec.CompletionDeadlineSeconds = nil
	b.Spec.Output = buildv1.BuildOutput{}
	pod, _ = BuildPod(b)
	if *pod.Spec.ActiveDeadlineSeconds != DefaultActiveDeadlineSeconds {
		t.Errorf("default deadline = %d", *pod.Spec.ActiveDeadlineSeconds)
	}
	for _, e := range pod.Spec.Containers[0].Env {
		if e.Name == "PUSH_DOCKERCFG_PATH" {
			t.Error("a build without output got a push secret")
		}
	}
}

func TestPodFailure(t *testing.T) {
	terminated := func(reason string) *corev1.Pod {
		return &corev1.Pod{Status: corev1.PodStatus{Phase: corev1.PodFailed, ContainerStatuses: []corev1.ContainerStatus{{
			Name: ContainerName, State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 1, Reason: reason,
				Message: "l1\nl2\nl3\nl4\nl5\nl6\n"}},
		}}}}
	}
	evicted := terminated("Error")
	evicted.Status.Reason = "Evicted"
	tests := []struct {
		pod  *corev1.Pod
		want buildv1.StatusReason
	}{
		{terminated("Error"), buildv1.StatusReasonGenericBuildFailed},
		{terminated("OOMKilled"), buildv1.StatusReasonOutOfMemoryKilled},
		{evicted, buildv1.StatusReasonBuildPodEvicted},
	}
	for _, tt := range tests {
		phase, reason, msg := PodFailure(tt.pod)
		if phase != buildv1.BuildPhaseFailed || reason != tt.want || msg == "" {
			t.Errorf("PodFailure = %s/%s %q, want Failed/%s", phase, reason, msg, tt.want)
		}
	}
	if got := LogSnippet(terminated("Error")); got != "l2\nl3\nl4\nl5\nl6" {
		t.Errorf("LogSnippet = %q, want the last five lines", got)
	}
}

func TestSetCondition(t *testing.T) {
	var status buildv1.BuildStatus
	now := metav1.Now()
	SetCondition(&status, buildv1.BuildPhaseNew, "", "", now)
	SetCondition(&status, buildv1.BuildPhasePending, "", "", now)
	SetCondition(&status, buildv1.BuildPhaseRunning, "", "", now)
	SetCondition(&status, buildv1.BuildPhaseFailed, "DockerBuildFailed", "boom", now)
	if len(status.Conditions) != 4 {
		t.Fatalf("conditions = %+v, want one per phase", status.Conditions)
	}
	for _, c := range status.Conditions {
		want := corev1.ConditionFalse
		if c.Type == "Failed" {
			want = corev1.ConditionTrue
			if c.Reason != "DockerBuildFailed" || c.Message != "boom" {
				t.Errorf("Failed condition = %+v", c)
			}
		}
		if c.Status != want {
			t.Errorf("condition %s = %s, want %s", c.Type, c.Status, want)
		}
	}
}
