package startbuild_bench

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"time"

	buildv1 "github.com/openshift/api/build/v1"
	buildclient "github.com/openshift/client-go/build/clientset/versioned"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
)

// timeline records when each Build and Pod of a namespace changed phase,
// as seen by a watching client, so that the benchmark can print where the
// time of one start-build goes (SLIPWAY_BENCH_TRACE=1).
type timeline struct {
	mu     sync.Mutex
	events []traceEvent
}

type traceEvent struct {
	at   time.Time
	what string
}

func (t *timeline) add(what string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.events = append(t.events, traceEvent{at: time.Now(), what: what})
}

// watch follows builds and pods of ns until ctx ends.
func (t *timeline) watch(ctx context.Context, builds buildclient.Interface, pods kubernetes.Interface, ns string) error {
	bw, err := builds.BuildV1().Builds(ns).Watch(ctx, metav1.ListOptions{})
	if err != nil {
		return err
	}
	pw, err := pods.CoreV1().Pods(ns).Watch(ctx, metav1.ListOptions{})
	if err != nil {
		return err
	}
	go func() {
		last := map[string]string{}
		for {
			select {
			case <-ctx.Done():
				bw.Stop()
				pw.Stop()
				return
			case ev := <-bw.ResultChan():
				if b, ok := ev.Object.(*buildv1.Build); ok {
					state := fmt.Sprintf("build %s %s %s", b.Name, ev.Type, b.Status.Phase)
					if b.Status.Output.To != nil && b.Status.Output.To.ImageDigest != "" {
						state += " digest"
					}
					if last[b.Name] != state || ev.Type != watch.Modified {
						last[b.Name] = state
						t.add(state)
					}
				}
			case ev := <-pw.ResultChan():
				if p, ok := ev.Object.(*corev1.Pod); ok {
					state := fmt.Sprintf("pod %s %s %s", p.Name, ev.Type, p.Status.Phase)
					for _, c := range p.Status.ContainerStatuses {
						switch {
						case c.State.Running != nil:
							state += " " + c.Name + "=running"
						case c.State.Terminated != nil:
							state += " " + c.Name + "=terminated"
						}
					}
					if last[p.Name] != state {
						last[p.Name] = state
						t.add(state)
					}
				}
			}
		}
	}()
	return nil
}

// print writes the events of build name (and its pod) after start, with
// offsets, and the build's own stage durations.
func (t *timeline) print(w io.Writer, start time.Time, b *buildv1.Build) {
	t.mu.Lock()
	events := append([]traceEvent(nil), t.events...)
	t.mu.Unlock()
	sort.SliceStable(events, func(i, j int) bool { return events[i].at.Before(events[j].at) })
	fmt.Fprintf(w, "timeline of %s:\n", b.Name)
	for _, e := range events {
		if e.at.Before(start) || !strings.Contains(e.what, b.Name) {
			continue
		}
		fmt.Fprintf(w, "  %6d ms  %s\n", e.at.Sub(start).Milliseconds(), e.what)
	}
	for _, s := range b.Status.Stages {
		fmt.Fprintf(w, "  stage %-14s %5d ms:", s.Name, s.DurationMilliseconds)
		for _, st := range s.Steps {
			fmt.Fprintf(w, " %s %d ms", st.Name, st.DurationMilliseconds)
		}
		fmt.Fprintln(w)
	}
}
