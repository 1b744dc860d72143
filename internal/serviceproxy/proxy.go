// Package serviceproxy makes Services reachable: for every Service port
// with a nodePort it listens on Options.Address:nodePort (TCP), or on each
// of the Service's spec.externalIPs instead, and, with Options.ClusterCIDR,
// on the Service's cluster IP and port; it forwards each connection to one
// Running and Ready pod the Service selects, on the port's targetPort,
// taking the pods in turn. It is what kube-proxy's rules do on a cluster
// node, done in user space, which is enough for one machine, needs no
// iptables chains shared with anything else on the host, and lets several
// Slipways share a machine on different service ranges.
package serviceproxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	coreinformers "k8s.io/client-go/informers/core/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"

	"github.com/slipway-dev/slipway/internal/controller/worker"
)

// ControllerName names the proxy in logs, events and its queue.
const ControllerName = "service-proxy"

// Event reasons the proxy records on Services.
const (
	// ReasonListenFailed: the host port could not be opened (in use, or
	// not permitted).
	ReasonListenFailed = "FailedToListen"
	// ReasonListening: the host port is open and forwards to the Service.
	ReasonListening = "Listening"
)

// DefaultAddress is the host address the proxy listens on by default.
const DefaultAddress = "0.0.0.0"

// dialTimeout bounds the connection to one backend pod before the next
// ready pod is tried.
const dialTimeout = 5 * time.Second

// Options configure the proxy.
type Options struct {
	// Address is the host address to listen on; DefaultAddress when empty.
	Address string
	// ClusterCIDR, when set, is the Services' cluster IP range: Run makes
	// it a local range of the host (a "local" route on lo, so any address
	// in it can be listened on, from the host and from pods, whose traffic
	// is routed through the host) and the proxy listens on cluster IPs.
	ClusterCIDR string
}

// Proxy is the controller. Its sync opens and closes the host listeners of
// one Service ("namespace/name" keys); each connection reads the Service
// and its pods from the informer caches, so pod changes need no sync.
type Proxy struct {
	kube     kubernetes.Interface
	services corelisters.ServiceLister
	pods     corelisters.PodLister
	synced   []cache.InformerSynced
	address  string
	cidr     *net.IPNet
	queue    worker.Queue
	log      *slog.Logger
	recorder *worker.Events

	mu sync.Mutex
	// listeners by host address ("ip:port"): an address belongs to one
	// Service port at a time.
	listeners map[string]*listener
}

// listener forwards one host address to one port of one Service.
type listener struct {
	proxy   *Proxy
	ln      net.Listener
	service string // namespace/name
	addr    string // the host address, "ip:port"
	port    int32  // the host (node) port, or the service port of a cluster IP
	cluster bool   // a cluster IP listener: port is the service port

	mu   sync.Mutex
	next int // round robin position
}

// New returns a proxy for the Services and pods the informers watch; the
// caller starts the informers after New.
func New(kube kubernetes.Interface, services coreinformers.ServiceInformer, pods coreinformers.PodInformer, o Options) *Proxy {
	address := o.Address
	if address == "" {
		address = DefaultAddress
	}
	var cidr *net.IPNet
	if o.ClusterCIDR != "" {
		_, cidr, _ = net.ParseCIDR(o.ClusterCIDR)
	}
	p := &Proxy{
		cidr:      cidr,
		kube:      kube,
		services:  services.Lister(),
		pods:      pods.Lister(),
		synced:    []cache.InformerSynced{services.Informer().HasSynced, pods.Informer().HasSynced},
		address:   address,
		queue:     worker.NewQueue(ControllerName),
		log:       slog.Default().With("controller", ControllerName),
		recorder:  worker.NewEvents(scheme.Scheme, ControllerName),
		listeners: map[string]*listener{},
	}
	// AddEventHandler only fails on a stopped informer; the caller starts them after New.
	_, _ = services.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    p.enqueue,
		UpdateFunc: func(_, obj any) { p.enqueue(obj) },
		DeleteFunc: p.enqueue,
	})
	// The pod informer is only read (per connection); registering it here
	// makes the factory start it.
	_ = pods.Informer()
	return p
}

// Run waits for the caches, then syncs Services with workers goroutines
// until ctx is done, and closes every listener.
func (p *Proxy) Run(ctx context.Context, workers int) error {
	if p.cidr != nil {
		if err := localRoute("replace", p.cidr); err != nil {
			return err
		}
		defer func() { _ = localRoute("del", p.cidr) }()
	}
	defer p.recorder.Start(p.kube.CoreV1().Events(""))()
	defer p.closeAll()
	return worker.Run(ctx, ControllerName, p.queue, workers, p.synced, p.sync)
}

