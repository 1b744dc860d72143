package pod

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func newPod(containers ...corev1.Container) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns"},
		Spec:       corev1.PodSpec{Containers: containers},
	}
}

func TestPrepareForCreateDefaults(t *testing.T) {
	p := newPod(
		corev1.Container{Name: "a", Image: "busybox", Ports: []corev1.ContainerPort{{ContainerPort: 80}}},
		corev1.Container{Name: "b", Image: "registry:5000/ns/app:v1"},
		corev1.Container{Name: "c", Image: "quay.io/x/y:latest"},
		corev1.Container{Name: "d", Image: "quay.io/x/y@sha256:abc"},
		corev1.Container{Name: "e", Image: "busybox", ImagePullPolicy: corev1.PullNever},
	)
	p.Spec.Volumes = []corev1.Volume{{Name: "v"}, {Name: "s", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "x"}}}}
	p.Status.Phase = corev1.PodRunning
	Strategy.PrepareForCreate(context.Background(), p)

	if p.Status.Phase != corev1.PodPending {
		t.Errorf("phase = %q, want Pending", p.Status.Phase)
	}
	s := p.Spec
	if s.RestartPolicy != corev1.RestartPolicyAlways || s.DNSPolicy != corev1.DNSClusterFirst || s.SchedulerName != "default-scheduler" {
		t.Errorf("policies = %q %q %q", s.RestartPolicy, s.DNSPolicy, s.SchedulerName)
	}
	if s.TerminationGracePeriodSeconds == nil || *s.TerminationGracePeriodSeconds != 30 {
		t.Errorf("grace period = %v", s.TerminationGracePeriodSeconds)
	}
	if s.ServiceAccountName != "default" || s.DeprecatedServiceAccount != "default" {
		t.Errorf("service account = %q/%q", s.ServiceAccountName, s.DeprecatedServiceAccount)
	}
	wantPull := []corev1.PullPolicy{corev1.PullAlways, corev1.PullIfNotPresent, corev1.PullAlways, corev1.PullIfNotPresent, corev1.PullNever}
	for i, c := range s.Containers {
		if c.ImagePullPolicy != wantPull[i] {
			t.Errorf("container %s pull policy = %q, want %q", c.Name, c.ImagePullPolicy, wantPull[i])
		}
		if c.TerminationMessagePath != "/dev/termination-log" || c.TerminationMessagePolicy != corev1.TerminationMessageReadFile {
			t.Errorf("container %s termination message = %q %q", c.Name, c.TerminationMessagePath, c.TerminationMessagePolicy)
		}
	}
	if s.Containers[0].Ports[0].Protocol != corev1.ProtocolTCP {
		t.Errorf("port protocol = %q", s.Containers[0].Ports[0].Protocol)
	}
	if s.Volumes[0].EmptyDir == nil {
		t.Error("volume without source did not become an emptyDir")
	}
	if m := s.Volumes[1].Secret.DefaultMode; m == nil || *m != 0o644 {
		t.Errorf("secret volume mode = %v", m)
	}
	if errs := Strategy.Validate(context.Background(), p); len(errs) != 0 {
		t.Errorf("defaulted pod invalid: %v", errs)
	}
}

func TestImageTag(t *testing.T) {
	tests := map[string]string{
		"busybox":                        "latest",
		"busybox:1.36":                   "1.36",
		"localhost:5000/ns/app":          "latest",
		"localhost:5000/ns/app:v2":       "v2",
		"quay.io/a/b@sha256:0123":        "",
		"quay.io/a/b:tag@sha256:0123":    "",
		"image-registry.svc:5000/ns/app": "latest",
	}
	for image, want := range tests {
		if got := ImageTag(image); got != want {
			t.Errorf("ImageTag(%q) = %q, want %q", image, got, want)
		}
	}
}

