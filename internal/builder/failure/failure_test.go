package failure

import (
	"errors"
	"fmt"
	"testing"

	buildv1 "github.com/openshift/api/build/v1"
)

func TestAs(t *testing.T) {
	f := New(buildv1.StatusReasonFetchSourceFailed, "Failed to fetch the input source.", errors.New("no such host"))
	wrapped := fmt.Errorf("cloning: %w", f)
	if got := As(wrapped); got.Reason != buildv1.StatusReasonFetchSourceFailed {
		t.Fatalf("As(wrapped) reason = %s", got.Reason)
	}
	if got := As(errors.New("boom")); got.Reason != buildv1.StatusReasonGenericBuildFailed || got.Err == nil {
		t.Fatalf("As(plain) = %+v", got)
	}
}
