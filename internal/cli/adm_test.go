package cli

import (
	"context"
	"strings"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// adm policy add-scc-to-user/-group and remove-scc-from-user/-group edit
// the subjects of ClusterRoleBinding system:openshift:scc:<SCC>, as oc 4
// does; -z names a service account of the current project.
func TestAdmPolicySCC(t *testing.T) {
	const ns = "scc-cli"
	ensureProject(t, ns, "")
	env := newCLIEnv(t)
	loginInsecure(t, env)
	env.mustRun("project", ns)
	ctx := context.Background()
	subjects := func() []rbacv1.Subject {
		t.Helper()
		b, err := api.kube.RbacV1().ClusterRoleBindings().Get(ctx, "system:openshift:scc:anyuid", metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		if err != nil {
			t.Fatal(err)
		}
		if b.RoleRef.Name != "system:openshift:scc:anyuid" {
			t.Errorf("binding refers to %s", b.RoleRef.Name)
		}
		return b.Subjects
	}
	sa := rbacv1.Subject{Kind: rbacv1.ServiceAccountKind, Namespace: ns, Name: "default"}
	group := rbacv1.Subject{APIGroup: rbacv1.GroupName, Kind: rbacv1.GroupKind, Name: "devs"}

	if out := env.mustRun("adm", "policy", "add-scc-to-user", "anyuid", "-z", "default"); out != "clusterrole.rbac.authorization.k8s.io/system:openshift:scc:anyuid added: \"default\"\n" {
		t.Errorf("add-scc-to-user printed %q", out)
	}
	env.mustRun("adm", "policy", "add-scc-to-user", "anyuid", "-z", "default") // again: no duplicate
	env.mustRun("adm", "policy", "add-scc-to-group", "anyuid", "devs")
	if got := subjects(); len(got) != 2 || got[0] != sa || got[1] != group {
		t.Errorf("subjects %+v; want %+v and %+v", got, sa, group)
	}
	if out := env.mustRun("adm", "policy", "remove-scc-from-user", "anyuid", "-z", "default"); !strings.Contains(out, "removed: \"default\"") {
		t.Errorf("remove-scc-from-user printed %q", out)
	}
	if got := subjects(); len(got) != 1 || got[0] != group {
		t.Errorf("subjects after the removal %+v; want only %+v", got, group)
	}
	env.mustRun("adm", "policy", "remove-scc-from-group", "anyuid", "devs")

	for _, args := range [][]string{
		{"adm", "policy", "add-scc-to-user", "nonexistent", "alice"},
		{"adm", "policy", "add-scc-to-user", "anyuid"},
	} {
		if _, _, err := env.run(args...); err == nil {
			t.Errorf("slipway %s succeeded", strings.Join(args, " "))
		}
	}
	if got := subjects(); len(got) != 0 {
		t.Errorf("refused commands left subjects %+v", got)
	}

	// With -n, as oc: a RoleBinding that grants it in that namespace only.
	env.mustRun("adm", "policy", "add-scc-to-user", "anyuid", "-z", "default", "-n", ns)
	rb, err := api.kube.RbacV1().RoleBindings(ns).Get(ctx, "system:openshift:scc:anyuid", metav1.GetOptions{})
	if err != nil || rb.RoleRef.Kind != "ClusterRole" || rb.RoleRef.Name != "system:openshift:scc:anyuid" || len(rb.Subjects) != 1 || rb.Subjects[0] != sa {
		t.Errorf("role binding %+v, %v; want %+v bound to the cluster role", rb, err, sa)
	}
	if got := subjects(); len(got) != 0 {
		t.Errorf("add-scc-to-user -n changed the cluster binding: %+v", got)
	}
	env.mustRun("adm", "policy", "remove-scc-from-user", "anyuid", "-z", "default", "-n", ns)
	if rb, err := api.kube.RbacV1().RoleBindings(ns).Get(ctx, "system:openshift:scc:anyuid", metav1.GetOptions{}); err != nil || len(rb.Subjects) != 0 {
		t.Errorf("role binding after the removal %+v, %v; want no subject", rb, err)
	}
}
