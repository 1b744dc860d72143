package cli

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/util/retry"
	"k8s.io/kubectl/pkg/scheme"
	"k8s.io/kubectl/pkg/util/templates"
)

func newCmdSecrets(env *commandEnv) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "secrets",
		Short: "Manage secrets",
		Long: templates.LongDesc(`
			Manage secrets in your project.

			Secrets are used to store confidential information that should not be contained
			inside of an image. They are commonly used to hold things like keys for authentication
			to other internal systems like container image registries.`),
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(newCmdSecretsNew(env), newCmdSecretsNewDockercfg(env), newCmdSecretsLink(env), newCmdSecretsUnlink(env))
	return cmd
}

// secretsClient returns the typed client and the namespace to work in
// (-n, else the context's namespace, else "default").
func secretsClient(env *commandEnv) (kubernetes.Interface, string, error) {
	namespace, _, err := env.factory.ToRawKubeConfigLoader().Namespace()
	if err != nil {
		return nil, "", err
	}
	client, err := env.factory.KubernetesClientSet()
	if err != nil {
		return nil, "", err
	}
	return client, namespace, nil
}

// createAndPrint creates secret and prints it through printFlags
// ("secret/NAME" by default, or -o yaml|json|name).
func createAndPrint(ctx context.Context, env *commandEnv, printFlags *genericclioptions.PrintFlags, secret *corev1.Secret) error {
	printer, err := printFlags.ToPrinter()
	if err != nil {
		return err
	}
	client, namespace, err := secretsClient(env)
	if err != nil {
		return err
	}
	created, err := client.CoreV1().Secrets(namespace).Create(ctx, secret, metav1.CreateOptions{})
	if err != nil {
		return err
	}
	return printer.PrintObj(created, env.streams.Out)
}

// knownSecretTypes are the types `secrets new` infers from the keys when no
// --type is given: a secret made of exactly one docker config file.
var knownSecretTypes = map[string]corev1.SecretType{
	corev1.DockerConfigKey:     corev1.SecretTypeDockercfg,
	corev1.DockerConfigJsonKey: corev1.SecretTypeDockerConfigJson,
}

func newCmdSecretsNew(env *commandEnv) *cobra.Command {
	var secretType string
	printFlags := genericclioptions.NewPrintFlags("").WithTypeSetter(scheme.Scheme)
	cmd := &cobra.Command{
		Use:   "new NAME [KEY=]SOURCE ...",
		Short: "Create a new secret based on a key file or on files within a directory",
		Long: templates.LongDesc(`
			Create a new secret based on a file or directory.

			Key files can be specified using their file path, in which case the file name
			becomes the key, or with a key name and a file path. Specifying a directory
			adds every regular file in it (subdirectories are not traversed). A secret made
			of a single .dockercfg or .dockerconfigjson key gets the matching docker type.`),
		Example: templates.Examples(`
			# Create a new secret named my-secret with a key named ssh-privatekey
			slipway secrets new my-secret ~/.ssh/ssh-privatekey

			# Create a new secret with keys named differently from the files on disk
			slipway secrets new my-secret ssh-privatekey=~/.ssh/id_rsa ssh-publickey=~/.ssh/id_rsa.pub

			# Create a new secret with a key for each file in the folder "bar"
			slipway secrets new my-secret path/to/bar

			# Create a new .dockercfg secret named my-secret
			slipway secrets new my-secret path/to/.dockercfg`),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) < 2 {
				return errors.New("a secret name and at least one source file or directory are required")
			}
			secret, err := secretFromFiles(args[0], corev1.SecretType(secretType), args[1:], env.streams.ErrOut)
			if err != nil {
				return err
			}
			return createAndPrint(cmd.Context(), env, printFlags, secret)
		},
	}
	cmd.Flags().StringVar(&secretType, "type", "", "The type of secret (default Opaque, or the docker type for a single docker config file)")
	printFlags.AddFlags(cmd)
	return cmd
}

