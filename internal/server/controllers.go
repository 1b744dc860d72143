package server

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"time"

	appsclient "github.com/openshift/client-go/apps/clientset/versioned"
	appsinformers "github.com/openshift/client-go/apps/informers/externalversions"
	buildclient "github.com/openshift/client-go/build/clientset/versioned"
	buildinformers "github.com/openshift/client-go/build/informers/externalversions"
	imageclient "github.com/openshift/client-go/image/clientset/versioned"
	imageinformers "github.com/openshift/client-go/image/informers/externalversions"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"

	"github.com/slipway-dev/slipway/internal/clusterdns"
	"github.com/slipway-dev/slipway/internal/controller/build"
	"github.com/slipway-dev/slipway/internal/controller/buildconfig"
	"github.com/slipway-dev/slipway/internal/controller/deploymentconfig"
	"github.com/slipway-dev/slipway/internal/controller/imageimport"
	"github.com/slipway-dev/slipway/internal/controller/imagetrigger"
	"github.com/slipway-dev/slipway/internal/controller/localvolume"
	"github.com/slipway-dev/slipway/internal/controller/serviceaccount"
	"github.com/slipway-dev/slipway/internal/controlplane"
	"github.com/slipway-dev/slipway/internal/hostprocess"
	"github.com/slipway-dev/slipway/internal/image"
	"github.com/slipway-dev/slipway/internal/imageregistry"
	"github.com/slipway-dev/slipway/internal/node"
	"github.com/slipway-dev/slipway/internal/node/cni"
	"github.com/slipway-dev/slipway/internal/pki"
	"github.com/slipway-dev/slipway/internal/serviceproxy"
)

// pipelineConfig is what the pipeline's parts need besides Options.
type pipelineConfig struct {
	nodeName, nodeUser string
	caBundle           []byte
	ca                 *pki.CA
	registries         *image.Client
	notifications      *handlerSlot
	// dnsIP is the cluster DNS server's address (the kube-dns Service's).
	dnsIP string
	// reservedPorts are the server's own listening ports, no pod's
	// hostPort.
	reservedPorts []int32
	// agentStopped is closed once the node agent has stopped its pods.
	agentStopped chan struct{}
}

