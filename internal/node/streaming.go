package node

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"syscall"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/cri-streaming/pkg/streaming/portforward"
	remotecommandserver "k8s.io/cri-streaming/pkg/streaming/remotecommand"

	"github.com/slipway-dev/slipway/internal/podlogs"
)

// streamIdleTimeout closes an exec, attach or port-forward connection
// idle this long: the kubelet's streamingConnectionIdleTimeout default.
const streamIdleTimeout = 4 * time.Hour

// The kubelet API's streaming endpoints, as the kubelet serves them for
// kube-apiserver's pods/exec, pods/attach and pods/portforward (its server
// proxies to the CRI runtime's streaming server; here the same library,
// k8s.io/cri-streaming, serves them directly):
//
//	/exec/{namespace}/{pod}[/{uid}]/{container}?command=...&input=1&output=1&error=1&tty=1
//	/attach/{namespace}/{pod}[/{uid}]/{container}?input=1&output=1&error=1&tty=1
//	/portForward/{namespace}/{pod}[/{uid}]
//
// Only pods of the runc runtime have them: host-process pods (builds,
// deployers) are processes of this machine, not containers to enter.
func (k kubeletAPI) handleStreaming(mux *http.ServeMux) {
	for _, method := range []string{"GET", "POST"} {
		for _, path := range []string{"/{namespace}/{pod}/{container}", "/{namespace}/{pod}/{uid}/{container}"} {
			mux.Handle(method+" /exec"+path, mastersOnly(http.HandlerFunc(k.exec)))
			mux.Handle(method+" /attach"+path, mastersOnly(http.HandlerFunc(k.attach)))
		}
		for _, path := range []string{"/{namespace}/{pod}", "/{namespace}/{pod}/{uid}"} {
			mux.Handle(method+" /portForward"+path, mastersOnly(http.HandlerFunc(k.portForward)))
		}
	}
}

// streamTarget is the runc pod a streaming request is for; ok false when
// the error response was written.
func (k kubeletAPI) streamTarget(w http.ResponseWriter, r *http.Request, what string) (*corev1.Pod, *runcRuntime, bool) {
	namespace, name, uid := r.PathValue("namespace"), r.PathValue("pod"), r.PathValue("uid")
	pod, err := k.a.pods.Pods(namespace).Get(name)
	if err != nil || pod.Spec.NodeName != k.a.cfg.NodeName || (uid != "" && types.UID(uid) != pod.UID) {
		http.Error(w, "pod does not exist", http.StatusNotFound)
		return nil, nil, false
	}
	rt, ok := k.a.runtimeFor(pod).(*runcRuntime)
	switch {
	case !ok && pod.Annotations[HostProcessAnnotation] == "true":
		http.Error(w, fmt.Sprintf("%s is not supported for pod %q: it runs as a process of the node (host-process pod), not in a container", what, name), http.StatusBadRequest)
		return nil, nil, false
	case !ok:
		http.Error(w, fmt.Sprintf("%s is not supported for pod %q: no container runtime runs it on this node", what, name), http.StatusBadRequest)
		return nil, nil, false
	}
	return pod, rt, true
}

// streamContainer is streamTarget and the runc ID of the running
// container the request names.
func (k kubeletAPI) streamContainer(w http.ResponseWriter, r *http.Request, what string) (*corev1.Pod, *corev1.Container, *containerStreams, bool) {
	pod, rt, ok := k.streamTarget(w, r, what)
	if !ok {
		return nil, nil, nil, false
	}
	name := r.PathValue("container")
	c := findContainer(pod, name)
	if c == nil {
		http.Error(w, fmt.Sprintf("container %q not found in pod %q", name, pod.Name), http.StatusNotFound)
		return nil, nil, nil, false
	}
	id, err := rt.runningContainer(r.Context(), string(pod.UID), name)
	if errors.Is(err, errContainerNotRunning) {
		http.Error(w, fmt.Sprintf("container %q in pod %q is not running", name, pod.Name), http.StatusBadRequest)
		return nil, nil, nil, false
	}
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return nil, nil, nil, false
	}
	return pod, c, &containerStreams{k: k, rt: rt, id: id, pod: pod, container: c}, true
}

func findContainer(pod *corev1.Pod, name string) *corev1.Container {
	for _, cs := range [][]corev1.Container{pod.Spec.InitContainers, pod.Spec.Containers} {
		for i := range cs {
			if cs[i].Name == name {
				return &cs[i]
			}
		}
	}
	return nil
}

