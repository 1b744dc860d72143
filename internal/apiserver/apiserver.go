// Package apiserver assembles Slipway's OpenShift API server: OpenShift's
// API groups (project, build, image, apps) on k8s.io/apiserver, stored in
// etcd, served as an aggregated API server behind the kube-apiserver, as
// openshift-apiserver is. Authentication and authorization are delegated to
// the kube-apiserver (front-proxy request headers, TokenReview,
// SubjectAccessReview); namespaces and secrets are the kube-apiserver's,
// read through a client. Nothing here assumes the kube-apiserver runs in
// the same process.
package apiserver

import (
	"context"
	"fmt"
	"net"

	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apiserver/pkg/admission"
	"k8s.io/apiserver/pkg/admission/plugin/namespace/lifecycle"
	"k8s.io/apiserver/pkg/authentication/user"
	openapinamer "k8s.io/apiserver/pkg/endpoints/openapi"
	genericapiserver "k8s.io/apiserver/pkg/server"
	genericoptions "k8s.io/apiserver/pkg/server/options"
	"k8s.io/apiserver/pkg/storage/storagebackend"
	"k8s.io/apiserver/pkg/util/compatibility"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/slipway-dev/slipway/internal/admission/imageaccess"
	"github.com/slipway-dev/slipway/internal/admission/imagelookup"
	"github.com/slipway-dev/slipway/internal/admission/scc"
	"github.com/slipway-dev/slipway/internal/image"
	"github.com/slipway-dev/slipway/internal/podlogs"
	"github.com/slipway-dev/slipway/internal/scheme"
)

// Config is what the API server needs from its caller.
type Config struct {
	// Listener is where the HTTPS API is served (a loopback port the
	// APIServices name).
	Listener net.Listener
	// CertFile and KeyFile are the serving certificate and its key; the
	// kube-apiserver's aggregator verifies them as the Service name
	// (api.openshift-apiserver.svc).
	CertFile, KeyFile string
	// EtcdServers are the etcd client URLs objects are stored at.
	EtcdServers []string
	// EtcdCAFile, EtcdCertFile, EtcdKeyFile secure the connection to an external etcd.
	EtcdCAFile, EtcdCertFile, EtcdKeyFile string
	// Kubeconfig is the server's own identity towards the kube-apiserver:
	// token reviews, subject access reviews, namespaces, secrets, and the
	// subresources that work through the API (instantiate, rollback, logs).
	Kubeconfig string
	// RequestHeaderCAFile and RequestHeaderAllowedNames authenticate the
	// aggregator's front-proxy client; ClientCAFile other client
	// certificates.
	RequestHeaderCAFile       string
	RequestHeaderAllowedNames []string
	ClientCAFile              string
	// RegistryHostname is the internal registry's host:port, as image
	// streams report it in status.dockerImageRepository; empty when none.
	RegistryHostname string
	// DataDir is where the node agent keeps pod logs, which builds/log
	// reads; empty serves no logs.
	DataDir string
	// Registries is the registry client imagestreamimports use; nil means
	// one with no extra trust (loopback registries over plain HTTP, the
	// system CAs for the others).
	Registries *image.Client
	// MaxBinaryBuildSize bounds the input of
	// buildconfigs/instantiatebinary (413 beyond it); zero is the
	// default, buildregistry.DefaultMaxBinarySize.
	MaxBinaryBuildSize int64
}

// Server is a configured, not yet running, API server.
type Server struct {
	Generic *genericapiserver.GenericAPIServer
}

