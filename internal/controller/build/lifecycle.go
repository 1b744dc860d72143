package build

import (
	"context"
	"fmt"
	"strings"

	buildv1 "github.com/openshift/api/build/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/slipway-dev/slipway/internal/buildgenerator"
	buildvalidation "github.com/slipway-dev/slipway/internal/registry/build/build"
	"github.com/slipway-dev/slipway/internal/registry/build/buildspec"
)

// Messages of the reasons the controller sets, in OpenShift's words.
const (
	messageInvalidOutput   = "Output image could not be resolved."
	messageNoSA            = "Unable to look up the service account secrets for this build."
	messageNoDockercfg     = "Waiting for the service account's registry credentials (its dockercfg secret)."
	messageCancelled       = "The build was cancelled by the user."
	messagePodDeleted      = "The pod for this build was deleted before the build completed."
	messageGenericFailure  = "Generic Build failure - check logs for details."
	messageOutOfMemory     = "The build pod was killed due to an out of memory condition."
	messagePodEvicted      = "The build pod was evicted."
	messagePodLost         = "The node stopped while the build ran (slipway server was stopped or killed); its pod was stopped with it. Start the build again."
	messageCannotCreatePod = "Failed creating build pod."
	messagePodExists       = "The pod for this build already exists and is older than the build."
)

// start runs a New build when its run policy allows: it resolves the
// output, picks the push and pull secrets, creates the pod and moves the
// build to Pending.
func (c *Controller) start(ctx context.Context, b *buildv1.Build) error {
	if pending, ok := c.podsCreated.Load(b.UID); ok && pending.(bool) {
		return nil // moved to Pending already; the cache has not caught up
	}
	if ConfigName(b) != "" {
		siblings, err := c.siblings(b)
		if err != nil {
			return err
		}
		for _, older := range ToCancel(b, siblings) {
			cancelled := older.DeepCopy()
			cancelled.Status.Cancelled = true
			if _, err := c.updateStatus(ctx, cancelled); err != nil {
				return err
			}
		}
		if !IsRunnable(b, siblings) {
			return nil
		}
	}

	output, ok := c.resolveOutput(b)
	if !ok {
		if b.Spec.Source.Binary != nil {
			// Nobody would ever stream into a build that cannot push.
			return c.finish(ctx, b, buildv1.BuildPhaseFailed, buildv1.StatusReasonInvalidOutputReference, messageInvalidOutput)
		}
		return c.waitNew(ctx, b, buildv1.StatusReasonInvalidOutputReference, messageInvalidOutput)
	}
	b.Status.OutputDockerImageReference = output

	// The account must exist, and the push secret named too. When a
	// secret is left to choose from the account's (instantiate chose the
	// pull secret already), they are read from the API (see
	// ReadServiceAccount); when not, the informers' copies answer, and
	// only what they do not have yet is asked of the API.
	var pushSecret string
	if ps := b.Spec.Output.PushSecret; ps != nil {
		pushSecret = ps.Name
	}
	pull, from := buildspec.StrategyPullSecret(&b.Spec.Strategy), buildgenerator.StrategyFrom(&b.Spec.Strategy)
	choosePull := pull != nil && *pull == nil && from != nil && from.Name != ""
	choosePush := b.Spec.Output.To != nil && b.Spec.Output.PushSecret == nil
	sa, byName, cached := c.cachedAccount(b, pushSecret, choosePush || choosePull)
	if !cached {
		var err error
		sa, byName, err = buildgenerator.ReadServiceAccount(ctx, c.kube.CoreV1(), b.Namespace, b.Spec.ServiceAccount, choosePush || choosePull, pushSecret)
		if apierrors.IsNotFound(err) {
			return c.waitNew(ctx, b, buildv1.StatusReasonCannotRetrieveServiceAccount, messageNoSA)
		}
		if err != nil {
			return err
		}
	}
	secrets := buildgenerator.SecretsOf(sa, byName)
	if choosePush {
		if b.Spec.Output.To.Kind == "ImageStreamTag" && buildgenerator.MatchingSecret(output, secrets) == nil && awaitsDockercfg(sa) {
			// A project's first build can come before its builder's
			// registry credentials (the token is issued, then the pull
			// secret made): wait for them rather than push with another
			// registry's secret (the fallback below) or none.
			return c.waitNew(ctx, b, buildv1.StatusReasonCannotRetrieveServiceAccount, messageNoDockercfg)
		}
		if s := SelectSecret(output, secrets); s != nil {
			b.Spec.Output.PushSecret = &corev1.LocalObjectReference{Name: s.Name}
		}
	}
	if choosePull {
		if s := SelectSecret(from.Name, secrets); s != nil {
			*pull = &corev1.LocalObjectReference{Name: s.Name}
		}
	}
	if ps := b.Spec.Output.PushSecret; b.Spec.Output.To != nil && ps != nil {
		if byName[ps.Name] == nil {
			// OpenShift leaves such a build Pending until the secret
			// appears; Slipway fails it at once so nothing hangs.
			return c.finish(ctx, b, buildv1.BuildPhaseFailed, buildv1.StatusReasonMissingPushSecret,
				fmt.Sprintf("Missing push secret %q.", ps.Name))
		}
	}

	pod, err := BuildPod(b)
	if err == nil && c.signer != nil {
		err = c.signer.Sign(pod)
	}
	if err != nil {
		return c.waitNew(ctx, b, buildv1.StatusReasonCannotCreateBuildPodSpec, "Failed to create pod spec.")
	}
	created := pod
	if _, made := c.podsCreated.Load(b.UID); !made {
		if created, err = c.createPod(ctx, b, pod); created == nil {
			return err
		}
		c.podsCreated.Store(b.UID, false)
	}
	if err := c.recordPod(ctx, b, created.Name, output); err != nil {
		return err
	}
	c.podsCreated.Store(b.UID, true)
	return nil
}

