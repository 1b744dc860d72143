package deployer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	appsv1 "github.com/openshift/api/apps/v1"
	imagev1 "github.com/openshift/api/image/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/tools/cache"
	watchtools "k8s.io/client-go/tools/watch"

	"github.com/slipway-dev/slipway/internal/buildgenerator"
	"github.com/slipway-dev/slipway/internal/deployutil"
)

// HookPodTypeLabel on a hook pod says which hook it runs (hook-pre,
// hook-mid, hook-post), as OpenShift labels them.
const HookPodTypeLabel = "openshift.io/deployer-pod.type"

// hookContainerName is the name of a hook pod's one container.
const hookContainerName = "lifecycle"

// retryDelay is the pause before a failed hook with failurePolicy Retry
// runs again.
var retryDelay = time.Second

// hook runs a lifecycle hook (nil: none) and applies its failurePolicy:
// Abort fails the deployment, Ignore logs and goes on, Retry runs it again
// until it succeeds or the deployment ends.
func (d *Deployer) hook(ctx context.Context, dep *deployment, hook *appsv1.LifecycleHook, suffix, label string) error {
	if hook == nil {
		return nil
	}
	for attempt := 1; ; attempt++ {
		err := d.runHook(ctx, dep, hook, suffix, label)
		if err == nil || ctx.Err() != nil {
			return err
		}
		switch hook.FailurePolicy {
		case appsv1.LifecycleHookFailurePolicyIgnore:
			fmt.Fprintf(d.Out, "--> %s: Hook failed (ignored): %v\n", label, err)
			return nil
		case appsv1.LifecycleHookFailurePolicyRetry:
			fmt.Fprintf(d.Out, "--> %s: Hook failed, retrying (attempt %d): %v\n", label, attempt+1, err)
			select {
			case <-ctx.Done():
				return context.Cause(ctx)
			case <-time.After(retryDelay):
			}
		default:
			return fmt.Errorf("%s hook failed: %w", label, err)
		}
	}
}

func (d *Deployer) runHook(ctx context.Context, dep *deployment, hook *appsv1.LifecycleHook, suffix, label string) error {
	if hook.ExecNewPod != nil {
		if err := d.execNewPod(ctx, dep, hook.ExecNewPod, suffix, label); err != nil {
			return err
		}
	}
	if len(hook.TagImages) > 0 {
		return d.tagImages(ctx, dep, hook.TagImages, label)
	}
	return nil
}

// execNewPod runs the hook in pod "<rc>-hook-<when>" and waits for it. A
// pod left by an earlier attempt is deleted first, so each attempt runs
// afresh.
func (d *Deployer) execNewPod(ctx context.Context, dep *deployment, exec *appsv1.ExecNewPodHook, suffix, label string) error {
	pod, err := hookPod(dep, exec, suffix)
	if err != nil {
		return err
	}
	pods := d.Kube.CoreV1().Pods(d.Namespace)
	if err := d.deletePod(ctx, pod.Name); err != nil {
		return err
	}
	fmt.Fprintf(d.Out, "--> %s: Running hook pod ...\n", label)
	created, err := pods.Create(ctx, pod, metav1.CreateOptions{})
	if err != nil {
		return fmt.Errorf("creating hook pod %s: %w", pod.Name, err)
	}
	done, err := d.waitForPod(ctx, created)
	if err != nil {
		return fmt.Errorf("waiting for hook pod %s: %w", pod.Name, err)
	}
	d.copyLog(ctx, done.Name)
	if done.Status.Phase != corev1.PodSucceeded {
		return fmt.Errorf("hook pod %s %s%s", done.Name, done.Status.Phase, podMessage(done))
	}
	fmt.Fprintf(d.Out, "--> %s: Success\n", label)
	return nil
}