// New builds the API server described by c.
func New(c Config) (*Server, error) {
	addr, ok := c.Listener.Addr().(*net.TCPAddr)
	if !ok {
		return nil, fmt.Errorf("the OpenShift API server needs a TCP listener, got %s", c.Listener.Addr())
	}
	config := genericapiserver.NewRecommendedConfig(scheme.Codecs)
	config.EffectiveVersion = compatibility.DefaultBuildEffectiveVersion()
	serving := genericoptions.NewSecureServingOptions().WithLoopback()
	serving.Listener = c.Listener
	serving.BindAddress = addr.IP
	serving.BindPort = addr.Port
	serving.ServerCert.CertKey.CertFile = c.CertFile
	serving.ServerCert.CertKey.KeyFile = c.KeyFile
	if err := serving.ApplyTo(&config.SecureServing, &config.LoopbackClientConfig); err != nil {
		return nil, fmt.Errorf("configuring HTTPS: %w", err)
	}

	storageCodec := scheme.Codecs.LegacyCodec(scheme.GroupVersions...)
	etcd := genericoptions.NewEtcdOptions(storagebackend.NewDefaultConfig("/registry", storageCodec))
	etcd.StorageConfig.EncodeVersioner = schema.GroupVersions(scheme.GroupVersions)
	etcd.StorageConfig.Transport.ServerList = c.EtcdServers
	etcd.StorageConfig.Transport.TrustedCAFile = c.EtcdCAFile
	etcd.StorageConfig.Transport.CertFile = c.EtcdCertFile
	etcd.StorageConfig.Transport.KeyFile = c.EtcdKeyFile
	if err := etcd.ApplyTo(&config.Config); err != nil {
		return nil, fmt.Errorf("configuring etcd storage: %w", err)
	}

	schemeNamer := openapinamer.NewDefinitionNamer(scheme.Scheme)
	namer := definitionNamer{schemeNamer}
	config.OpenAPIConfig = genericapiserver.DefaultOpenAPIConfig(openAPIDefinitions, schemeNamer)
	config.OpenAPIConfig.GetDefinitionName = namer.GetDefinitionName
	config.OpenAPIConfig.Info.Title = "Slipway"
	config.OpenAPIV3Config = genericapiserver.DefaultOpenAPIV3Config(openAPIDefinitions, schemeNamer)
	config.OpenAPIV3Config.GetDefinitionName = namer.GetDefinitionName
	config.OpenAPIV3Config.Info.Title = "Slipway"

	authn := genericoptions.NewDelegatingAuthenticationOptions()
	authn.RemoteKubeConfigFile = c.Kubeconfig
	authn.SkipInClusterLookup = true
	authn.ClientCert.ClientCA = c.ClientCAFile
	authn.RequestHeader = genericoptions.RequestHeaderAuthenticationOptions{
		ClientCAFile:        c.RequestHeaderCAFile,
		AllowedNames:        c.RequestHeaderAllowedNames,
		UsernameHeaders:     []string{"X-Remote-User"},
		UIDHeaders:          []string{"X-Remote-Uid"},
		GroupHeaders:        []string{"X-Remote-Group"},
		ExtraHeaderPrefixes: []string{"X-Remote-Extra-"},
	}
	if err := authn.ApplyTo(&config.Authentication, config.SecureServing, config.OpenAPIConfig); err != nil {
		return nil, fmt.Errorf("configuring delegated authentication: %w", err)
	}
	authz := genericoptions.NewDelegatingAuthorizationOptions()
	authz.RemoteKubeConfigFile = c.Kubeconfig
	// The kube-apiserver calls admission webhooks without credentials; the
	// image lookup webhook only reads image streams and never denies.
	authz.AlwaysAllowPaths = append(authz.AlwaysAllowPaths, imagelookup.WebhookPath, scc.WebhookPath, imageaccess.TriggersWebhookPath)
	if err := authz.ApplyTo(&config.Authorization); err != nil {
		return nil, fmt.Errorf("configuring delegated authorization: %w", err)
	}

	kubeConfig, err := clientcmd.BuildConfigFromFlags("", c.Kubeconfig)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", c.Kubeconfig, err)
	}
	kubeConfig.UserAgent = "slipway-openshift-apiserver"
	// Protobuf, as Kubernetes' own components speak to the kube-apiserver.
	kubeConfig.ContentType = runtime.ContentTypeProtobuf
	kubeConfig.AcceptContentTypes = runtime.ContentTypeProtobuf + "," + runtime.ContentTypeJSON
	kubeConfig.QPS, kubeConfig.Burst = 100, 200
	client, err := kubernetes.NewForConfig(kubeConfig)
	if err != nil {
		return nil, err
	}
	kubeInformers := informers.NewSharedInformerFactory(client, 0)
	config.SharedInformerFactory = kubeInformers
	config.ClientConfig = kubeConfig

	namespaceLifecycle, err := lifecycle.NewLifecycle(sets.New("default", "kube-system", "kube-public", "openshift"))
	if err != nil {
		return nil, err
	}
	namespaceLifecycle.SetExternalKubeClientSet(client)
	namespaceLifecycle.SetExternalKubeInformerFactory(kubeInformers)
	if err := namespaceLifecycle.ValidateInitialization(); err != nil {
		return nil, err
	}
	imageLookup, err := imagelookup.NewForConfig(kubeConfig)
	if err != nil {
		return nil, err
	}
	config.AdmissionControl = admission.NewChainHandler(namespaceLifecycle, imageLookup, imageaccess.New(config.Authorization.Authorizer))
	generic, err := config.Complete().New("slipway-openshift-apiserver", genericapiserver.NewEmptyDelegate())
	if err != nil {
		return nil, err
	}
	optsGetter := config.RESTOptionsGetter
	if c.DataDir != "" {
		optsGetter = podlogs.WithDir(optsGetter, podlogs.Dir(c.DataDir))
	}
	registries := c.Registries
	if registries == nil {
		registries = image.NewClient(image.Options{UserAgent: "slipway"})
	}
	if err := installAPIGroups(generic, optsGetter, kubeConfig, client, config.Authorization.Authorizer, c.RegistryHostname, registries, c.MaxBinaryBuildSize); err != nil {
		return nil, err
	}
	generic.Handler.NonGoRestfulMux.Handle(imagelookup.WebhookPath, imageLookup)
	generic.Handler.NonGoRestfulMux.Handle(scc.WebhookPath, newSCCAdmission(client, kubeInformers.Core().V1().Namespaces().Lister()))
	generic.Handler.NonGoRestfulMux.Handle(imageaccess.TriggersWebhookPath, imageaccess.NewTriggersWebhook(config.Authorization.Authorizer))
	generic.AddPostStartHookOrDie("slipway-kube-informers", func(hook genericapiserver.PostStartHookContext) error {
		kubeInformers.Start(hook.Done())
		return nil
	})
	return &Server{Generic: generic}, nil
}

