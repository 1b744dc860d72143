package server

import (
	"context"
	"fmt"
	"net/http"
	"sync/atomic"
	"time"

	appsv1 "github.com/openshift/api/apps/v1"
	buildv1 "github.com/openshift/api/build/v1"
	imagev1 "github.com/openshift/api/image/v1"
	projectv1 "github.com/openshift/api/project/v1"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	apiregistrationv1 "k8s.io/kube-aggregator/pkg/apis/apiregistration/v1"
	aggregatorclient "k8s.io/kube-aggregator/pkg/client/clientset_generated/clientset"

	"github.com/slipway-dev/slipway/internal/admission/imageaccess"
	"github.com/slipway-dev/slipway/internal/admission/imagelookup"
	"github.com/slipway-dev/slipway/internal/admission/scc"
	"github.com/slipway-dev/slipway/internal/controller/localvolume"
	"github.com/slipway-dev/slipway/internal/controller/serviceaccount"
	"github.com/slipway-dev/slipway/internal/controlplane"
)

// The Service the aggregator reaches the OpenShift API server through, as
// on OpenShift (openshift-apiserver/api). It is an ExternalName Service
// naming this machine, so the aggregator dials the OpenShift API server's
// loopback port; on a cluster it is an ordinary Service.
const (
	openshiftAPINamespace = "openshift-apiserver"
	openshiftAPIService   = "api"
)

// openshiftGroups are the API groups the OpenShift API server serves.
var openshiftGroups = []string{projectv1.GroupName, buildv1.GroupName, imagev1.GroupName, appsv1.GroupName}

// systemNamespaces exist on every Slipway, besides Kubernetes' own.
var systemNamespaces = []string{"openshift", openshiftAPINamespace, "openshift-infra"}

// clusterAdmins are the identities of Slipway's own parts, bound to
// cluster-admin as OpenShift binds its API server's and controller
// manager's service accounts.
var clusterAdmins = []string{controlplane.OpenShiftAPIServerUser, controlplane.OpenShiftControllersUser, registryUser}

// registryUser is the internal registry's identity.
const registryUser = "system:openshift-registry"

