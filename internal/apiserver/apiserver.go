// Package apiserver assembles Slipway's API server: OpenShift's and
// Kubernetes' API groups on k8s.io/apiserver, stored in etcd, with bearer
// token authentication, namespace-scoped authorization for service accounts
// and secrets encrypted at rest.
package apiserver

import (
	"fmt"
	"net"
	"strconv"

	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apiserver/pkg/admission"
	"k8s.io/apiserver/pkg/admission/plugin/namespace/lifecycle"
	"k8s.io/apiserver/pkg/authentication/request/bearertoken"
	"k8s.io/apiserver/pkg/authentication/request/union"
	"k8s.io/apiserver/pkg/authorization/authorizer"
	openapinamer "k8s.io/apiserver/pkg/endpoints/openapi"
	genericapiserver "k8s.io/apiserver/pkg/server"
	genericoptions "k8s.io/apiserver/pkg/server/options"
	"k8s.io/apiserver/pkg/storage/storagebackend"
	"k8s.io/apiserver/pkg/util/compatibility"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/slipway-dev/slipway/internal/admission/imagelookup"
	"github.com/slipway-dev/slipway/internal/auth"
	"github.com/slipway-dev/slipway/internal/image"
	"github.com/slipway-dev/slipway/internal/podlogs"
	"github.com/slipway-dev/slipway/internal/scheme"
)

// Config is what the API server needs from its caller.
type Config struct {
	// Listen is the host:port the HTTPS API listens on.
	Listen string
	// CertFile and KeyFile are the serving certificate and its key.
	CertFile, KeyFile string
	// EtcdServers are the etcd client URLs objects are stored at.
	EtcdServers []string
	// EtcdCAFile, EtcdCertFile, EtcdKeyFile secure the connection to an external etcd.
	EtcdCAFile, EtcdCertFile, EtcdKeyFile string
	// EncryptionConfigFile is an EncryptionConfiguration for data at rest.
	EncryptionConfigFile string
	// AdminToken authenticates as system:admin.
	AdminToken string
	// RegistryHostname is the internal registry's host:port, as image
	// streams report it in status.dockerImageRepository; empty when none.
	RegistryHostname string
	// DataDir is where the node agent keeps pod logs, which pods/log and
	// builds/log read; empty serves no logs.
	DataDir string
	// Registries is the registry client imagestreamimports use; nil means
	// one with no extra trust (loopback registries over plain HTTP, the
	// system CAs for the others).
	Registries *image.Client
}

// Server is a configured, not yet running, API server.
type Server struct {
	Generic *genericapiserver.GenericAPIServer
	// Loopback is a privileged client configuration for in-process controllers.
	Loopback *rest.Config
	// KubeInformers is started with the server; controllers may share it.
	KubeInformers informers.SharedInformerFactory
}

// New builds the API server described by c.
func New(c Config) (*Server, error) {
	host, portStr, err := net.SplitHostPort(c.Listen)
	if err != nil {
		return nil, fmt.Errorf("--listen %q: %w", c.Listen, err)
	}
	port, err := strconv.Atoi(portStr)
	if err != nil {
		return nil, fmt.Errorf("--listen %q: bad port", c.Listen)
	}

	config := genericapiserver.NewRecommendedConfig(scheme.Codecs)
	config.EffectiveVersion = compatibility.DefaultBuildEffectiveVersion()

	serving := genericoptions.NewSecureServingOptions().WithLoopback()
	serving.BindAddress = net.ParseIP(host)
	if serving.BindAddress == nil {
		return nil, fmt.Errorf("--listen %q: host must be an IP address", c.Listen)
	}
	serving.BindPort = port
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
	etcd.EncryptionProviderConfigFilepath = c.EncryptionConfigFile
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

	client, err := kubernetes.NewForConfig(config.LoopbackClientConfig)
	if err != nil {
		return nil, err
	}
	kubeInformers := informers.NewSharedInformerFactory(client, 0)
	config.SharedInformerFactory = kubeInformers
	config.ClientConfig = config.LoopbackClientConfig

	secrets := kubeInformers.Core().V1().Secrets().Informer()
	if err := auth.AddTokenIndex(secrets); err != nil {
		return nil, err
	}
	tokens := auth.NewTokenAuthenticator(c.AdminToken, secrets.GetIndexer(), kubeInformers.Core().V1().ServiceAccounts().Lister())
	config.Authentication.Authenticator = union.New(bearertoken.New(tokens), auth.WebhookAnonymous{})
	config.Authorization.Authorizer = authorizer.AuthorizerFunc(auth.Authorizer{}.Authorize)
	genericapiserver.AuthorizeClientBearerToken(config.LoopbackClientConfig, &config.Authentication, &config.Authorization)

	namespaceLifecycle, err := lifecycle.NewLifecycle(sets.New("default", "kube-system", "kube-public", "openshift"))
	if err != nil {
		return nil, err
	}
	namespaceLifecycle.SetExternalKubeClientSet(client)
	namespaceLifecycle.SetExternalKubeInformerFactory(kubeInformers)
	if err := namespaceLifecycle.ValidateInitialization(); err != nil {
		return nil, err
	}
	imageLookup, err := imagelookup.NewForConfig(config.LoopbackClientConfig)
	if err != nil {
		return nil, err
	}
	config.AdmissionControl = admission.NewChainHandler(namespaceLifecycle, imageLookup)

	generic, err := config.Complete().New("slipway", genericapiserver.NewEmptyDelegate())
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
	if err := installAPIGroups(generic, optsGetter, config.LoopbackClientConfig, c.RegistryHostname, registries); err != nil {
		return nil, err
	}
	generic.AddPostStartHookOrDie("slipway-system-namespaces", ensureSystemNamespaces(client))
	return &Server{Generic: generic, Loopback: config.LoopbackClientConfig, KubeInformers: kubeInformers}, nil
}
