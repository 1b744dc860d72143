package cli

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	projectv1 "github.com/openshift/api/project/v1"
	projectclient "github.com/openshift/client-go/project/clientset/versioned/typed/project/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/rest"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"k8s.io/kubectl/pkg/util/templates"
)

// displayNameAnnotation is where a project keeps its human-readable name.
const displayNameAnnotation = "openshift.io/display-name"

// projectClients are the two APIs project verbs use: projects first, and
// namespaces where the project API is not served or not allowed, as oc does.
type projectClients struct {
	config   *rest.Config
	projects projectclient.ProjectV1Interface
	core     corev1client.CoreV1Interface
}

func newProjectClients(env *commandEnv) (*projectClients, error) {
	cfg, err := env.factory.ToRESTConfig()
	if err != nil {
		return nil, err
	}
	projects, err := projectclient.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("building the project client: %w", err)
	}
	core, err := corev1client.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("building the core client: %w", err)
	}
	return &projectClients{config: cfg, projects: projects, core: core}, nil
}

// confirmAccess returns nil when the project (or, failing that, the
// namespace) of that name can be read.
func (c *projectClients) confirmAccess(ctx context.Context, name string) error {
	_, err := c.projects.Projects().Get(ctx, name, metav1.GetOptions{})
	if !apierrors.IsNotFound(err) && !apierrors.IsForbidden(err) {
		return err
	}
	if _, nsErr := c.core.Namespaces().Get(ctx, name, metav1.GetOptions{}); nsErr == nil {
		return nil
	}
	return err
}

// list returns the projects the user can see, sorted by name.
func (c *projectClients) list(ctx context.Context) ([]projectv1.Project, error) {
	var items []projectv1.Project
	list, err := c.projects.Projects().List(ctx, metav1.ListOptions{})
	switch {
	case err == nil:
		items = list.Items
	case apierrors.IsNotFound(err) || apierrors.IsForbidden(err):
		namespaces, nsErr := c.core.Namespaces().List(ctx, metav1.ListOptions{})
		if nsErr != nil {
			return nil, nsErr
		}
		for _, ns := range namespaces.Items {
			items = append(items, projectv1.Project{ObjectMeta: ns.ObjectMeta, Status: projectv1.ProjectStatus{Phase: ns.Status.Phase}})
		}
	default:
		return nil, err
	}
	slices.SortFunc(items, func(a, b projectv1.Project) int { return strings.Compare(a.Name, b.Name) })
	return items, nil
}

// displayName is "Display Name (name)" when the project has a display name.
func displayName(p *projectv1.Project) string {
	name := p.Annotations[displayNameAnnotation]
	if name == "" {
		name = p.Annotations["displayName"]
	}
	if name != "" && name != p.Name {
		return fmt.Sprintf("%s (%s)", name, p.Name)
	}
	return p.Name
}

// isGeneratedContext reports whether a context carries the name login and
// project give it, in which case messages leave the name out.
func isGeneratedContext(name string, context *clientcmdapi.Context) bool {
	return name == contextNickname(context.Namespace, context.Cluster, context.AuthInfo)
}

type projectOptions struct {
	env             *commandEnv
	name            string
	short           bool
	projectOnly     bool // the name is a project, never a context (new-project)
	skipAccessCheck bool
}

func newCmdProject(env *commandEnv) *cobra.Command {
	o := &projectOptions{env: env}
	cmd := &cobra.Command{
		Use:   "project [NAME]",
		Short: "Switch to another project",
		Long: templates.LongDesc(`
			Switch to another project and make it the default in your configuration.

			If no project was specified on the command line, display information about the
			current active project. The argument may also be the name of a context of your
			kubeconfig, which then becomes current.`),
		Example: templates.Examples(`
			# Switch to the 'myapp' project
			slipway project myapp

			# Display the project currently in use
			slipway project`),
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				o.name = args[0]
			}
			return o.run(cmd.Context())
		},
	}
	cmd.Flags().BoolVarP(&o.short, "short", "q", false, "If true, display only the project name")
	return cmd
}

