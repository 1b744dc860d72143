package controlplane

import (
	"context"
	"fmt"

	utilerrors "k8s.io/apimachinery/pkg/util/errors"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	apiserverapp "k8s.io/kubernetes/cmd/kube-apiserver/app"
	apiserveroptions "k8s.io/kubernetes/cmd/kube-apiserver/app/options"
	kcmapp "k8s.io/kubernetes/cmd/kube-controller-manager/app"
	kcmoptions "k8s.io/kubernetes/cmd/kube-controller-manager/app/options"
	schedulerapp "k8s.io/kubernetes/cmd/kube-scheduler/app"
	scheduleroptions "k8s.io/kubernetes/cmd/kube-scheduler/app/options"
)

// newAPIServer builds kube-apiserver from its flags and returns the
// function that runs it until ctx ends.
func newAPIServer(c Config, args []string) (func(context.Context) error, error) {
	s := apiserveroptions.NewServerRunOptions()
	if err := parseFlags("kube-apiserver", s.Flags().FlagSets, args); err != nil {
		return nil, err
	}
	if err := s.GenericServerRunOptions.ComponentGlobalsRegistry.Set(); err != nil {
		return nil, err
	}
	rest.SetDefaultWarningHandler(rest.NoWarnings{})
	completed, err := s.Complete(context.Background())
	if err != nil {
		return nil, fmt.Errorf("kube-apiserver: %w", err)
	}
	if errs := completed.Validate(); len(errs) != 0 {
		return nil, fmt.Errorf("kube-apiserver: %w", utilerrors.NewAggregate(errs))
	}
	name, err := cache.NewInformerName("kube-apiserver")
	if err != nil {
		return nil, err
	}
	completed.InformerName = name
	config, err := apiserverapp.NewConfig(completed)
	if err != nil {
		return nil, fmt.Errorf("kube-apiserver: %w", err)
	}
	done, err := config.Complete()
	if err != nil {
		return nil, fmt.Errorf("kube-apiserver: %w", err)
	}
	chain, err := apiserverapp.CreateServerChain(done)
	if err != nil {
		return nil, fmt.Errorf("kube-apiserver: %w", err)
	}
	if len(c.ReadyzChecks) > 0 {
		if err := chain.GenericAPIServer.AddReadyzChecks(c.ReadyzChecks...); err != nil {
			return nil, err
		}
	}
	for path, h := range c.ExtraHandlers {
		chain.GenericAPIServer.Handler.NonGoRestfulMux.Handle(path, h)
	}
	prepared, err := chain.PrepareRun()
	if err != nil {
		return nil, fmt.Errorf("kube-apiserver: %w", err)
	}
	return prepared.Run, nil
}

// runControllerManager runs kube-controller-manager's controllers (its
// defaults: deployments, replica sets, replication controllers, jobs,
// cron jobs, stateful sets, daemon sets, namespaces, service accounts and
// their tokens, garbage collection, endpoints, quotas, ...) until ctx ends.
func runControllerManager(ctx context.Context, c Config) error {
	s, err := kcmoptions.NewKubeControllerManagerOptions()
	if err != nil {
		return err
	}
	all, disabled, aliases := kcmapp.KnownControllers(), kcmapp.ControllersDisabledByDefault(), kcmapp.ControllerAliases()
	sets := s.Flags(all, disabled, aliases)
	s.ParsedFlags = &sets
	f := c.Files
	args := []string{
		"--kubeconfig=" + f.kubeconfig(ControllerManagerUser),
		"--authentication-kubeconfig=" + f.kubeconfig(ControllerManagerUser),
		"--authorization-kubeconfig=" + f.kubeconfig(ControllerManagerUser),
		"--secure-port=0",
		"--leader-elect=false",
		"--use-service-account-credentials=true",
		"--service-account-private-key-file=" + f.ServiceAccountKey(),
		"--root-ca-file=" + f.CACert,
		"--cluster-signing-cert-file=" + f.CACert,
		"--cluster-signing-key-file=" + f.CAKey,
		"--controllers=*,-nodeipam",
		// One node: checking it every second costs nothing and lifts the
		// not-ready taint a new node is registered with 4 s sooner.
		"--node-monitor-period=1s",
		"--profiling=false",
	}
	if err := parseFlags("kube-controller-manager", sets.FlagSets, args); err != nil {
		return err
	}
	if err := s.ComponentGlobalsRegistry.Set(); err != nil {
		return err
	}
	config, err := s.Config(ctx, all, disabled, aliases)
	if err != nil {
		return fmt.Errorf("kube-controller-manager: %w", err)
	}
	return kcmapp.Run(ctx, config.Complete())
}

// runScheduler runs kube-scheduler until ctx ends.
func runScheduler(ctx context.Context, c Config) error {
	opts := scheduleroptions.NewOptions()
	kubeconfig := c.Files.kubeconfig(SchedulerUser)
	args := []string{
		"--kubeconfig=" + kubeconfig,
		"--authentication-kubeconfig=" + kubeconfig,
		"--authorization-kubeconfig=" + kubeconfig,
		"--secure-port=0",
		"--leader-elect=false",
		"--profiling=false",
	}
	if err := parseFlags("kube-scheduler", opts.Flags.FlagSets, args); err != nil {
		return err
	}
	if err := opts.ComponentGlobalsRegistry.Set(); err != nil {
		return err
	}
	name, err := cache.NewInformerName("kube-scheduler")
	if err != nil {
		return err
	}
	opts.InformerName = name
	cc, sched, err := schedulerapp.Setup(ctx, opts)
	if err != nil {
		return fmt.Errorf("kube-scheduler: %w", err)
	}
	return schedulerapp.Run(ctx, cc, sched)
}