func (k kubeletAPI) exec(w http.ResponseWriter, r *http.Request) {
	opts, err := remotecommandserver.NewOptions(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	pod, c, target, ok := k.streamContainer(w, r, "exec")
	if !ok {
		return
	}
	remotecommandserver.ServeExec(w, r, target, pod.Name, string(pod.UID), c.Name, r.URL.Query()["command"], opts,
		streamIdleTimeout, remotecommandserver.DefaultStreamCreationTimeout, remotecommandserver.SupportedStreamingProtocols)
}

func (k kubeletAPI) attach(w http.ResponseWriter, r *http.Request) {
	opts, err := remotecommandserver.NewOptions(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if opts.TTY {
		// runc runs every container without a terminal (its output is the log).
		http.Error(w, "this node runs containers without a terminal: attach without a TTY", http.StatusBadRequest)
		return
	}
	pod, c, target, ok := k.streamContainer(w, r, "attach")
	if !ok {
		return
	}
	remotecommandserver.ServeAttach(w, r, target, pod.Name, string(pod.UID), c.Name, opts,
		streamIdleTimeout, remotecommandserver.DefaultStreamCreationTimeout, remotecommandserver.SupportedStreamingProtocols)
}

func (k kubeletAPI) portForward(w http.ResponseWriter, r *http.Request) {
	opts, err := portforward.NewV4Options(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	pod, rt, ok := k.streamTarget(w, r, "port-forward")
	if !ok {
		return
	}
	portforward.ServePortForward(w, r, podPorts{rt: rt, uid: string(pod.UID)}, pod.Name, string(pod.UID), opts,
		streamIdleTimeout, remotecommandserver.DefaultStreamCreationTimeout, portforward.SupportedProtocols)
}

// containerStreams is one running runc container, as the streaming
// library's Executor and Attacher (their pod and container arguments are
// this one's).
type containerStreams struct {
	k         kubeletAPI
	rt        *runcRuntime
	id        string
	pod       *corev1.Pod
	container *corev1.Container
}

var (
	_ remotecommandserver.Executor = (*containerStreams)(nil)
	_ remotecommandserver.Attacher = (*containerStreams)(nil)
)

// ExecInContainer runs cmd in the container with "runc exec".
func (s *containerStreams) ExecInContainer(ctx context.Context, _, _, _ string, cmd []string, in io.Reader, out, errOut io.WriteCloser, tty bool, resize <-chan remotecommandserver.TerminalSize, _ time.Duration) error {
	return s.rt.execStreams(ctx, s.id, cmd, in, out, errOut, tty, resize)
}

// AttachContainer attaches to the container's stdio as this node keeps
// it: its output is followed in its log from now until it ends (stdout
// and stderr together, on out), and in feeds its stdin FIFO when it has
// stdin (stdinOnce: the client's EOF closes the container's stdin).
func (s *containerStreams) AttachContainer(ctx context.Context, _, _, _ string, in io.Reader, out, errOut io.WriteCloser, _ bool, _ <-chan remotecommandserver.TerminalSize) error {
	logs := s.k.a.logs
	ns, pod, name := s.pod.Namespace, s.pod.Name, s.container.Name
	var from int64
	if fi, err := os.Stat(logs.ContainerLog(ns, pod, name)); err == nil {
		from = fi.Size()
	}
	if out == nil {
		out = errOut
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if in != nil && s.container.Stdin {
		go func() {
			if err := feedStdin(ctx, logs.ContainerStdin(ns, pod, name), in); err != nil && ctx.Err() == nil {
				s.k.a.log.Warn("attaching to a container's stdin", "pod", ns+"/"+pod, "container", name, "error", err)
			}
		}()
	}
	rc, err := podlogs.Open(ctx, logs.ContainerLog(ns, pod, name), podlogs.Options{Follow: true, From: from}, s.k.containerDone(s.pod, name))
	if err != nil {
		return err
	}
	defer rc.Close()
	if out == nil {
		// Only stdin was asked for: attached until the container ends.
		_, err = io.Copy(io.Discard, rc)
	} else {
		_, err = io.Copy(out, rc)
	}
	if ctx.Err() != nil {
		return nil
	}
	return err
}

// feedStdin copies in to the container's stdin FIFO (openStdin reads it).
// The FIFO has no reader for a moment between two writers: opening it
// is retried until ctx ends.
func feedStdin(ctx context.Context, fifo string, in io.Reader) error {
	for {
		f, err := os.OpenFile(fifo, os.O_WRONLY|syscall.O_NONBLOCK, 0)
		if err == nil {
			defer f.Close()
			_, err = io.Copy(f, in)
			return err
		}
		if !errors.Is(err, syscall.ENXIO) {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// podPorts is a runc pod's network namespace, as the streaming library's
// PortForwarder.
type podPorts struct {
	rt  *runcRuntime
	uid string
}

// PortForward copies between stream and a connection to port on the
// pod's loopback until both sides are done (each may close its half
// first).
func (p podPorts) PortForward(ctx context.Context, _, _ string, port int32, stream io.ReadWriteCloser) error {
	conn, err := p.rt.dialInPod(ctx, p.uid, port)
	if err != nil {
		return err
	}
	defer conn.Close()
	errc := make(chan error, 2)
	go func() {
		_, err := io.Copy(conn, stream)
		if tc, ok := conn.(*net.TCPConn); ok {
			_ = tc.CloseWrite()
		}
		errc <- err
	}()
	go func() {
		_, err := io.Copy(stream, conn)
		// The client's end of the data stream sees EOF; it may still send.
		_ = stream.Close()
		errc <- err
	}()
	var errs []error
	for range 2 {
		select {
		case err := <-errc:
			errs = append(errs, err)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return errors.Join(errs...)
}