// secretFromFiles bundles files into a secret. A source is FILE (key = the
// file's base name), KEY=FILE, or a directory (one key per regular file in
// it; anything else is reported on warnings and skipped).
func secretFromFiles(name string, secretType corev1.SecretType, sources []string, warnings io.Writer) (*corev1.Secret, error) {
	data := map[string][]byte{}
	for _, source := range sources {
		key, path, err := parseFileSource(source)
		if err != nil {
			return nil, err
		}
		info, err := os.Stat(path)
		if err != nil {
			return nil, fmt.Errorf("error reading %s: %w", path, err)
		}
		if !info.IsDir() {
			if err := addFileKey(data, key, path); err != nil {
				return nil, err
			}
			continue
		}
		if strings.Contains(source, "=") {
			return nil, fmt.Errorf("cannot give a key name for a directory path: %s", source)
		}
		entries, err := os.ReadDir(path)
		if err != nil {
			return nil, fmt.Errorf("error listing files in %s: %w", path, err)
		}
		for _, entry := range entries {
			entryPath := filepath.Join(path, entry.Name())
			if !entry.Type().IsRegular() {
				fmt.Fprintf(warnings, "Skipping resource %s\n", entryPath)
				continue
			}
			if err := addFileKey(data, entry.Name(), entryPath); err != nil {
				return nil, err
			}
		}
	}
	if len(data) == 0 {
		return nil, errors.New("no files selected")
	}
	if secretType == "" {
		secretType = corev1.SecretTypeOpaque
		if len(data) == 1 {
			for key := range data {
				if known, ok := knownSecretTypes[key]; ok {
					secretType = known
				}
			}
		}
	}
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Type:       secretType,
		Data:       data,
	}, nil
}

// parseFileSource splits KEY=PATH; a bare PATH is keyed by its base name.
func parseFileSource(source string) (key, path string, err error) {
	switch strings.Count(source, "=") {
	case 0:
		return filepath.Base(source), source, nil
	case 1:
		key, path, _ = strings.Cut(source, "=")
		switch {
		case key == "":
			return "", "", fmt.Errorf("key name for file path %s missing", path)
		case path == "":
			return "", "", fmt.Errorf("file path for key name %s missing", key)
		}
		return key, path, nil
	default:
		return "", "", fmt.Errorf("key names or file paths cannot contain '=': %s", source)
	}
}

func addFileKey(data map[string][]byte, key, path string) error {
	if errs := validation.IsConfigMapKey(key); len(errs) > 0 {
		return fmt.Errorf("%s is not a valid key name for a secret: %s", key, strings.Join(errs, ", "))
	}
	if _, exists := data[key]; exists {
		return fmt.Errorf("cannot add key %s from path %s, another key by that name already exists", key, path)
	}
	content, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("error reading %s: %w", path, err)
	}
	data[key] = content
	return nil
}

// dockercfgEntry is one registry's credentials in a legacy .dockercfg file.
type dockercfgEntry struct {
	Username string `json:"username"`
	Password string `json:"password"`
	Email    string `json:"email,omitempty"`
	Auth     string `json:"auth"`
}

type dockercfgOptions struct {
	server, username, password, email string
}

func newCmdSecretsNewDockercfg(env *commandEnv) *cobra.Command {
	o := &dockercfgOptions{}
	printFlags := genericclioptions.NewPrintFlags("").WithTypeSetter(scheme.Scheme)
	cmd := &cobra.Command{
		Use:   "new-dockercfg SECRET --docker-server=DOCKER_REGISTRY_SERVER --docker-username=DOCKER_USER --docker-password=DOCKER_PASSWORD [--docker-email=DOCKER_EMAIL]",
		Short: "Create a new dockercfg secret",
		Long: templates.LongDesc(`
			Create a new dockercfg secret.

			Dockercfg secrets hold the credentials for container image registries, in the
			legacy .dockercfg format (type kubernetes.io/dockercfg). Builds use them to pull
			base images and push their output; link one to a service account with
			'slipway secrets link'. 'slipway create secret docker-registry' makes the newer
			.dockerconfigjson kind.`),
		Example: templates.Examples(`
			# Create a new .dockercfg secret
			slipway secrets new-dockercfg SECRET --docker-server=DOCKER_REGISTRY_SERVER --docker-username=DOCKER_USER --docker-password=DOCKER_PASSWORD --docker-email=DOCKER_EMAIL

			# Let the builder service account push with it
			slipway secrets link builder SECRET`),
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			secret, err := o.secret(args[0])
			if err != nil {
				return err
			}
			return createAndPrint(cmd.Context(), env, printFlags, secret)
		},
	}
	cmd.Flags().StringVar(&o.username, "docker-username", "", "Username for container image registry authentication")
	cmd.Flags().StringVar(&o.password, "docker-password", "", "Password for container image registry authentication")
	cmd.Flags().StringVar(&o.email, "docker-email", "", "Email for container image registry")
	cmd.Flags().StringVar(&o.server, "docker-server", "https://index.docker.io/v1/", "Server location for container image registry")
	printFlags.AddFlags(cmd)
	return cmd
}