func (o *projectOptions) run(ctx context.Context) error {
	out := o.env.streams.Out
	paths := o.env.pathOptions()
	config, err := loadStartingConfig(paths)
	if err != nil {
		return err
	}
	if name := stringFlag(o.env.flags.Context); name != "" {
		config.CurrentContext = name
	}
	var currentProject string
	if context := config.Contexts[config.CurrentContext]; context != nil {
		currentProject = context.Namespace
	}
	clients, err := newProjectClients(o.env)
	if err != nil {
		return err
	}
	server := clients.config.Host

	if o.name == "" {
		if currentProject == "" {
			if o.short {
				return errors.New("no project has been set")
			}
			fmt.Fprintln(out, "No project has been set. Pass a project name to make that the default.")
			return nil
		}
		switch err := clients.confirmAccess(ctx, currentProject); {
		case apierrors.IsNotFound(err), apierrors.IsForbidden(err):
			return fmt.Errorf("you do not have rights to view project %q specified in your config or the project doesn't exist", currentProject)
		case err != nil:
			return err
		}
		switch {
		case o.short:
			fmt.Fprintln(out, currentProject)
		case isGeneratedContext(config.CurrentContext, config.Contexts[config.CurrentContext]):
			fmt.Fprintf(out, "Using project %q on server %q.\n", currentProject, server)
		default:
			fmt.Fprintf(out, "Using project %q from context named %q on server %q.\n", currentProject, config.CurrentContext, server)
		}
		return nil
	}

	var contextInUse, namespaceInUse string
	if context, ok := config.Contexts[o.name]; ok && !o.projectOnly {
		contextInUse, namespaceInUse = o.name, context.Namespace
		config.CurrentContext = o.name
	} else {
		if !o.skipAccessCheck {
			if err := clients.confirmAccess(ctx, o.name); err != nil {
				return o.noAccessError(ctx, clients, config, err)
			}
		}
		user, err := currentUser(ctx, clients.config)
		if err != nil {
			return fmt.Errorf("unable to default to a user name: %w", err)
		}
		session, err := sessionConfig(o.name, user, clients.config)
		if err != nil {
			return err
		}
		config = mergeSessionConfig(config, session)
		contextInUse, namespaceInUse = config.CurrentContext, o.name
	}
	if err := writeConfig(paths, config); err != nil {
		return err
	}

	switch {
	case o.short:
		fmt.Fprintln(out, namespaceInUse)
	case namespaceInUse == "":
		fmt.Fprintf(out, "Now using context named %q on server %q.\n", contextInUse, server)
	case currentProject == namespaceInUse:
		fmt.Fprintf(out, "Already on project %q on server %q.\n", currentProject, server)
	case o.name == namespaceInUse && isGeneratedContext(contextInUse, config.Contexts[contextInUse]):
		fmt.Fprintf(out, "Now using project %q on server %q.\n", namespaceInUse, server)
	default:
		fmt.Fprintf(out, "Now using project %q from context named %q on server %q.\n", namespaceInUse, contextInUse, server)
	}
	return nil
}

// noAccessError explains why a project cannot be switched to, listing the
// ones that can, as oc does.
func (o *projectOptions) noAccessError(ctx context.Context, clients *projectClients, config *clientcmdapi.Config, cause error) error {
	if !apierrors.IsNotFound(cause) && !apierrors.IsForbidden(cause) {
		return cause
	}
	msg := fmt.Sprintf("A project named %q does not exist on %q.", o.name, clients.config.Host)
	if apierrors.IsForbidden(cause) {
		msg = fmt.Sprintf("You are not a member of project %q.", o.name)
	}
	if projects, err := clients.list(ctx); err == nil {
		switch len(projects) {
		case 0:
			msg += "\nYou are not a member of any projects. You can request a project to be created with the 'new-project' command."
		case 1:
			msg += fmt.Sprintf("\nYou have one project on this server: %s", displayName(&projects[0]))
		default:
			msg += "\nYour projects are:"
			for i := range projects {
				msg += fmt.Sprintf("\n* %s", displayName(&projects[i]))
			}
		}
	}
	servers := map[string]bool{}
	for _, cluster := range config.Clusters {
		servers[cluster.Server] = true
	}
	if len(servers) > 1 {
		msg += "\nTo see projects on another server, pass '--server=<server>'."
	}
	return errors.New(msg)
}

func newCmdProjects(env *commandEnv) *cobra.Command {
	var short bool
	cmd := &cobra.Command{
		Use:   "projects",
		Short: "Display existing projects",
		Long: templates.LongDesc(`
			Display information about the current active project and existing projects on the server.

			For advanced configuration, or to manage the contents of your config file, use the 'config'
			command.`),
		Example: templates.Examples(`
			# List all projects
			slipway projects`),
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runProjects(cmd.Context(), env, short)
		},
	}
	cmd.Flags().BoolVarP(&short, "short", "q", false, "If true, display only the project names")
	return cmd
}

