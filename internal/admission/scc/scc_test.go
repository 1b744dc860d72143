package scc

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	"k8s.io/utils/ptr"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apiserver/pkg/authentication/user"
)

var testRanges = Ranges{UIDs: Range{First: 1000650000, Size: 10000}, Groups: Range{First: 1000650000, Size: 10000}}

func testPod() *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "p"},
		Spec: corev1.PodSpec{
			InitContainers: []corev1.Container{{Name: "init", Image: "busybox"}},
			Containers:     []corev1.Container{{Name: "app", Image: "busybox"}},
		},
	}
}

func TestRestrictedV2Defaults(t *testing.T) {
	pod := testPod()
	if errs := Apply(RestrictedV2, pod, testRanges); len(errs) > 0 {
		t.Fatal(errs)
	}
	psc := pod.Spec.SecurityContext
	if psc == nil || psc.FSGroup == nil || *psc.FSGroup != 1000650000 || psc.SeccompProfile == nil || psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("pod security context %+v; want fsGroup 1000650000 and seccomp RuntimeDefault", psc)
	}
	for _, c := range append(pod.Spec.InitContainers, pod.Spec.Containers...) {
		sc := c.SecurityContext
		if sc == nil || sc.RunAsUser == nil || *sc.RunAsUser != 1000650000 {
			t.Errorf("%s: runAsUser %v; want the namespace's first UID", c.Name, sc)
			continue
		}
		if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
			t.Errorf("%s: allowPrivilegeEscalation %v; want false", c.Name, sc.AllowPrivilegeEscalation)
		}
		if sc.Capabilities == nil || len(sc.Capabilities.Drop) != 1 || sc.Capabilities.Drop[0] != "ALL" {
			t.Errorf("%s: capabilities %+v; want every one dropped", c.Name, sc.Capabilities)
		}
	}
}

func TestRestrictedV2Refuses(t *testing.T) {
	for name, tc := range map[string]struct {
		change func(*corev1.Pod)
		says   string
	}{
		"root": {func(p *corev1.Pod) {
			p.Spec.Containers[0].SecurityContext = &corev1.SecurityContext{RunAsUser: ptr.To(int64(0))}
		}, "spec.containers[0].securityContext.runAsUser: Invalid value: 0: must be in the ranges: [1000650000, 1000659999]"},
		"pod user out of range": {func(p *corev1.Pod) {
			p.Spec.SecurityContext = &corev1.PodSecurityContext{RunAsUser: ptr.To(int64(1000))}
		}, "spec.securityContext.runAsUser"},
		"fsGroup out of range": {func(p *corev1.Pod) { p.Spec.SecurityContext = &corev1.PodSecurityContext{FSGroup: ptr.To(int64(0))} }, "spec.securityContext.fsGroup"},
		"privilege escalation": {func(p *corev1.Pod) {
			p.Spec.Containers[0].SecurityContext = &corev1.SecurityContext{AllowPrivilegeEscalation: ptr.To(true)}
		}, "allowPrivilegeEscalation"},
		"a capability": {func(p *corev1.Pod) {
			p.Spec.Containers[0].SecurityContext = &corev1.SecurityContext{Capabilities: &corev1.Capabilities{Add: []corev1.Capability{"SYS_ADMIN"}}}
		}, "capabilities.add[0]"},
		"unconfined seccomp": {func(p *corev1.Pod) {
			p.Spec.SecurityContext = &corev1.PodSecurityContext{SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeUnconfined}}
		}, "seccompProfile"},
		"host network": {func(p *corev1.Pod) { p.Spec.HostNetwork = true }, "Host network is not allowed"},
		"host port": {func(p *corev1.Pod) {
			p.Spec.Containers[0].Ports = []corev1.ContainerPort{{ContainerPort: 80, HostPort: 80}}
		}, "hostPort"},
		"host path": {func(p *corev1.Pod) {
			p.Spec.Volumes = []corev1.Volume{{Name: "h", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/"}}}}
		}, "spec.volumes[0]"},
		"privileged": {func(p *corev1.Pod) {
			p.Spec.InitContainers[0].SecurityContext = &corev1.SecurityContext{Privileged: ptr.To(true)}
		}, "spec.initContainers[0].securityContext.privileged"},
	} {
		t.Run(name, func(t *testing.T) {
			pod := testPod()
			tc.change(pod)
			before := pod.DeepCopy()
			errs := Apply(RestrictedV2, pod, testRanges)
			if len(errs) == 0 || !strings.Contains(errs.ToAggregate().Error(), tc.says) {
				t.Fatalf("errors %v; want one saying %q", errs, tc.says)
			}
			if !reflect.DeepEqual(pod, before) {
				t.Error("a refused pod was changed")
			}
		})
	}
	// NET_BIND_SERVICE is the one capability restricted-v2 lets a pod add.
	pod := testPod()
	pod.Spec.Containers[0].SecurityContext = &corev1.SecurityContext{Capabilities: &corev1.Capabilities{Add: []corev1.Capability{"NET_BIND_SERVICE"}}}
	if errs := Apply(RestrictedV2, pod, testRanges); len(errs) > 0 {
		t.Errorf("NET_BIND_SERVICE: %v", errs)
	}
}

func TestAnyUIDKeepsTheImageUser(t *testing.T) {
	pod := testPod()
	if errs := Apply(AnyUID, pod, testRanges); len(errs) > 0 {
		t.Fatal(errs)
	}
	sc := pod.Spec.Containers[0].SecurityContext
	if sc.RunAsUser != nil || pod.Spec.SecurityContext != nil {
		t.Errorf("anyuid set a user: %+v %+v", sc, pod.Spec.SecurityContext)
	}
	if len(sc.Capabilities.Drop) != 1 || sc.Capabilities.Drop[0] != "MKNOD" {
		t.Errorf("capabilities %+v; want MKNOD dropped", sc.Capabilities)
	}
	pod.Spec.HostPID = true
	if errs := Apply(AnyUID, pod, testRanges); len(errs) == 0 {
		t.Error("anyuid admitted a pod in the host's PID namespace")
	}
	if errs := Apply(Privileged, pod, testRanges); len(errs) > 0 {
		t.Errorf("privileged: %v", errs)
	}
}

func TestAdmitPicksTheFirstUsableConstraint(t *testing.T) {
	annotated := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "p", Annotations: map[string]string{UIDRangeAnnotation: "1000650000/10000"}}}
	alice := &user.DefaultInfo{Name: "alice", Groups: []string{user.AllAuthenticated}}
	admin := &user.DefaultInfo{Name: "system:admin", Groups: []string{user.SystemPrivilegedGroup, user.AllAuthenticated}}
	// grants: who (user or group) may use which constraint.
	grants := map[string][]string{
		RestrictedV2: {user.AllAuthenticated},
		AnyUID:       {user.SystemPrivilegedGroup, "system:serviceaccount:p:root-sa"},
		Privileged:   {user.SystemPrivilegedGroup},
	}
	a := New(func(context.Context, string) (*corev1.Namespace, error) { return annotated, nil },
		func(_ context.Context, u user.Info, name, namespace string) (bool, error) {
			for _, who := range grants[name] {
				if u.GetName() == who || contains(u.GetGroups(), who) {
					return true, nil
				}
			}
			return false, nil
		})
	ctx := context.Background()
	for _, tc := range []struct {
		name      string
		requester user.Info
		sa        string
		change    func(*corev1.Pod)
		want      string
	}{
		{"a project user's pod", alice, "", nil, RestrictedV2},
		{"an admin's pod", admin, "", nil, AnyUID},
		{"a pod whose service account was granted anyuid", alice, "root-sa", nil, AnyUID},
		{"an admin's pod on the host network", admin, "", func(p *corev1.Pod) { p.Spec.HostNetwork = true }, Privileged},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pod := testPod()
			pod.Spec.ServiceAccountName = tc.sa
			if tc.change != nil {
				tc.change(pod)
			}
			got, err := a.Admit(ctx, pod, "p", tc.requester)
			if err != nil || got != tc.want || pod.Annotations[PodAnnotation] != tc.want {
				t.Errorf("Admit = %q, %v (annotation %q); want %q", got, err, pod.Annotations[PodAnnotation], tc.want)
			}
		})
	}

	pod := testPod()
	pod.Spec.Containers[0].SecurityContext = &corev1.SecurityContext{RunAsUser: ptr.To(int64(0))}
	_, err := a.Admit(ctx, pod, "p", alice)
	if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), "unable to validate against any security context constraint") ||
		!strings.Contains(err.Error(), `provider "anyuid": Forbidden: not usable by user or serviceaccount`) || !strings.Contains(err.Error(), "runAsUser") {
		t.Errorf("a project user's root pod: %v; want Forbidden naming each constraint's reason", err)
	}

	hostProcess := testPod()
	hostProcess.Annotations = map[string]string{"slipway.dev/host-process": "true"}
	if got, err := a.Admit(ctx, hostProcess, "p", alice); err != nil || got != "" || hostProcess.Spec.Containers[0].SecurityContext != nil {
		t.Errorf("a host-process pod: %q, %v; want it left to the host-process policy", got, err)
	}
}