// newSCCAdmission reads namespaces from the server's cache (the namespace
// lifecycle plugin's informer), and from the kube-apiserver only while
// the cache does not show a namespace's ranges yet; it asks "may this
// user use the constraint" of the kube-apiserver itself, uncached: a
// grant (`adm policy add-scc-to-user`) counts for the very next pod.
func newSCCAdmission(client kubernetes.Interface, namespaces corelisters.NamespaceLister) *scc.Admission {
	return scc.New(
		func(ctx context.Context, name string) (*corev1.Namespace, error) {
			if ns, err := namespaces.Get(name); err == nil && ns.Annotations[scc.UIDRangeAnnotation] != "" {
				return ns, nil
			}
			return client.CoreV1().Namespaces().Get(ctx, name, metav1.GetOptions{})
		},
		func(ctx context.Context, u user.Info, name, namespace string) (bool, error) {
			extra := map[string]authorizationv1.ExtraValue{}
			for k, v := range u.GetExtra() {
				extra[k] = v
			}
			review, err := client.AuthorizationV1().SubjectAccessReviews().Create(ctx, &authorizationv1.SubjectAccessReview{
				Spec: authorizationv1.SubjectAccessReviewSpec{
					User: u.GetName(), UID: u.GetUID(), Groups: u.GetGroups(), Extra: extra,
					ResourceAttributes: &authorizationv1.ResourceAttributes{
						Namespace: namespace, Verb: "use", Group: "security.openshift.io",
						Resource: "securitycontextconstraints", Name: name,
					},
				},
			}, metav1.CreateOptions{})
			if err != nil {
				return false, err
			}
			return review.Status.Allowed, nil
		})
}
