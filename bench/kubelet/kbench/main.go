// Command kbench is the Go half of bench/kubelet/run.sh: it makes the
// images the benchmark runs (a busybox image and a pause image, both from
// Debian's static /bin/busybox, written as one docker-archive tarball for
// `ctr images import`, or pushed to a registry), and it times what the
// script measures against a kube-apiserver: a Node becoming Ready, and
// pods created one after another reaching Running.
//
//	kbench images -out images.tar -busybox REF -pause REF
//	kbench push -ref HOST:PORT/ns/busybox:1 -user u -password TOKEN
//	kbench wait-node -kubeconfig K -node N -start UNIX_NANOS
//	kbench pods -kubeconfig K -node N -namespace NS -image REF -count 10
//	kbench delete-pods -kubeconfig K -namespace NS
//
// Results are printed as "key=value" lines the script collects.
package main

import (
	"archive/tar"
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"slices"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: kbench images|push|wait-node|pods|delete-pods [flags]")
		os.Exit(2)
	}
	var err error
	switch cmd, args := os.Args[1], os.Args[2:]; cmd {
	case "images":
		err = images(args)
	case "push":
		err = push(args)
	case "wait-node":
		err = waitNode(args)
	case "pods":
		err = pods(args)
	case "delete-pods":
		err = deletePods(args)
	default:
		err = fmt.Errorf("unknown command %q", cmd)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "kbench:", err)
		os.Exit(1)
	}
}

// busybox is an image of Debian's static busybox (/bin/busybox plus a
// symlink per applet) running cmd.
func busybox(entrypoint, cmd []string) (v1.Image, error) {
	bin, err := os.ReadFile("/bin/busybox")
	if err != nil {
		return nil, fmt.Errorf("reading /bin/busybox (apt-get install busybox-static): %w", err)
	}
	list, err := exec.Command("/bin/busybox", "--list").Output()
	if err != nil {
		return nil, fmt.Errorf("busybox --list: %w", err)
	}
	out := string(list)
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	hdrs := []*tar.Header{
		{Name: "bin/", Typeflag: tar.TypeDir, Mode: 0o755},
		{Name: "tmp/", Typeflag: tar.TypeDir, Mode: 0o1777},
		{Name: "bin/busybox", Typeflag: tar.TypeReg, Mode: 0o755, Size: int64(len(bin))},
	}
	for _, h := range hdrs {
		if err := tw.WriteHeader(h); err != nil {
			return nil, err
		}
		if h.Typeflag == tar.TypeReg {
			if _, err := tw.Write(bin); err != nil {
				return nil, err
			}
		}
	}
	for applet := range strings.FieldsSeq(out) {
		if applet == "busybox" {
			continue
		}
		if err := tw.WriteHeader(&tar.Header{Name: "bin/" + applet, Typeflag: tar.TypeSymlink, Linkname: "busybox", Mode: 0o777}); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(buf.Bytes())), nil })
	if err != nil {
		return nil, err
	}
	img, err := mutate.ConfigFile(empty.Image, &v1.ConfigFile{
		Architecture: "amd64",
		OS:           "linux",
		Config: v1.Config{
			Entrypoint: entrypoint,
			Cmd:        cmd,
			Env:        []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"},
		},
		RootFS: v1.RootFS{Type: "layers"},
	})
	if err != nil {
		return nil, err
	}
	return mutate.AppendLayers(img, layer)
}

