package serviceaccount

import (
	"context"
	"fmt"

	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	rbacinformers "k8s.io/client-go/informers/rbac/v1"
)

// The cluster roles OpenShift grants in every project: builders push and
// report builds, deployers roll out, every service account of the project
// pulls its images. Their rules are in ClusterRoles (see DefaultClusterRoles).
const (
	ImageBuilderRole = "system:image-builder"
	DeployerRole     = "system:deployer"
	ImagePullerRole  = "system:image-puller"
)

// DefaultRoleBindings are OpenShift's default role bindings of a project:
// system:image-builders, system:deployers and system:image-pullers.
func DefaultRoleBindings(namespace string) []*rbacv1.RoleBinding {
	binding := func(name, role string, subject rbacv1.Subject) *rbacv1.RoleBinding {
		return &rbacv1.RoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role},
			Subjects:   []rbacv1.Subject{subject},
		}
	}
	sa := func(name string) rbacv1.Subject {
		return rbacv1.Subject{Kind: rbacv1.ServiceAccountKind, Name: name, Namespace: namespace}
	}
	return []*rbacv1.RoleBinding{
		binding("system:image-builders", ImageBuilderRole, sa("builder")),
		binding("system:deployers", DeployerRole, sa("deployer")),
		binding("system:image-pullers", ImagePullerRole, rbacv1.Subject{
			APIGroup: rbacv1.GroupName, Kind: rbacv1.GroupKind, Name: "system:serviceaccounts:" + namespace,
		}),
	}
}

// DefaultClusterRoles are the rules of the roles DefaultRoleBindings grant,
// after OpenShift's bootstrap policy.
func DefaultClusterRoles() []*rbacv1.ClusterRole {
	role := func(name string, rules ...rbacv1.PolicyRule) *rbacv1.ClusterRole {
		return &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: name}, Rules: rules}
	}
	rule := func(group string, resources []string, verbs ...string) rbacv1.PolicyRule {
		return rbacv1.PolicyRule{APIGroups: []string{group}, Resources: resources, Verbs: verbs}
	}
	return []*rbacv1.ClusterRole{
		role(ImageBuilderRole,
			rule("image.openshift.io", []string{"imagestreams/layers"}, "get", "update"),
			rule("image.openshift.io", []string{"imagestreams"}, "create"),
			rule("build.openshift.io", []string{"builds/details"}, "update"),
			rule("build.openshift.io", []string{"builds"}, "get"),
		),
		role(DeployerRole,
			rule("", []string{"replicationcontrollers"}, "create", "delete", "get", "list", "patch", "update", "watch"),
			rule("", []string{"replicationcontrollers/scale", "replicationcontrollers/status"}, "get", "update", "patch"),
			rule("", []string{"pods"}, "create", "delete", "get", "list", "watch"),
			rule("", []string{"pods/log"}, "get"),
			rule("", []string{"events"}, "create", "list", "patch"),
			rule("image.openshift.io", []string{"imagestreamtags", "imagetags"}, "create", "update"),
		),
		role(ImagePullerRole,
			rule("image.openshift.io", []string{"imagestreams/layers"}, "get"),
		),
	}
}

// WithRoleBindings makes the controller keep DefaultRoleBindings in every
// active namespace, watching them through informer.
func WithRoleBindings(informer rbacinformers.RoleBindingInformer) Option {
	return func(c *Controller) {
		c.roleBindings = informer
		c.synced = append(c.synced, informer.Informer().HasSynced)
		_, _ = informer.Informer().AddEventHandler(enqueueOwnerHandler(c))
	}
}

// ensureRoleBindings creates the default role bindings namespace lacks; a
// binding a user changed is left as it is.
func (c *Controller) ensureRoleBindings(ctx context.Context, namespace string) error {
	if c.roleBindings == nil {
		return nil
	}
	for _, want := range DefaultRoleBindings(namespace) {
		if _, err := c.roleBindings.Lister().RoleBindings(namespace).Get(want.Name); err == nil {
			continue
		}
		_, err := c.client.RbacV1().RoleBindings(namespace).Create(ctx, want, metav1.CreateOptions{})
		if err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("creating role binding %s/%s: %w", namespace, want.Name, err)
		}
	}
	return nil
}
