package deploymentconfig

import (
	appsv1 "github.com/openshift/api/apps/v1"
	imagev1client "github.com/openshift/client-go/image/clientset/versioned/typed/image/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apiserver/pkg/registry/generic"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"

	"github.com/slipway-dev/slipway/internal/podlogs"
	"github.com/slipway-dev/slipway/internal/registry/storebase"
)

// REST is the storage of deploymentconfigs, which clients may call "dc"
// and which "oc get all" lists.
type REST = storebase.Named

// Storage holds the REST storage of deploymentconfigs and their
// subresources. Instantiate, Rollback and Log are nil without Clients.
type Storage struct {
	DeploymentConfig *REST
	Status           *storebase.SubresourceREST
	Scale            *ScaleREST
	Instantiate      *InstantiateREST
	Rollback         *RollbackREST
	Log              *LogREST
}

// Clients are what the instantiate, rollback and log subresources read
// through the API: deployments (ReplicationControllers) and pods, and
// image streams to resolve image triggers.
type Clients struct {
	Core   corev1client.CoreV1Interface
	Images imagev1client.ImageV1Interface
}

// NewStorage returns the storage of deploymentconfigs,
// deploymentconfigs/status and deploymentconfigs/scale, and with clients
// also deploymentconfigs/instantiate, /rollback and /log (which reads
// logs from the directory optsGetter carries, podlogs.WithDir).
func NewStorage(optsGetter generic.RESTOptionsGetter, clients *Clients) (*Storage, error) {
	store, err := storebase.NewStore(optsGetter, storebase.Resource{
		Group:    appsv1.GroupName,
		Plural:   "deploymentconfigs",
		Singular: "deploymentconfig",
		New:      func() runtime.Object { return &appsv1.DeploymentConfig{} },
		NewList:  func() runtime.Object { return &appsv1.DeploymentConfigList{} },
		Strategy: Strategy,
		Table:    TableConvertor,
		Attrs:    GetAttrs,
	})
	if err != nil {
		return nil, err
	}
	s := &Storage{
		DeploymentConfig: storebase.WithNames(store, []string{"dc"}, "all"),
		Status:           storebase.NewSubresourceREST(store, StatusStrategy),
		Scale:            &ScaleREST{store: store},
	}
	if clients != nil {
		instantiate := storebase.NewSubresourceREST(store, instantiateStrategy{Strategy})
		s.Instantiate = &InstantiateREST{store: instantiate.Store, streams: clients.Images, rcs: clients.Core}
		s.Rollback = &RollbackREST{dcs: store, rcs: clients.Core}
		dir, ok := podlogs.DirOf(optsGetter)
		s.Log = &LogREST{dcs: store, core: clients.Core, logs: dir, ok: ok, startWait: LogStartWait}
	}
	return s, nil
}
