// Package webhook serves buildconfigs/<name>/webhooks/<secret>/<type>: Git
// hosts (GitHub, GitLab, Bitbucket) and anything else (generic) start builds
// by POSTing there, authenticated only by the secret in the path
// (openshift-semantics.md 1.3).
package webhook

import (
	"context"
	"crypto/subtle"
	"fmt"
	"io"
	"net/http"
	"strings"

	buildv1 "github.com/openshift/api/build/v1"
	buildclient "github.com/openshift/client-go/build/clientset/versioned/typed/build/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/registry/rest"
	coreclient "k8s.io/client-go/kubernetes/typed/core/v1"
)

// SecretKey is the key of a trigger's referenced Secret holding the webhook
// secret.
const SecretKey = "WebHookSecretKey"

// maxPayload bounds a webhook body; Git hosts send a few hundred KB at most.
const maxPayload = 10 << 20

// Instantiator creates a build of a BuildConfig.
type Instantiator interface {
	Instantiate(ctx context.Context, namespace, name string, req *buildv1.BuildRequest) (*buildv1.Build, error)
}

// REST is the connecter of buildconfigs/webhooks.
type REST struct {
	buildConfigs buildclient.BuildConfigsGetter
	secrets      coreclient.SecretsGetter
	instantiator Instantiator
}

var _ rest.Connecter = &REST{}

// NewREST returns the webhook connecter: it reads BuildConfigs and trigger
// secrets through the given clients and starts builds with instantiator.
func NewREST(buildConfigs buildclient.BuildConfigsGetter, secrets coreclient.SecretsGetter, instantiator Instantiator) *REST {
	return &REST{buildConfigs: buildConfigs, secrets: secrets, instantiator: instantiator}
}

// New returns a Build, what a successful webhook answers.
func (*REST) New() runtime.Object { return &buildv1.Build{} }

// Destroy does nothing.
func (*REST) Destroy() {}

// ConnectMethods is POST only, as in OpenShift.
func (*REST) ConnectMethods() []string { return []string{http.MethodPost} }

// NewConnectOptions takes the rest of the path ("<secret>/<type>") into
// PodProxyOptions.Path, as openshift-apiserver does.
func (*REST) NewConnectOptions() (runtime.Object, bool, string) {
	return &corev1.PodProxyOptions{}, true, "path"
}

// Connect returns the handler of one webhook call for BuildConfig name.
func (r *REST) Connect(ctx context.Context, name string, opts runtime.Object, responder rest.Responder) (http.Handler, error) {
	proxyOpts, ok := opts.(*corev1.PodProxyOptions)
	if !ok {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("unexpected options %T", opts))
	}
	namespace, _ := genericapirequest.NamespaceFrom(ctx)
	secret, hookType, ok := strings.Cut(strings.Trim(proxyOpts.Path, "/"), "/")
	if !ok || secret == "" || strings.Contains(hookType, "/") {
		return nil, apierrors.NewBadRequest("the webhook path must be <secret>/<type>")
	}
	parse, ok := parsers[hookType]
	if !ok {
		return nil, apierrors.NewNotFound(buildv1.Resource("buildconfighook"), hookType)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		obj, err := r.serve(req.Context(), namespace, name, secret, hookType, parse, req)
		if err != nil {
			responder.Error(err)
			return
		}
		responder.Object(http.StatusOK, obj)
	}), nil
}

// serve checks the secret, parses the event, applies the branch filter and
// starts the build; it returns the Build, or a Status when the event is
// accepted without a build.
func (r *REST) serve(ctx context.Context, namespace, name, secret, hookType string, parse parser, req *http.Request) (runtime.Object, error) {
	unauthorized := apierrors.NewUnauthorized(fmt.Sprintf("the webhook %q for %q did not accept your secret", hookType, name))
	bc, err := r.buildConfigs.BuildConfigs(namespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		// A missing BuildConfig answers like a wrong secret, so the
		// endpoint does not reveal which BuildConfigs exist.
		return nil, unauthorized
	}
	trigger, err := r.matchingTrigger(ctx, bc, hookType, secret)
	if err != nil {
		return nil, err
	}
	if trigger == nil {
		return nil, unauthorized
	}
	body, err := io.ReadAll(io.LimitReader(req.Body, maxPayload+1))
	if err != nil {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("reading the webhook payload: %v", err))
	}
	if len(body) > maxPayload {
		// Cut short, it would parse as nothing and build the configured
		// ref, which is not what the sender asked for.
		return nil, apierrors.NewRequestEntityTooLargeError(fmt.Sprintf("the webhook payload is over %d MiB", maxPayload>>20))
	}
	event, err := parse(req.Header, body, trigger)
	if err != nil {
		return nil, err
	}
	if event.skip != "" {
		return &metav1.Status{Status: metav1.StatusSuccess, Code: http.StatusOK, Message: event.skip}, nil
	}
	if !event.refs.match(bc) {
		return &metav1.Status{Status: metav1.StatusSuccess, Code: http.StatusOK,
			Message: fmt.Sprintf("skipping build: branch reference from %q does not match the BuildConfig %s/%s", event.refs.String(), namespace, name)}, nil
	}
	event.request.Name = name
	return r.instantiator.Instantiate(ctx, namespace, name, &event.request)
}

// matchingTrigger returns the trigger of hookType whose secret equals
// secret (compared in constant time), or nil.
func (r *REST) matchingTrigger(ctx context.Context, bc *buildv1.BuildConfig, hookType, secret string) (*buildv1.BuildTriggerPolicy, error) {
	for i := range bc.Spec.Triggers {
		t := &bc.Spec.Triggers[i]
		hook := hookOf(t, hookType)
		if hook == nil {
			continue
		}
		want := hook.Secret
		if hook.SecretReference != nil {
			s, err := r.secrets.Secrets(bc.Namespace).Get(ctx, hook.SecretReference.Name, metav1.GetOptions{})
			if apierrors.IsNotFound(err) {
				continue
			}
			if err != nil {
				return nil, fmt.Errorf("reading webhook secret %s/%s: %w", bc.Namespace, hook.SecretReference.Name, err)
			}
			want = string(s.Data[SecretKey])
		}
		if want != "" && subtle.ConstantTimeCompare([]byte(want), []byte(secret)) == 1 {
			return t, nil
		}
	}
	return nil, nil
}

// hookOf returns t's webhook settings when t is a trigger of hookType.
func hookOf(t *buildv1.BuildTriggerPolicy, hookType string) *buildv1.WebHookTrigger {
	switch {
	case hookType == "github" && t.Type == buildv1.GitHubWebHookBuildTriggerType:
		return t.GitHubWebHook
	case hookType == "gitlab" && t.Type == buildv1.GitLabWebHookBuildTriggerType:
		return t.GitLabWebHook
	case hookType == "bitbucket" && t.Type == buildv1.BitbucketWebHookBuildTriggerType:
		return t.BitbucketWebHook
	case hookType == "generic" && t.Type == buildv1.GenericWebHookBuildTriggerType:
		return t.GenericWebHook
	}
	return nil
}
