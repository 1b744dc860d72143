package server

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"go.etcd.io/etcd/client/pkg/v3/transport"
	clientv3 "go.etcd.io/etcd/client/v3"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// Layout 1 stored Slipway's own core kinds in etcd at
// /registry/<resource>/<namespace>/<name>, as JSON, secrets under the key of
// encryption-config.yaml. Kubernetes' storage reads them there, but for two
// kinds that it keeps under other keys:
//
//   - ReplicationControllers are at /registry/controllers/: layout 1's are
//     moved there as they are (their UIDs, so their pods' owner references,
//     are kept).
//   - Services are at /registry/services/specs/ and have a cluster IP, which
//     layout 1 did not allocate: layout 1's are parked under
//     layout1ParkedServices before the kube-apiserver starts and created
//     again through the API once it serves, which allocates one (node ports
//     and external IPs are kept); the parked key goes once its Service
//     exists.
//
// Each step is idempotent, and the layout file is written only when both are
// done, so a server stopped in between finishes the migration at its next
// start.
const (
	etcdPrefix            = "/registry/"
	layout1ParkedServices = "/slipway/layout1/services/"
)

// layout1Moves are the keys of layout 1 that Kubernetes reads elsewhere:
// every key from+NAMESPACE/NAME moves to to+NAMESPACE/NAME.
var layout1Moves = []struct{ from, to string }{
	{etcdPrefix + "replicationcontrollers/", etcdPrefix + "controllers/"},
	// Kubernetes' own keys under services/ (specs/NS/NAME, endpoints/NS/NAME)
	// have one more segment and stay.
	{etcdPrefix + "services/", layout1ParkedServices},
}

// layout1Migration moves a layout 1 data directory's objects to where the
// Kubernetes control plane reads them.
type layout1Migration struct {
	etcd *clientv3.Client
}

// startLayout1Migration connects to etcd and moves the keys Kubernetes reads
// elsewhere; it must run before the kube-apiserver starts.
func startLayout1Migration(ctx context.Context, servers []string, caFile, certFile, keyFile string) (*layout1Migration, error) {
	var tlsConfig *tls.Config
	if caFile != "" || certFile != "" {
		var err error
		tlsConfig, err = transport.TLSInfo{TrustedCAFile: caFile, CertFile: certFile, KeyFile: keyFile}.ClientConfig()
		if err != nil {
			return nil, fmt.Errorf("etcd client TLS: %w", err)
		}
	} else if len(servers) > 0 && strings.HasPrefix(servers[0], "https://") {
		tlsConfig = &tls.Config{}
	}
	client, err := clientv3.New(clientv3.Config{Endpoints: servers, TLS: tlsConfig, DialTimeout: 10 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("connecting to etcd %s: %w", strings.Join(servers, ","), err)
	}
	m := &layout1Migration{etcd: client}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	for _, move := range layout1Moves {
		if err := m.move(ctx, move.from, move.to); err != nil {
			client.Close()
			return nil, fmt.Errorf("migrating the data directory of layout 1: %w", err)
		}
	}
	return m, nil
}

func (m *layout1Migration) close() { m.etcd.Close() }

// move moves every key from+NS/NAME to to+NS/NAME unless that one exists
// already, which is logged and leaves both.
func (m *layout1Migration) move(ctx context.Context, from, to string) error {
	resp, err := m.etcd.Get(ctx, from, clientv3.WithPrefix())
	if err != nil {
		return fmt.Errorf("listing %s: %w", from, err)
	}
	moved := 0
	for _, kv := range resp.Kvs {
		oldKey := string(kv.Key)
		rest := strings.TrimPrefix(oldKey, from)
		if strings.Count(rest, "/") != 1 {
			continue
		}
		newKey := to + rest
		txn, err := m.etcd.Txn(ctx).
			If(clientv3.Compare(clientv3.CreateRevision(newKey), "=", 0), clientv3.Compare(clientv3.ModRevision(oldKey), "=", kv.ModRevision)).
			Then(clientv3.OpPut(newKey, string(kv.Value)), clientv3.OpDelete(oldKey)).
			Commit()
		if err != nil {
			return fmt.Errorf("moving %s to %s: %w", oldKey, newKey, err)
		}
		if !txn.Succeeded {
			slog.Warn("an object of layout 1 was not moved: its new key is taken (or it changed); the object stays at its old key", "key", oldKey, "newKey", newKey)
			continue
		}
		moved++
	}
	if moved > 0 {
		slog.Info("objects of layout 1 moved", "from", from, "to", to, "count", moved)
	}
	return nil
}

// finish creates the parked Services of layout 1 through the API. It
// reports whether every one exists now; one that cannot be created is
// logged and stays parked, to be tried again at the next start.
func (m *layout1Migration) finish(ctx context.Context, kube kubernetes.Interface) (bool, error) {
	resp, err := m.etcd.Get(ctx, layout1ParkedServices, clientv3.WithPrefix())
	if err != nil {
		return false, fmt.Errorf("listing the Services of layout 1: %w", err)
	}
	done := true
	for _, kv := range resp.Kvs {
		var svc corev1.Service
		if err := json.Unmarshal(kv.Value, &svc); err != nil {
			slog.Error("a Service of layout 1 cannot be read; it stays in etcd", "key", string(kv.Key), "err", err)
			done = false
			continue
		}
		_, err := kube.CoreV1().Services(svc.Namespace).Create(ctx, layout1Service(&svc), metav1.CreateOptions{FieldManager: "slipway-layout1"})
		if err != nil && !apierrors.IsAlreadyExists(err) {
			slog.Error("a Service of layout 1 cannot be created again; it stays in etcd and is tried again at the next start", "service", svc.Namespace+"/"+svc.Name, "key", string(kv.Key), "err", err)
			done = false
			continue
		}
		if _, err := m.etcd.Delete(ctx, string(kv.Key)); err != nil {
			return false, fmt.Errorf("removing %s: %w", kv.Key, err)
		}
		slog.Info("Service of layout 1 created again with a cluster IP", "service", svc.Namespace+"/"+svc.Name)
	}
	return done, nil
}

// layout1Service is what is created for a Service of layout 1: the same
// metadata and spec, with a cluster IP to allocate (a headless one stays
// headless).
func layout1Service(old *corev1.Service) *corev1.Service {
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{
			Name:            old.Name,
			Namespace:       old.Namespace,
			Labels:          old.Labels,
			Annotations:     old.Annotations,
			OwnerReferences: old.OwnerReferences,
			Finalizers:      old.Finalizers,
		},
		Spec: old.Spec,
	}
	if svc.Spec.ClusterIP != corev1.ClusterIPNone {
		svc.Spec.ClusterIP, svc.Spec.ClusterIPs = "", nil
	}
	return svc
}
