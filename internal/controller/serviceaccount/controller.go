// Package serviceaccount keeps the service accounts of every active namespace
// complete: the default accounts builder, default and deployer exist, and every
// account has a token secret that it references, as OpenShift 3 did, plus a
// `kubernetes.io/dockercfg` pull secret for the internal registry made from
// that token, in its secrets and imagePullSecrets.
package serviceaccount

import (
	"context"
	"fmt"
	"log/slog"
	"slices"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	utilerrors "k8s.io/apimachinery/pkg/util/errors"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	coreinformers "k8s.io/client-go/informers/core/v1"
	rbacinformers "k8s.io/client-go/informers/rbac/v1"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"

	"github.com/slipway-dev/slipway/internal/controller/worker"
)

// ControllerName names the work queue and the log records.
const ControllerName = "serviceaccount"

// Controller creates the default service accounts of active namespaces and the
// token secrets of all their service accounts, and removes token secrets whose
// account is gone. Its queue holds namespace names.
type Controller struct {
	client   kubernetes.Interface
	accounts []string
	// registryHosts are the internal registry's names the pull secrets
	// cover; none means no pull secrets are made.
	registryHosts []string

	roleBindings    rbacinformers.RoleBindingInformer
	namespaces      corelisters.NamespaceLister
	serviceAccounts corelisters.ServiceAccountLister
	secrets         corelisters.SecretLister
	synced          []cache.InformerSynced

	queue worker.Queue
	log   *slog.Logger
}

// Option configures a Controller.
type Option func(*Controller)

// WithRegistryHosts makes the controller give every service account a
// `<sa>-dockercfg-<rand>` pull secret with its token for each of hosts (the
// internal registry's host:port names, see RegistryHosts).
func WithRegistryHosts(hosts []string) Option {
	return func(c *Controller) { c.registryHosts = append([]string(nil), hosts...) }
}

// New returns a controller that watches namespaces, service accounts and
// secrets through the given informers and writes through client. The informers must be started by the caller (an informer factory's Start).
func New(client kubernetes.Interface, namespaces coreinformers.NamespaceInformer, sas coreinformers.ServiceAccountInformer, secrets coreinformers.SecretInformer, options ...Option) *Controller {
	c := &Controller{
		client:          client,
		accounts:        DefaultServiceAccounts,
		namespaces:      namespaces.Lister(),
		serviceAccounts: sas.Lister(),
		secrets:         secrets.Lister(),
		synced: []cache.InformerSynced{
			namespaces.Informer().HasSynced,
			sas.Informer().HasSynced,
			secrets.Informer().HasSynced,
		},
		queue: worker.NewQueue(ControllerName),
		log:   slog.Default().With("controller", ControllerName),
	}
	for _, option := range options {
		option(c)
	}
	// Every event is reduced to its namespace: sync looks at the whole
	// namespace at once, which is small, and the queue folds duplicates.
	enqueueNamespace := cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { c.enqueue(obj, true) },
		UpdateFunc: func(_, obj any) { c.enqueue(obj, true) },
		// A deleted namespace needs nothing.
	}
	enqueueOwner := enqueueOwnerHandler(c)
	// AddEventHandler only fails on a stopped informer; the caller starts them after New.
	_, _ = namespaces.Informer().AddEventHandler(enqueueNamespace)
	_, _ = sas.Informer().AddEventHandler(enqueueOwner)
	_, _ = secrets.Informer().AddEventHandler(enqueueOwner)
	return c
}

// enqueueOwnerHandler enqueues the namespace of every object it is told of.
func enqueueOwnerHandler(c *Controller) cache.ResourceEventHandlerFuncs {
	return cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { c.enqueue(obj, false) },
		UpdateFunc: func(_, obj any) { c.enqueue(obj, false) },
		DeleteFunc: func(obj any) { c.enqueue(obj, false) },
	}
}

// enqueue adds the namespace of obj (or obj's own name when it is a namespace).
func (c *Controller) enqueue(obj any, isNamespace bool) {
	if tombstone, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = tombstone.Obj
	}
	m, ok := obj.(metav1.Object)
	if !ok {
		utilruntime.HandleError(fmt.Errorf("%s: unexpected object %T in event", ControllerName, obj))
		return
	}
	if isNamespace {
		c.queue.Add(m.GetName())
		return
	}
	c.queue.Add(m.GetNamespace())
}

// Run waits for the caches, then runs workers until ctx is done.
func (c *Controller) Run(ctx context.Context, workers int) error {
	return worker.Run(ctx, ControllerName, c.queue, workers, c.synced, c.sync)
}

// kubernetesNamespaces are Kubernetes' own: their service accounts are
// its controllers', which need no builder, deployer or registry secrets.
var kubernetesNamespaces = map[string]bool{"kube-system": true, "kube-public": true, "kube-node-lease": true}

// isActive reports whether namespace may get new objects: a namespace being
// deleted must not get its accounts back while it is emptied.
func isActive(ns *corev1.Namespace) bool {
	return ns.DeletionTimestamp == nil && ns.Status.Phase != corev1.NamespaceTerminating
}