func (p *Proxy) enqueue(obj any) {
	key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj)
	if err == nil {
		p.queue.Add(key)
	}
}

// hostAddresses are the TCP host addresses ("ip:port") Service svc asks
// for, with the nodePort each forwards: every nodePort on each of the
// Service's externalIPs (expose --host-ip), else on the proxy's address.
// kube-proxy serves externalIPs on the service port; on one machine the
// nodePort is the port the user chose for the host, so it is used for both.
func (p *Proxy) hostAddresses(svc *corev1.Service) map[string]target {
	addrs := map[string]target{}
	// A Service without a selector has no pods to forward to (its
	// endpoints, like kube-dns's, are served by someone else).
	if svc != nil && p.cidr != nil && len(svc.Spec.Selector) > 0 {
		if ip := net.ParseIP(svc.Spec.ClusterIP); ip != nil && p.cidr.Contains(ip) {
			for _, port := range svc.Spec.Ports {
				if port.Protocol == "" || port.Protocol == corev1.ProtocolTCP {
					addrs[net.JoinHostPort(svc.Spec.ClusterIP, strconv.Itoa(int(port.Port)))] = target{port: port.Port, cluster: true}
				}
			}
		}
	}
	if svc == nil || (svc.Spec.Type != corev1.ServiceTypeNodePort && svc.Spec.Type != corev1.ServiceTypeLoadBalancer) {
		return addrs
	}
	ips := svc.Spec.ExternalIPs
	if len(ips) == 0 {
		ips = []string{p.address}
	}
	for _, port := range svc.Spec.Ports {
		if port.NodePort <= 0 || (port.Protocol != "" && port.Protocol != corev1.ProtocolTCP) {
			continue
		}
		for _, ip := range ips {
			addrs[net.JoinHostPort(ip, strconv.Itoa(int(port.NodePort)))] = target{port: port.NodePort}
		}
	}
	return addrs
}

// target is what one listening address forwards to: a nodePort, or the
// service port of a cluster IP.
type target struct {
	port    int32
	cluster bool
}

// localRoute adds ("replace") or removes ("del") a local route for cidr on
// lo: every address in it is then this host's to listen on.
func localRoute(op string, cidr *net.IPNet) error {
	out, err := exec.Command("ip", "route", op, "local", cidr.String(), "dev", "lo").CombinedOutput()
	if err != nil && op != "del" {
		return fmt.Errorf("making the service range %s local: %v: %s", cidr, err, strings.TrimSpace(string(out)))
	}
	return nil
}

// sync makes the listeners of Service key match its host addresses: closes those
// it no longer asks for and opens the missing ones. A port that cannot be
// opened is reported (Event and log) and retried with back-off.
func (p *Proxy) sync(_ context.Context, key string) error {
	namespace, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil // not a key this controller made; nothing to retry
	}
	svc, err := p.services.Services(namespace).Get(name)
	if apierrors.IsNotFound(err) {
		svc = nil
	} else if err != nil {
		return err
	}
	want := p.hostAddresses(svc)

	p.mu.Lock()
	defer p.mu.Unlock()
	for addr, l := range p.listeners {
		if _, ok := want[addr]; l.service == key && !ok {
			p.closeLocked(l)
		}
	}
	var failed []error
	for addr, t := range want {
		if l, ok := p.listeners[addr]; ok {
			if l.service != key {
				err := fmt.Errorf("host address %s is already forwarded to service %s", addr, l.service)
				p.recorder.Event(svc, corev1.EventTypeWarning, ReasonListenFailed, err.Error())
				failed = append(failed, err)
			}
			continue
		}
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			err = fmt.Errorf("listening on %s for service %s: %w", addr, key, err)
			p.log.Warn("cannot open host port", "service", key, "address", addr, "error", err)
			p.recorder.Event(svc, corev1.EventTypeWarning, ReasonListenFailed, err.Error())
			failed = append(failed, err)
			continue
		}
		l := &listener{proxy: p, ln: ln, service: key, addr: addr, port: t.port, cluster: t.cluster}
		p.listeners[addr] = l
		p.log.Info("forwarding host port", "service", key, "address", addr)
		p.recorder.Eventf(svc, corev1.EventTypeNormal, ReasonListening, "Forwarding %s to the service's pods", addr)
		go l.serve()
	}
	return errors.Join(failed...)
}