// cachedAccount returns b's service account and its push secret from the
// informers' caches when nothing is to be chosen from the account's
// secrets and both are there; cached is false otherwise.
func (c *Controller) cachedAccount(b *buildv1.Build, pushSecret string, choosing bool) (sa *corev1.ServiceAccount, byName map[string]*corev1.Secret, cached bool) {
	if choosing {
		return nil, nil, false
	}
	sa, err := c.saLister.ServiceAccounts(b.Namespace).Get(b.Spec.ServiceAccount)
	if err != nil {
		return nil, nil, false
	}
	byName = map[string]*corev1.Secret{}
	if pushSecret != "" {
		s, err := c.secretLister.Secrets(b.Namespace).Get(pushSecret)
		if err != nil {
			return nil, nil, false
		}
		byName[pushSecret] = s
	}
	return sa, byName, true
}

// createPod creates b's build pod; a nil pod means the build was handled
// otherwise (failed, or left New to retry) and err is what sync returns.
func (c *Controller) createPod(ctx context.Context, b *buildv1.Build, pod *corev1.Pod) (*corev1.Pod, error) {
	created, err := c.kube.CoreV1().Pods(b.Namespace).Create(ctx, pod, metav1.CreateOptions{})
	switch {
	case apierrors.IsAlreadyExists(err):
		existing, getErr := c.kube.CoreV1().Pods(b.Namespace).Get(ctx, pod.Name, metav1.GetOptions{})
		if getErr != nil {
			return nil, fmt.Errorf("reading existing pod %s/%s: %w", pod.Namespace, pod.Name, getErr)
		}
		if !metav1.IsControlledBy(existing, b) {
			return nil, c.finish(ctx, b, buildv1.BuildPhaseError, buildv1.StatusReasonBuildPodExists, messagePodExists)
		}
		// Our own pod from an earlier sync that did not get to record it.
		created = existing
	case err != nil:
		if werr := c.waitNew(ctx, b, buildv1.StatusReasonCannotCreateBuildPod, messageCannotCreatePod); werr != nil {
			return nil, werr
		}
		return nil, fmt.Errorf("creating build pod %s/%s: %w", pod.Namespace, pod.Name, err)
	}
	return created, nil
}

// recordPod records the build pod's name and the chosen secrets on b and
// moves it to Pending.
func (c *Controller) recordPod(ctx context.Context, b *buildv1.Build, podName, output string) error {
	// The pod name is metadata, written through the main resource; the
	// phase through builds/status. Both writes start from the informer's
	// copy: if it is stale, a write conflicts and the sync runs again.
	cached, err := c.buildLister.Builds(b.Namespace).Get(b.Name)
	if err != nil {
		return err
	}
	stored := cached.DeepCopy()
	// Record the pod and the secrets chosen from the service account, as
	// OpenShift does (the one spec change a build allows).
	chosen := buildvalidation.WithChosenSecrets(stored.Spec, b.Spec)
	if stored.Annotations[buildv1.BuildPodNameAnnotation] != podName || !equality.Semantic.DeepEqual(chosen, stored.Spec) {
		if stored.Annotations == nil {
			stored.Annotations = map[string]string{}
		}
		stored.Annotations[buildv1.BuildPodNameAnnotation] = podName
		stored.Spec = chosen
		if stored, err = c.builds.BuildV1().Builds(b.Namespace).Update(ctx, stored, metav1.UpdateOptions{}); err != nil {
			return fmt.Errorf("recording pod name on build %s/%s: %w", b.Namespace, b.Name, err)
		}
	}
	if stored.Status.Phase != buildv1.BuildPhaseNew || stored.Status.Cancelled {
		return nil // moved on meanwhile (the builder failed it, or a cancel)
	}
	stored.Status.OutputDockerImageReference = output
	c.setPhase(stored, buildv1.BuildPhasePending, "", "")
	_, err = c.updateStatus(ctx, stored)
	return err
}