func TestValidatePod(t *testing.T) {
	tests := []struct {
		name string
		pod  *corev1.Pod
		want []string
	}{
		{name: "valid", pod: newPod(corev1.Container{Name: "a", Image: "x"})},
		{name: "no containers", pod: newPod(), want: []string{"spec.containers: Required value"}},
		{name: "unnamed container", pod: newPod(corev1.Container{Image: "x"}), want: []string{"spec.containers[0].name: Required value"}},
		{name: "no image", pod: newPod(corev1.Container{Name: "a"}), want: []string{"spec.containers[0].image: Required value"}},
		{name: "image with spaces", pod: newPod(corev1.Container{Name: "a", Image: " "}), want: []string{"spec.containers[0].image: Invalid value"}},
		{name: "duplicate names", pod: newPod(corev1.Container{Name: "a", Image: "x"}, corev1.Container{Name: "a", Image: "y"}), want: []string{"spec.containers[1].name: Duplicate value"}},
		{name: "bad name", pod: newPod(corev1.Container{Name: "A_b", Image: "x"}), want: []string{"spec.containers[0].name: Invalid value"}},
		{name: "unknown volume", pod: newPod(corev1.Container{Name: "a", Image: "x", VolumeMounts: []corev1.VolumeMount{{Name: "v", MountPath: "/v"}}}), want: []string{"spec.containers[0].volumeMounts[0].name: Not found"}},
		{name: "bad port", pod: newPod(corev1.Container{Name: "a", Image: "x", Ports: []corev1.ContainerPort{{ContainerPort: 70000}}}), want: []string{"spec.containers[0].ports[0].containerPort: Invalid value"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := tt.pod.DeepCopy()
			Strategy.PrepareForCreate(context.Background(), p)
			errs := Strategy.Validate(context.Background(), p)
			if len(errs) != len(tt.want) {
				t.Fatalf("errors = %v, want %q", errs, tt.want)
			}
			for i, want := range tt.want {
				if !strings.Contains(errs[i].Error(), want) {
					t.Errorf("error %d = %q, want %q", i, errs[i].Error(), want)
				}
			}
		})
	}
}

func TestValidatePodUpdate(t *testing.T) {
	old := newPod(corev1.Container{Name: "a", Image: "x"})
	deadline := int64(100)
	old.Spec.ActiveDeadlineSeconds = &deadline
	Strategy.PrepareForCreate(context.Background(), old)
	old.ResourceVersion = "1"

	tests := []struct {
		name   string
		mutate func(*corev1.Pod)
		want   []string
	}{
		{name: "image", mutate: func(p *corev1.Pod) { p.Spec.Containers[0].Image = "y" }},
		{name: "shorter deadline", mutate: func(p *corev1.Pod) { d := int64(50); p.Spec.ActiveDeadlineSeconds = &d }},
		{name: "labels", mutate: func(p *corev1.Pod) { p.Labels = map[string]string{"a": "b"} }},
		{name: "longer deadline", mutate: func(p *corev1.Pod) { d := int64(500); p.Spec.ActiveDeadlineSeconds = &d }, want: []string{"spec.activeDeadlineSeconds: Invalid value"}},
		{name: "removed deadline", mutate: func(p *corev1.Pod) { p.Spec.ActiveDeadlineSeconds = nil }, want: []string{"spec.activeDeadlineSeconds: Invalid value"}},
		{name: "command", mutate: func(p *corev1.Pod) { p.Spec.Containers[0].Command = []string{"sh"} }, want: []string{"spec: Forbidden: pod updates may not change fields"}},
		{name: "added container", mutate: func(p *corev1.Pod) {
			p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: "b", Image: "x"})
		}, want: []string{"spec: Forbidden"}},
		{name: "node name", mutate: func(p *corev1.Pod) { p.Spec.NodeName = "n" }, want: []string{"spec: Forbidden"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := old.DeepCopy()
			tt.mutate(p)
			Strategy.PrepareForUpdate(context.Background(), p, old)
			errs := Strategy.ValidateUpdate(context.Background(), p, old)
			if len(errs) != len(tt.want) {
				t.Fatalf("errors = %v, want %q", errs, tt.want)
			}
			for i, want := range tt.want {
				if !strings.Contains(errs[i].Error(), want) {
					t.Errorf("error %d = %q, want %q", i, errs[i].Error(), want)
				}
			}
		})
	}
}

