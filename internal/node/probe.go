package node

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// startProbes runs the container's readiness and liveness probes while it
// runs; the returned function stops them.
func (a *Agent) startProbes(pod *corev1.Pod, c *corev1.Container, s *started, sl slot, podIP string) func() {
	ctx, cancel := context.WithCancel(a.ctx)
	if p := c.ReadinessProbe; p != nil {
		go a.probeLoop(ctx, p, c, s, podIP, func(ready bool) { sl.setProbedReady(ready) })
	}
	if p := c.LivenessProbe; p != nil {
		go a.probeLoop(ctx, p, c, s, podIP, func(alive bool) {
			if !alive {
				a.log.Info("liveness probe failed, restarting the container", "pod", pod.Namespace+"/"+pod.Name, "container", c.Name)
				cancel()
				a.killForLiveness(s)
			}
		})
	}
	return cancel
}

// probeLoop probes every periodSeconds after initialDelaySeconds and calls
// verdict with true after successThreshold successes in a row and false
// after failureThreshold failures in a row.
func (a *Agent) probeLoop(ctx context.Context, p *corev1.Probe, c *corev1.Container, s *started, podIP string, verdict func(bool)) {
	seconds := func(v, def int32) time.Duration {
		if v <= 0 {
			v = def
		}
		return time.Duration(v) * time.Second
	}
	period, timeout := seconds(p.PeriodSeconds, 10), seconds(p.TimeoutSeconds, 1)
	successThreshold, failureThreshold := max(p.SuccessThreshold, 1), max(p.FailureThreshold, 1)
	if p.FailureThreshold == 0 {
		failureThreshold = 3
	}
	wait := time.Duration(p.InitialDelaySeconds) * time.Second
	var successes, failures int32
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.exited:
			return
		case <-time.After(wait):
		}
		wait = period
		err := a.probeOnce(ctx, p, c, s, podIP, timeout)
		if ctx.Err() != nil {
			return
		}
		if err == nil {
			successes, failures = successes+1, 0
			if successes == successThreshold {
				verdict(true)
			}
		} else {
			successes, failures = 0, failures+1
			if failures == failureThreshold {
				verdict(false)
			}
		}
	}
}

// probeOnce runs the probe's handler once; nil is success.
func (a *Agent) probeOnce(ctx context.Context, p *corev1.Probe, c *corev1.Container, s *started, podIP string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	switch {
	case p.Exec != nil:
		ex, ok := s.proc.(execer)
		if !ok {
			return fmt.Errorf("exec probes are not supported by this runtime")
		}
		code, out, err := ex.Exec(ctx, p.Exec.Command)
		if err != nil {
			return err
		}
		if code != 0 {
			return fmt.Errorf("command %q exited with %d: %s", p.Exec.Command, code, strings.TrimSpace(string(out)))
		}
		return nil
	case p.HTTPGet != nil:
		g := p.HTTPGet
		port, err := probePort(g.Port, c)
		if err != nil {
			return err
		}
		host := g.Host
		if host == "" {
			host = podIP
		}
		scheme := strings.ToLower(string(g.Scheme))
		if scheme == "" {
			scheme = "http"
		}
		path := g.Path
		if !strings.HasPrefix(path, "/") {
			path = "/" + path
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, scheme+"://"+net.JoinHostPort(host, strconv.Itoa(port))+path, nil)
		if err != nil {
			return err
		}
		req.Header.Set("User-Agent", "slipway-probe")
		for _, h := range g.HTTPHeaders {
			req.Header.Add(h.Name, h.Value)
		}
		// Probes do not verify certificates, as on a kubelet.
		client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, DisableKeepAlives: true}}
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 10<<10))
		if resp.StatusCode < 200 || resp.StatusCode >= 400 {
			return fmt.Errorf("HTTP probe failed with statuscode: %d", resp.StatusCode)
		}
		return nil
	case p.TCPSocket != nil:
		port, err := probePort(p.TCPSocket.Port, c)
		if err != nil {
			return err
		}
		host := p.TCPSocket.Host
		if host == "" {
			host = podIP
		}
		var d net.Dialer
		conn, err := d.DialContext(ctx, "tcp", net.JoinHostPort(host, strconv.Itoa(port)))
		if err != nil {
			return err
		}
		return conn.Close()
	}
	return fmt.Errorf("the probe has no handler")
}

// probePort resolves a probe's port: a number, or the name of one of the
// container's ports.
func probePort(port intstr.IntOrString, c *corev1.Container) (int, error) {
	if port.Type == intstr.Int {
		return port.IntValue(), nil
	}
	for _, p := range c.Ports {
		if p.Name == port.StrVal {
			return int(p.ContainerPort), nil
		}
	}
	if n, err := strconv.Atoi(port.StrVal); err == nil {
		return n, nil
	}
	return 0, fmt.Errorf("port %q is not a port of container %q", port.StrVal, c.Name)
}