// resolveOutput returns the pull spec the build pushes to: a DockerImage
// as named, an ImageStreamTag as <stream's registry repository>:<tag>. ok
// is false when the stream is missing or has no registry repository. A
// build without output resolves to "".
func (c *Controller) resolveOutput(b *buildv1.Build) (string, bool) {
	to := b.Spec.Output.To
	if to == nil {
		return "", true
	}
	switch to.Kind {
	case "DockerImage":
		return to.Name, to.Name != ""
	case "ImageStreamTag", "":
		name, tag, err := buildgenerator.SplitImageStreamTag(to.Name)
		if err != nil {
			return "", false
		}
		ns := to.Namespace
		if ns == "" {
			ns = b.Namespace
		}
		stream, err := c.streamLister.ImageStreams(ns).Get(name)
		if err != nil || stream.Status.DockerImageRepository == "" {
			return "", false
		}
		return stream.Status.DockerImageRepository + ":" + tag, true
	}
	return "", false
}

// SelectSecret picks the secret for pushing to or pulling image: the first
// whose docker credentials match the image's registry, else the first
// docker credential secret at all (OpenShift's fallback, usually the
// internal registry's), else nil.
func SelectSecret(image string, secrets []*corev1.Secret) *corev1.Secret {
	if s := buildgenerator.MatchingSecret(image, secrets); s != nil {
		return s
	}
	return buildgenerator.FirstDockerSecret(secrets)
}

// follow moves a Pending or Running build along with its pod.
func (c *Controller) follow(ctx context.Context, b *buildv1.Build) error {
	podName := b.Annotations[buildv1.BuildPodNameAnnotation]
	if podName == "" {
		podName = buildgenerator.PodName(b.Name)
	}
	pod, err := c.podLister.Pods(b.Namespace).Get(podName)
	if apierrors.IsNotFound(err) {
		// The cache may lag behind a pod created a moment ago.
		pod, err = c.kube.CoreV1().Pods(b.Namespace).Get(ctx, podName, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return c.finish(ctx, b, buildv1.BuildPhaseError, buildv1.StatusReasonBuildPodDeleted, messagePodDeleted)
		}
	}
	if err != nil {
		return fmt.Errorf("reading pod %s/%s: %w", b.Namespace, podName, err)
	}
	if pod.DeletionTimestamp != nil && pod.Status.Phase != corev1.PodSucceeded && pod.Status.Phase != corev1.PodFailed {
		return c.finish(ctx, b, buildv1.BuildPhaseError, buildv1.StatusReasonBuildPodDeleted, messagePodDeleted)
	}
	switch pod.Status.Phase {
	case corev1.PodRunning:
		if b.Status.Phase == buildv1.BuildPhaseRunning {
			return nil
		}
		start := metav1.NewTime(c.now())
		if pod.Status.StartTime != nil {
			start = *pod.Status.StartTime
		}
		b.Status.StartTimestamp = &start
		c.setPhase(b, buildv1.BuildPhaseRunning, "", "")
		if _, err := c.updateStatus(ctx, b); err != nil {
			return err
		}
		c.recorder.Eventf(b, corev1.EventTypeNormal, "BuildStarted", "Build %s/%s is now running", b.Namespace, b.Name)
		return nil
	case corev1.PodSucceeded:
		return c.finish(ctx, b, buildv1.BuildPhaseComplete, "", "")
	case corev1.PodFailed:
		phase, reason, message := PodFailure(pod)
		return c.finish(ctx, b, phase, reason, message)
	}
	return nil
}

// podReasonNodeLost is the reason a node gives a pod whose processes it
// lost (the Kubernetes node controller's word, the node agent's too).
const podReasonNodeLost = "NodeLost"

// StatusReasonBuildPodLost is a build's reason when its pod was lost with
// its node (Slipway's: OpenShift would show GenericBuildFailed).
const StatusReasonBuildPodLost buildv1.StatusReason = "BuildPodLost"

