package node

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"

	"github.com/slipway-dev/slipway/internal/podlogs"
)

// mastersGroup is the group of kube-apiserver's kubelet client
// certificate (--kubelet-client-certificate, O=system:masters).
const mastersGroup = "system:masters"

// kubeletAPI is the part of the kubelet's HTTPS API that kube-apiserver
// calls on a node: GET /containerLogs/{namespace}/{pod}/{container} for
// pods/log, /exec, /attach and /portForward for pods/exec, pods/attach
// and pods/portforward (streaming.go), and /healthz.
//
// Clients authenticate with a certificate of the cluster CA (CN the user,
// O the groups, as Kubernetes reads them). Authorization is simpler than
// the kubelet's webhook (a SubjectAccessReview per request): only
// system:masters is allowed, which is the identity kube-apiserver uses
// towards kubelets; any other client gets 403, and /healthz is open to
// every authenticated client.
type kubeletAPI struct {
	a *Agent
}

// listenKubeletAPI binds the kubelet API's port; serveKubeletAPI serves on
// it. Separate so that a port in use fails Run at once.
func (a *Agent) listenKubeletAPI() (net.Listener, *http.Server, error) {
	cert, err := tls.LoadX509KeyPair(a.cfg.KubeletCertFile, a.cfg.KubeletKeyFile)
	if err != nil {
		return nil, nil, fmt.Errorf("kubelet API serving certificate: %w", err)
	}
	caPEM, err := os.ReadFile(a.cfg.ClientCAFile)
	if err != nil {
		return nil, nil, fmt.Errorf("kubelet API client CA: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, nil, fmt.Errorf("kubelet API client CA %s: no PEM certificate", a.cfg.ClientCAFile)
	}
	l, err := net.Listen("tcp", a.cfg.KubeletListen)
	if err != nil {
		return nil, nil, fmt.Errorf("kubelet API: %w", err)
	}
	srv := &http.Server{
		Handler: kubeletAPI{a: a}.handler(),
		TLSConfig: &tls.Config{
			Certificates: []tls.Certificate{cert},
			// Verified when given; a request without one is answered 401.
			ClientAuth: tls.VerifyClientCertIfGiven,
			ClientCAs:  pool,
			MinVersion: tls.VersionTLS12,
		},
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(a.log.Handler(), slog.LevelWarn),
	}
	return l, srv, nil
}

func (k kubeletAPI) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = io.WriteString(w, "ok")
	})
	mux.Handle("GET /containerLogs/{namespace}/{pod}/{container}", mastersOnly(http.HandlerFunc(k.containerLogs)))
	k.handleStreaming(mux)
	return authenticated(mux)
}