// hookPod is the pod of an execNewPod hook: the named container of the
// deployment's template (its image, env, resources) running the hook's
// command with the hook's env on top and only the hook's volumes.
func hookPod(dep *deployment, exec *appsv1.ExecNewPodHook, suffix string) (*corev1.Pod, error) {
	template := dep.to.Spec.Template
	if template == nil {
		return nil, fmt.Errorf("deployment %s has no pod template", dep.to.Name)
	}
	i := slices.IndexFunc(template.Spec.Containers, func(c corev1.Container) bool { return c.Name == exec.ContainerName })
	if i < 0 {
		return nil, fmt.Errorf("hook container %q is not in the pod template", exec.ContainerName)
	}
	base := template.Spec.Containers[i]

	env := slices.Clone(base.Env)
	for _, e := range exec.Env {
		if j := slices.IndexFunc(env, func(x corev1.EnvVar) bool { return x.Name == e.Name }); j >= 0 {
			env[j] = e
		} else {
			env = append(env, e)
		}
	}
	var volumes []corev1.Volume
	for _, name := range exec.Volumes {
		j := slices.IndexFunc(template.Spec.Volumes, func(v corev1.Volume) bool { return v.Name == name })
		if j < 0 {
			return nil, fmt.Errorf("hook volume %q is not in the pod template", name)
		}
		volumes = append(volumes, template.Spec.Volumes[j])
	}
	var mounts []corev1.VolumeMount
	for _, m := range base.VolumeMounts {
		if slices.Contains(exec.Volumes, m.Name) {
			mounts = append(mounts, m)
		}
	}
	yes := true
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name:      deployutil.HookPodName(dep.to.Name, suffix),
			Namespace: dep.to.Namespace,
			Labels: map[string]string{
				appsv1.DeployerPodForDeploymentLabel: dep.to.Name,
				HookPodTypeLabel:                     suffix,
			},
			Annotations: map[string]string{appsv1.DeploymentAnnotation: dep.to.Name},
			// The deployment owns its hook pods: they go with it.
			OwnerReferences: []metav1.OwnerReference{{
				APIVersion: "v1", Kind: "ReplicationController", Name: dep.to.Name, UID: dep.to.UID, Controller: &yes,
			}},
		},
		Spec: corev1.PodSpec{
			Containers: []corev1.Container{{
				Name:            hookContainerName,
				Image:           base.Image,
				ImagePullPolicy: base.ImagePullPolicy,
				Command:         exec.Command,
				WorkingDir:      base.WorkingDir,
				Env:             env,
				EnvFrom:         base.EnvFrom,
				Resources:       base.Resources,
				SecurityContext: base.SecurityContext,
				VolumeMounts:    mounts,
			}},
			Volumes:               volumes,
			RestartPolicy:         corev1.RestartPolicyNever,
			ActiveDeadlineSeconds: dep.config.Spec.Strategy.ActiveDeadlineSeconds,
			ServiceAccountName:    template.Spec.ServiceAccountName,
			ImagePullSecrets:      template.Spec.ImagePullSecrets,
			NodeSelector:          template.Spec.NodeSelector,
			SecurityContext:       template.Spec.SecurityContext,
		},
	}, nil
}

// deletePod deletes pod name if it exists and waits until it is gone.
func (d *Deployer) deletePod(ctx context.Context, name string) error {
	pods := d.Kube.CoreV1().Pods(d.Namespace)
	old, err := pods.Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading hook pod %s: %w", name, err)
	}
	zero := int64(0)
	err = pods.Delete(ctx, name, metav1.DeleteOptions{GracePeriodSeconds: &zero, Preconditions: &metav1.Preconditions{UID: &old.UID}})
	if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
		return fmt.Errorf("deleting the previous hook pod %s: %w", name, err)
	}
	_, err = d.untilPod(ctx, name, func(ev watch.Event) (bool, error) {
		pod, ok := ev.Object.(*corev1.Pod)
		return ev.Type == watch.Deleted || (ok && pod.UID != old.UID), nil
	}, func(store cache.Store) (bool, error) {
		// Already gone before the watch started.
		_, exists, err := store.GetByKey(d.Namespace + "/" + name)
		return !exists, err
	})
	if err != nil {
		return fmt.Errorf("waiting for the previous hook pod %s to go: %w", name, err)
	}
	return nil
}

