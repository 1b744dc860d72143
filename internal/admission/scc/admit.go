package scc

import (
	"context"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/apiserver/pkg/authentication/serviceaccount"
	"k8s.io/apiserver/pkg/authentication/user"

	"github.com/slipway-dev/slipway/internal/hostprocess"
)

// MayUse reports whether u may use the constraint scc in namespace (RBAC's
// "use" of securitycontextconstraints/<scc> in security.openshift.io).
type MayUse func(ctx context.Context, u user.Info, scc, namespace string) (bool, error)

// NamespaceGetter reads a namespace as it is now.
type NamespaceGetter func(ctx context.Context, name string) (*corev1.Namespace, error)

// Admission picks the constraint a new pod runs under and applies it.
type Admission struct {
	namespaces NamespaceGetter
	mayUse     MayUse
	// rangeWait is how long a pod of a namespace the allocation controller
	// has not yet annotated waits for its ranges.
	rangeWait time.Duration
}

// New returns an Admission reading namespaces and permissions through the
// given functions.
func New(namespaces NamespaceGetter, mayUse MayUse) *Admission {
	return &Admission{namespaces: namespaces, mayUse: mayUse, rangeWait: 10 * time.Second}
}

// Admit applies to pod, being created in namespace by requester, the
// first constraint (in Names' order) that the requester or the pod's
// service account may use and that admits the pod, records it in the
// pod's openshift.io/scc annotation and returns its name. A pod no usable
// constraint admits gets a Forbidden error listing why, as OpenShift's.
// Host-process pods (only Slipway's controllers may make them, see the
// server's admission policy) are left as they are.
func (a *Admission) Admit(ctx context.Context, pod *corev1.Pod, namespace string, requester user.Info) (string, error) {
	if pod.Annotations[hostprocess.Annotation] == "true" {
		return "", nil
	}
	ranges, err := a.ranges(ctx, namespace)
	if err != nil {
		return "", forbidden(pod, err.Error())
	}
	saName := pod.Spec.ServiceAccountName
	if saName == "" {
		saName = "default"
	}
	sa := &user.DefaultInfo{Name: serviceaccount.MakeUsername(namespace, saName),
		Groups: append(serviceaccount.MakeGroupNames(namespace), user.AllAuthenticated)}
	var reasons []string
	for _, name := range Names {
		usable, err := a.usable(ctx, name, namespace, requester, sa)
		if err != nil {
			return "", apierrors.NewInternalError(fmt.Errorf("checking who may use security context constraint %s: %w", name, err))
		}
		if !usable {
			reasons = append(reasons, fmt.Sprintf("provider %q: Forbidden: not usable by user or serviceaccount", name))
			continue
		}
		if errs := Apply(name, pod, ranges); len(errs) > 0 {
			reasons = append(reasons, fmt.Sprintf("provider %s: %s", name, errs.ToAggregate()))
			continue
		}
		if pod.Annotations == nil {
			pod.Annotations = map[string]string{}
		}
		pod.Annotations[PodAnnotation] = name
		return name, nil
	}
	return "", forbidden(pod, "unable to validate against any security context constraint: ["+strings.Join(reasons, ", ")+"]")
}

func (a *Admission) usable(ctx context.Context, name, namespace string, users ...user.Info) (bool, error) {
	for _, u := range users {
		if u == nil {
			continue
		}
		ok, err := a.mayUse(ctx, u, name, namespace)
		if ok || err != nil {
			return ok, err
		}
	}
	return false, nil
}

// ranges reads namespace's UID and group ranges, waiting a little for the
// allocation controller when the namespace was just made.
func (a *Admission) ranges(ctx context.Context, namespace string) (Ranges, error) {
	var ranges Ranges
	var last error
	err := wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, a.rangeWait, true, func(ctx context.Context) (bool, error) {
		ns, err := a.namespaces(ctx, namespace)
		if err != nil {
			return false, err
		}
		if _, ok := ns.Annotations[UIDRangeAnnotation]; !ok {
			last = fmt.Errorf("unable to find annotation %s on namespace %s", UIDRangeAnnotation, namespace)
			return false, nil
		}
		ranges, err = NamespaceRanges(ns)
		return true, err
	})
	if err != nil && last != nil {
		return Ranges{}, last
	}
	return ranges, err
}

func forbidden(pod *corev1.Pod, reason string) error {
	name := pod.Name
	if name == "" {
		name = pod.GenerateName
	}
	return apierrors.NewForbidden(schema.GroupResource{Resource: "pods"}, name, fmt.Errorf("%s", reason))
}