// closeLocked stops l; p.mu is held.
func (p *Proxy) closeLocked(l *listener) {
	delete(p.listeners, l.addr)
	_ = l.ln.Close()
	p.log.Info("closed host port", "service", l.service, "address", l.addr)
}

func (p *Proxy) closeAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, l := range p.listeners {
		p.closeLocked(l)
	}
}

// serve accepts connections until the listener is closed.
func (l *listener) serve() {
	for {
		conn, err := l.ln.Accept()
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				l.proxy.log.Error("accepting", "service", l.service, "port", l.port, "error", err)
			}
			return
		}
		go l.forward(conn)
	}
}

// backend is one pod address to forward to.
type backend struct {
	pod  string
	addr string
}

// backends are the addresses of the Running and Ready pods the Service
// selects, for the Service port whose nodePort is l.port, in a stable order.
func (l *listener) backends() ([]backend, error) {
	namespace, name, _ := cache.SplitMetaNamespaceKey(l.service)
	svc, err := l.proxy.services.Services(namespace).Get(name)
	if err != nil {
		return nil, err
	}
	var port *corev1.ServicePort
	for i := range svc.Spec.Ports {
		if l.cluster && svc.Spec.Ports[i].Port == l.port || !l.cluster && svc.Spec.Ports[i].NodePort == l.port {
			port = &svc.Spec.Ports[i]
		}
	}
	if port == nil || len(svc.Spec.Selector) == 0 {
		return nil, nil // a Service without selector has no pods to pick
	}
	pods, err := l.proxy.pods.Pods(namespace).List(labels.SelectorFromSet(svc.Spec.Selector))
	if err != nil {
		return nil, err
	}
	var out []backend
	for _, pod := range pods {
		if !podReady(pod) {
			continue
		}
		target, ok := targetPort(pod, port)
		if !ok {
			continue
		}
		out = append(out, backend{pod: pod.Name, addr: net.JoinHostPort(pod.Status.PodIP, strconv.Itoa(int(target)))})
	}
	slices.SortFunc(out, func(a, b backend) int { return strings.Compare(a.pod, b.pod) })
	return out, nil
}

// podReady: Running, not being deleted, Ready condition true, with an IP.
func podReady(pod *corev1.Pod) bool {
	if pod.Status.Phase != corev1.PodRunning || pod.DeletionTimestamp != nil || pod.Status.PodIP == "" {
		return false
	}
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// targetPort resolves the Service port's targetPort on pod: a number as
// it is, a name through the pod's container ports, unset as the port.
func targetPort(pod *corev1.Pod, port *corev1.ServicePort) (int32, bool) {
	tp := port.TargetPort
	if tp.Type == intstr.String { // a named container port
		for _, c := range pod.Spec.Containers {
			for _, cp := range c.Ports {
				if cp.Name == tp.StrVal && (cp.Protocol == "" || cp.Protocol == corev1.ProtocolTCP) {
					return cp.ContainerPort, true
				}
			}
		}
		return 0, false
	}
	if tp.IntVal > 0 {
		return tp.IntVal, true
	}
	return port.Port, true
}

// forward copies conn to and from the next ready pod; with none (or none
// answering) it closes conn.
func (l *listener) forward(conn net.Conn) {
	defer conn.Close()
	backends, err := l.backends()
	if err != nil || len(backends) == 0 {
		l.proxy.log.Debug("no ready pod for connection", "service", l.service, "port", l.port, "error", err)
		return
	}
	l.mu.Lock()
	start := l.next % len(backends)
	l.next = start + 1
	l.mu.Unlock()
	var upstream net.Conn
	for i := range backends {
		b := backends[(start+i)%len(backends)]
		upstream, err = net.DialTimeout("tcp", b.addr, dialTimeout)
		if err == nil {
			break
		}
		l.proxy.log.Warn("pod does not answer", "service", l.service, "pod", b.pod, "address", b.addr, "error", err)
	}
	if upstream == nil {
		return
	}
	defer upstream.Close()
	done := make(chan struct{}, 2)
	pipe := func(dst, src net.Conn) {
		_, _ = io.Copy(dst, src)
		// Half-close so the other side sees EOF and the other copy ends.
		if tcp, ok := dst.(*net.TCPConn); ok {
			_ = tcp.CloseWrite()
		} else {
			_ = dst.Close()
		}
		done <- struct{}{}
	}
	go pipe(upstream, conn)
	go pipe(conn, upstream)
	<-done
	<-done
}