func TestUpdateKeepsStatusAndStatusKeepsSpec(t *testing.T) {
	old := newPod(corev1.Container{Name: "a", Image: "x"})
	Strategy.PrepareForCreate(context.Background(), old)
	old.Status.Phase = corev1.PodRunning

	p := old.DeepCopy()
	p.Status.Phase = corev1.PodFailed
	Strategy.PrepareForUpdate(context.Background(), p, old)
	if p.Status.Phase != corev1.PodRunning {
		t.Errorf("spec update changed status to %q", p.Status.Phase)
	}

	p = old.DeepCopy()
	p.Status.Phase = corev1.PodSucceeded
	p.Spec.Containers[0].Image = "changed"
	StatusStrategy.PrepareForUpdate(context.Background(), p, old)
	if p.Spec.Containers[0].Image != "x" || p.Status.Phase != corev1.PodSucceeded {
		t.Errorf("status update: image %q phase %q", p.Spec.Containers[0].Image, p.Status.Phase)
	}
	done := p.DeepCopy()
	done.ResourceVersion = "1"
	back := done.DeepCopy()
	back.Status.Phase = corev1.PodRunning
	if errs := StatusStrategy.ValidateUpdate(context.Background(), back, done); len(errs) != 1 {
		t.Errorf("terminal phase left without error: %v", errs)
	}
}

func TestCheckGracefulDelete(t *testing.T) {
	thirty := int64(30)
	five := int64(5)
	tests := []struct {
		name     string
		nodeName string
		phase    corev1.PodPhase
		request  *int64
		want     int64
	}{
		{name: "scheduled, spec period", nodeName: "n", phase: corev1.PodRunning, want: 30},
		{name: "scheduled, request period", nodeName: "n", phase: corev1.PodRunning, request: &five, want: 5},
		{name: "unscheduled", phase: corev1.PodPending, want: 0},
		{name: "finished", nodeName: "n", phase: corev1.PodSucceeded, want: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newPod(corev1.Container{Name: "a", Image: "x"})
			p.Spec.NodeName = tt.nodeName
			p.Spec.TerminationGracePeriodSeconds = &thirty
			p.Status.Phase = tt.phase
			options := &metav1.DeleteOptions{GracePeriodSeconds: tt.request}
			if !Strategy.CheckGracefulDelete(context.Background(), p, options) {
				t.Fatal("CheckGracefulDelete = false")
			}
			if *options.GracePeriodSeconds != tt.want {
				t.Errorf("grace period = %d, want %d", *options.GracePeriodSeconds, tt.want)
			}
		})
	}
}

func TestSelectableFields(t *testing.T) {
	p := newPod(corev1.Container{Name: "a", Image: "x"})
	Strategy.PrepareForCreate(context.Background(), p)
	p.Spec.NodeName = "node1"
	_, set, err := GetAttrs(p)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"metadata.name": "p", "metadata.namespace": "ns", "spec.nodeName": "node1", "status.phase": "Pending", "spec.serviceAccountName": "default"}
	for k, v := range want {
		if set[k] != v {
			t.Errorf("field %s = %q, want %q", k, set[k], v)
		}
	}
}

func running(name string, ready bool) corev1.ContainerStatus {
	return corev1.ContainerStatus{Name: name, Ready: ready, State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}}
}

func waiting(name, reason string) corev1.ContainerStatus {
	return corev1.ContainerStatus{Name: name, State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: reason}}}
}

func terminated(name string, code int32, reason string) corev1.ContainerStatus {
	return corev1.ContainerStatus{Name: name, State: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: code, Reason: reason}}}
}

