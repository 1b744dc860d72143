package image

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"

	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// StatusReasonTooManyRequests is the reason of an Error for a registry
// that answered 429.
const StatusReasonTooManyRequests = metav1.StatusReasonTooManyRequests

// Error is a failed registry call classified for ImportSuccess conditions.
type Error struct {
	// Reason is Unauthorized, NotFound, TooManyRequests or InternalError.
	Reason metav1.StatusReason
	// Message is readable and includes the registry's own message; it never
	// holds credentials.
	Message string
	// Retryable is set for 429, 5xx and network failures: the caller backs
	// off per registry.
	Retryable bool
	Err       error
}

// Error returns the message.
func (e *Error) Error() string { return e.Message }

// Unwrap returns the underlying error.
func (e *Error) Unwrap() error { return e.Err }

// ReasonOf returns the reason of an *Error in err's chain, InternalError
// for any other error.
func ReasonOf(err error) metav1.StatusReason {
	var e *Error
	if errors.As(err, &e) {
		return e.Reason
	}
	return metav1.StatusReasonInternalError
}

// IsRetryable reports whether err is an *Error the caller should retry
// after backing off.
func IsRetryable(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.Retryable
}

// classify wraps a failed registry call on ref as an *Error; what says
// what was done ("importing", "checking"). An *Error is returned as is.
func classify(what string, ref Reference, err error) error {
	if err == nil {
		return nil
	}
	var done *Error
	if errors.As(err, &done) {
		return err
	}
	e := &Error{Reason: metav1.StatusReasonInternalError, Err: err}
	message := err.Error()
	var terr *transport.Error
	// Certificates first: a loopback registry's failed HTTPS attempt comes
	// with the HTTP fallback's answer, which says less.
	if isCertificateError(err) {
		message = fmt.Sprintf("%v: the registry's TLS certificate is not trusted; "+
			"to use a registry with a self-signed certificate, use --insecure (importPolicy.insecure: true)", err)
	} else if strings.Contains(message, "server gave HTTP response to HTTPS client") {
		// net/http's words for a registry that speaks plain HTTP.
		message = fmt.Sprintf("%v: the registry speaks plain HTTP; "+
			"to use it, use --insecure (importPolicy.insecure: true) or name it with slipway server --insecure-registry", err)
	} else if errors.As(err, &terr) {
		e.Reason, e.Retryable = reasonOfStatus(terr)
		if terr.StatusCode == http.StatusNotFound && len(terr.Errors) == 0 {
			// A HEAD 404 has no body to quote.
			message = fmt.Sprintf("%s not found (HTTP 404)", ref.String())
		}
	} else {
		// Network failures (refused, unreachable, DNS, timeouts) are
		// retryable; every HTTP client error is a net.Error, hence Timeout.
		var nerr net.Error
		var dnsErr *net.DNSError
		var opErr *net.OpError
		e.Retryable = errors.As(err, &opErr) || errors.As(err, &dnsErr) || errors.As(err, &nerr) && nerr.Timeout()
	}
	e.Message = fmt.Sprintf("%s %s: %s", what, ref.String(), message)
	return e
}

// reasonOfStatus maps a registry's answer to a reason: the status code
// first, then the distribution error codes.
func reasonOfStatus(terr *transport.Error) (metav1.StatusReason, bool) {
	switch code := terr.StatusCode; {
	case code == http.StatusUnauthorized || code == http.StatusForbidden:
		return metav1.StatusReasonUnauthorized, false
	case code == http.StatusNotFound:
		return metav1.StatusReasonNotFound, false
	case code == http.StatusTooManyRequests:
		return StatusReasonTooManyRequests, true
	case code >= 500:
		return metav1.StatusReasonInternalError, true
	}
	for _, d := range terr.Errors {
		switch d.Code {
		case transport.UnauthorizedErrorCode, transport.DeniedErrorCode:
			return metav1.StatusReasonUnauthorized, false
		case transport.ManifestUnknownErrorCode, transport.NameUnknownErrorCode, transport.BlobUnknownErrorCode:
			return metav1.StatusReasonNotFound, false
		case transport.TooManyRequestsErrorCode:
			return StatusReasonTooManyRequests, true
		}
	}
	return metav1.StatusReasonInternalError, false
}

// isCertificateError reports a TLS verification failure.
func isCertificateError(err error) bool {
	var verify *tls.CertificateVerificationError
	var unknown x509.UnknownAuthorityError
	var hostname x509.HostnameError
	var invalid x509.CertificateInvalidError
	return errors.As(err, &verify) || errors.As(err, &unknown) || errors.As(err, &hostname) || errors.As(err, &invalid)
}
