package imageimport

import (
	"net/http"
	"strings"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// minBackoff is the first back-off after a registry answered 429 or 5xx.
const minBackoff = 5 * time.Second

// registryBackoff keeps scheduled checks away from registries that answered
// "too many requests" or a server error: the pause doubles with every
// consecutive failure, from minBackoff up to max (the check interval: after
// that the registry is no worse off than with a normal schedule), and a
// success ends it.
type registryBackoff struct {
	mu       sync.Mutex
	max      time.Duration
	failures map[string]int
	until    map[string]time.Time
}

func newRegistryBackoff(max time.Duration) *registryBackoff {
	return &registryBackoff{max: max, failures: map[string]int{}, until: map[string]time.Time{}}
}

// Blocked reports whether checks of registry wait at now.
func (b *registryBackoff) Blocked(registry string, now time.Time) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	until, ok := b.until[registry]
	return ok && now.Before(until)
}

// Failure records a 429/5xx answer of registry at now and returns the pause.
func (b *registryBackoff) Failure(registry string, now time.Time) time.Duration {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := b.failures[registry]
	b.failures[registry] = n + 1
	d := minBackoff
	for i := 0; i < n && d < b.max; i++ {
		d *= 2
	}
	if d > b.max {
		d = b.max
	}
	b.until[registry] = now.Add(d)
	return d
}

// Success ends registry's back-off.
func (b *registryBackoff) Success(registry string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.failures, registry)
	delete(b.until, registry)
}

// overloaded reports whether a failed import's status says the registry is
// overloaded or failing (429 or 5xx) rather than that the image is wrong
// (401, 404...): only then does backing off help.
func overloaded(status metav1.Status) bool {
	switch status.Reason {
	case metav1.StatusReasonTooManyRequests, metav1.StatusReasonServiceUnavailable,
		metav1.StatusReasonInternalError, metav1.StatusReasonTimeout, metav1.StatusReasonServerTimeout:
		return true
	}
	if status.Code == http.StatusTooManyRequests || status.Code >= 500 {
		return true
	}
	// The registry's own error code survives in the message when the
	// importer could not classify it.
	msg := strings.ToLower(status.Message)
	return strings.Contains(msg, "toomanyrequests") || strings.Contains(msg, "too many requests")
}
