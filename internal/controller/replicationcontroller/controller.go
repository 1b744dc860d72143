// Package replicationcontroller is the ReplicationController controller of
// one node, as kube-controller-manager's: it keeps spec.replicas pods
// matching each RC's selector, created from its template, adopts orphans
// and releases pods that no longer match, and reports the replicas in the
// RC's status. Deployments of DeploymentConfigs are RCs run this way.
package replicationcontroller

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	coreinformers "k8s.io/client-go/informers/core/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"

	"github.com/slipway-dev/slipway/internal/controller/worker"
)

// ControllerName names the work queue, the event source and the log records.
const ControllerName = "replicationcontroller-controller"

// burstReplicas caps the pods one sync creates or deletes, as
// kube-controller-manager does; the next sync does the rest.
const burstReplicas = 500

// Controller keeps the pods of ReplicationControllers. Its queue holds
// "namespace/name" keys of RCs.
type Controller struct {
	kube      kubernetes.Interface
	rcLister  corelisters.ReplicationControllerLister
	podLister corelisters.PodLister
	synced    []cache.InformerSynced

	expectations *expectations
	recorder     *worker.Events
	queue        worker.Queue
	log          *slog.Logger
	now          func() time.Time
}

// New returns a ReplicationController controller writing through kube and
// watching rcs and pods; the caller starts the informers after New.
func New(kube kubernetes.Interface, rcs coreinformers.ReplicationControllerInformer, pods coreinformers.PodInformer) *Controller {
	c := &Controller{
		kube:         kube,
		rcLister:     rcs.Lister(),
		podLister:    pods.Lister(),
		synced:       []cache.InformerSynced{rcs.Informer().HasSynced, pods.Informer().HasSynced},
		expectations: newExpectations(time.Now),
		recorder:     worker.NewEvents(scheme.Scheme, ControllerName),
		queue:        worker.NewQueue(ControllerName),
		log:          slog.Default().With("controller", ControllerName),
		now:          time.Now,
	}
	// AddEventHandler only fails on a stopped informer; the caller starts them after New.
	_, _ = rcs.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.enqueue,
		UpdateFunc: func(_, obj any) { c.enqueue(obj) },
		DeleteFunc: c.enqueue,
	})
	_, _ = pods.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    c.addPod,
		UpdateFunc: c.updatePod,
		DeleteFunc: c.deletePod,
	})
	return c
}

// Run waits for the caches, then runs workers until ctx is done.
func (c *Controller) Run(ctx context.Context, workers int) error {
	defer c.recorder.Start(c.kube.CoreV1().Events(""))()
	return worker.Run(ctx, ControllerName, c.queue, workers, c.synced, c.sync)
}

func (c *Controller) enqueue(obj any) {
	key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj)
	if err == nil {
		c.queue.Add(key)
	}
}

// ownerKey returns the key of the RC that controls pod ("" when none does).
func ownerKey(pod *corev1.Pod) string {
	ref := metav1.GetControllerOf(pod)
	if ref == nil || ref.Kind != "ReplicationController" || ref.APIVersion != "v1" {
		return ""
	}
	return pod.Namespace + "/" + ref.Name
}

// enqueueMatching queues the RCs whose selector matches the orphan pod:
// one of them may adopt it.
func (c *Controller) enqueueMatching(pod *corev1.Pod) {
	rcs, err := c.rcLister.ReplicationControllers(pod.Namespace).List(labels.Everything())
	if err != nil {
		return
	}
	for _, rc := range rcs {
		if len(rc.Spec.Selector) > 0 && labels.SelectorFromSet(rc.Spec.Selector).Matches(labels.Set(pod.Labels)) {
			c.queue.Add(rc.Namespace + "/" + rc.Name)
		}
	}
}

func (c *Controller) addPod(obj any) {
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	if pod.DeletionTimestamp != nil {
		c.deletePod(pod)
		return
	}
	if key := ownerKey(pod); key != "" {
		c.expectations.observe(key, 1, 0)
		c.queue.Add(key)
		return
	}
	c.enqueueMatching(pod)
}