// images writes the busybox image and the pause image (busybox sleeping
// for ~68 years: the sandbox only has to hold the pod's namespaces) to one
// docker-archive tarball.
func images(args []string) error {
	fs := flag.NewFlagSet("images", flag.ExitOnError)
	out := fs.String("out", "images.tar", "tarball to write")
	bb := fs.String("busybox", "localhost/kbench/busybox:1", "reference of the busybox image")
	pause := fs.String("pause", "localhost/kbench/pause:1", "reference of the pause image")
	_ = fs.Parse(args)
	bbImg, err := busybox(nil, []string{"sh"})
	if err != nil {
		return err
	}
	pauseImg, err := busybox([]string{"/bin/sleep", "2147483647"}, nil)
	if err != nil {
		return err
	}
	bbRef, err := name.NewTag(*bb)
	if err != nil {
		return err
	}
	pauseRef, err := name.NewTag(*pause)
	if err != nil {
		return err
	}
	return tarball.MultiRefWriteToFile(*out, map[name.Reference]v1.Image{bbRef: bbImg, pauseRef: pauseImg})
}

// push pushes the busybox image to a plain-HTTP registry.
func push(args []string) error {
	fs := flag.NewFlagSet("push", flag.ExitOnError)
	ref := fs.String("ref", "", "HOST:PORT/NAMESPACE/NAME:TAG")
	user := fs.String("user", "unused", "registry user")
	password := fs.String("password", "", "registry password (Slipway's registry: an API token)")
	_ = fs.Parse(args)
	img, err := busybox(nil, []string{"sh"})
	if err != nil {
		return err
	}
	r, err := name.NewTag(*ref, name.Insecure)
	if err != nil {
		return err
	}
	return remote.Write(r, img, remote.WithAuth(&authn.Basic{Username: *user, Password: *password}))
}

func client(kubeconfig string) (kubernetes.Interface, error) {
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return nil, err
	}
	cfg.QPS, cfg.Burst = 100, 200
	return kubernetes.NewForConfig(cfg)
}

// waitNode polls the Node every 50 ms and prints when it was first seen
// and when it was first Ready, in seconds since -start.
func waitNode(args []string) error {
	fs := flag.NewFlagSet("wait-node", flag.ExitOnError)
	kubeconfig := fs.String("kubeconfig", "", "kubeconfig")
	node := fs.String("node", "", "node name")
	start := fs.Int64("start", 0, "start time, Unix nanoseconds")
	timeout := fs.Duration("timeout", 3*time.Minute, "how long to wait")
	_ = fs.Parse(args)
	c, err := client(*kubeconfig)
	if err != nil {
		return err
	}
	t0 := time.Unix(0, *start)
	var seen time.Time
	var lastCond string
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	err = wait.PollUntilContextCancel(ctx, 50*time.Millisecond, true, func(ctx context.Context) (bool, error) {
		n, err := c.CoreV1().Nodes().Get(ctx, *node, metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		if seen.IsZero() {
			seen = time.Now()
		}
		for _, cond := range n.Status.Conditions {
			if cond.Type == corev1.NodeReady {
				lastCond = fmt.Sprintf("%s %s: %s", cond.Status, cond.Reason, cond.Message)
				if cond.Status == corev1.ConditionTrue {
					return true, nil
				}
			}
		}
		return false, nil
	})
	if err != nil {
		return fmt.Errorf("node %s not Ready after %s (seen: %v, Ready condition: %s)", *node, *timeout, !seen.IsZero(), lastCond)
	}
	ready := time.Now()
	fmt.Printf("node_registered_s=%.2f\n", seen.Sub(t0).Seconds())
	fmt.Printf("node_ready_s=%.2f\n", ready.Sub(t0).Seconds())
	return nil
}

// pods creates one warm-up pod and then -count pods, one after another,
// each after the previous one is Running, and prints each pod's time from
// the create call to Running as observed by polling every 50 ms. The pods
// keep running (sleep 3600).
func pods(args []string) error {
	fs := flag.NewFlagSet("pods", flag.ExitOnError)
	kubeconfig := fs.String("kubeconfig", "", "kubeconfig")
	node := fs.String("node", "", "node the pods must land on (checked)")
	ns := fs.String("namespace", "kbench", "namespace (created when missing)")
	image := fs.String("image", "", "image")
	count := fs.Int("count", 10, "pods to time")
	_ = fs.Parse(args)
	c, err := client(*kubeconfig)
	if err != nil {
		return err
	}
	ctx := context.Background()
	if _, err := c.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: *ns}}, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return err
	}
	var times []time.Duration
	for i := 0; i <= *count; i++ {
		podName := fmt.Sprintf("p%02d", i)
		if i == 0 {
			podName = "warmup"
		}
		d, err := startPod(ctx, c, *ns, podName, *image, *node)
		if err != nil {
			return err
		}
		if i == 0 {
			fmt.Printf("pod_first_s=%.3f\n", d.Seconds())
			continue
		}
		times = append(times, d)
	}
	sorted := slices.Clone(times)
	slices.Sort(sorted)
	var all []string
	for _, d := range times {
		all = append(all, fmt.Sprintf("%.3f", d.Seconds()))
	}
	fmt.Printf("pod_all_s=%s\n", strings.Join(all, ","))
	fmt.Printf("pod_median_s=%.3f\n", sorted[len(sorted)/2].Seconds())
	fmt.Printf("pod_min_s=%.3f\n", sorted[0].Seconds())
	fmt.Printf("pod_max_s=%.3f\n", sorted[len(sorted)-1].Seconds())
	return nil
}