// startPipeline starts what runs on the control plane: the internal
// registry, buildkitd, Slipway's controllers (each a client of the API, as
// openshift-controller-manager is) and the node agent.
func startPipeline(ctx context.Context, o Options, dir dataDir, cp *controlplane.ControlPlane, c pipelineConfig) error {
	registryConfig, err := cp.Config(registryUser)
	if err != nil {
		return err
	}
	registry, err := imageregistry.New(imageregistry.Config{
		Listen:      o.RegistryListen,
		StorageDir:  dir.path("registry"),
		APIConfig:   registryConfig,
		Hostname:    clientHost(o.RegistryListen),
		MaxBlobSize: o.RegistryMaxBlobSize.Value(),
	})
	if err != nil {
		return err
	}
	go func() {
		if err := registry.Run(ctx); err != nil && ctx.Err() == nil {
			slog.Error("internal registry stopped", "err", err)
		}
	}()
	buildkitAddress := startBuildkit(ctx, o, string(dir), registry.Hostname())
	// The build and deployment controllers sign the pods they make to run
	// as host processes; the node runs no other.
	key, err := hostprocess.LoadOrCreateKey(dir.path("controlplane/host-process.key"))
	if err != nil {
		return err
	}
	signer, err := hostprocess.NewSigner(key)
	if err != nil {
		return err
	}

	cfg, err := cp.Config(controlplane.OpenShiftControllersUser)
	if err != nil {
		return err
	}
	cfg.UserAgent = "slipway-controllers"
	cfg.QPS, cfg.Burst = 100, 200
	client, err := kubernetes.NewForConfig(cfg)
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
	kubeInformers := informers.NewSharedInformerFactory(client, 10*time.Minute)
	buildInformers := buildinformers.NewSharedInformerFactory(builds, 10*time.Minute)
	appsInformers := appsinformers.NewSharedInformerFactory(apps, 10*time.Minute)
	imageInformers := imageinformers.NewSharedInformerFactory(images, 10*time.Minute)
	core := kubeInformers.Core().V1()

	sa := serviceaccount.New(client, core.Namespaces(), core.ServiceAccounts(), core.Secrets(),
		serviceaccount.WithRegistryHosts(serviceaccount.RegistryHosts(registry.Hostname())),
		serviceaccount.WithRoleBindings(kubeInformers.Rbac().V1().RoleBindings()))
	bc := buildconfig.New(builds, buildInformers.Build().V1().BuildConfigs(), buildInformers.Build().V1().Builds())
	b := build.New(builds, client, build.Informers{
		Builds:          buildInformers.Build().V1().Builds(),
		Pods:            core.Pods(),
		ServiceAccounts: core.ServiceAccounts(),
		Secrets:         core.Secrets(),
		ImageStreams:    imageInformers.Image().V1().ImageStreams(),
	}, build.WithHostProcessSigner(signer))
	// New adds informer indexes: before the factories start.
	trigger, err := imagetrigger.New(builds, apps, client, imagetrigger.Informers{
		ImageStreams:      imageInformers.Image().V1().ImageStreams(),
		BuildConfigs:      buildInformers.Build().V1().BuildConfigs(),
		DeploymentConfigs: appsInformers.Apps().V1().DeploymentConfigs(),
		Deployments:       kubeInformers.Apps().V1().Deployments(),
		StatefulSets:      kubeInformers.Apps().V1().StatefulSets(),
		DaemonSets:        kubeInformers.Apps().V1().DaemonSets(),
		CronJobs:          kubeInformers.Batch().V1().CronJobs(),
	})
	if err != nil {
		return err
	}
	dcs := deploymentconfig.New(apps, client, deploymentconfig.Informers{
		DeploymentConfigs:      appsInformers.Apps().V1().DeploymentConfigs(),
		ReplicationControllers: core.ReplicationControllers(),
		Pods:                   core.Pods(),
	}, deploymentconfig.WithHostProcessSigner(signer))
	imports := imageimport.New(images, imageInformers.Image().V1().ImageStreams(), imageimport.Config{
		Interval:      o.ImageImportInterval,
		RatePerMinute: o.ImageImportRate,
	})
	c.notifications.set(imports.NotificationHandler())
	volumes, err := localvolume.Open(dir.path("volumes"), c.nodeName)
	if err != nil {
		return err
	}
	// New adds an informer index: before the factories start.
	provisioner := localvolume.New(ctx, client, kubeInformers, volumes, o.Workers)

	agent, nodeInformers, err := newNode(o, dir, cp, c, buildkitAddress, signer)
	if err != nil {
		return err
	}
	dns := clusterdns.New(clusterdns.Config{Address: c.dnsIP, Services: core.Services(), Pods: core.Pods()})
	proxy := serviceproxy.New(client, core.Services(), core.Pods(), serviceproxy.Options{Address: o.HostPortAddress, ClusterCIDR: o.ServiceCIDR})

	kubeInformers.Start(ctx.Done())
	buildInformers.Start(ctx.Done())
	imageInformers.Start(ctx.Done())
	appsInformers.Start(ctx.Done())
	nodeInformers.Start(ctx.Done())

	run := func(name string, f func(context.Context, int) error) {
		go func() {
			if err := f(ctx, o.Workers); err != nil && ctx.Err() == nil {
				slog.Error("controller stopped", "controller", name, "err", err)
			}
		}()
	}
	run("serviceaccount", sa.Run)
	run("buildconfig", bc.Run)
	run("build", b.Run)
	run("imageimport", imports.Run)
	run("imagetrigger", trigger.Run)
	run("deploymentconfig", dcs.Run)
	run("localvolume", provisioner.Run)
	run("serviceproxy", proxy.Run)
	run("cluster-dns", dns.Run)
	go func() {
		// The server waits for this before it exits: the agent stops every
		// pod it runs (containers, their networks) when ctx ends.
		defer close(c.agentStopped)
		if err := agent.Run(ctx, o.Workers); err != nil && ctx.Err() == nil {
			slog.Error("controller stopped", "controller", "node", "err", err)
		}
	}()
	return nil
}