func TestAdmitWaitsForTheNamespaceRanges(t *testing.T) {
	calls := 0
	a := New(func(context.Context, string) (*corev1.Namespace, error) {
		calls++
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "new"}}
		if calls > 3 {
			ns.Annotations = map[string]string{UIDRangeAnnotation: "1000660000/10000"}
		}
		return ns, nil
	}, func(context.Context, user.Info, string, string) (bool, error) { return true, nil })
	a.rangeWait = 2 * time.Second
	pod := testPod()
	pod.Spec.Containers[0].SecurityContext = &corev1.SecurityContext{RunAsUser: ptr.To(int64(0))} // not restricted-v2's
	if got, err := a.Admit(context.Background(), pod, "new", &user.DefaultInfo{Name: "u"}); err != nil || got != AnyUID {
		t.Fatalf("Admit = %q, %v; want anyuid once the ranges came", got, err)
	}

	never := New(func(context.Context, string) (*corev1.Namespace, error) {
		return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "bare"}}, nil
	}, func(context.Context, user.Info, string, string) (bool, error) { return true, nil })
	never.rangeWait = 200 * time.Millisecond
	if _, err := never.Admit(context.Background(), testPod(), "bare", &user.DefaultInfo{Name: "u"}); !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), "unable to find annotation "+UIDRangeAnnotation) {
		t.Errorf("a namespace without ranges: %v; want Forbidden naming the annotation", err)
	}
}

func TestParseRange(t *testing.T) {
	for in, want := range map[string]Range{"1000650000/10000": {1000650000, 10000}, "5-9": {5, 5}} {
		if got, err := ParseRange(in); err != nil || got != want {
			t.Errorf("ParseRange(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "x/1", "5/0", "9-5", "-1/4"} {
		if _, err := ParseRange(bad); err == nil {
			t.Errorf("ParseRange(%q) accepted it", bad)
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