func startPod(ctx context.Context, c kubernetes.Interface, ns, podName, image, node string) (time.Duration, error) {
	grace := int64(1)
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: podName, Labels: map[string]string{"app": "kbench"}},
		Spec: corev1.PodSpec{
			TerminationGracePeriodSeconds: &grace,
			Containers: []corev1.Container{{
				Name:            "c",
				Image:           image,
				ImagePullPolicy: corev1.PullIfNotPresent,
				Command:         []string{"sleep", "3600"},
			}},
		},
	}
	// The namespace's default service account may not exist yet.
	var start time.Time
	err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		start = time.Now()
		_, err := c.CoreV1().Pods(ns).Create(ctx, pod, metav1.CreateOptions{})
		if err != nil && strings.Contains(err.Error(), "serviceaccount") {
			return false, nil
		}
		return err == nil, err
	})
	if err != nil {
		return 0, fmt.Errorf("creating pod %s: %w", podName, err)
	}
	var last *corev1.Pod
	err = wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, 3*time.Minute, false, func(ctx context.Context) (bool, error) {
		p, err := c.CoreV1().Pods(ns).Get(ctx, podName, metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		last = p
		return p.Status.Phase == corev1.PodRunning, nil
	})
	d := time.Since(start)
	if err != nil {
		status := ""
		if last != nil {
			status = fmt.Sprintf("phase %s, node %q, conditions %v, containers %v", last.Status.Phase, last.Spec.NodeName, last.Status.Conditions, last.Status.ContainerStatuses)
		}
		return 0, fmt.Errorf("pod %s not Running after 3m: %s", podName, status)
	}
	if node != "" && last.Spec.NodeName != node {
		return 0, fmt.Errorf("pod %s ran on node %q, not %q", podName, last.Spec.NodeName, node)
	}
	return d, nil
}

// deletePods deletes the benchmark's pods and waits until they are gone.
func deletePods(args []string) error {
	fs := flag.NewFlagSet("delete-pods", flag.ExitOnError)
	kubeconfig := fs.String("kubeconfig", "", "kubeconfig")
	ns := fs.String("namespace", "kbench", "namespace")
	_ = fs.Parse(args)
	c, err := client(*kubeconfig)
	if err != nil {
		return err
	}
	ctx := context.Background()
	sel := metav1.ListOptions{LabelSelector: "app=kbench"}
	if err := c.CoreV1().Pods(*ns).DeleteCollection(ctx, metav1.DeleteOptions{}, sel); err != nil {
		return err
	}
	return wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
		l, err := c.CoreV1().Pods(*ns).List(ctx, sel)
		return err == nil && len(l.Items) == 0, nil
	})
}
