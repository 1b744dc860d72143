// Package failure carries why a build failed, in OpenShift's terms: a
// status reason (FetchSourceFailed, DockerBuildFailed, ...) and a message a
// user can act on, reported through builds/<name>/details.
package failure

import (
	"errors"
	"fmt"

	buildv1 "github.com/openshift/api/build/v1"
)

// Failure is a build failure with its OpenShift status reason.
type Failure struct {
	Reason  buildv1.StatusReason
	Message string
	Err     error
}

// New returns a Failure; err may be nil.
func New(reason buildv1.StatusReason, message string, err error) *Failure {
	return &Failure{Reason: reason, Message: message, Err: err}
}

func (f *Failure) Error() string {
	if f.Err == nil {
		return fmt.Sprintf("%s: %s", f.Reason, f.Message)
	}
	return fmt.Sprintf("%s: %s: %v", f.Reason, f.Message, f.Err)
}

func (f *Failure) Unwrap() error { return f.Err }

// As returns the Failure in err's chain, or a GenericBuildFailed one.
func As(err error) *Failure {
	var f *Failure
	if errors.As(err, &f) {
		return f
	}
	return New(buildv1.StatusReasonGenericBuildFailed, "Generic Build failure - check logs for details.", err)
}
