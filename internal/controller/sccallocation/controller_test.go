package sccallocation

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"

	"github.com/slipway-dev/slipway/internal/admission/scc"
)

func TestMCSLabel(t *testing.T) {
	for block, want := range []string{"s0:c1,c0", "s0:c2,c0", "s0:c2,c1", "s0:c3,c0", "s0:c3,c1", "s0:c3,c2", "s0:c4,c0"} {
		if got := MCSLabel(int64(block)); got != want {
			t.Errorf("MCSLabel(%d) = %s; want %s", block, got, want)
		}
	}
}

// freeBlock takes the lowest block that neither a namespace (as the cache
// shows it) nor an allocation the cache does not show yet holds.
func TestFreeBlock(t *testing.T) {
	indexer := cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{})
	add := func(name, uids string) {
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
		if uids != "" {
			ns.Annotations = map[string]string{scc.UIDRangeAnnotation: uids}
		}
		if err := indexer.Add(ns); err != nil {
			t.Fatal(err)
		}
	}
	add("a", "1000000000/10000")
	add("b", "1000020000/10000")
	add("c", "")
	add("d", "")
	add("admin-set", "5000/100") // outside the allocator's blocks
	c := &Controller{namespaces: corelisters.NewNamespaceLister(indexer), given: map[int64]string{}}
	if b, err := c.freeBlock("c"); err != nil || b != 1 {
		t.Fatalf("first free block = %d, %v; want 1", b, err)
	}
	// c's block is not in the cache yet: d must not get it too.
	if b, err := c.freeBlock("d"); err != nil || b != 3 {
		t.Fatalf("next free block = %d, %v; want 3", b, err)
	}
	// A namespace deleted before the cache showed its block frees it.
	if err := indexer.Delete(&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "c"}}); err != nil {
		t.Fatal(err)
	}
	add("e", "")
	if b, err := c.freeBlock("e"); err != nil || b != 1 {
		t.Fatalf("free block after c went = %d, %v; want 1", b, err)
	}
}
