package cli

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/retry"
	"k8s.io/kubectl/pkg/util/templates"

	"github.com/slipway-dev/slipway/internal/admission/scc"
)

// ---------------------------------------------------------------- adm policy

func newCmdAdm(env *commandEnv) *cobra.Command {
	adm := &cobra.Command{
		Use:   "adm",
		Short: "Tools for managing a cluster",
		Args:  cobra.NoArgs,
		RunE:  func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	policy := &cobra.Command{
		Use:   "policy",
		Short: "Manage cluster authorization and security policy",
		Args:  cobra.NoArgs,
		RunE:  func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	policy.AddCommand(
		newCmdSCCSubjects(env, "add-scc-to-user", rbacv1.UserKind, true),
		newCmdSCCSubjects(env, "add-scc-to-group", rbacv1.GroupKind, true),
		newCmdSCCSubjects(env, "remove-scc-from-user", rbacv1.UserKind, false),
		newCmdSCCSubjects(env, "remove-scc-from-group", rbacv1.GroupKind, false),
	)
	adm.AddCommand(policy)
	return adm
}

// newCmdSCCSubjects is oc's add-scc-to-user/group and remove-scc-from-
// user/group: the subjects of the ClusterRoleBinding
// system:openshift:scc:<SCC>, which grants the use of the constraint.
func newCmdSCCSubjects(env *commandEnv, use, kind string, add bool) *cobra.Command {
	var serviceAccounts []string
	who := "USER"
	if kind == rbacv1.GroupKind {
		who = "GROUP"
	}
	verb, direction := "Add", "to"
	if !add {
		verb, direction = "Remove", "from"
	}
	cmd := &cobra.Command{
		Use:   fmt.Sprintf("%s SCC (%s | -z SERVICEACCOUNT) [%s ...]", use, who, who),
		Short: fmt.Sprintf("%s the security context constraint %s %ss or service accounts", verb, direction, strings.ToLower(who)),
		Long: templates.LongDesc(fmt.Sprintf(`
			%s a security context constraint %s %ss or service accounts.

			Slipway has three: restricted-v2 (every authenticated user's: a UID from the project's
			range, no privilege escalation, capabilities dropped), anyuid (the image's own user, root
			included) and privileged (anything). A pod runs under the first of anyuid, restricted-v2
			and privileged that its creator or its service account may use and that admits it.`, verb, direction, strings.ToLower(who))),
		Example: templates.Examples(`
			# Let the pods of service account "default" of the current project run as their image's user
			slipway adm policy add-scc-to-user anyuid -z default`),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) < 1 || (len(args) < 2 && len(serviceAccounts) == 0) {
				return fmt.Errorf("you must specify a security context constraint and at least one %s or service account", strings.ToLower(who))
			}
			name := args[0]
			if !slices.Contains(scc.Names, name) {
				return fmt.Errorf("securitycontextconstraints.security.openshift.io %q not found (this server has %s)", name, strings.Join(scc.Names, ", "))
			}
			var subjects []rbacv1.Subject
			for _, n := range args[1:] {
				subjects = append(subjects, rbacv1.Subject{APIGroup: rbacv1.GroupName, Kind: kind, Name: n})
			}
			namespace, explicit, err := env.factory.ToRawKubeConfigLoader().Namespace()
			if err != nil {
				return err
			}
			for _, sa := range serviceAccounts {
				subjects = append(subjects, rbacv1.Subject{Kind: rbacv1.ServiceAccountKind, Namespace: namespace, Name: sa})
			}
			// As oc: with -n, a RoleBinding that grants the constraint in
			// that namespace only; else a ClusterRoleBinding.
			bindingNamespace := ""
			if explicit {
				bindingNamespace = namespace
			}
			return runSCCSubjects(cmd.Context(), env, name, bindingNamespace, subjects, add)
		},
	}
	cmd.Flags().StringSliceVarP(&serviceAccounts, "serviceaccount", "z", nil, "service account in the current namespace to use as a user")
	return cmd
}

func runSCCSubjects(ctx context.Context, env *commandEnv, name, namespace string, subjects []rbacv1.Subject, add bool) error {
	client, err := env.factory.KubernetesClientSet()
	if err != nil {
		return err
	}
	role := scc.ClusterRoleName(name)
	bindings := sccBindings{client: client, namespace: namespace}
	err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
		have, err := bindings.get(ctx, role)
		if apierrors.IsNotFound(err) {
			if !add {
				return nil
			}
			return bindings.create(ctx, role, subjects)
		}
		if err != nil {
			return err
		}
		changed := false
		for _, s := range subjects {
			i := slices.IndexFunc(have, func(h rbacv1.Subject) bool {
				return h.Kind == s.Kind && h.Name == s.Name && h.Namespace == s.Namespace
			})
			switch {
			case add && i < 0:
				have = append(have, s)
				changed = true
			case !add && i >= 0:
				have = slices.Delete(have, i, i+1)
				changed = true
			}
		}
		if !changed {
			return nil
		}
		return bindings.update(ctx, role, have)
	})
	if err != nil {
		return err
	}
	var names []string
	for _, s := range subjects {
		names = append(names, fmt.Sprintf("%q", s.Name))
	}
	if len(names) == 0 {
		return errors.New("no subject given")
	}
	what := "added"
	if !add {
		what = "removed"
	}
	fmt.Fprintf(env.streams.Out, "clusterrole.rbac.authorization.k8s.io/%s %s: %s\n", role, what, strings.Join(names, ", "))
	return nil
}

// sccBindings reads and writes the binding named after a constraint's
// cluster role: a ClusterRoleBinding, or a RoleBinding in namespace.
type sccBindings struct {
	client    kubernetes.Interface
	namespace string
	// The object read last, updated in place.
	cluster *rbacv1.ClusterRoleBinding
	local   *rbacv1.RoleBinding
}

func (b *sccBindings) get(ctx context.Context, name string) ([]rbacv1.Subject, error) {
	var err error
	if b.namespace == "" {
		if b.cluster, err = b.client.RbacV1().ClusterRoleBindings().Get(ctx, name, metav1.GetOptions{}); err != nil {
			return nil, err
		}
		return b.cluster.Subjects, nil
	}
	if b.local, err = b.client.RbacV1().RoleBindings(b.namespace).Get(ctx, name, metav1.GetOptions{}); err != nil {
		return nil, err
	}
	return b.local.Subjects, nil
}

func (b *sccBindings) create(ctx context.Context, name string, subjects []rbacv1.Subject) error {
	ref := rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: name}
	var err error
	if b.namespace == "" {
		_, err = b.client.RbacV1().ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: name}, RoleRef: ref, Subjects: subjects}, metav1.CreateOptions{})
	} else {
		_, err = b.client.RbacV1().RoleBindings(b.namespace).Create(ctx, &rbacv1.RoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: b.namespace}, RoleRef: ref, Subjects: subjects}, metav1.CreateOptions{})
	}
	return err
}

func (b *sccBindings) update(ctx context.Context, _ string, subjects []rbacv1.Subject) error {
	var err error
	if b.namespace == "" {
		b.cluster.Subjects = subjects
		_, err = b.client.RbacV1().ClusterRoleBindings().Update(ctx, b.cluster, metav1.UpdateOptions{})
	} else {
		b.local.Subjects = subjects
		_, err = b.client.RbacV1().RoleBindings(b.namespace).Update(ctx, b.local, metav1.UpdateOptions{})
	}
	return err
}