// authenticated answers 401 to a request without a verified client
// certificate.
func authenticated(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS == nil || len(r.TLS.VerifiedChains) == 0 {
			http.Error(w, "Unauthorized", http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// mastersOnly answers 403 unless the client certificate is in
// system:masters (its O).
func mastersOnly(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cert := r.TLS.VerifiedChains[0][0]
		if !slices.Contains(cert.Subject.Organization, mastersGroup) {
			// The kubelet's wording: POST (exec, attach, port-forward) is create.
			verb := "get"
			if r.Method == http.MethodPost {
				verb = "create"
			}
			http.Error(w, fmt.Sprintf("Forbidden (user=%s, verb=%s, resource=nodes, subresource=proxy)", cert.Subject.CommonName, verb), http.StatusForbidden)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// logRequest is a containerLogs request's query, the v1.PodLogOptions
// kube-apiserver encodes (pod.LogLocation).
type logRequest struct {
	follow, previous, timestamps bool
	tailLines, limitBytes        *int64
	sinceSeconds                 *int64
	sinceTime                    *time.Time
	stream                       string
}

func parseLogRequest(r *http.Request) (logRequest, error) {
	q := podlogs.Query{Values: r.URL.Query()}
	req := logRequest{
		follow:       q.Bool("follow"),
		previous:     q.Bool("previous"),
		timestamps:   q.Bool("timestamps"),
		tailLines:    q.Int("tailLines"),
		limitBytes:   q.Int("limitBytes"),
		sinceSeconds: q.Int("sinceSeconds"),
		stream:       q.String("stream"),
	}
	// The kubelet still reads the old "tail" parameter; "all" is no tail.
	if tail := q.String("tail"); tail != "" && tail != "all" && req.tailLines == nil {
		q.Values.Set("tailLines", tail)
		req.tailLines = q.Int("tailLines")
	}
	if s := q.String("sinceTime"); s != "" {
		t, err := time.Parse(time.RFC3339, s)
		if err != nil {
			return req, fmt.Errorf("sinceTime %q: %w", s, err)
		}
		req.sinceTime = &t
	}
	if err := q.Err(); err != nil {
		return req, err
	}
	if errs := podlogs.ValidateLimits(req.tailLines, req.limitBytes); len(errs) > 0 {
		return req, errs.ToAggregate()
	}
	if req.sinceSeconds != nil && *req.sinceSeconds < 1 {
		return req, errors.New("sinceSeconds must be greater than 0")
	}
	if req.sinceSeconds != nil && req.sinceTime != nil {
		return req, errors.New("at most one of sinceTime or sinceSeconds may be specified")
	}
	switch req.stream {
	case "", string(corev1.LogStreamAll):
	case string(corev1.LogStreamStdout), string(corev1.LogStreamStderr):
		if req.tailLines != nil {
			return req, errors.New("tailLines is not supported when stream is not All")
		}
	default:
		return req, fmt.Errorf("stream %q: must be All, Stdout or Stderr", req.stream)
	}
	return req, nil
}

// containerLogs serves a container's log as the kubelet does: the output
// of its current run (or, with previous, of the run before), from its
// log file.
func (k kubeletAPI) containerLogs(w http.ResponseWriter, r *http.Request) {
	namespace, name, container := r.PathValue("namespace"), r.PathValue("pod"), r.PathValue("container")
	req, err := parseLogRequest(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	pod, err := k.a.pods.Pods(namespace).Get(name)
	if err != nil || pod.Spec.NodeName != k.a.cfg.NodeName {
		http.Error(w, fmt.Sprintf("pod %q does not exist", name), http.StatusNotFound)
		return
	}
	if !hasContainer(pod, container) {
		http.Error(w, fmt.Sprintf("container %q not found in pod %q", container, name), http.StatusNotFound)
		return
	}
	if req.stream == string(corev1.LogStreamStdout) || req.stream == string(corev1.LogStreamStderr) {
		// stdout and stderr share one file, in the order they were written.
		http.Error(w, "this node keeps stdout and stderr together: only stream=All is served", http.StatusBadRequest)
		return
	}
	logDir := k.a.logs
	runs, err := podlogs.ReadRuns(logDir.ContainerRuns(namespace, name, container))
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	opts := podlogs.Options{Follow: req.follow, TailLines: req.tailLines, LimitBytes: req.limitBytes,
		Times: logDir.ContainerTimes(namespace, name, container), Timestamps: req.timestamps}
	if since := sinceTime(req, time.Now()); since != nil {
		opts.Since = *since
	}
	done := k.containerDone(pod, container)
	switch {
	case req.previous:
		if len(runs) < 2 {
			http.Error(w, fmt.Sprintf("previous terminated container %q in pod %q not found", container, name), http.StatusBadRequest)
			return
		}
		prev, cur := runs[len(runs)-2], runs[len(runs)-1]
		// A run's offset is negative when its output began in a log file
		// since rotated away (podlogs.LogWriter): what is left of it is
		// in the current file, as the kubelet serves only that.
		opts.From, opts.To = max(prev.Offset, 0), cur.Offset
		if opts.To <= opts.From {
			// It wrote nothing, or nothing still in the current file (To
			// zero would mean the end of the file).
			w.Header().Set("Content-Type", "text/plain")
			return
		}
	case len(runs) > 0:
		opts.From = max(runs[len(runs)-1].Offset, 0)
	}

	rc, err := podlogs.Open(r.Context(), logDir.ContainerLog(namespace, name, container), opts, done)
	if errors.Is(err, podlogs.ErrNotStarted) {
		http.Error(w, fmt.Sprintf("container %q in pod %q is waiting to start: ContainerCreating", container, name), http.StatusBadRequest)
		return
	}
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	defer rc.Close()
	w.Header().Set("Content-Type", "text/plain")
	var out io.Writer = w
	if req.follow {
		out = flushWriter{w: w, rc: http.NewResponseController(w)}
		w.WriteHeader(http.StatusOK)
		_ = http.NewResponseController(w).Flush()
	}
	if _, err := io.Copy(out, rc); err != nil && r.Context().Err() == nil {
		k.a.log.Warn("serving a container log", "pod", namespace+"/"+name, "container", container, "error", err)
	}
}

func sinceTime(req logRequest, now time.Time) *time.Time {
	switch {
	case req.sinceTime != nil:
		return req.sinceTime
	case req.sinceSeconds != nil:
		t := now.Add(-time.Duration(*req.sinceSeconds) * time.Second)
		return &t
	}
	return nil
}

// containerDone is the follow end of a container's log: the pod is gone
// or replaced, it ended, or the container's current run ended (a
// restarted container's next run is another log).
func (k kubeletAPI) containerDone(pod *corev1.Pod, container string) podlogs.DoneFunc {
	return func(context.Context) (bool, error) {
		current, err := k.a.pods.Pods(pod.Namespace).Get(pod.Name)
		if apierrors.IsNotFound(err) {
			return true, nil
		}
		if err != nil {
			return false, err
		}
		if current.UID != pod.UID || terminal(current) {
			return true, nil
		}
		for _, cs := range append(append(append([]corev1.ContainerStatus{}, current.Status.InitContainerStatuses...),
			current.Status.ContainerStatuses...), current.Status.EphemeralContainerStatuses...) {
			if cs.Name != container {
				continue
			}
			if cs.State.Terminated != nil {
				return true, nil
			}
			if cs.State.Waiting != nil && cs.LastTerminationState.Terminated != nil {
				// Waiting to restart: the run that was followed ended.
				return true, nil
			}
		}
		return false, nil
	}
}

func hasContainer(pod *corev1.Pod, name string) bool {
	for _, c := range append(append([]corev1.Container{}, pod.Spec.InitContainers...), pod.Spec.Containers...) {
		if c.Name == name {
			return true
		}
	}
	for _, c := range pod.Spec.EphemeralContainers {
		if c.Name == name {
			return true
		}
	}
	return false
}

// flushWriter sends each write to the client at once (follow).
type flushWriter struct {
	w  io.Writer
	rc *http.ResponseController
}

func (f flushWriter) Write(p []byte) (int, error) {
	n, err := f.w.Write(p)
	if err == nil {
		err = f.rc.Flush()
	}
	return n, err
}
