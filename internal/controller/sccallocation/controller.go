// Package sccallocation gives every namespace its block of user and group
// IDs, as OpenShift's namespace security allocation controller does: the
// openshift.io/sa.scc.uid-range, supplemental-groups and mcs annotations
// that restricted-v2 pods of the namespace run with (internal/admission/scc).
// Blocks of 10,000 IDs from 1,000,000,000, the lowest free one first; one
// worker, so that two namespaces never get the same block.
package sccallocation

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	coreinformers "k8s.io/client-go/informers/core/v1"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"

	"github.com/slipway-dev/slipway/internal/admission/scc"
	"github.com/slipway-dev/slipway/internal/controller/worker"
)

// ControllerName names the work queue and the log records.
const ControllerName = "scc-allocation"

// OpenShift's defaults: blocks of BlockSize IDs from First, as many as fit
// below 2,000,000,000.
const (
	First     = 1_000_000_000
	BlockSize = 10_000
	Blocks    = 100_000
)

// Controller annotates namespaces with their ID blocks. Its queue holds
// namespace names.
type Controller struct {
	client     kubernetes.Interface
	namespaces corelisters.NamespaceLister
	synced     []cache.InformerSynced
	queue      worker.Queue
	log        *slog.Logger

	mu sync.Mutex
	// given are the blocks this controller wrote that its cache may not
	// show yet.
	given map[int64]string
}

// New returns a controller watching namespaces through informer (started
// by the caller) and writing through client.
func New(client kubernetes.Interface, namespaces coreinformers.NamespaceInformer) *Controller {
	c := &Controller{
		client:     client,
		namespaces: namespaces.Lister(),
		synced:     []cache.InformerSynced{namespaces.Informer().HasSynced},
		queue:      worker.NewQueue(ControllerName),
		log:        slog.Default().With("controller", ControllerName),
		given:      map[int64]string{},
	}
	enqueue := func(obj any) {
		if ns, ok := obj.(*corev1.Namespace); ok {
			if _, done := ns.Annotations[scc.UIDRangeAnnotation]; !done {
				c.queue.Add(ns.Name)
			}
		}
	}
	_, _ = namespaces.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    enqueue,
		UpdateFunc: func(_, obj any) { enqueue(obj) },
	})
	return c
}

// Run allocates until ctx ends, with one worker whatever workers says:
// allocation must see its own previous choice.
func (c *Controller) Run(ctx context.Context, _ int) error {
	return worker.Run(ctx, ControllerName, c.queue, 1, c.synced, c.sync)
}

func (c *Controller) sync(ctx context.Context, name string) error {
	ns, err := c.namespaces.Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if _, done := ns.Annotations[scc.UIDRangeAnnotation]; done || ns.DeletionTimestamp != nil {
		return nil
	}
	block, err := c.freeBlock(name)
	if err != nil {
		return err
	}
	uids := scc.Range{First: First + block*BlockSize, Size: BlockSize}
	// The patch carries the resourceVersion it was computed on: a
	// namespace annotated meanwhile (by an admin) is not overwritten.
	patch, err := json.Marshal(map[string]any{"metadata": map[string]any{
		"resourceVersion": ns.ResourceVersion,
		"annotations": map[string]string{
			scc.UIDRangeAnnotation:           uids.String(),
			scc.SupplementalGroupsAnnotation: uids.String(),
			scc.MCSAnnotation:                MCSLabel(block),
		},
	}})
	if err != nil {
		return err
	}
	if _, err := c.client.CoreV1().Namespaces().Patch(ctx, name, types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
		c.forget(block)
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("annotating namespace %s with its ID ranges: %w", name, err)
	}
	c.log.Info("allocated ID ranges", "namespace", name, "uids", uids.String())
	return nil
}

// freeBlock returns the lowest block no namespace has, and records it as
// given to name.
func (c *Controller) freeBlock(name string) (int64, error) {
	all, err := c.namespaces.List(labels.Everything())
	if err != nil {
		return 0, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	used := map[int64]bool{}
	seen := map[string]bool{}
	for _, ns := range all {
		seen[ns.Name] = true
		r, err := scc.ParseRange(ns.Annotations[scc.UIDRangeAnnotation])
		if err != nil {
			continue
		}
		if b := (r.First - First) / BlockSize; r.First >= First && b < Blocks {
			used[b] = true
			if c.given[b] == ns.Name {
				delete(c.given, b) // the cache shows it now
			}
		}
	}
	for b, owner := range c.given {
		if seen[owner] {
			used[b] = true
		} else {
			delete(c.given, b)
		}
	}
	for b := int64(0); b < Blocks; b++ {
		if !used[b] {
			c.given[b] = name
			return b, nil
		}
	}
	return 0, fmt.Errorf("no free block of %d IDs left for namespace %s", BlockSize, name)
}

func (c *Controller) forget(block int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.given, block)
}

// MCSLabel is block's SELinux MCS label, as OpenShift numbers them: the
// pairs of categories c(a),c(b) with a > b, in order (s0:c1,c0, s0:c2,c0,
// s0:c2,c1, s0:c3,c0, ...). Slipway runs no SELinux; the annotation is
// kept for manifests and tools that read it.
func MCSLabel(block int64) string {
	a := int64(1)
	for block >= a {
		block -= a
		a++
	}
	return fmt.Sprintf("s0:c%d,c%d", a, block)
}