// sync reconciles the namespace named key.
func (c *Controller) sync(ctx context.Context, key string) error {
	ns, err := c.namespaces.Get(key)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("getting namespace %s from cache: %w", key, err)
	}
	if !isActive(ns) || kubernetesNamespaces[key] {
		return nil
	}
	if err := c.ensureRoleBindings(ctx, key); err != nil {
		return err
	}

	sas, err := c.serviceAccounts.ServiceAccounts(key).List(labels.Everything())
	if err != nil {
		return fmt.Errorf("listing service accounts of %s from cache: %w", key, err)
	}
	secrets, err := c.secrets.Secrets(key).List(labels.Everything())
	if err != nil {
		return fmt.Errorf("listing secrets of %s from cache: %w", key, err)
	}
	if PlanNamespace(c.accounts, sas, secrets).Empty() && DockercfgPlanEmpty(c.registryHosts, sas, secrets) {
		return nil
	}

	// The caches may not have seen our own latest writes yet (a token secret
	// just made, an account just created); act only on a live read so that
	// lag never produces a second token or deletes a fresh one.
	// A namespace whose deletion just began must not get accounts back.
	live, err := c.client.CoreV1().Namespaces().Get(ctx, key, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("getting namespace %s: %w", key, err)
	}
	if !isActive(live) {
		return nil
	}
	sas, secrets, err = c.liveState(ctx, key)
	if err != nil {
		return err
	}
	return c.reconcile(ctx, key, sas, secrets)
}

// liveState lists the service accounts and secrets of namespace from the API.
func (c *Controller) liveState(ctx context.Context, namespace string) ([]*corev1.ServiceAccount, []*corev1.Secret, error) {
	saList, err := c.client.CoreV1().ServiceAccounts(namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, nil, fmt.Errorf("listing service accounts of %s: %w", namespace, err)
	}
	secretList, err := c.client.CoreV1().Secrets(namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, nil, fmt.Errorf("listing secrets of %s: %w", namespace, err)
	}
	sas := make([]*corev1.ServiceAccount, 0, len(saList.Items))
	for i := range saList.Items {
		sas = append(sas, &saList.Items[i])
	}
	secrets := make([]*corev1.Secret, 0, len(secretList.Items))
	for i := range secretList.Items {
		secrets = append(secrets, &secretList.Items[i])
	}
	return sas, secrets, nil
}

// reconcile applies PlanNamespace to the given live state. A failure on one
// account does not stop the others; all failures are returned together.
func (c *Controller) reconcile(ctx context.Context, namespace string, sas []*corev1.ServiceAccount, secrets []*corev1.Secret) error {
	plan := PlanNamespace(c.accounts, sas, secrets)
	var errs []error

	for _, name := range plan.CreateServiceAccounts {
		sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: namespace}}
		created, err := c.client.CoreV1().ServiceAccounts(namespace).Create(ctx, sa, metav1.CreateOptions{})
		if err != nil {
			// AlreadyExists included: someone raced us, the next sync sees it.
			errs = append(errs, fmt.Errorf("creating service account %s/%s: %w", namespace, name, err))
			continue
		}
		c.log.Info("created service account", "namespace", namespace, "name", name)
		sas = append(sas, created)
	}

	for _, secret := range plan.DeleteSecrets {
		uid := secret.UID
		err := c.client.CoreV1().Secrets(namespace).Delete(ctx, secret.Name, metav1.DeleteOptions{
			Preconditions: &metav1.Preconditions{UID: &uid},
		})
		if err != nil && !apierrors.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("deleting orphaned token secret %s/%s: %w", namespace, secret.Name, err))
			continue
		}
		c.log.Info("deleted orphaned token secret", "namespace", namespace, "name", secret.Name,
			"serviceAccount", secret.Annotations[corev1.ServiceAccountNameKey])
		secrets = slices.DeleteFunc(secrets, func(s *corev1.Secret) bool { return s.UID == uid && s.Name == secret.Name })
	}
	if len(c.registryHosts) > 0 {
		for _, secret := range OrphanedDockercfgSecrets(sas, secrets) {
			if err := c.deleteSecret(ctx, secret); err != nil {
				errs = append(errs, fmt.Errorf("deleting orphaned pull secret %s/%s: %w", namespace, secret.Name, err))
				continue
			}
			uid := secret.UID
			secrets = slices.DeleteFunc(secrets, func(s *corev1.Secret) bool { return s.UID == uid && s.Name == secret.Name })
		}
	}

	for _, sa := range sas {
		if sa.DeletionTimestamp != nil {
			continue
		}
		made, err := c.reconcileServiceAccount(ctx, sa, secrets)
		secrets = append(secrets, made...)
		if err != nil {
			errs = append(errs, err)
		}
	}
	return utilerrors.NewAggregate(errs)
}

