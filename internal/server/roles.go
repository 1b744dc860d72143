package server

import (
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// openshiftRoles are OpenShift's additions to Kubernetes' user-facing
// roles: its resources aggregated into view, edit and admin (as
// openshift-apiserver's bootstrap policy does), and self-provisioner, which
// may request projects.
func openshiftRoles() []*rbacv1.ClusterRole {
	read := []string{"get", "list", "watch"}
	write := []string{"create", "delete", "deletecollection", "patch", "update"}
	viewRules := []rbacv1.PolicyRule{
		{APIGroups: []string{"build.openshift.io"}, Resources: []string{"builds", "buildconfigs", "builds/log", "buildconfigs/webhooks"}, Verbs: read},
		{APIGroups: []string{"image.openshift.io"}, Resources: []string{"imagestreams", "imagestreams/status", "imagestreamtags", "imagestreamimages", "imagetags"}, Verbs: read},
		{APIGroups: []string{"apps.openshift.io"}, Resources: []string{"deploymentconfigs", "deploymentconfigs/scale", "deploymentconfigs/status", "deploymentconfigs/log"}, Verbs: read},
		{APIGroups: []string{"project.openshift.io"}, Resources: []string{"projects"}, Verbs: []string{"get"}},
	}
	editRules := []rbacv1.PolicyRule{
		{APIGroups: []string{"build.openshift.io"}, Resources: []string{"builds", "buildconfigs", "buildconfigs/webhooks"}, Verbs: write},
		{APIGroups: []string{"build.openshift.io"}, Resources: []string{"buildconfigs/instantiate", "buildconfigs/instantiatebinary", "builds/clone"}, Verbs: []string{"create"}},
		{APIGroups: []string{"build.openshift.io"}, Resources: []string{"builds/details"}, Verbs: []string{"update"}},
		{APIGroups: []string{"image.openshift.io"}, Resources: []string{"imagestreams", "imagestreamtags", "imagetags", "imagestreamimports", "imagestreammappings"}, Verbs: write},
		{APIGroups: []string{"image.openshift.io"}, Resources: []string{"imagestreams/layers"}, Verbs: []string{"get", "update"}},
		{APIGroups: []string{"image.openshift.io"}, Resources: []string{"imagestreams/secrets"}, Verbs: []string{"get"}},
		{APIGroups: []string{"apps.openshift.io"}, Resources: []string{"deploymentconfigs", "deploymentconfigs/scale"}, Verbs: write},
		{APIGroups: []string{"apps.openshift.io"}, Resources: []string{"deploymentconfigs/instantiate", "deploymentconfigs/rollback"}, Verbs: []string{"create"}},
		{APIGroups: []string{"project.openshift.io"}, Resources: []string{"projects"}, Verbs: []string{"delete", "patch", "update"}},
	}
	role := func(name string, labels map[string]string, rules []rbacv1.PolicyRule) *rbacv1.ClusterRole {
		return &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}, Rules: rules}
	}
	return []*rbacv1.ClusterRole{
		role("system:openshift:aggregate-to-view", map[string]string{"rbac.authorization.k8s.io/aggregate-to-view": "true"}, viewRules),
		role("system:openshift:aggregate-to-edit", map[string]string{"rbac.authorization.k8s.io/aggregate-to-edit": "true"}, editRules),
		role("system:openshift:aggregate-to-admin", map[string]string{"rbac.authorization.k8s.io/aggregate-to-admin": "true"}, editRules),
		// What the openshift namespace shares with every user (its image
		// streams and templates), bound there by sharedResourceViewers.
		role("shared-resource-viewer", nil, []rbacv1.PolicyRule{
			{APIGroups: []string{"image.openshift.io"}, Resources: []string{"imagestreams", "imagestreamtags", "imagestreamimages", "imagetags", "imagestreams/layers"}, Verbs: read},
			{APIGroups: []string{"template.openshift.io"}, Resources: []string{"templates"}, Verbs: read},
		}),
		role("self-provisioner", nil, []rbacv1.PolicyRule{
			{APIGroups: []string{"project.openshift.io"}, Resources: []string{"projectrequests"}, Verbs: []string{"create", "list"}},
		}),
	}
}

// sharedResourceViewers lets every authenticated user read, pull and build
// from the image streams of the openshift namespace, as OpenShift's
// bootstrap policy does (its builder images live there).
func sharedResourceViewers() *rbacv1.RoleBinding {
	return &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "shared-resource-viewers", Namespace: "openshift"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "shared-resource-viewer"},
		Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.GroupKind, Name: "system:authenticated"}},
	}
}
