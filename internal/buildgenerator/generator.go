package buildgenerator

import (
	"context"
	"fmt"
	"strconv"
	"time"

	buildv1 "github.com/openshift/api/build/v1"
	buildclient "github.com/openshift/client-go/build/clientset/versioned/typed/build/v1"
	imageclient "github.com/openshift/client-go/image/clientset/versioned/typed/image/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	coreclient "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/util/retry"

	"github.com/slipway-dev/slipway/internal/serialwrite"
)

// Cause messages of the build triggers, as OpenShift words them.
const (
	CauseManual       = "Manually triggered"
	CauseConfigChange = "Build configuration change"
	CauseImageChange  = "Image change"
)

// Generator creates Builds from BuildConfigs and from other Builds through
// the API, so the same code runs in Slipway's server and against a cluster.
type Generator struct {
	builds buildclient.BuildV1Interface
	images imageclient.ImageV1Interface
	core   coreclient.CoreV1Interface
	now    func() time.Time
	// turns serializes the requests of this process that move one
	// BuildConfig's counter.
	turns serialwrite.Turns
}

// New returns a Generator using the given clients.
func New(builds buildclient.BuildV1Interface, images imageclient.ImageV1Interface, core coreclient.CoreV1Interface) *Generator {
	return &Generator{builds: builds, images: images, core: core, now: time.Now}
}

// IsPaused reports whether bc carries the paused annotation.
func IsPaused(bc *buildv1.BuildConfig) bool {
	return bc.Annotations[buildv1.BuildConfigPausedAnnotation] == "true"
}

// Instantiate creates the next Build of BuildConfig namespace/name for req
// (openshift-semantics.md 1.2). The BuildConfig's status (lastVersion and
// image change triggers) is written first with its resourceVersion as
// precondition, then the Build is created, so two racing requests never
// make the same build; a request carrying lastVersion fails with 400 once
// another request has moved the counter. Concurrent requests for one
// config take turns on its counter, and a write that still conflicts (with
// a writer elsewhere) is recomputed on a fresh read along
// serialwrite.Backoff: they are served one after the other, not refused.
// The build's pull secrets are chosen from its service account while the
// status is written (two reads that would otherwise wait for the write, or
// the write for them); a failure to read them after the counter moved
// leaves a gap in the numbers, as a failed create does.
//
// The BuildConfig is read first from the API server's watch cache
// (resourceVersion "0", no round trip to etcd) unless the request waited
// for its turn (the cache has likely not seen the last write yet): the
// status write's precondition catches a stale copy. Whatever goes wrong
// before the counter moved on that copy (a conflict, a config the cache
// does not have yet, a paused or lastVersion check on old data) is decided
// again on a read from etcd.
func (g *Generator) Instantiate(ctx context.Context, namespace, name string, req *buildv1.BuildRequest) (*buildv1.Build, error) {
	build, err := g.moveCounter(ctx, namespace, name, req)
	if err != nil {
		return nil, err
	}
	return g.createBuild(ctx, build)
}