func (c *Controller) updatePod(oldObj, obj any) {
	old, ok1 := oldObj.(*corev1.Pod)
	pod, ok2 := obj.(*corev1.Pod)
	if !ok1 || !ok2 || old.ResourceVersion == pod.ResourceVersion {
		return
	}
	if oldKey, key := ownerKey(old), ownerKey(pod); oldKey != key && oldKey != "" {
		c.queue.Add(oldKey)
	}
	if key := ownerKey(pod); key != "" {
		c.queue.Add(key)
		return
	}
	c.enqueueMatching(pod)
}

func (c *Controller) deletePod(obj any) {
	if tombstone, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = tombstone.Obj
	}
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	if key := ownerKey(pod); key != "" {
		c.expectations.observe(key, 0, 1)
		c.queue.Add(key)
	}
}

// sync reconciles the RC named by key.
func (c *Controller) sync(ctx context.Context, key string) error {
	namespace, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return nil
	}
	rc, err := c.rcLister.ReplicationControllers(namespace).Get(name)
	if apierrors.IsNotFound(err) {
		c.expectations.forget(key)
		return nil
	}
	if err != nil {
		return err
	}
	all, err := c.podLister.Pods(namespace).List(labels.Everything())
	if err != nil {
		return err
	}
	pods, err := c.claimPods(ctx, rc, all)
	if err != nil {
		return err
	}

	var manageErr error
	if c.expectations.satisfied(key) && rc.DeletionTimestamp == nil {
		manageErr = c.manageReplicas(ctx, key, rc, pods)
	}
	if err := c.updateStatus(ctx, key, rc, pods, manageErr); err != nil {
		return errors.Join(manageErr, err)
	}
	return manageErr
}

// claimPods returns the active pods rc controls after adopting the
// orphans its selector matches and releasing its pods it no longer
// matches.
func (c *Controller) claimPods(ctx context.Context, rc *corev1.ReplicationController, all []*corev1.Pod) ([]*corev1.Pod, error) {
	selector := labels.SelectorFromSet(rc.Spec.Selector)
	var owned []*corev1.Pod
	var errs []error
	for _, pod := range all {
		matches := len(rc.Spec.Selector) > 0 && selector.Matches(labels.Set(pod.Labels))
		ref := metav1.GetControllerOf(pod)
		switch {
		case ref != nil && ref.UID != rc.UID:
			continue
		case ref != nil && matches:
			if isActive(pod) {
				owned = append(owned, pod)
			}
		case ref != nil:
			if err := c.patchOwner(ctx, pod, rc, false); err != nil {
				errs = append(errs, err)
			}
		case matches && isActive(pod) && rc.DeletionTimestamp == nil:
			if err := c.patchOwner(ctx, pod, rc, true); err != nil {
				errs = append(errs, err)
				continue
			}
			owned = append(owned, pod)
		}
	}
	return owned, errors.Join(errs...)
}

// patchOwner adopts pod for rc (adopt) or releases it, with a strategic
// merge patch on the owner reference guarded by the pod's UID.
func (c *Controller) patchOwner(ctx context.Context, pod *corev1.Pod, rc *corev1.ReplicationController, adopt bool) error {
	var patch string
	if adopt {
		patch = fmt.Sprintf(`{"metadata":{"ownerReferences":[{"apiVersion":"v1","kind":"ReplicationController","name":%q,"uid":%q,"controller":true,"blockOwnerDeletion":true}],"uid":%q}}`,
			rc.Name, rc.UID, pod.UID)
	} else {
		patch = fmt.Sprintf(`{"metadata":{"ownerReferences":[{"$patch":"delete","uid":%q}],"uid":%q}}`, rc.UID, pod.UID)
	}
	_, err := c.kube.CoreV1().Pods(pod.Namespace).Patch(ctx, pod.Name, types.StrategicMergePatchType, []byte(patch), metav1.PatchOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		verb := "releasing"
		if adopt {
			verb = "adopting"
		}
		return fmt.Errorf("%s pod %s/%s for replication controller %s: %w", verb, pod.Namespace, pod.Name, rc.Name, err)
	}
	return nil
}

