package buildgenerator

import (
	"context"
	"fmt"
	"strings"
	"sync"

	buildv1 "github.com/openshift/api/build/v1"
	"golang.org/x/sync/errgroup"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	coreclient "k8s.io/client-go/kubernetes/typed/core/v1"

	"github.com/slipway-dev/slipway/internal/registry/build/buildspec"
)

// ResolveImage returns the pull spec ref names: a DockerImage as it is, an
// ImageStreamTag as its newest tag event, an ImageStreamImage as the event
// with that digest. The namespace defaults to namespace. An image stream
// tag with nothing in it yet is a 400 naming the tag.
func (g *Generator) ResolveImage(ctx context.Context, namespace string, ref *corev1.ObjectReference) (string, error) {
	ns := ref.Namespace
	if ns == "" {
		ns = namespace
	}
	switch ref.Kind {
	case "DockerImage":
		return ref.Name, nil
	case "ImageStreamTag", "":
		name, tag, err := SplitImageStreamTag(ref.Name)
		if err != nil {
			return "", apierrors.NewBadRequest(err.Error())
		}
		stream, err := g.images.ImageStreams(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return "", fmt.Errorf("resolving ImageStreamTag %s/%s: %w", ns, ref.Name, err)
		}
		if spec := LatestTaggedImage(stream, tag); spec != "" {
			return spec, nil
		}
		return "", apierrors.NewBadRequest(fmt.Sprintf("Error resolving ImageStreamTag %s in namespace %s: unable to find latest tagged image", ref.Name, ns))
	case "ImageStreamImage":
		name, digest, found := strings.Cut(ref.Name, "@")
		if !found || name == "" || digest == "" {
			return "", apierrors.NewBadRequest(fmt.Sprintf("invalid ImageStreamImage %q: expected <stream>@<digest>", ref.Name))
		}
		stream, err := g.images.ImageStreams(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return "", fmt.Errorf("resolving ImageStreamImage %s/%s: %w", ns, ref.Name, err)
		}
		if spec := ImageByDigest(stream, digest); spec != "" {
			return spec, nil
		}
		return "", apierrors.NewBadRequest(fmt.Sprintf("Error resolving ImageStreamImage %s in namespace %s: image not found", ref.Name, ns))
	}
	return "", apierrors.NewBadRequest(fmt.Sprintf("unable to resolve image reference of kind %q", ref.Kind))
}

// resolveImages rewrites the strategy and source images of build to
// DockerImage pull specs.
func (g *Generator) resolveImages(ctx context.Context, build *buildv1.Build) error {
	strategy := &build.Spec.Strategy
	if from := StrategyFrom(strategy); from != nil && from.Name != "" {
		spec, err := g.ResolveImage(ctx, build.Namespace, from)
		if err != nil {
			return err
		}
		*from = corev1.ObjectReference{Kind: "DockerImage", Name: spec}
		if strategy.CustomStrategy != nil {
			strategy.CustomStrategy.Env = mergeEnv(strategy.CustomStrategy.Env, []corev1.EnvVar{{Name: "OPENSHIFT_CUSTOM_BUILD_BASE_IMAGE", Value: spec}})
		}
	}
	for i := range build.Spec.Source.Images {
		from := &build.Spec.Source.Images[i].From
		spec, err := g.ResolveImage(ctx, build.Namespace, from)
		if err != nil {
			return err
		}
		*from = corev1.ObjectReference{Kind: "DockerImage", Name: spec}
	}
	return nil
}

// selectPullSecrets sets unset pull secrets (strategy and source images) to
// the first service account secret with credentials for the image. A
// missing service account is left to the build controller, which reports it.
func (g *Generator) selectPullSecrets(ctx context.Context, build *buildv1.Build) error {
	pull := buildspec.StrategyPullSecret(&build.Spec.Strategy)
	from := StrategyFrom(&build.Spec.Strategy)
	needStrategy := pull != nil && *pull == nil && from != nil && from.Name != ""
	needSource := false
	for _, img := range build.Spec.Source.Images {
		needSource = needSource || img.PullSecret == nil
	}
	if !needStrategy && !needSource {
		return nil
	}
	secrets, err := ServiceAccountSecrets(ctx, g.core, build.Namespace, build.Spec.ServiceAccount)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if needStrategy {
		if s := MatchingSecret(from.Name, secrets); s != nil {
			*pull = &corev1.LocalObjectReference{Name: s.Name}
		}
	}
	for i := range build.Spec.Source.Images {
		img := &build.Spec.Source.Images[i]
		if img.PullSecret == nil {
			if s := MatchingSecret(img.From.Name, secrets); s != nil {
				img.PullSecret = &corev1.LocalObjectReference{Name: s.Name}
			}
		}
	}
	return nil
}

// ServiceAccountSecrets reads service account namespace/name and the
// secrets it lists (imagePullSecrets first), skipping listed secrets that
// do not exist. A missing account is returned as its NotFound error.
func ServiceAccountSecrets(ctx context.Context, core coreclient.CoreV1Interface, namespace, name string) ([]*corev1.Secret, error) {
	sa, byName, err := ReadServiceAccount(ctx, core, namespace, name, true)
	if err != nil {
		return nil, err
	}
	return SecretsOf(sa, byName), nil
}

// ReadServiceAccount reads service account namespace/name and, side by
// side with it, the extra secrets named and (with listed) the secrets the
// account lists: a build waits on them (at instantiate and again before
// its pod is made). byName holds those that exist. They are read from the
// API, not from informer caches: a `secrets link` made just before
// `start-build` (the walkthrough's order) must count; and by name, which
// reads etcd at once, where a consistent list first waits for the watch
// cache to catch up. A missing account is returned as its NotFound error.
func ReadServiceAccount(ctx context.Context, core coreclient.CoreV1Interface, namespace, name string, listed bool, extra ...string) (*corev1.ServiceAccount, map[string]*corev1.Secret, error) {
	var mu sync.Mutex
	byName := map[string]*corev1.Secret{}
	asked := map[string]bool{}
	g, gctx := errgroup.WithContext(ctx)
	read := func(secretName string) {
		if secretName == "" || asked[secretName] {
			return
		}
		asked[secretName] = true
		g.Go(func() error {
			s, err := core.Secrets(namespace).Get(gctx, secretName, metav1.GetOptions{})
			if apierrors.IsNotFound(err) {
				return nil
			}
			if err != nil {
				return fmt.Errorf("reading secret %s/%s: %w", namespace, secretName, err)
			}
			mu.Lock()
			byName[secretName] = s
			mu.Unlock()
			return nil
		})
	}
	for _, n := range extra {
		read(n)
	}
	sa, err := core.ServiceAccounts(namespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		_ = g.Wait()
		return nil, nil, err
	}
	if listed {
		for _, n := range ServiceAccountSecretNames(sa) {
			read(n)
		}
	}
	if err := g.Wait(); err != nil {
		return nil, nil, err
	}
	return sa, byName, nil
}

// SecretsOf is the secrets sa lists that exist in byName, imagePullSecrets
// first.
func SecretsOf(sa *corev1.ServiceAccount, byName map[string]*corev1.Secret) []*corev1.Secret {
	var secrets []*corev1.Secret
	for _, name := range ServiceAccountSecretNames(sa) {
		if s := byName[name]; s != nil {
			secrets = append(secrets, s)
		}
	}
	return secrets
}