// createBuild creates build, whose number the config's counter already
// gave it: an API that could not take the request just then
// (serialwrite.Unavailable) is asked again, since a build not created
// leaves a gap in the numbers; an attempt that was stored after all is
// found by name.
func (g *Generator) createBuild(ctx context.Context, build *buildv1.Build) (*buildv1.Build, error) {
	var created *buildv1.Build
	attempted := false
	err := retry.OnError(serialwrite.Backoff, serialwrite.Unavailable, func() error {
		var err error
		created, err = g.builds.Builds(build.Namespace).Create(ctx, build, metav1.CreateOptions{})
		if apierrors.IsAlreadyExists(err) && attempted {
			created, err = g.builds.Builds(build.Namespace).Get(ctx, build.Name, metav1.GetOptions{})
		}
		attempted = true
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("creating build %s/%s: %w", build.Namespace, build.Name, err)
	}
	return created, nil
}

// moveCounter makes the next build of namespace/name in the config's turn
// and returns it once the config's counter moved and its pull secrets are
// chosen.
func (g *Generator) moveCounter(ctx context.Context, namespace, name string, req *buildv1.BuildRequest) (*buildv1.Build, error) {
	release, waited, err := g.turns.Take(ctx, counterKey(namespace, name))
	if err != nil {
		return nil, err
	}
	defer release()
	if !waited {
		build, moved, _, err := g.instantiateOnce(ctx, namespace, name, req, metav1.GetOptions{ResourceVersion: "0"}, release)
		if err == nil || moved {
			return build, err
		}
	}
	var build *buildv1.Build
	var stale bool
	err = retry.OnError(serialwrite.Backoff, func(err error) bool { return stale || serialwrite.Unavailable(err) }, func() error {
		var err error
		build, _, stale, err = g.instantiateOnce(ctx, namespace, name, req, metav1.GetOptions{}, release)
		return err
	})
	return build, err
}

// counterKey names the turn of BuildConfig namespace/name's counter.
func counterKey(namespace, name string) string {
	return "buildconfigs/" + namespace + "/" + name
}

// instantiateOnce reads the BuildConfig with opts, makes the build and
// moves the config's counter, then releases the config's turn (the pull
// secrets are no business of the next request); moved reports whether the
// counter moved, stale whether the status write failed on a changed config
// (and a fresh read may succeed).
func (g *Generator) instantiateOnce(ctx context.Context, namespace, name string, req *buildv1.BuildRequest, opts metav1.GetOptions, release func()) (build *buildv1.Build, moved, stale bool, err error) {
	bc, err := g.builds.BuildConfigs(namespace).Get(ctx, name, opts)
	if err != nil {
		return nil, false, false, err
	}
	build, err = g.newBuildFromConfig(ctx, bc, req)
	if err != nil {
		return nil, false, false, err
	}
	// The counter moves first: a conflict here means someone else
	// wrote the config meanwhile, and the retry re-reads (and fails the
	// lastVersion guard, when the request has one).
	secrets := make(chan error, 1)
	go func() { secrets <- g.selectPullSecrets(ctx, build) }()
	_, err = g.builds.BuildConfigs(namespace).UpdateStatus(ctx, bc, metav1.UpdateOptions{})
	moved, stale = err == nil, apierrors.IsConflict(err)
	if moved {
		release()
	}
	if serr := <-secrets; err == nil {
		err = serr
	}
	return build, moved, stale, err
}

// newBuildFromConfig checks req against bc, advances bc's status in place
// (the caller persists it) and returns the Build to create.
func (g *Generator) newBuildFromConfig(ctx context.Context, bc *buildv1.BuildConfig, req *buildv1.BuildRequest) (*buildv1.Build, error) {
	if IsPaused(bc) {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("can't instantiate from BuildConfig %s/%s: BuildConfig is paused", bc.Namespace, bc.Name))
	}
	if req.LastVersion != nil && *req.LastVersion != bc.Status.LastVersion {
		return nil, apierrors.NewBadRequest(fmt.Sprintf("the LastVersion(%d) on build request %s/%s does not match the build config LastVersion(%d)",
			*req.LastVersion, bc.Namespace, bc.Name, bc.Status.LastVersion))
	}
	if err := g.updateImageChangeTriggers(ctx, bc, req); err != nil {
		return nil, err
	}
	bc.Status.LastVersion++
	n := bc.Status.LastVersion

	build := &buildv1.Build{
		ObjectMeta: metav1.ObjectMeta{
			Name:        BuildName(bc.Name, n),
			Namespace:   bc.Namespace,
			Labels:      map[string]string{},
			Annotations: map[string]string{},
			OwnerReferences: []metav1.OwnerReference{{
				APIVersion: buildv1.GroupVersion.String(),
				Kind:       "BuildConfig",
				Name:       bc.Name,
				UID:        bc.UID,
				Controller: ptr(true),
			}},
		},
		Spec: buildv1.BuildSpec{CommonSpec: *bc.Spec.CommonSpec.DeepCopy()},
	}
	// Request labels and annotations lie underneath; the BuildConfig's
	// labels and the system keys win.
	for k, v := range req.Labels {
		build.Labels[k] = v
	}
	for k, v := range bc.Labels {
		build.Labels[k] = v
	}
	for k, v := range req.Annotations {
		build.Annotations[k] = v
	}
	build.Labels[buildv1.BuildConfigLabel] = LabelValue(bc.Name)
	build.Labels[buildv1.BuildConfigLabelDeprecated] = LabelValue(bc.Name)
	runPolicy := bc.Spec.RunPolicy
	if runPolicy == "" {
		runPolicy = buildv1.BuildRunPolicySerial
	}
	build.Labels[buildv1.BuildRunPolicyLabel] = string(runPolicy)
	build.Annotations[buildv1.BuildConfigAnnotation] = bc.Name
	build.Annotations[buildv1.BuildNumberAnnotation] = strconv.FormatInt(n, 10)
	build.Status.Config = &corev1.ObjectReference{Kind: "BuildConfig", Name: bc.Name, Namespace: bc.Namespace}

	// The strategy image is the one the causing trigger saw, when there is
	// one, so the build uses exactly the image that triggered it.
	if from := StrategyFrom(&build.Spec.Strategy); from != nil {
		if id := triggeredImageFor(bc, from); id != "" {
			*from = corev1.ObjectReference{Kind: "DockerImage", Name: id}
		}
	}
	if err := g.prepareBuild(ctx, build, req); err != nil {
		return nil, err
	}
	return build, nil
}