// bootstrap writes what the OpenShift API server needs from the cluster:
// its namespaces, the cluster roles and bindings of Slipway's parts and of
// build webhooks, the Service, and an APIService per OpenShift group
// pointing at port with caBundle. It is idempotent and runs at every start.
func bootstrap(ctx context.Context, admin *rest.Config, port int, caBundle []byte, dnsIP string) error {
	client, err := kubernetes.NewForConfig(admin)
	if err != nil {
		return err
	}
	aggregator, err := aggregatorclient.NewForConfig(admin)
	if err != nil {
		return err
	}
	// The webhook first: one left from the previous start names the old
	// port of the OpenShift API server, and writes wait for it until then.
	if err := apply(ctx, client.AdmissionregistrationV1().MutatingWebhookConfigurations(), imageLookupWebhook(int32(port), caBundle)); err != nil {
		return err
	}
	if err := apply(ctx, client.AdmissionregistrationV1().MutatingWebhookConfigurations(), sccWebhook(int32(port), caBundle)); err != nil {
		return err
	}
	if err := apply(ctx, client.AdmissionregistrationV1().ValidatingWebhookConfigurations(), imageTriggersWebhook(int32(port), caBundle)); err != nil {
		return err
	}
	for _, role := range sccRoles() {
		if err := apply(ctx, client.RbacV1().ClusterRoles(), role); err != nil {
			return err
		}
	}
	// Everyone may run pods as restricted-v2 does, as on OpenShift 4.11+.
	restricted := &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: scc.ClusterRoleName(scc.RestrictedV2)},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: scc.ClusterRoleName(scc.RestrictedV2)},
		Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.GroupKind, Name: "system:authenticated"}},
	}
	if err := apply(ctx, client.RbacV1().ClusterRoleBindings(), restricted); err != nil {
		return err
	}
	for _, name := range systemNamespaces {
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
		if _, err := client.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("creating namespace %s: %w", name, err)
		}
	}
	for _, user := range clusterAdmins {
		binding := &rbacv1.ClusterRoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: "slipway:" + user},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "cluster-admin"},
			Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.UserKind, Name: user}},
		}
		if err := apply(ctx, client.RbacV1().ClusterRoleBindings(), binding); err != nil {
			return err
		}
	}
	// OpenShift's system:webhook: anyone may call a build webhook; the
	// secret in its URL is the credential, checked by the webhook.
	webhook := &rbacv1.ClusterRole{
		ObjectMeta: metav1.ObjectMeta{Name: "system:webhook"},
		Rules: []rbacv1.PolicyRule{{
			Verbs: []string{"create", "get"}, APIGroups: []string{buildv1.GroupName}, Resources: []string{"buildconfigs/webhooks"},
		}},
	}
	if err := apply(ctx, client.RbacV1().ClusterRoles(), webhook); err != nil {
		return err
	}
	for _, role := range append(serviceaccount.DefaultClusterRoles(), openshiftRoles()...) {
		if err := apply(ctx, client.RbacV1().ClusterRoles(), role); err != nil {
			return err
		}
	}
	webhookBinding := &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "system:webhooks"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "system:webhook"},
		Subjects: []rbacv1.Subject{
			{APIGroup: rbacv1.GroupName, Kind: rbacv1.GroupKind, Name: "system:authenticated"},
			{APIGroup: rbacv1.GroupName, Kind: rbacv1.GroupKind, Name: "system:unauthenticated"},
		},
	}
	if err := apply(ctx, client.RbacV1().ClusterRoleBindings(), webhookBinding); err != nil {
		return err
	}
	if err := apply(ctx, client.RbacV1().RoleBindings("openshift"), sharedResourceViewers()); err != nil {
		return err
	}
	// The cluster DNS server (internal/clusterdns) answers on kube-dns's
	// cluster IP; the Service reserves it and names it, as on a cluster.
	kubeDNS := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "kube-dns", Namespace: "kube-system", Labels: map[string]string{"k8s-app": "kube-dns"}},
		Spec: corev1.ServiceSpec{
			ClusterIP: dnsIP,
			Ports: []corev1.ServicePort{
				{Name: "dns", Port: 53, Protocol: corev1.ProtocolUDP, TargetPort: intstr.FromInt32(53)},
				{Name: "dns-tcp", Port: 53, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromInt32(53)},
			},
		},
	}
	if err := apply(ctx, client.CoreV1().Services("kube-system"), kubeDNS); err != nil {
		return err
	}
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: openshiftAPIService, Namespace: openshiftAPINamespace},
		Spec: corev1.ServiceSpec{
			Type:         corev1.ServiceTypeExternalName,
			ExternalName: "localhost",
			Ports:        []corev1.ServicePort{{Name: "https", Port: int32(port), TargetPort: intstr.FromInt32(int32(port))}},
		},
	}
	if err := apply(ctx, client.CoreV1().Services(openshiftAPINamespace), svc); err != nil {
		return err
	}
	for _, policy := range []func() (*admissionregistrationv1.ValidatingAdmissionPolicy, *admissionregistrationv1.ValidatingAdmissionPolicyBinding){hostProcessPolicy, externalIPsPolicy} {
		policy, binding := policy()
		if err := apply(ctx, client.AdmissionregistrationV1().ValidatingAdmissionPolicies(), policy); err != nil {
			return err
		}
		if err := apply(ctx, client.AdmissionregistrationV1().ValidatingAdmissionPolicyBindings(), binding); err != nil {
			return err
		}
	}
	if err := apply(ctx, client.StorageV1().StorageClasses(), localStorageClass()); err != nil {
		return err
	}
	for _, group := range openshiftGroups {
		p := int32(port)
		api := &apiregistrationv1.APIService{
			ObjectMeta: metav1.ObjectMeta{Name: "v1." + group},
			Spec: apiregistrationv1.APIServiceSpec{
				Group: group, Version: "v1",
				Service:              &apiregistrationv1.ServiceReference{Namespace: openshiftAPINamespace, Name: openshiftAPIService, Port: &p},
				CABundle:             caBundle,
				GroupPriorityMinimum: 9900,
				VersionPriority:      15,
			},
		}
		if err := apply(ctx, aggregator.ApiregistrationV1().APIServices(), api); err != nil {
			return err
		}
	}
	return nil
}

// object is what apply writes.
type object interface {
	comparable
	GetName() string
	GetResourceVersion() string
	SetResourceVersion(string)
}

// applier is the part of a typed client apply uses.
type applier[T object] interface {
	Get(ctx context.Context, name string, opts metav1.GetOptions) (T, error)
	Create(ctx context.Context, obj T, opts metav1.CreateOptions) (T, error)
	Update(ctx context.Context, obj T, opts metav1.UpdateOptions) (T, error)
}

