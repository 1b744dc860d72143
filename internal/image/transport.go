package image

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"
)

// IsLoopback reports whether a registry HOST[:PORT] is on the loopback
// interface (127.0.0.0/8, ::1, localhost): such registries may speak plain
// HTTP without configuration, as Docker treats them.
func IsLoopback(hostport string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.Trim(host, "[]")
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// defaultTransport bounds every phase of a registry call that a context
// alone would leave to the caller: dialing, TLS, waiting for headers.
func defaultTransport() *http.Transport {
	return &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          100,
		MaxIdleConnsPerHost:   16,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: 30 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
}

// transports returns the verifying and the insecure round trippers over
// base. Only an *http.Transport can be given TLS settings; any other base
// is used as it is for both (its owner decides about TLS).
func transports(base http.RoundTripper, roots *x509.CertPool) (secure, insecure http.RoundTripper) {
	secure, insecure = base, base
	if t, ok := base.(*http.Transport); ok {
		s := t.Clone()
		s.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: roots}
		i := t.Clone()
		// Insecure registries may present self-signed certificates.
		i.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: true} //nolint:gosec // --insecure-registry / importPolicy.insecure
		secure, insecure = s, i
	}
	return plainHTTPGate{next: secure}, plainHTTPGate{next: insecure, anyHost: true}
}

// plainHTTPGate refuses plain HTTP to registries that are neither on
// loopback nor insecure: go-containerregistry itself falls back to HTTP for
// private (RFC 1918) and .local addresses, which builds do not allow.
type plainHTTPGate struct {
	next    http.RoundTripper
	anyHost bool
}

// RoundTrip passes HTTPS on and plain HTTP only where it is allowed.
func (g plainHTTPGate) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Scheme == "http" && !g.anyHost && !IsLoopback(req.URL.Host) {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, fmt.Errorf("plain HTTP to %s refused: the registry is not insecure; use --insecure (importPolicy.insecure: true) or the server's --insecure-registry", req.URL.Host)
	}
	return g.next.RoundTrip(req)
}
