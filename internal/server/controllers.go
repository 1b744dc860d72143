package server

import (
	"context"
	"log/slog"

	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/slipway-dev/slipway/internal/apiserver"
	"github.com/slipway-dev/slipway/internal/controller/namespace"
	"github.com/slipway-dev/slipway/internal/controller/serviceaccount"
)

// startControllers runs the in-process controllers against the server's own
// API through the privileged loopback client, exactly as they would run
// against a cluster.
func startControllers(ctx context.Context, s *apiserver.Server, caBundle []byte, workers int) error {
	cfg := rest.CopyConfig(s.Loopback)
	cfg.UserAgent = "slipway-controllers"
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return err
	}
	disco, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return err
	}
	core := s.KubeInformers.Core().V1()
	sa := serviceaccount.New(client, core.Namespaces(), core.ServiceAccounts(), core.Secrets(), caBundle)
	ns := namespace.New(client, dyn, disco, core.Namespaces())
	s.KubeInformers.Start(ctx.Done())

	run := func(name string, f func(context.Context, int) error) {
		go func() {
			if err := f(ctx, workers); err != nil && ctx.Err() == nil {
				slog.Error("controller stopped", "controller", name, "err", err)
			}
		}()
	}
	run("serviceaccount", sa.Run)
	run("namespace", ns.Run)
	return nil
}