// apply creates obj, or replaces the one there. It reads first: a create
// of an object that exists can fail on something else than its name (a
// Service's cluster IP is found allocated, to itself, before the name is
// checked), and at every start but the first the object is there.
func apply[T object](ctx context.Context, client applier[T], obj T) error {
	current, err := client.Get(ctx, obj.GetName(), metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		if _, err := client.Create(ctx, obj, metav1.CreateOptions{}); err != nil {
			return fmt.Errorf("creating %s: %w", obj.GetName(), err)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading %s: %w", obj.GetName(), err)
	}
	obj.SetResourceVersion(current.GetResourceVersion())
	if _, err := client.Update(ctx, obj, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("updating %s: %w", obj.GetName(), err)
	}
	return nil
}

// openshiftAPIsReady is a kube-apiserver readiness check: the server is
// ready once every OpenShift group's APIService is Available, so a client
// that waited for /readyz can use builds and image streams at once.
type openshiftAPIsReady struct {
	admin atomic.Pointer[kubernetes.Clientset] // set once the kube-apiserver serves
	ready atomic.Bool
}

func (c *openshiftAPIsReady) Name() string { return "slipway-openshift-apis" }

func (c *openshiftAPIsReady) Check(r *http.Request) error {
	if c.ready.Load() {
		return nil
	}
	client := c.admin.Load()
	if client == nil {
		return fmt.Errorf("the OpenShift API server is starting")
	}
	// Through the aggregator's proxy, not the APIService's condition: the
	// proxy learns of availability a moment after the condition is set.
	for _, group := range openshiftGroups {
		if _, err := client.Discovery().RESTClient().Get().AbsPath("/apis", group, "v1").DoRaw(r.Context()); err != nil {
			return fmt.Errorf("%s/v1 is not served yet: %w", group, err)
		}
	}
	c.ready.Store(true)
	return nil
}

// retryBootstrap runs bootstrap until it succeeds or a minute passes (RBAC
// and the aggregator's informers may lag the first requests).
func retryBootstrap(ctx context.Context, admin *rest.Config, port int, caBundle []byte, dnsIP string) error {
	var last error
	err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		last = bootstrap(ctx, admin, port, caBundle, dnsIP)
		return last == nil, nil
	})
	if err != nil && last != nil {
		return fmt.Errorf("registering the OpenShift API server: %w", last)
	}
	return err
}

// imageLookupWebhook sends the pod-making kinds of Kubernetes to the
// OpenShift API server's image lookup (lookupPolicy.local), as OpenShift's
// image policy admission sees them.
func imageLookupWebhook(port int32, caBundle []byte) *admissionregistrationv1.MutatingWebhookConfiguration {
	ops := []admissionregistrationv1.OperationType{admissionregistrationv1.Create, admissionregistrationv1.Update}
	rule := func(group string, resources ...string) admissionregistrationv1.RuleWithOperations {
		return admissionregistrationv1.RuleWithOperations{Operations: ops, Rule: admissionregistrationv1.Rule{
			APIGroups: []string{group}, APIVersions: []string{"v1"}, Resources: resources,
		}}
	}
	hook := openshiftWebhook("imagelookup.image.openshift.io", imagelookup.WebhookPath, port, caBundle, admissionregistrationv1.Ignore, 5,
		rule("", "pods", "replicationcontrollers"),
		rule("apps", "deployments", "replicasets", "statefulsets", "daemonsets"),
		rule("batch", "jobs", "cronjobs"))
	// Build and deployer pods name no image stream (the controllers write
	// their images): no round trip to the webhook for them.
	hook.Webhooks[0].ObjectSelector = &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{
		{Key: buildv1.BuildLabel, Operator: metav1.LabelSelectorOpDoesNotExist},
		{Key: appsv1.DeployerPodForDeploymentLabel, Operator: metav1.LabelSelectorOpDoesNotExist},
	}}
	return hook
}

// openshiftWebhook is a mutating webhook served by the OpenShift API
// server at path, for rules (see openshiftValidatingWebhook).
func openshiftWebhook(name, path string, port int32, caBundle []byte, policy admissionregistrationv1.FailurePolicyType, timeout int32, rules ...admissionregistrationv1.RuleWithOperations) *admissionregistrationv1.MutatingWebhookConfiguration {
	v := openshiftValidatingWebhook(name, path, port, caBundle, policy, timeout, rules...).Webhooks[0]
	return &admissionregistrationv1.MutatingWebhookConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Webhooks: []admissionregistrationv1.MutatingWebhook{{
			Name: v.Name, ClientConfig: v.ClientConfig, Rules: v.Rules, FailurePolicy: v.FailurePolicy, SideEffects: v.SideEffects,
			TimeoutSeconds: v.TimeoutSeconds, AdmissionReviewVersions: v.AdmissionReviewVersions, NamespaceSelector: v.NamespaceSelector,
		}},
	}
}