// PodFailure maps a Failed build pod to the build's phase, reason and
// message: evicted, OOM-killed, or a generic failure (the builder's own
// reason, reported through builds/details, takes precedence on the server).
func PodFailure(pod *corev1.Pod) (buildv1.BuildPhase, buildv1.StatusReason, string) {
	switch pod.Status.Reason {
	case "Evicted":
		return buildv1.BuildPhaseFailed, buildv1.StatusReasonBuildPodEvicted, messagePodEvicted
	case podReasonNodeLost:
		// The node (slipway server) stopped while the build ran: nothing
		// in the build is at fault, and starting it again is the remedy.
		return buildv1.BuildPhaseError, StatusReasonBuildPodLost, messagePodLost
	}
	for _, s := range pod.Status.ContainerStatuses {
		if t := s.State.Terminated; t != nil && t.Reason == "OOMKilled" {
			return buildv1.BuildPhaseFailed, buildv1.StatusReasonOutOfMemoryKilled, messageOutOfMemory
		}
	}
	return buildv1.BuildPhaseFailed, buildv1.StatusReasonGenericBuildFailed, messageGenericFailure
}

// cancel stops a cancelled build: its pod is deleted and it ends Cancelled.
func (c *Controller) cancel(ctx context.Context, b *buildv1.Build) error {
	podName := b.Annotations[buildv1.BuildPodNameAnnotation]
	if podName == "" {
		podName = buildgenerator.PodName(b.Name)
	}
	err := c.kube.CoreV1().Pods(b.Namespace).Delete(ctx, podName, metav1.DeleteOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("deleting pod %s/%s of cancelled build: %w", b.Namespace, podName, err)
	}
	return c.finish(ctx, b, buildv1.BuildPhaseCancelled, buildv1.StatusReasonCancelledBuild, messageCancelled)
}

// finish moves b to a terminal phase and completes it.
func (c *Controller) finish(ctx context.Context, b *buildv1.Build, phase buildv1.BuildPhase, reason buildv1.StatusReason, message string) error {
	if b.Status.Phase == buildv1.BuildPhaseFailed && b.Status.Reason != "" {
		// The builder already said why.
		phase, reason, message = b.Status.Phase, b.Status.Reason, b.Status.Message
	}
	c.setPhase(b, phase, reason, message)
	return c.complete(ctx, b)
}

// complete records the end of a terminal build once: completion time,
// duration, the log snippet from the pod's termination message, and the
// event.
func (c *Controller) complete(ctx context.Context, b *buildv1.Build) error {
	c.podsCreated.Delete(b.UID)
	if b.Status.CompletionTimestamp != nil {
		return nil
	}
	now := metav1.NewTime(c.now())
	if b.Status.StartTimestamp == nil {
		b.Status.StartTimestamp = &now
	}
	b.Status.CompletionTimestamp = &now
	b.Status.Duration = now.Sub(b.Status.StartTimestamp.Time)
	if (b.Status.Phase == buildv1.BuildPhaseFailed || b.Status.Phase == buildv1.BuildPhaseError) && b.Status.LogSnippet == "" {
		if pod, err := c.podLister.Pods(b.Namespace).Get(buildgenerator.PodName(b.Name)); err == nil {
			b.Status.LogSnippet = LogSnippet(pod)
		}
	}
	if _, err := c.updateStatus(ctx, b); err != nil {
		return err
	}
	switch b.Status.Phase {
	case buildv1.BuildPhaseComplete:
		c.recorder.Eventf(b, corev1.EventTypeNormal, "BuildCompleted", "Build %s/%s completed successfully", b.Namespace, b.Name)
	case buildv1.BuildPhaseCancelled:
		c.recorder.Eventf(b, corev1.EventTypeNormal, "BuildCancelled", "Build %s/%s has been cancelled", b.Namespace, b.Name)
	default:
		c.recorder.Eventf(b, corev1.EventTypeNormal, "BuildFailed", "Build %s/%s failed", b.Namespace, b.Name)
	}
	return nil
}

// LogSnippet returns the last five lines of the build container's
// termination message, or "".
func LogSnippet(pod *corev1.Pod) string {
	for _, s := range pod.Status.ContainerStatuses {
		if t := s.State.Terminated; s.Name == ContainerName && t != nil && t.Message != "" {
			lines := strings.Split(strings.TrimRight(t.Message, "\n"), "\n")
			return strings.Join(lines[max(0, len(lines)-5):], "\n")
		}
	}
	return ""
}

// awaitsDockercfg reports an account whose registry pull secret
// (<sa>-dockercfg-*, made by the service account controller) is not
// referenced yet.
func awaitsDockercfg(sa *corev1.ServiceAccount) bool {
	for _, ref := range sa.Secrets {
		if strings.HasPrefix(ref.Name, sa.Name+"-dockercfg-") {
			return false
		}
	}
	return true
}
