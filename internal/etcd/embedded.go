// Package etcd runs the embedded etcd member Slipway stores its objects in
// when no external etcd cluster is given.
package etcd

import (
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"go.etcd.io/etcd/client/pkg/v3/transport"
	"go.etcd.io/etcd/server/v3/embed"

	"github.com/slipway-dev/slipway/internal/pki"
)

// Embedded is a single-member etcd running inside the Slipway process.
type Embedded struct {
	etcd *embed.Etcd
	// ClientURL is where the member answers clients (HTTPS on loopback).
	ClientURL string
	// CAFile, ClientCert and ClientKey are what a client needs: the member
	// answers only clients with a certificate of its own CA.
	CAFile, ClientCert, ClientKey string
}

// Start runs an etcd member with its data under dir, listening on free
// loopback ports, and waits until it serves. The member keeps its data
// across restarts; only the ports change.
//
// Anything on the machine can open a loopback port (a build step, a
// container sharing the host's network), so the member speaks TLS and
// accepts only clients holding a certificate of its own CA, kept in
// pkiDir (0700) with the member's serving certificate and the one client
// certificate, Slipway's API servers'. The CA is etcd's alone: no
// certificate issued for the API (a node's, a user's) opens etcd.
func Start(dir, pkiDir string, readyTimeout time.Duration) (*Embedded, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	files, err := ensurePKI(pkiDir)
	if err != nil {
		return nil, err
	}
	clientURL, err := freeLoopbackURL()
	if err != nil {
		return nil, err
	}
	peerURL, err := freeLoopbackURL()
	if err != nil {
		return nil, err
	}
	cfg := embed.NewConfig()
	cfg.Name = "slipway"
	cfg.Dir = dir
	cfg.ListenClientUrls = []url.URL{*clientURL}
	cfg.AdvertiseClientUrls = []url.URL{*clientURL}
	cfg.ListenPeerUrls = []url.URL{*peerURL}
	cfg.AdvertisePeerUrls = []url.URL{*peerURL}
	cfg.InitialCluster = cfg.InitialClusterFromName(cfg.Name)
	// A restarted single member must not try to join a cluster again.
	cfg.ClusterState = embed.ClusterStateFlagNew
	cfg.ForceNewCluster = true
	cfg.Logger = "zap"
	cfg.LogLevel = "error"
	// Kubernetes compacts through the API server; keep etcd's own history short too.
	cfg.AutoCompactionMode = "periodic"
	cfg.AutoCompactionRetention = "1h"
	// Client and peer ports alike: TLS, and a certificate of the member's
	// CA from the other side (a single member has no peers to let in).
	member := transport.TLSInfo{
		CertFile: files.serverCert, KeyFile: files.serverKey,
		TrustedCAFile: files.ca, ClientCertAuth: true,
	}
	cfg.ClientTLSInfo, cfg.PeerTLSInfo = member, member
	e, err := embed.StartEtcd(cfg)
	if err != nil {
		return nil, fmt.Errorf("starting embedded etcd in %s: %w", dir, err)
	}
	select {
	case <-e.Server.ReadyNotify():
	case err := <-e.Err():
		e.Close()
		return nil, fmt.Errorf("embedded etcd failed: %w", err)
	case <-time.After(readyTimeout):
		e.Server.Stop()
		e.Close()
		return nil, fmt.Errorf("embedded etcd did not become ready within %s", readyTimeout)
	}
	return &Embedded{etcd: e, ClientURL: clientURL.String(), CAFile: files.ca, ClientCert: files.clientCert, ClientKey: files.clientKey}, nil
}

// pkiFiles are the member's certificates under one directory.
type pkiFiles struct {
	ca, serverCert, serverKey, clientCert, clientKey string
}

// ensurePKI creates, or keeps, the member's CA, serving certificate and
// client certificate in dir.
func ensurePKI(dir string) (pkiFiles, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return pkiFiles{}, err
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return pkiFiles{}, err
	}
	f := pkiFiles{
		ca:         filepath.Join(dir, "ca.crt"),
		serverCert: filepath.Join(dir, "server.crt"), serverKey: filepath.Join(dir, "server.key"),
		clientCert: filepath.Join(dir, "client.crt"), clientKey: filepath.Join(dir, "client.key"),
	}
	ca, err := pki.LoadOrCreateCA(f.ca, filepath.Join(dir, "ca.key"), "slipway-etcd-ca")
	if err != nil {
		return pkiFiles{}, fmt.Errorf("etcd CA: %w", err)
	}
	if err := ca.EnsureServingCert(f.serverCert, f.serverKey, "slipway-etcd", []string{"127.0.0.1", "localhost"}); err != nil {
		return pkiFiles{}, fmt.Errorf("etcd serving certificate: %w", err)
	}
	if err := ca.EnsureClientCert(f.clientCert, f.clientKey, "slipway-apiserver", nil); err != nil {
		return pkiFiles{}, fmt.Errorf("etcd client certificate: %w", err)
	}
	return f, nil
}

// Stop shuts the member down and releases its data directory.
func (e *Embedded) Stop() {
	e.etcd.Close()
}

// freeLoopbackURL asks the kernel for a free port on 127.0.0.1.
func freeLoopbackURL() (*url.URL, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	addr := l.Addr().String()
	if err := l.Close(); err != nil {
		return nil, err
	}
	return &url.URL{Scheme: "https", Host: addr}, nil
}