// openshiftValidatingWebhook is a webhook served by the OpenShift API
// server at path, for rules, in every namespace but Kubernetes' own and
// the OpenShift API server's (nothing the webhook needs waits for it).
func openshiftValidatingWebhook(name, path string, port int32, caBundle []byte, policy admissionregistrationv1.FailurePolicyType, timeout int32, rules ...admissionregistrationv1.RuleWithOperations) *admissionregistrationv1.ValidatingWebhookConfiguration {
	none := admissionregistrationv1.SideEffectClassNone
	return &admissionregistrationv1.ValidatingWebhookConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Webhooks: []admissionregistrationv1.ValidatingWebhook{{
			Name: name,
			ClientConfig: admissionregistrationv1.WebhookClientConfig{
				Service:  &admissionregistrationv1.ServiceReference{Namespace: openshiftAPINamespace, Name: openshiftAPIService, Path: &path, Port: &port},
				CABundle: caBundle,
			},
			Rules:                   rules,
			FailurePolicy:           &policy,
			SideEffects:             &none,
			TimeoutSeconds:          &timeout,
			AdmissionReviewVersions: []string{"v1"},
			NamespaceSelector: &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{
				Key: "kubernetes.io/metadata.name", Operator: metav1.LabelSelectorOpNotIn,
				Values: []string{"kube-system", "kube-public", "kube-node-lease", openshiftAPINamespace},
			}}},
		}},
	}
}

// imageTriggersWebhook sends the Kubernetes workloads that may carry an
// image.openshift.io/triggers annotation to the OpenShift API server's
// check of the image streams it names in other namespaces
// (internal/admission/imageaccess), failing closed.
func imageTriggersWebhook(port int32, caBundle []byte) *admissionregistrationv1.ValidatingWebhookConfiguration {
	ops := []admissionregistrationv1.OperationType{admissionregistrationv1.Create, admissionregistrationv1.Update}
	rule := func(group string, resources ...string) admissionregistrationv1.RuleWithOperations {
		return admissionregistrationv1.RuleWithOperations{Operations: ops, Rule: admissionregistrationv1.Rule{
			APIGroups: []string{group}, APIVersions: []string{"v1"}, Resources: resources,
		}}
	}
	return openshiftValidatingWebhook("imagetriggers.image.openshift.io", imageaccess.TriggersWebhookPath, port, caBundle, admissionregistrationv1.Fail, 10,
		rule("apps", "deployments", "statefulsets", "daemonsets"),
		rule("batch", "cronjobs"))
}

// sccRoles are OpenShift's system:openshift:scc:<name> cluster roles: a
// binding to one lets its subjects run pods under that constraint
// (`adm policy add-scc-to-user`).
func sccRoles() []*rbacv1.ClusterRole {
	var roles []*rbacv1.ClusterRole
	for _, name := range scc.Names {
		roles = append(roles, &rbacv1.ClusterRole{
			ObjectMeta: metav1.ObjectMeta{Name: scc.ClusterRoleName(name)},
			Rules: []rbacv1.PolicyRule{{
				Verbs: []string{"use"}, APIGroups: []string{"security.openshift.io"},
				Resources: []string{"securitycontextconstraints"}, ResourceNames: []string{name},
			}},
		})
	}
	return roles
}

// sccWebhook sends every new pod of a project to the OpenShift API
// server's security context constraint admission (internal/admission/scc).
// It fails closed: a pod no constraint admitted does not run. Labels are
// the pod's creator's to write: no object selector.
func sccWebhook(port int32, caBundle []byte) *admissionregistrationv1.MutatingWebhookConfiguration {
	return openshiftWebhook("scc.security.openshift.io", scc.WebhookPath, port, caBundle, admissionregistrationv1.Fail, 15,
		admissionregistrationv1.RuleWithOperations{
			Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create},
			Rule:       admissionregistrationv1.Rule{APIGroups: []string{""}, APIVersions: []string{"v1"}, Resources: []string{"pods"}},
		})
}

// hostProcessPolicy lets only Slipway's controllers (the build and
// DeploymentConfig controllers' identity) and cluster administrators
// (system:masters, who hold the data directory anyway) create or change
// pods that run as host processes of the node (slipway.dev/host-process):
// a project's service account, or a workload controller acting for it,
// may not.
func hostProcessPolicy() (*admissionregistrationv1.ValidatingAdmissionPolicy, *admissionregistrationv1.ValidatingAdmissionPolicyBinding) {
	return denyPolicy("slipway-host-process-pods", "pods",
		`!has(object.metadata.annotations) || !('slipway.dev/host-process' in object.metadata.annotations) || request.userInfo.username == '`+controlplane.OpenShiftControllersUser+`' || 'system:masters' in request.userInfo.groups`,
		"only Slipway's build and deployment controllers may create pods that run as host processes (annotation slipway.dev/host-process)")
}