// secret builds the kubernetes.io/dockercfg secret: key .dockercfg holding
// {"<server>": {username, password, email, auth: base64(user:password)}}.
func (o *dockercfgOptions) secret(name string) (*corev1.Secret, error) {
	switch {
	case o.server == "":
		return nil, errors.New("--docker-server must be present")
	case o.username == "":
		return nil, errors.New("--docker-username must be present")
	case o.password == "":
		return nil, errors.New("--docker-password must be present")
	case strings.Contains(o.username, ":"):
		return nil, fmt.Errorf("username %q is illegal because it contains a ':'", o.username)
	}
	content, err := json.Marshal(map[string]dockercfgEntry{o.server: {
		Username: o.username,
		Password: o.password,
		Email:    o.email,
		Auth:     base64.StdEncoding.EncodeToString([]byte(o.username + ":" + o.password)),
	}})
	if err != nil {
		return nil, fmt.Errorf("encoding .dockercfg: %w", err)
	}
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Type:       corev1.SecretTypeDockercfg,
		Data:       map[string][]byte{corev1.DockerConfigKey: content},
	}, nil
}

func newCmdSecretsLink(env *commandEnv) *cobra.Command {
	var uses []string
	cmd := &cobra.Command{
		Use:   "link SERVICEACCOUNT SECRET [SECRET...]",
		Short: "Link secrets to a ServiceAccount",
		Long: templates.LongDesc(`
			Link secrets to a service account.

			Linking a secret enables a service account to automatically use that secret for some
			forms of authentication: --for=mount lists it in the service account's secrets (what
			builds run as the account may use, e.g. to push), --for=pull in its imagePullSecrets
			(what pods and builds pull images with).`),
		Example: templates.Examples(`
			# Add an image pull secret to a service account to automatically use it for pulling pod images
			slipway secrets link serviceaccount-name pull-secret --for=pull

			# Add an image pull secret to a service account to use it for both pulling and pushing build images
			slipway secrets link builder builder-image-secret --for=pull,mount`),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) < 2 {
				return errors.New("must have service account name and at least one secret name")
			}
			forPull, forMount, err := parseLinkUses(uses)
			if err != nil {
				return err
			}
			return runLink(cmd.Context(), env, args[0], args[1:], forPull, forMount)
		},
	}
	cmd.Flags().StringSliceVar(&uses, "for", []string{"mount"}, "type of secret to link: mount or pull")
	return cmd
}

func parseLinkUses(uses []string) (forPull, forMount bool, err error) {
	for _, use := range uses {
		switch strings.ToLower(use) {
		case "pull":
			forPull = true
		case "mount":
			forMount = true
		default:
			return false, false, fmt.Errorf("unknown for: %v", use)
		}
	}
	if !forPull && !forMount {
		forMount = true
	}
	return forPull, forMount, nil
}

// serviceAccountName accepts NAME, sa/NAME or serviceaccount(s)/NAME.
func serviceAccountName(arg string) (string, error) {
	return stripResource(arg, "sa", "serviceaccount", "serviceaccounts")
}

// secretName accepts NAME, secret/NAME or secrets/NAME.
func secretName(arg string) (string, error) {
	return stripResource(arg, "secret", "secrets")
}

func stripResource(arg string, resources ...string) (string, error) {
	resource, name, found := strings.Cut(arg, "/")
	if !found {
		return arg, nil
	}
	if !slices.Contains(resources, strings.ToLower(resource)) || name == "" {
		return "", fmt.Errorf("expected resource of type %s, got %q", resources[len(resources)-1], arg)
	}
	return name, nil
}

// parseLinkArgs reads the SERVICEACCOUNT SECRET... arguments of link and
// unlink.
func parseLinkArgs(saArg string, secretArgs []string) (saName string, names []string, err error) {
	if saName, err = serviceAccountName(saArg); err != nil {
		return "", nil, err
	}
	for _, arg := range secretArgs {
		name, err := secretName(arg)
		if err != nil {
			return "", nil, err
		}
		names = append(names, name)
	}
	return saName, names, nil
}

