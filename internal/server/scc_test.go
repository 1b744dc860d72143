package server

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"

	"github.com/slipway-dev/slipway/internal/admission/scc"
)

// TestProjectPodsRunAsRestrictedV2 reproduces what a project's service
// account could do before: run its pods as root (the image's user) with
// every default capability, or ask for UID 0 outright. Now its pods get
// restricted-v2, as on OpenShift: a UID and fsGroup from the project's own
// range (each project a different one), no privilege escalation, every
// capability dropped, seccomp RuntimeDefault; root only after an admin
// grants anyuid (`adm policy add-scc-to-user anyuid -z default`).
func TestProjectPodsRunAsRestrictedV2(t *testing.T) {
	const ns = "tenant"
	s, admin := serverWithNamespace(t, ns)
	ctx := context.Background()
	sa := editor(t, s, admin, ns)
	uids := namespaceRanges(t, admin, ns).UIDs

	if _, err := admin.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "neighbour"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if other := namespaceRanges(t, admin, "neighbour").UIDs; other == uids {
		t.Errorf("two namespaces got the same UID range %s", uids)
	}

	pod := func(name string, change func(*corev1.Pod)) *corev1.Pod {
		p := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "busybox", Command: []string{"sleep", "1"}}}},
		}
		if change != nil {
			change(p)
		}
		return p
	}
	var got *corev1.Pod
	var err error
	// The editor's role binding takes a moment to count.
	if perr := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		got, err = sa.CoreV1().Pods(ns).Create(ctx, pod("plain", func(p *corev1.Pod) {
			// Naming a constraint is no way to get it.
			p.Annotations = map[string]string{scc.PodAnnotation: scc.Privileged}
		}), metav1.CreateOptions{})
		return err == nil || !strings.Contains(fmt.Sprint(err), `cannot create resource "pods"`), nil
	}); perr != nil || err != nil {
		t.Fatal("a plain pod:", err)
	}
	c := got.Spec.Containers[0].SecurityContext
	psc := got.Spec.SecurityContext
	switch {
	case got.Annotations[scc.PodAnnotation] != scc.RestrictedV2:
		t.Errorf("pod admitted by %q; want restricted-v2", got.Annotations[scc.PodAnnotation])
	case c == nil || c.RunAsUser == nil || *c.RunAsUser != uids.First:
		t.Errorf("container security context %+v; want runAsUser %d", c, uids.First)
	case c.AllowPrivilegeEscalation == nil || *c.AllowPrivilegeEscalation || c.Capabilities == nil || len(c.Capabilities.Drop) == 0 || c.Capabilities.Drop[0] != "ALL":
		t.Errorf("container security context %+v; want no privilege escalation and every capability dropped", c)
	case psc == nil || psc.FSGroup == nil || *psc.FSGroup != uids.First || psc.SeccompProfile == nil || psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault:
		t.Errorf("pod security context %+v; want fsGroup %d and seccomp RuntimeDefault", psc, uids.First)
	}

	root := pod("root", func(p *corev1.Pod) {
		zero := int64(0)
		p.Spec.Containers[0].SecurityContext = &corev1.SecurityContext{RunAsUser: &zero}
	})
	_, err = sa.CoreV1().Pods(ns).Create(ctx, root, metav1.CreateOptions{})
	if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), "unable to validate against any security context constraint") || !strings.Contains(err.Error(), "runAsUser") {
		t.Fatalf("a root pod from a project's service account: %v; want Forbidden by the security context constraints", err)
	}

	// What `adm policy add-scc-to-user anyuid -z default -n tenant` writes.
	binding := &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: scc.ClusterRoleName(scc.AnyUID)},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: scc.ClusterRoleName(scc.AnyUID)},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Namespace: ns, Name: "default"}},
	}
	if _, err := admin.RbacV1().ClusterRoleBindings().Create(ctx, binding, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// RBAC's cache takes the binding in a moment.
	var last error
	if err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		got, last = sa.CoreV1().Pods(ns).Create(ctx, root, metav1.CreateOptions{})
		return last == nil, nil
	}); err != nil {
		t.Fatalf("a root pod after anyuid was granted: %v", last)
	}
	if got.Annotations[scc.PodAnnotation] != scc.AnyUID || *got.Spec.Containers[0].SecurityContext.RunAsUser != 0 {
		t.Errorf("pod admitted by %q as %v; want anyuid, as root", got.Annotations[scc.PodAnnotation], got.Spec.Containers[0].SecurityContext.RunAsUser)
	}
	// anyuid still keeps the pod off the host.
	_, err = sa.CoreV1().Pods(ns).Create(ctx, pod("hostnet", func(p *corev1.Pod) { p.Spec.HostNetwork = true }), metav1.CreateOptions{})
	if !apierrors.IsForbidden(err) {
		t.Errorf("a host-network pod with anyuid: %v; want Forbidden", err)
	}
}

// namespaceRanges waits for ns's ID ranges and returns them.
func namespaceRanges(t *testing.T, admin kubernetes.Interface, ns string) scc.Ranges {
	t.Helper()
	var ranges scc.Ranges
	err := wait.PollUntilContextTimeout(context.Background(), 100*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		obj, err := admin.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		if _, ok := obj.Annotations[scc.UIDRangeAnnotation]; !ok {
			return false, nil
		}
		ranges, err = scc.NamespaceRanges(obj)
		return true, err
	})
	if err != nil {
		t.Fatalf("namespace %s has no ID ranges: %v", ns, err)
	}
	return ranges
}