// prepareBuild finishes a new build (from a config or a clone): the
// request's revision, causes, source and overrides, resolved images and
// the initial status. Its pull secrets are the caller's to select
// (selectPullSecrets).
func (g *Generator) prepareBuild(ctx context.Context, build *buildv1.Build, req *buildv1.BuildRequest) error {
	if build.Spec.ServiceAccount == "" {
		build.Spec.ServiceAccount = "builder"
	}
	if req.Revision != nil {
		build.Spec.Revision = req.Revision.DeepCopy()
	}
	build.Spec.TriggeredBy = append([]buildv1.BuildTriggerCause(nil), req.TriggeredBy...)

	src := &build.Spec.Source
	if req.Binary != nil {
		src.Git = nil
		src.Binary = req.Binary.DeepCopy()
		src.Type = buildv1.BuildSourceBinary
		if src.Binary.AsFile == "Dockerfile" {
			src.Dockerfile = nil
		}
	} else {
		src.Binary = nil
		if src.Type == buildv1.BuildSourceBinary {
			src.Type = ""
		}
	}

	if err := ApplyOverrides(&build.Spec.Strategy, req); err != nil {
		return err
	}
	if err := g.resolveImages(ctx, build); err != nil {
		return err
	}

	now := metav1.NewTime(g.now())
	build.Status = buildv1.BuildStatus{
		Phase:  buildv1.BuildPhaseNew,
		Config: build.Status.Config,
		Conditions: []buildv1.BuildCondition{{
			Type: buildv1.BuildConditionType(buildv1.BuildPhaseNew), Status: corev1.ConditionTrue,
			LastUpdateTime: now, LastTransitionTime: now,
		}},
	}
	return nil
}

// ApplyOverrides applies a request's env, build args, noCache and
// incremental to strategy: same-named entries are replaced, new ones
// appended. Incremental for a non-Source strategy is a 400.
func ApplyOverrides(strategy *buildv1.BuildStrategy, req *buildv1.BuildRequest) error {
	if len(req.Env) > 0 {
		if env := StrategyEnv(strategy); env != nil {
			*env = mergeEnv(*env, req.Env)
		}
	}
	if opts := req.DockerStrategyOptions; opts != nil && strategy.DockerStrategy != nil {
		strategy.DockerStrategy.BuildArgs = mergeEnv(strategy.DockerStrategy.BuildArgs, opts.BuildArgs)
		if opts.NoCache != nil {
			strategy.DockerStrategy.NoCache = *opts.NoCache
		}
	}
	if opts := req.SourceStrategyOptions; opts != nil && opts.Incremental != nil {
		if strategy.SourceStrategy == nil {
			return apierrors.NewBadRequest("incremental build option is only valid for builds with the Source strategy")
		}
		strategy.SourceStrategy.Incremental = ptr(*opts.Incremental)
	}
	return nil
}

func mergeEnv(env, overrides []corev1.EnvVar) []corev1.EnvVar {
	out := append([]corev1.EnvVar(nil), env...)
	for _, o := range overrides {
		replaced := false
		for i := range out {
			if out[i].Name == o.Name {
				out[i] = o
				replaced = true
			}
		}
		if !replaced {
			out = append(out, o)
		}
	}
	return out
}

// StrategyFrom returns the builder image reference of strategy, or nil.
func StrategyFrom(s *buildv1.BuildStrategy) *corev1.ObjectReference {
	switch {
	case s.DockerStrategy != nil:
		return s.DockerStrategy.From
	case s.SourceStrategy != nil:
		return &s.SourceStrategy.From
	case s.CustomStrategy != nil:
		return &s.CustomStrategy.From
	}
	return nil
}

// StrategyEnv returns a pointer to the env of strategy, or nil.
func StrategyEnv(s *buildv1.BuildStrategy) *[]corev1.EnvVar {
	switch {
	case s.DockerStrategy != nil:
		return &s.DockerStrategy.Env
	case s.SourceStrategy != nil:
		return &s.SourceStrategy.Env
	case s.CustomStrategy != nil:
		return &s.CustomStrategy.Env
	case s.JenkinsPipelineStrategy != nil:
		return &s.JenkinsPipelineStrategy.Env
	}
	return nil
}

func ptr[T any](v T) *T { return &v }
