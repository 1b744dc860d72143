package server

import (
	"context"
	"log/slog"
	"net"
	"time"

	appsclient "github.com/openshift/client-go/apps/clientset/versioned"
	appsinformers "github.com/openshift/client-go/apps/informers/externalversions"
	buildclient "github.com/openshift/client-go/build/clientset/versioned"
	buildinformers "github.com/openshift/client-go/build/informers/externalversions"
	imageclient "github.com/openshift/client-go/image/clientset/versioned"
	imageinformers "github.com/openshift/client-go/image/informers/externalversions"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/slipway-dev/slipway/internal/apiserver"
	"github.com/slipway-dev/slipway/internal/controller/build"
	"github.com/slipway-dev/slipway/internal/controller/buildconfig"
	"github.com/slipway-dev/slipway/internal/controller/deploymentconfig"
	"github.com/slipway-dev/slipway/internal/controller/imageimport"
	"github.com/slipway-dev/slipway/internal/controller/imagetrigger"
	"github.com/slipway-dev/slipway/internal/controller/namespace"
	"github.com/slipway-dev/slipway/internal/controller/replicationcontroller"
	"github.com/slipway-dev/slipway/internal/controller/serviceaccount"
	"github.com/slipway-dev/slipway/internal/image"
	"github.com/slipway-dev/slipway/internal/node"
	"github.com/slipway-dev/slipway/internal/node/cni"
	"github.com/slipway-dev/slipway/internal/serviceproxy"
)

// controllerConfig is what the in-process controllers and the node agent need.
type controllerConfig struct {
	caBundle      []byte
	workers       int
	registryHosts []string
	dataDir       string
	apiListen     string
	buildkitHost  string
	imageImport   imageimport.Config
	registries    *image.Client
	// hostPortAddress is where Services' node ports listen.
	hostPortAddress string
	// podSubnet is the pod network's IPv4 subnet.
	podSubnet string
	// agentStopped is closed once the node agent has stopped its pods.
	agentStopped chan struct{}
}

// startControllers runs the in-process controllers and the node agent
// against the server's own API through the privileged loopback client,
// exactly as they would run against a cluster.
func startControllers(ctx context.Context, s *apiserver.Server, c controllerConfig) error {
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
	builds, err := buildclient.NewForConfig(cfg)
	if err != nil {
		return err
	}
	images, err := imageclient.NewForConfig(cfg)
	if err != nil {
		return err
	}
	apps, err := appsclient.NewForConfig(cfg)
	if err != nil {
		return err
	}
	buildInformers := buildinformers.NewSharedInformerFactory(builds, 10*time.Minute)
	appsInformers := appsinformers.NewSharedInformerFactory(apps, 10*time.Minute)
	imageInformers := imageinformers.NewSharedInformerFactory(images, 10*time.Minute)
	core := s.KubeInformers.Core().V1()

	sa := serviceaccount.New(client, core.Namespaces(), core.ServiceAccounts(), core.Secrets(), c.caBundle, serviceaccount.WithRegistryHosts(c.registryHosts))
	ns := namespace.New(client, dyn, disco, core.Namespaces())
	bc := buildconfig.New(builds, buildInformers.Build().V1().BuildConfigs(), buildInformers.Build().V1().Builds())
	b := build.New(builds, client, build.Informers{
		Builds:          buildInformers.Build().V1().Builds(),
		Pods:            core.Pods(),
		ServiceAccounts: core.ServiceAccounts(),
		Secrets:         core.Secrets(),
		ImageStreams:    imageInformers.Image().V1().ImageStreams(),
	})
	// New adds informer indexes: before the factories start.
	trigger, err := imagetrigger.New(builds, apps, imagetrigger.Informers{
		ImageStreams:      imageInformers.Image().V1().ImageStreams(),
		BuildConfigs:      buildInformers.Build().V1().BuildConfigs(),
		DeploymentConfigs: appsInformers.Apps().V1().DeploymentConfigs(),
	})
	if err != nil {
		return err
	}
	rcs := replicationcontroller.New(client, core.ReplicationControllers(), core.Pods())
	dcs := deploymentconfig.New(apps, client, deploymentconfig.Informers{
		DeploymentConfigs:      appsInformers.Apps().V1().DeploymentConfigs(),
		ReplicationControllers: core.ReplicationControllers(),
		Pods:                   core.Pods(),
	})
	proxy := serviceproxy.New(client, core.Services(), core.Pods(), serviceproxy.Options{Address: c.hostPortAddress})
	imports := imageimport.New(images, imageInformers.Image().V1().ImageStreams(), c.imageImport)
	// Registries configured to notify Slipway (see the README) post here;
	// the API server authenticates them (the admin token).
	s.Generic.Handler.NonGoRestfulMux.Handle("/registry/notifications", imports.NotificationHandler())
	apiHost, apiPort, _ := net.SplitHostPort(c.apiListen)
	agent, err := node.New(node.Config{
		DataDir:      c.dataDir,
		APIHost:      apiHost,
		APIPort:      apiPort,
		BuildkitHost: c.buildkitHost,
		Client:       client,
		Pods:         core.Pods(),
		Standby:      true,
		Registry:     c.registries,
		Network:      cni.Config{Subnet: c.podSubnet},
	})
	if err != nil {
		return err
	}
	s.KubeInformers.Start(ctx.Done())
	buildInformers.Start(ctx.Done())
	imageInformers.Start(ctx.Done())
	appsInformers.Start(ctx.Done())

	run := func(name string, f func(context.Context, int) error) {
		go func() {
			if err := f(ctx, c.workers); err != nil && ctx.Err() == nil {
				slog.Error("controller stopped", "controller", name, "err", err)
			}
		}()
	}
	run("serviceaccount", sa.Run)
	run("namespace", ns.Run)
	run("buildconfig", bc.Run)
	run("build", b.Run)
	run("imageimport", imports.Run)
	run("imagetrigger", trigger.Run)
	run("replicationcontroller", rcs.Run)
	run("deploymentconfig", dcs.Run)
	run("serviceproxy", proxy.Run)
	go func() {
		// The server waits for this before it exits: the agent stops every
		// pod it runs (containers, their networks) when ctx ends.
		defer close(c.agentStopped)
		if err := agent.Run(ctx, c.workers); err != nil && ctx.Err() == nil {
			slog.Error("controller stopped", "controller", "node", "err", err)
		}
	}()
	return nil
}
