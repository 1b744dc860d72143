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
			if len(serviceAccounts) > 0 {
				namespace, _, err := env.factory.ToRawKubeConfigLoader().Namespace()
				if err != nil {
					return err
				}
				for _, sa := range serviceAccounts {
					subjects = append(subjects, rbacv1.Subject{Kind: rbacv1.ServiceAccountKind, Namespace: namespace, Name: sa})
				}
			}
			return runSCCSubjects(cmd.Context(), env, name, subjects, add)
		},
	}
	cmd.Flags().StringSliceVarP(&serviceAccounts, "serviceaccount", "z", nil, "service account in the current namespace to use as a user")
	return cmd
}

func runSCCSubjects(ctx context.Context, env *commandEnv, name string, subjects []rbacv1.Subject, add bool) error {
	client, err := env.factory.KubernetesClientSet()
	if err != nil {
		return err
	}
	bindings := client.RbacV1().ClusterRoleBindings()
	role := scc.ClusterRoleName(name)
	err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
		binding, err := bindings.Get(ctx, role, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			if !add {
				return nil
			}
			binding = &rbacv1.ClusterRoleBinding{
				ObjectMeta: metav1.ObjectMeta{Name: role},
				RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role},
				Subjects:   subjects,
			}
			_, err = bindings.Create(ctx, binding, metav1.CreateOptions{})
			return err
		}
		if err != nil {
			return err
		}
		changed := false
		for _, s := range subjects {
			i := slices.IndexFunc(binding.Subjects, func(have rbacv1.Subject) bool {
				return have.Kind == s.Kind && have.Name == s.Name && have.Namespace == s.Namespace
			})
			switch {
			case add && i < 0:
				binding.Subjects = append(binding.Subjects, s)
				changed = true
			case !add && i >= 0:
				binding.Subjects = slices.Delete(binding.Subjects, i, i+1)
				changed = true
			}
		}
		if !changed {
			return nil
		}
		_, err = bindings.Update(ctx, binding, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		return err
	}
	var names []string
	for _, s := range subjects {
		names = append(names, fmt.Sprintf("%q", s.Name))
	}
	what := "added"
	if !add {
		what = "removed"
	}
	if len(names) == 0 {
		return errors.New("no subject given")
	}
	fmt.Fprintf(env.streams.Out, "clusterrole.rbac.authorization.k8s.io/%s %s: %s\n", role, what, strings.Join(names, ", "))
	return nil
}