func TestTableStatusColumn(t *testing.T) {
	now := metav1.Now()
	tests := []struct {
		name      string
		phase     corev1.PodPhase
		reason    string
		init      []corev1.ContainerStatus
		statuses  []corev1.ContainerStatus
		deleting  bool
		wantState string
		wantReady string
	}{
		{name: "pending, no status", phase: corev1.PodPending, wantState: "Pending", wantReady: "0/1"},
		{name: "running ready", phase: corev1.PodRunning, statuses: []corev1.ContainerStatus{running("a", true)}, wantState: "Running", wantReady: "1/1"},
		{name: "image pull", phase: corev1.PodPending, statuses: []corev1.ContainerStatus{waiting("a", "ErrImagePull")}, wantState: "ErrImagePull", wantReady: "0/1"},
		{name: "crash loop", phase: corev1.PodRunning, statuses: []corev1.ContainerStatus{waiting("a", "CrashLoopBackOff")}, wantState: "CrashLoopBackOff", wantReady: "0/1"},
		{name: "completed with reason", phase: corev1.PodSucceeded, statuses: []corev1.ContainerStatus{terminated("a", 0, "Completed")}, wantState: "Completed", wantReady: "0/1"},
		{name: "exit 0 without reason", phase: corev1.PodSucceeded, statuses: []corev1.ContainerStatus{terminated("a", 0, "")}, wantState: "Completed", wantReady: "0/1"},
		{name: "exit 1 without reason", phase: corev1.PodFailed, statuses: []corev1.ContainerStatus{terminated("a", 1, "")}, wantState: "Error", wantReady: "0/1"},
		{name: "oom", phase: corev1.PodFailed, statuses: []corev1.ContainerStatus{terminated("a", 137, "OOMKilled")}, wantState: "OOMKilled", wantReady: "0/1"},
		{name: "pod reason", phase: corev1.PodFailed, reason: "DeadlineExceeded", wantState: "DeadlineExceeded", wantReady: "0/1"},
		{name: "init running", phase: corev1.PodPending, init: []corev1.ContainerStatus{running("i", false)}, wantState: "Init:0/1", wantReady: "0/1"},
		{name: "init failed", phase: corev1.PodPending, init: []corev1.ContainerStatus{terminated("i", 2, "")}, wantState: "Init:ExitCode:2", wantReady: "0/1"},
		{name: "init crash", phase: corev1.PodPending, init: []corev1.ContainerStatus{waiting("i", "CrashLoopBackOff")}, wantState: "Init:CrashLoopBackOff", wantReady: "0/1"},
		{name: "init done", phase: corev1.PodRunning, init: []corev1.ContainerStatus{terminated("i", 0, "Completed")}, statuses: []corev1.ContainerStatus{running("a", true)}, wantState: "Running", wantReady: "1/1"},
		{name: "terminating", phase: corev1.PodRunning, statuses: []corev1.ContainerStatus{running("a", true)}, deleting: true, wantState: "Terminating", wantReady: "1/1"},
		{name: "deleted after success", phase: corev1.PodSucceeded, statuses: []corev1.ContainerStatus{terminated("a", 0, "Completed")}, deleting: true, wantState: "Completed", wantReady: "0/1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newPod(corev1.Container{Name: "a", Image: "x"})
			if tt.init != nil {
				p.Spec.InitContainers = []corev1.Container{{Name: "i", Image: "x"}}
			}
			p.Status = corev1.PodStatus{Phase: tt.phase, Reason: tt.reason, InitContainerStatuses: tt.init, ContainerStatuses: tt.statuses}
			if tt.deleting {
				p.DeletionTimestamp = &now
			}
			table, err := TableConvertor.ConvertToTable(context.Background(), p, nil)
			if err != nil {
				t.Fatal(err)
			}
			cells := table.Rows[0].Cells
			if cells[2] != tt.wantState || cells[1] != tt.wantReady {
				t.Errorf("READY STATUS = %v %v, want %s %s", cells[1], cells[2], tt.wantReady, tt.wantState)
			}
		})
	}
}

func TestTableRestartsAndWide(t *testing.T) {
	p := newPod(corev1.Container{Name: "a", Image: "x"})
	p.Spec.NodeName = "node1"
	cs := running("a", true)
	cs.RestartCount = 3
	cs.LastTerminationState.Terminated = &corev1.ContainerStateTerminated{FinishedAt: metav1.NewTime(time.Now().Add(-2 * time.Minute))}
	p.Status = corev1.PodStatus{Phase: corev1.PodRunning, PodIPs: []corev1.PodIP{{IP: "10.0.0.5"}}, ContainerStatuses: []corev1.ContainerStatus{cs}}
	table, err := TableConvertor.ConvertToTable(context.Background(), &corev1.PodList{Items: []corev1.Pod{*p}}, &metav1.TableOptions{NoHeaders: true})
	if err != nil {
		t.Fatal(err)
	}
	if table.ColumnDefinitions != nil {
		t.Error("NoHeaders still returned columns")
	}
	cells := table.Rows[0].Cells
	if cells[3] != "3 (2m ago)" {
		t.Errorf("RESTARTS = %v", cells[3])
	}
	if cells[5] != "10.0.0.5" || cells[6] != "node1" || cells[7] != "<none>" || cells[8] != "<none>" {
		t.Errorf("wide cells = %v", cells[5:])
	}
	if len(cells) != len(TableConvertor.Columns) {
		t.Errorf("%d cells for %d columns", len(cells), len(TableConvertor.Columns))
	}
}