// manageReplicas creates or deletes pods so rc has spec.replicas of them.
func (c *Controller) manageReplicas(ctx context.Context, key string, rc *corev1.ReplicationController, pods []*corev1.Pod) error {
	want := int32(1)
	if rc.Spec.Replicas != nil {
		want = *rc.Spec.Replicas
	}
	diff := len(pods) - int(want)
	switch {
	case diff < 0:
		if rc.Spec.Template == nil {
			return nil
		}
		n := min(-diff, burstReplicas)
		c.expectations.expect(key, n, 0)
		var errs []error
		for range n {
			pod, err := c.kube.CoreV1().Pods(rc.Namespace).Create(ctx, newPod(rc), metav1.CreateOptions{})
			if err != nil {
				// No watch event will come for it.
				c.expectations.observe(key, 1, 0)
				c.recorder.Eventf(rc, corev1.EventTypeWarning, "FailedCreate", "Error creating: %v", err)
				errs = append(errs, fmt.Errorf("creating a pod of replication controller %s: %w", key, err))
				continue
			}
			c.recorder.Eventf(rc, corev1.EventTypeNormal, "SuccessfulCreate", "Created pod: %s", pod.Name)
		}
		return errors.Join(errs...)
	case diff > 0:
		n := min(diff, burstReplicas)
		victims := append([]*corev1.Pod(nil), pods...)
		deletionOrder(victims)
		victims = victims[:n]
		c.expectations.expect(key, 0, n)
		var errs []error
		for _, pod := range victims {
			err := c.kube.CoreV1().Pods(pod.Namespace).Delete(ctx, pod.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &pod.UID}})
			if err != nil {
				c.expectations.observe(key, 0, 1)
				if apierrors.IsNotFound(err) {
					continue
				}
				c.recorder.Eventf(rc, corev1.EventTypeWarning, "FailedDelete", "Error deleting: %v", err)
				errs = append(errs, fmt.Errorf("deleting pod %s/%s of replication controller %s: %w", pod.Namespace, pod.Name, key, err))
				continue
			}
			c.recorder.Eventf(rc, corev1.EventTypeNormal, "SuccessfulDelete", "Deleted pod: %s", pod.Name)
		}
		return errors.Join(errs...)
	}
	return nil
}

// updateStatus writes rc's replica counts, its observed generation and the
// ReplicaFailure condition when they changed, and requeues rc for the
// moment a Ready pod becomes available.
func (c *Controller) updateStatus(ctx context.Context, key string, rc *corev1.ReplicationController, pods []*corev1.Pod, manageErr error) error {
	now := c.now()
	status := *rc.Status.DeepCopy()
	status.Replicas = int32(len(pods))
	status.FullyLabeledReplicas, status.ReadyReplicas, status.AvailableReplicas = 0, 0, 0
	var recheck time.Duration
	for _, pod := range pods {
		if fullyLabeled(pod, rc) {
			status.FullyLabeledReplicas++
		}
		if readySince(pod) != nil {
			status.ReadyReplicas++
		}
		available, wait := availableIn(pod, rc.Spec.MinReadySeconds, now)
		if available {
			status.AvailableReplicas++
		} else if wait > 0 && (recheck == 0 || wait < recheck) {
			recheck = wait
		}
	}
	status.ObservedGeneration = rc.Generation
	setReplicaFailure(&status, manageErr, metav1.NewTime(now))
	if recheck > 0 {
		c.queue.AddAfter(key, recheck)
	}
	if apiequality.Semantic.DeepEqual(status, rc.Status) {
		return nil
	}
	updated := rc.DeepCopy()
	updated.Status = status
	if _, err := c.kube.CoreV1().ReplicationControllers(rc.Namespace).UpdateStatus(ctx, updated, metav1.UpdateOptions{}); err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("updating status of replication controller %s: %w", key, err)
	}
	return nil
}

// setReplicaFailure records a failed create or delete as the ReplicaFailure
// condition and removes the condition once pods are managed again.
func setReplicaFailure(status *corev1.ReplicationControllerStatus, err error, now metav1.Time) {
	var kept []corev1.ReplicationControllerCondition
	var current *corev1.ReplicationControllerCondition
	for i := range status.Conditions {
		if status.Conditions[i].Type == corev1.ReplicationControllerReplicaFailure {
			current = &status.Conditions[i]
			continue
		}
		kept = append(kept, status.Conditions[i])
	}
	if err == nil {
		status.Conditions = kept
		return
	}
	cond := corev1.ReplicationControllerCondition{
		Type: corev1.ReplicationControllerReplicaFailure, Status: corev1.ConditionTrue,
		Reason: "FailedCreate", Message: err.Error(), LastTransitionTime: now,
	}
	if current != nil {
		cond.LastTransitionTime = current.LastTransitionTime
	}
	status.Conditions = append(kept, cond)
}