// reconcileServiceAccount makes sure sa has a token secret and references it.
// It returns the secrets it created so the caller's view stays current.
func (c *Controller) reconcileServiceAccount(ctx context.Context, sa *corev1.ServiceAccount, secrets []*corev1.Secret) ([]*corev1.Secret, error) {
	var made []*corev1.Secret
	tokens := TokenSecretsFor(sa, secrets)
	if len(tokens) == 0 {
		secret, err := c.createTokenSecret(ctx, sa)
		if err != nil {
			return nil, err
		}
		made = append(made, secret)
		tokens = []*corev1.Secret{secret}
	}

	existing := make(map[string]bool, len(secrets)+len(made))
	for _, s := range secrets {
		existing[s.Name] = true
	}
	for _, s := range made {
		existing[s.Name] = true
	}
	refs, changed := SecretReferences(sa, tokens, existing)
	updated := sa.DeepCopy()
	updated.Secrets = refs

	signed := slices.DeleteFunc(slices.Clone(tokens), func(s *corev1.Secret) bool { return !HasToken(s) })
	// The pull secret is made from a signed token; until the token
	// controller has filled one in, the secret's update brings us back.
	if len(c.registryHosts) > 0 && len(signed) > 0 {
		pullSecret, created, err := c.ensureDockercfgSecret(ctx, sa, signed, append(slices.Clone(secrets), made...))
		if err != nil {
			return made, err
		}
		if created {
			made = append(made, pullSecret)
		}
		var pullChanged bool
		updated.Secrets, updated.ImagePullSecrets, pullChanged = DockercfgReferences(updated, updated.Secrets, pullSecret.Name)
		changed = changed || pullChanged
	}
	if !changed {
		return made, nil
	}
	if _, err := c.client.CoreV1().ServiceAccounts(sa.Namespace).Update(ctx, updated, metav1.UpdateOptions{}); err != nil {
		// A conflict means the account changed since the live read: retry the whole namespace.
		return made, fmt.Errorf("updating secrets of service account %s/%s: %w", sa.Namespace, sa.Name, err)
	}
	return made, nil
}

// ensureDockercfgSecret returns sa's current registry pull secret among
// secrets, or creates one from its first token (created is then true);
// stale pull secrets of sa are deleted.
func (c *Controller) ensureDockercfgSecret(ctx context.Context, sa *corev1.ServiceAccount, tokens, secrets []*corev1.Secret) (secret *corev1.Secret, created bool, err error) {
	state := DockercfgStateFor(sa, tokens, secrets, c.registryHosts)
	for _, stale := range state.Stale {
		if err := c.deleteSecret(ctx, stale); err != nil {
			return nil, false, fmt.Errorf("deleting stale pull secret %s/%s: %w", sa.Namespace, stale.Name, err)
		}
		c.log.Info("deleted stale pull secret", "namespace", sa.Namespace, "serviceAccount", sa.Name, "name", stale.Name)
	}
	if state.Current != nil {
		return state.Current, false, nil
	}
	const attempts = 3
	var lastErr error
	for range attempts {
		name, err := NewDockercfgSecretName(sa.Name)
		if err != nil {
			return nil, false, err
		}
		secret, err := NewDockercfgSecret(sa, name, tokens[0], c.registryHosts)
		if err != nil {
			return nil, false, err
		}
		made, err := c.client.CoreV1().Secrets(sa.Namespace).Create(ctx, secret, metav1.CreateOptions{})
		if apierrors.IsAlreadyExists(err) {
			lastErr = err
			continue
		}
		if err != nil {
			return nil, false, fmt.Errorf("creating pull secret for service account %s/%s: %w", sa.Namespace, sa.Name, err)
		}
		c.log.Info("created pull secret", "namespace", sa.Namespace, "serviceAccount", sa.Name, "name", made.Name)
		return made, true, nil
	}
	return nil, false, fmt.Errorf("creating pull secret for service account %s/%s: %w", sa.Namespace, sa.Name, lastErr)
}

// deleteSecret deletes secret if it is still the object that was read.
func (c *Controller) deleteSecret(ctx context.Context, secret *corev1.Secret) error {
	uid := secret.UID
	err := c.client.CoreV1().Secrets(secret.Namespace).Delete(ctx, secret.Name, metav1.DeleteOptions{
		Preconditions: &metav1.Preconditions{UID: &uid},
	})
	if apierrors.IsNotFound(err) {
		return nil
	}
	return err
}

// createTokenSecret creates a new (empty) token secret for sa, picking
// another random name in the unlikely case the first one is taken.
func (c *Controller) createTokenSecret(ctx context.Context, sa *corev1.ServiceAccount) (*corev1.Secret, error) {
	const attempts = 3
	var lastErr error
	for range attempts {
		name, err := NewTokenSecretName(sa.Name)
		if err != nil {
			return nil, err
		}
		created, err := c.client.CoreV1().Secrets(sa.Namespace).Create(ctx, NewTokenSecret(sa, name), metav1.CreateOptions{})
		if apierrors.IsAlreadyExists(err) {
			lastErr = err
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("creating token secret for service account %s/%s: %w", sa.Namespace, sa.Name, err)
		}
		c.log.Info("created token secret", "namespace", sa.Namespace, "serviceAccount", sa.Name, "name", created.Name)
		return created, nil
	}
	return nil, fmt.Errorf("creating token secret for service account %s/%s: %w", sa.Namespace, sa.Name, lastErr)
}
