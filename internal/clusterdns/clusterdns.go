// Package clusterdns answers the cluster's DNS names for pods, as CoreDNS
// does on a cluster for the Kubernetes DNS specification's core records:
// <service>.<namespace>.svc.<domain> resolves to the Service's cluster IP
// (A), or for a headless Service to the IPs of its ready pods; every other
// name is forwarded to the host's resolvers. It listens on the kube-dns
// Service's cluster IP (a local address of the host, see serviceproxy).
package clusterdns

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strings"
	"time"

	"github.com/miekg/dns"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	coreinformers "k8s.io/client-go/informers/core/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
)

// DefaultDomain is the cluster's DNS domain.
const DefaultDomain = "cluster.local"

// ttl of the records served: short, as CoreDNS's default (5 s).
const ttl = 5

// Config is what the server needs.
type Config struct {
	// Address is the IP the server listens on (port 53, UDP and TCP).
	Address string
	// Domain is the cluster domain; DefaultDomain when empty.
	Domain string
	// Upstreams are the resolvers ("ip:port") other names go to; empty
	// reads the host's /etc/resolv.conf.
	Upstreams []string
	// Services and Pods are informers the caller starts.
	Services coreinformers.ServiceInformer
	Pods     coreinformers.PodInformer
}

// Server is the cluster DNS server.
type Server struct {
	cfg       Config
	services  corelisters.ServiceLister
	pods      corelisters.PodLister
	synced    []cache.InformerSynced
	upstreams []string
	log       *slog.Logger
}

// New returns a server; call it before the informers start.
func New(cfg Config) *Server {
	if cfg.Domain == "" {
		cfg.Domain = DefaultDomain
	}
	upstreams := cfg.Upstreams
	if len(upstreams) == 0 {
		if rc, err := dns.ClientConfigFromFile("/etc/resolv.conf"); err == nil {
			for _, s := range rc.Servers {
				upstreams = append(upstreams, net.JoinHostPort(s, rc.Port))
			}
		}
	}
	return &Server{
		cfg:       cfg,
		services:  cfg.Services.Lister(),
		pods:      cfg.Pods.Lister(),
		synced:    []cache.InformerSynced{cfg.Services.Informer().HasSynced, cfg.Pods.Informer().HasSynced},
		upstreams: upstreams,
		log:       slog.Default().With("controller", "cluster-dns"),
	}
}

// Run serves until ctx ends.
func (s *Server) Run(ctx context.Context, _ int) error {
	if !cache.WaitForCacheSync(ctx.Done(), s.synced...) {
		return errors.New("cluster DNS: caches did not sync")
	}
	addr := net.JoinHostPort(s.cfg.Address, "53")
	handler := dns.HandlerFunc(s.serveDNS)
	servers := []*dns.Server{
		{Addr: addr, Net: "udp", Handler: handler},
		{Addr: addr, Net: "tcp", Handler: handler},
	}
	errs := make(chan error, len(servers))
	for _, srv := range servers {
		go func() { errs <- srv.ListenAndServe() }()
	}
	s.log.Info("serving cluster DNS", "address", addr, "domain", s.cfg.Domain)
	select {
	case <-ctx.Done():
	case err := <-errs:
		for _, srv := range servers {
			_ = srv.Shutdown()
		}
		return fmt.Errorf("cluster DNS on %s: %w", addr, err)
	}
	for _, srv := range servers {
		_ = srv.Shutdown()
	}
	return nil
}

func (s *Server) serveDNS(w dns.ResponseWriter, req *dns.Msg) {
	if len(req.Question) != 1 {
		m := new(dns.Msg)
		m.SetRcode(req, dns.RcodeFormatError)
		_ = w.WriteMsg(m)
		return
	}
	q := req.Question[0]
	name := strings.ToLower(q.Name)
	suffix := ".svc." + s.cfg.Domain + "."
	if !strings.HasSuffix(name, "."+s.cfg.Domain+".") && name != s.cfg.Domain+"." {
		s.forward(w, req)
		return
	}
	m := new(dns.Msg)
	m.SetReply(req)
	m.Authoritative = true
	ips, found := s.lookup(strings.TrimSuffix(name, suffix), strings.HasSuffix(name, suffix))
	switch {
	case !found:
		m.SetRcode(req, dns.RcodeNameError)
	case q.Qtype == dns.TypeA || q.Qtype == dns.TypeANY:
		for _, ip := range ips {
			m.Answer = append(m.Answer, &dns.A{
				Hdr: dns.RR_Header{Name: q.Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: ttl},
				A:   ip,
			})
		}
	}
	// Other types of a name that exists: an empty answer (NODATA).
	_ = w.WriteMsg(m)
}

// lookup resolves "<service>.<namespace>" (isService) to its addresses.
func (s *Server) lookup(rest string, isService bool) ([]net.IP, bool) {
	if !isService {
		return nil, false
	}
	parts := strings.Split(rest, ".")
	if len(parts) != 2 {
		return nil, false
	}
	svc, err := s.services.Services(parts[1]).Get(parts[0])
	if err != nil {
		return nil, false
	}
	if svc.Spec.Type == corev1.ServiceTypeExternalName {
		return nil, true
	}
	if svc.Spec.ClusterIP != corev1.ClusterIPNone {
		if ip := net.ParseIP(svc.Spec.ClusterIP).To4(); ip != nil {
			return []net.IP{ip}, true
		}
		return nil, true
	}
	// Headless: the ready pods it selects.
	if len(svc.Spec.Selector) == 0 {
		return nil, true
	}
	pods, err := s.pods.Pods(svc.Namespace).List(labels.SelectorFromSet(svc.Spec.Selector))
	if err != nil {
		return nil, true
	}
	var ips []net.IP
	for _, pod := range pods {
		if ip := net.ParseIP(pod.Status.PodIP).To4(); ip != nil && ready(pod) {
			ips = append(ips, ip)
		}
	}
	slices.SortFunc(ips, func(a, b net.IP) int { return strings.Compare(a.String(), b.String()) })
	return ips, true
}

func ready(pod *corev1.Pod) bool {
	if pod.Status.Phase != corev1.PodRunning || pod.DeletionTimestamp != nil {
		return false
	}
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// forward asks the host's resolvers; with none answering the client gets
// SERVFAIL.
func (s *Server) forward(w dns.ResponseWriter, req *dns.Msg) {
	client := &dns.Client{Net: "udp", Timeout: 2 * time.Second}
	if _, ok := w.RemoteAddr().(*net.TCPAddr); ok {
		client.Net = "tcp"
	}
	for _, upstream := range s.upstreams {
		resp, _, err := client.Exchange(req, upstream)
		if err == nil {
			_ = w.WriteMsg(resp)
			return
		}
	}
	m := new(dns.Msg)
	m.SetRcode(req, dns.RcodeServerFailure)
	_ = w.WriteMsg(m)
}
