// Package etcd runs the embedded etcd member Slipway stores its objects in
// when no external etcd cluster is given.
package etcd

import (
	"fmt"
	"net"
	"net/url"
	"os"
	"time"

	"go.etcd.io/etcd/server/v3/embed"
)

// Embedded is a single-member etcd running inside the Slipway process.
type Embedded struct {
	etcd *embed.Etcd
	// ClientURL is where the member answers clients (plain HTTP on loopback).
	ClientURL string
}

// Start runs an etcd member with its data under dir, listening on free
// loopback ports, and waits until it serves. The member keeps its data
// across restarts; only the ports change.
func Start(dir string, readyTimeout time.Duration) (*Embedded, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
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
	return &Embedded{etcd: e, ClientURL: clientURL.String()}, nil
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
	return &url.URL{Scheme: "http", Host: addr}, nil
}