func runProjects(ctx context.Context, env *commandEnv, short bool) error {
	out := env.streams.Out
	config, err := env.factory.ToRawKubeConfigLoader().RawConfig()
	if err != nil {
		return err
	}
	if name := stringFlag(env.flags.Context); name != "" {
		config.CurrentContext = name
	}
	clients, err := newProjectClients(env)
	if err != nil {
		return err
	}
	var currentProject string
	context := config.Contexts[config.CurrentContext]
	if context != nil {
		currentProject = context.Namespace
	}
	var currentErr error
	if currentProject != "" {
		currentErr = clients.confirmAccess(ctx, currentProject)
	}
	currentExists := currentProject != "" && currentErr == nil

	projects, err := clients.list(ctx)
	if err != nil {
		return err
	}
	if short {
		for _, p := range projects {
			fmt.Fprintln(out, p.Name)
		}
		return nil
	}
	switch len(projects) {
	case 0:
		fmt.Fprintln(out, "You are not a member of any projects. You can request a project to be created with the 'new-project' command.")
		return nil
	case 1:
		fmt.Fprintf(out, "You have one project on this server: %q.\n", displayName(&projects[0]))
	default:
		fmt.Fprintf(out, "You have access to the following projects and can switch between them with '%s project <projectname>':\n\n", CommandName)
		for _, p := range projects {
			marker := ""
			if currentExists {
				marker = "    "
				if p.Name == currentProject {
					marker = "  * "
				}
			}
			line := p.Name
			if name := p.Annotations[displayNameAnnotation]; name != "" && name != p.Name {
				line += " - " + name
			}
			fmt.Fprintf(out, "%s%s\n", marker, line)
		}
	}
	if !currentExists {
		if apierrors.IsForbidden(currentErr) {
			fmt.Fprintf(out, "You do not have rights to view project %q. Please switch to an existing one.\n", currentProject)
		}
		return currentErr
	}
	if isGeneratedContext(config.CurrentContext, context) {
		fmt.Fprintf(out, "\nUsing project %q on server %q.\n", currentProject, clients.config.Host)
	} else {
		fmt.Fprintf(out, "\nUsing project %q from context named %q on server %q.\n", currentProject, config.CurrentContext, clients.config.Host)
	}
	return nil
}

type newProjectOptions struct {
	env             *commandEnv
	displayName     string
	description     string
	skipConfigWrite bool
}

func newCmdNewProject(env *commandEnv) *cobra.Command {
	o := &newProjectOptions{env: env}
	cmd := &cobra.Command{
		Use:   "new-project NAME [--display-name=DISPLAYNAME] [--description=DESCRIPTION]",
		Short: "Request a new project",
		Long: templates.LongDesc(`
			Create a new project for yourself.

			The server creates the project and makes you its admin. After your project is
			created it will become the default project in your config.`),
		Example: templates.Examples(`
			# Create a new project with minimal information
			slipway new-project web-team-dev

			# Create a new project with a display name and description
			slipway new-project web-team-dev --display-name="Web Team Development" --description="Development project for the web team."`),
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.run(cmd.Context(), args[0])
		},
	}
	cmd.Flags().StringVar(&o.displayName, "display-name", "", "Project display name")
	cmd.Flags().StringVar(&o.description, "description", "", "Project description")
	cmd.Flags().BoolVar(&o.skipConfigWrite, "skip-config-write", false, "If true, the project will not be set as a cluster entry in kubeconfig after being created")
	return cmd
}

// newAppHint is what oc prints after creating a project.
const newAppHint = `
You can add applications to this project with the 'new-app' command. For example, try:

    %[1]s new-app rails-postgresql-example

to build a new example application in Ruby. Or use kubectl to deploy a simple Kubernetes application:

    kubectl create deployment hello-node --image=registry.k8s.io/e2e-test-images/agnhost:2.43 -- /agnhost serve-hostname

`

func (o *newProjectOptions) run(ctx context.Context, name string) error {
	clients, err := newProjectClients(o.env)
	if err != nil {
		return err
	}
	request := &projectv1.ProjectRequest{
		ObjectMeta:  metav1.ObjectMeta{Name: name},
		DisplayName: o.displayName,
		Description: o.description,
	}
	project, err := clients.projects.ProjectRequests().Create(ctx, request, metav1.CreateOptions{})
	if err != nil {
		return err
	}
	out := o.env.streams.Out
	if o.skipConfigWrite {
		fmt.Fprintf(out, "Project %[1]q created on server %[2]q.\n\nTo switch to this project and start adding applications, use:\n\n    %[3]s project %[1]s\n",
			project.Name, clients.config.Host, CommandName)
		return nil
	}
	switcher := &projectOptions{env: o.env, name: project.Name, projectOnly: true, skipAccessCheck: true}
	if err := switcher.run(ctx); err != nil {
		return err
	}
	fmt.Fprintf(out, newAppHint, CommandName)
	return nil
}