// waitForPod waits until pod ends (Succeeded or Failed) and returns it.
func (d *Deployer) waitForPod(ctx context.Context, pod *corev1.Pod) (*corev1.Pod, error) {
	ev, err := d.untilPod(ctx, pod.Name, func(ev watch.Event) (bool, error) {
		if ev.Type == watch.Deleted {
			return false, fmt.Errorf("pod %s was deleted", pod.Name)
		}
		p, ok := ev.Object.(*corev1.Pod)
		if !ok || p.UID != pod.UID {
			return false, nil
		}
		return p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed, nil
	}, nil)
	if err != nil {
		if cause := context.Cause(ctx); cause != nil && !errors.Is(err, cause) {
			return nil, fmt.Errorf("%w: %w", cause, err)
		}
		return nil, err
	}
	return ev.Object.(*corev1.Pod), nil
}

func (d *Deployer) untilPod(ctx context.Context, name string, cond watchtools.ConditionFunc, precondition watchtools.PreconditionFunc) (*watch.Event, error) {
	lw := cache.NewListWatchFromClient(d.Kube.CoreV1().RESTClient(), "pods", d.Namespace, fields.OneTermEqualSelector("metadata.name", name))
	return watchtools.UntilWithSync(ctx, lw, &corev1.Pod{}, precondition, cond)
}

// copyLog appends the hook pod's log to the deployer's, as OpenShift's
// deployer shows hook output; a log that cannot be read is only noted.
func (d *Deployer) copyLog(ctx context.Context, pod string) {
	stream, err := d.Kube.CoreV1().Pods(d.Namespace).GetLogs(pod, &corev1.PodLogOptions{Container: hookContainerName}).Stream(ctx)
	if err != nil {
		fmt.Fprintf(d.Out, "    (no log of hook pod %s: %v)\n", pod, err)
		return
	}
	defer stream.Close()
	_, _ = io.Copy(d.Out, stream)
}

func podMessage(pod *corev1.Pod) string {
	for _, s := range pod.Status.ContainerStatuses {
		if t := s.State.Terminated; t != nil {
			if t.Message != "" {
				return fmt.Sprintf(": exit code %d: %s", t.ExitCode, t.Message)
			}
			return fmt.Sprintf(": exit code %d", t.ExitCode)
		}
	}
	if pod.Status.Message != "" {
		return ": " + pod.Status.Message
	}
	return ""
}

// tagImages points each ImageStreamTag of a tagImages hook at the image
// its container runs in the new deployment.
func (d *Deployer) tagImages(ctx context.Context, dep *deployment, tags []appsv1.TagImageHook, label string) error {
	if d.Images == nil {
		return errors.New("tagImages hooks need an image API client")
	}
	template := dep.to.Spec.Template
	for _, t := range tags {
		i := -1
		if template != nil {
			i = slices.IndexFunc(template.Spec.Containers, func(c corev1.Container) bool { return c.Name == t.ContainerName })
		}
		if i < 0 {
			return fmt.Errorf("tagImages: container %q is not in the pod template", t.ContainerName)
		}
		image := template.Spec.Containers[i].Image
		namespace := t.To.Namespace
		if namespace == "" {
			namespace = d.Namespace
		}
		if err := d.tagImage(ctx, namespace, t.To.Name, image); err != nil {
			return err
		}
		fmt.Fprintf(d.Out, "--> %s: Tagged %s/%s as %s\n", label, namespace, t.To.Name, image)
	}
	return nil
}

// tagImage makes ImageStreamTag namespace/name follow image.
func (d *Deployer) tagImage(ctx context.Context, namespace, name, image string) error {
	stream, tag, err := buildgenerator.SplitImageStreamTag(name)
	if err != nil {
		return fmt.Errorf("tagImages: %w", err)
	}
	istags := d.Images.ImageV1().ImageStreamTags(namespace)
	ref := &imagev1.TagReference{Name: tag, From: &corev1.ObjectReference{Kind: "DockerImage", Name: image}}
	istag, err := istags.Get(ctx, stream+":"+tag, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		istag = &imagev1.ImageStreamTag{ObjectMeta: metav1.ObjectMeta{Name: stream + ":" + tag, Namespace: namespace}, Tag: ref}
		_, err = istags.Create(ctx, istag, metav1.CreateOptions{})
	case err == nil:
		istag.Tag = ref
		_, err = istags.Update(ctx, istag, metav1.UpdateOptions{})
	}
	if err != nil {
		return fmt.Errorf("tagging %s/%s:%s as %s: %w", namespace, stream, tag, image, err)
	}
	return nil
}