// newNode makes the node agent, acting as the node's identity
// (system:node:NAME, so the Node authorizer applies), watching the pods
// bound to it.
func newNode(o Options, dir dataDir, cp *controlplane.ControlPlane, c pipelineConfig, buildkitAddress string, signer *hostprocess.Signer) (*node.Agent, informers.SharedInformerFactory, error) {
	cfg, err := cp.Config(c.nodeUser)
	if err != nil {
		return nil, nil, err
	}
	cfg.UserAgent = "slipway-node"
	cfg.QPS, cfg.Burst = 50, 100
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, nil, err
	}
	factory := informers.NewSharedInformerFactoryWithOptions(client, 10*time.Minute,
		informers.WithTweakListOptions(func(lo *metav1.ListOptions) {
			lo.FieldSelector = fields.OneTermEqualSelector("spec.nodeName", c.nodeName).String()
		}))
	apiHost, apiPort, _ := net.SplitHostPort(clientHost(o.Listen))
	kubeletCert, kubeletKey := dir.path("controlplane/kubelet-serving.crt"), dir.path("controlplane/kubelet-serving.key")
	kubeletHost, _, err := net.SplitHostPort(o.KubeletListen)
	if err != nil {
		return nil, nil, fmt.Errorf("--kubelet-listen %q: %w", o.KubeletListen, err)
	}
	if err := c.ca.EnsureServingCert(kubeletCert, kubeletKey, c.nodeName, []string{kubeletHost, c.nodeName, "127.0.0.1", "localhost"}); err != nil {
		return nil, nil, err
	}
	localGitRoot, err := checkLocalGitRoot(o.LocalGitRoot)
	if err != nil {
		return nil, nil, err
	}
	if o.ContainerLogMaxSize.Value() <= 0 {
		return nil, nil, fmt.Errorf("--container-log-max-size %s: must be greater than 0", o.ContainerLogMaxSize.String())
	}
	if o.ContainerLogMaxFiles < 2 {
		return nil, nil, fmt.Errorf("--container-log-max-files %d: must be at least 2", o.ContainerLogMaxFiles)
	}
	emptyDirMax := o.EmptyDirMaxSize.Value()
	switch {
	case emptyDirMax < 0:
		return nil, nil, fmt.Errorf("--emptydir-max-size %s: must not be negative", o.EmptyDirMaxSize.String())
	case emptyDirMax == 0:
		emptyDirMax = -1 // the node's "no bound"
	}
	agent, err := node.New(node.Config{
		NodeName:          c.nodeName,
		KubeletListen:     o.KubeletListen,
		KubeletCertFile:   kubeletCert,
		KubeletKeyFile:    kubeletKey,
		ClientCAFile:      dir.pki().CACert,
		ClusterDNS:        c.dnsIP,
		ClusterDomain:     clusterdns.DefaultDomain,
		DataDir:           string(dir),
		APIHost:           apiHost,
		APIPort:           apiPort,
		BuildkitHost:      buildkitAddress,
		LocalGitRoot:      localGitRoot,
		HostProcessSigner: signer,
		ReservedHostPorts: c.reservedPorts,
		Client:            client,
		Pods:              factory.Core().V1().Pods(),
		Standby:           true,
		Registry:          c.registries,
		Network:           cni.Config{Subnet: o.PodSubnet},

		// What a pod may take of the node's disk.
		ContainerLogMaxSize:  o.ContainerLogMaxSize.Value(),
		ContainerLogMaxFiles: o.ContainerLogMaxFiles,
		EmptyDirMaxSize:      emptyDirMax,
	})
	return agent, factory, err
}

// checkLocalGitRoot returns --local-git-root as an absolute path (builds
// run in another directory), and an error when it is not a directory.
func checkLocalGitRoot(dir string) (string, error) {
	if dir == "" {
		return "", nil
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("--local-git-root %q: %w", dir, err)
	}
	if fi, err := os.Stat(abs); err != nil || !fi.IsDir() {
		return "", fmt.Errorf("--local-git-root %q is not a directory", dir)
	}
	return abs, nil
}

// clusterDNSAddress is the kube-dns Service's cluster IP: the tenth
// address of the service range, as kubeadm and k3s choose it.
func clusterDNSAddress(serviceCIDR string) (string, error) {
	_, cidr, err := net.ParseCIDR(serviceCIDR)
	if err != nil {
		return "", fmt.Errorf("--service-cidr %q: %w", serviceCIDR, err)
	}
	ip := cidr.IP.To4()
	if ip == nil {
		return "", fmt.Errorf("--service-cidr %q: only IPv4 ranges are supported", serviceCIDR)
	}
	dns := make(net.IP, 4)
	copy(dns, ip)
	dns[3] += 10
	if !cidr.Contains(dns) {
		return "", fmt.Errorf("--service-cidr %q is too small for the DNS service", serviceCIDR)
	}
	return dns.String(), nil
}