// externalIPsPolicy lets only cluster admins give a Service externalIPs
// (the node answers on them, whatever address they name: a project could
// take another's or the host's), as Kubernetes' DenyServiceExternalIPs
// advises; an update that keeps the admin's list is not refused.
func externalIPsPolicy() (*admissionregistrationv1.ValidatingAdmissionPolicy, *admissionregistrationv1.ValidatingAdmissionPolicyBinding) {
	return denyPolicy("slipway-service-external-ips", "services",
		`!has(object.spec.externalIPs) || size(object.spec.externalIPs) == 0 || 'system:masters' in request.userInfo.groups || (oldObject != null && has(oldObject.spec.externalIPs) && oldObject.spec.externalIPs == object.spec.externalIPs)`,
		"only cluster administrators may set a Service's spec.externalIPs")
}

// denyPolicy is a ValidatingAdmissionPolicy, and its binding, refusing
// creates and updates of core resource when expression is false, with
// message and reason Forbidden.
func denyPolicy(name, resource, expression, message string) (*admissionregistrationv1.ValidatingAdmissionPolicy, *admissionregistrationv1.ValidatingAdmissionPolicyBinding) {
	fail := admissionregistrationv1.Fail
	policy := &admissionregistrationv1.ValidatingAdmissionPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: admissionregistrationv1.ValidatingAdmissionPolicySpec{
			FailurePolicy: &fail,
			MatchConstraints: &admissionregistrationv1.MatchResources{
				ResourceRules: []admissionregistrationv1.NamedRuleWithOperations{{
					RuleWithOperations: admissionregistrationv1.RuleWithOperations{
						Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create, admissionregistrationv1.Update},
						Rule:       admissionregistrationv1.Rule{APIGroups: []string{""}, APIVersions: []string{"v1"}, Resources: []string{resource}},
					},
				}},
			},
			Validations: []admissionregistrationv1.Validation{{
				Expression: expression,
				Message:    message,
				Reason:     ptrReason(metav1.StatusReasonForbidden),
			}},
		},
	}
	binding := &admissionregistrationv1.ValidatingAdmissionPolicyBinding{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: admissionregistrationv1.ValidatingAdmissionPolicyBindingSpec{
			PolicyName:        name,
			ValidationActions: []admissionregistrationv1.ValidationAction{admissionregistrationv1.Deny},
		},
	}
	return policy, binding
}

// localStorageClass is the default StorageClass: directories on this
// machine made by the local provisioner, bound once a pod using the claim
// is scheduled (a local volume is on one node), deleted with their claim.
func localStorageClass() *storagev1.StorageClass {
	binding := storagev1.VolumeBindingWaitForFirstConsumer
	reclaim := corev1.PersistentVolumeReclaimDelete
	return &storagev1.StorageClass{
		ObjectMeta: metav1.ObjectMeta{
			Name:        "local",
			Annotations: map[string]string{"storageclass.kubernetes.io/is-default-class": "true"},
		},
		Provisioner:       localvolume.ProvisionerName,
		VolumeBindingMode: &binding,
		ReclaimPolicy:     &reclaim,
	}
}

func ptrReason(r metav1.StatusReason) *metav1.StatusReason { return &r }

// nodeReady is a kube-apiserver readiness check for a server that runs the
// node: ready once this machine's Node is Ready and has lost the taints a
// new node starts with, so the first pod after /readyz is scheduled at once.
type nodeReady struct {
	name  string
	admin atomic.Pointer[kubernetes.Clientset] // set once the kube-apiserver serves
	ready atomic.Bool
}

func (c *nodeReady) Name() string { return "slipway-node" }

func (c *nodeReady) Check(r *http.Request) error {
	if c.ready.Load() {
		return nil
	}
	client := c.admin.Load()
	if client == nil {
		return fmt.Errorf("the control plane is starting")
	}
	node, err := client.CoreV1().Nodes().Get(r.Context(), c.name, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("node %s: %w", c.name, err)
	}
	for _, taint := range node.Spec.Taints {
		if taint.Key == corev1.TaintNodeNotReady || taint.Key == corev1.TaintNodeUnreachable {
			return fmt.Errorf("node %s is tainted %s", c.name, taint.Key)
		}
	}
	for _, cond := range node.Status.Conditions {
		if cond.Type == corev1.NodeReady && cond.Status == corev1.ConditionTrue {
			c.ready.Store(true)
			return nil
		}
	}
	return fmt.Errorf("node %s is not Ready", c.name)
}