func runLink(ctx context.Context, env *commandEnv, saArg string, secretArgs []string, forPull, forMount bool) error {
	saName, names, err := parseLinkArgs(saArg, secretArgs)
	if err != nil {
		return err
	}
	client, namespace, err := secretsClient(env)
	if err != nil {
		return err
	}
	for _, name := range names {
		// Linking a secret that does not exist would only surface later as a
		// build or pull failure; refuse it here, before changing anything.
		if _, err := client.CoreV1().Secrets(namespace).Get(ctx, name, metav1.GetOptions{}); err != nil {
			return fmt.Errorf("linking secrets to serviceaccount %q: %w", saName, err)
		}
	}
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		sa, err := client.CoreV1().ServiceAccounts(namespace).Get(ctx, saName, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if !linkSecrets(sa, names, forPull, forMount) {
			return nil
		}
		_, err = client.CoreV1().ServiceAccounts(namespace).Update(ctx, sa, metav1.UpdateOptions{})
		return err
	})
}

// linkSecrets appends the named secrets to sa's imagePullSecrets (forPull)
// and secrets (forMount), skipping those already there. It reports whether
// sa changed.
func linkSecrets(sa *corev1.ServiceAccount, names []string, forPull, forMount bool) bool {
	changed := false
	for _, name := range names {
		if forMount && !slices.ContainsFunc(sa.Secrets, func(r corev1.ObjectReference) bool { return r.Name == name }) {
			sa.Secrets = append(sa.Secrets, corev1.ObjectReference{Name: name})
			changed = true
		}
		if forPull && !slices.ContainsFunc(sa.ImagePullSecrets, func(r corev1.LocalObjectReference) bool { return r.Name == name }) {
			sa.ImagePullSecrets = append(sa.ImagePullSecrets, corev1.LocalObjectReference{Name: name})
			changed = true
		}
	}
	return changed
}

func newCmdSecretsUnlink(env *commandEnv) *cobra.Command {
	printFlags := genericclioptions.NewPrintFlags("updated").WithTypeSetter(scheme.Scheme)
	cmd := &cobra.Command{
		Use:   "unlink SERVICEACCOUNT SECRET [SECRET...]",
		Short: "Detach secrets from a ServiceAccount",
		Long: templates.LongDesc(`
			Unlink (detach) secrets from a service account.

			The secrets are removed from both the service account's secrets and its
			imagePullSecrets. Secrets that no longer exist can be unlinked too.`),
		Example: templates.Examples(`
			# Unlink a secret currently associated with a service account
			slipway secrets unlink serviceaccount-name secret-name another-secret-name`),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) < 2 {
				return errors.New("must have service account name and at least one secret name")
			}
			return runUnlink(cmd.Context(), env, printFlags, args[0], args[1:])
		},
	}
	printFlags.AddFlags(cmd)
	return cmd
}

func runUnlink(ctx context.Context, env *commandEnv, printFlags *genericclioptions.PrintFlags, saArg string, secretArgs []string) error {
	printer, err := printFlags.ToPrinter()
	if err != nil {
		return err
	}
	saName, names, err := parseLinkArgs(saArg, secretArgs)
	if err != nil {
		return err
	}
	client, namespace, err := secretsClient(env)
	if err != nil {
		return err
	}
	var updated *corev1.ServiceAccount
	err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
		sa, err := client.CoreV1().ServiceAccounts(namespace).Get(ctx, saName, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if !unlinkSecrets(sa, names) {
			return errors.New("No valid secrets found or secrets not linked to service account")
		}
		updated, err = client.CoreV1().ServiceAccounts(namespace).Update(ctx, sa, metav1.UpdateOptions{})
		return err
	})
	if err != nil {
		return err
	}
	return printer.PrintObj(updated, env.streams.Out)
}

// unlinkSecrets removes the named secrets from both of sa's secret lists and
// reports whether sa changed.
func unlinkSecrets(sa *corev1.ServiceAccount, names []string) bool {
	remove := map[string]bool{}
	for _, name := range names {
		remove[name] = true
	}
	before := len(sa.Secrets) + len(sa.ImagePullSecrets)
	sa.Secrets = slices.DeleteFunc(sa.Secrets, func(r corev1.ObjectReference) bool { return remove[r.Name] })
	sa.ImagePullSecrets = slices.DeleteFunc(sa.ImagePullSecrets, func(r corev1.LocalObjectReference) bool { return remove[r.Name] })
	return len(sa.Secrets)+len(sa.ImagePullSecrets) != before
}
