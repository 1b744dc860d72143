package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	kappsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/util/retry"

	"github.com/slipway-dev/slipway/internal/triggerannotation"
)

// workloadKind is a Kubernetes workload kind whose objects follow image
// stream tags through the image.openshift.io/triggers annotation, the kinds
// oc's set triggers edits that way.
type workloadKind struct {
	resource string   // "deployments"
	ref      string   // how messages name one: "deployment.apps"
	aliases  []string // the TYPEs of TYPE/NAME that name it
}

var workloadKinds = []workloadKind{
	{"deployments", "deployment.apps", []string{"deploy", "deployment", "deployments", "deployment.apps", "deployments.apps"}},
	{"statefulsets", "statefulset.apps", []string{"sts", "statefulset", "statefulsets", "statefulset.apps", "statefulsets.apps"}},
	{"daemonsets", "daemonset.apps", []string{"ds", "daemonset", "daemonsets", "daemonset.apps", "daemonsets.apps"}},
	{"cronjobs", "cronjob.batch", []string{"cj", "cronjob", "cronjobs", "cronjob.batch", "cronjobs.batch"}},
}

// workloadKindOf returns the workload kind a TYPE (or resource) names.
func workloadKindOf(kind string) (workloadKind, bool) {
	kind = strings.ToLower(kind)
	for _, w := range workloadKinds {
		if w.resource == kind || slices.Contains(w.aliases, kind) {
			return w, true
		}
	}
	return workloadKind{}, false
}

// workloadClient reads and writes the objects of one workload kind.
type workloadClient interface {
	get(ctx context.Context, name string) (runtime.Object, error)
	update(ctx context.Context, obj runtime.Object) error
}

// typedClient is the part of a typed client-go client workloadClient uses.
type typedClient[T runtime.Object] interface {
	Get(ctx context.Context, name string, opts metav1.GetOptions) (T, error)
	Update(ctx context.Context, obj T, opts metav1.UpdateOptions) (T, error)
}

type typedWorkloadClient[T runtime.Object] struct{ client typedClient[T] }

func (c typedWorkloadClient[T]) get(ctx context.Context, name string) (runtime.Object, error) {
	obj, err := c.client.Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	return obj, nil
}

func (c typedWorkloadClient[T]) update(ctx context.Context, obj runtime.Object) error {
	_, err := c.client.Update(ctx, obj.(T), metav1.UpdateOptions{})
	return err
}

// client returns the client of w's objects in c's namespace.
func (w workloadKind) client(c *appsClients) workloadClient {
	switch w.resource {
	case "deployments":
		return typedWorkloadClient[*kappsv1.Deployment]{c.kube.AppsV1().Deployments(c.namespace)}
	case "statefulsets":
		return typedWorkloadClient[*kappsv1.StatefulSet]{c.kube.AppsV1().StatefulSets(c.namespace)}
	case "daemonsets":
		return typedWorkloadClient[*kappsv1.DaemonSet]{c.kube.AppsV1().DaemonSets(c.namespace)}
	}
	return typedWorkloadClient[*batchv1.CronJob]{c.kube.BatchV1().CronJobs(c.namespace)}
}

// setWorkloadTriggers is set triggers on workload name of kind w.
func setWorkloadTriggers(ctx context.Context, c *appsClients, w workloadKind, o *setTriggersOptions, name string, out io.Writer) error {
	client := w.client(c)
	if o.print {
		obj, err := client.get(ctx, name)
		if err != nil {
			return err
		}
		t, err := readWorkloadTriggers(obj)
		if err != nil {
			return err
		}
		return printTriggers(out, w.resource+"/"+name, t.rows(c.namespace))
	}
	changed := false
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		obj, err := client.get(ctx, name)
		if err != nil {
			return err
		}
		before := obj.DeepCopyObject()
		t, err := readWorkloadTriggers(obj)
		if err != nil {
			return err
		}
		if err := t.update(o, c.namespace); err != nil {
			return err
		}
		if err := t.write(obj); err != nil {
			return err
		}
		if changed = !workloadTriggersEqual(before, obj); !changed {
			return nil
		}
		return client.update(ctx, obj)
	})
	if err != nil {
		return fmt.Errorf("updating the triggers of %s/%s: %w", w.ref, name, err)
	}
	printTriggersUpdated(out, w.ref+"/"+name, changed)
	return nil
}

// workloadTriggers are an annotated workload's triggers as set triggers
// edits them (oc's trigger definition): the config change trigger is a
// Deployment's being not paused (always on for other kinds), and each image
// trigger follows a tag into containers.
type workloadTriggers struct {
	Config bool
	Images []workloadImageTrigger
}

// workloadImageTrigger follows image stream tag From ("stream:tag") of
// Namespace ("" for the object's own) into containers Names.
type workloadImageTrigger struct {
	From, Namespace string
	Auto            bool
	Names           []string
}

// readWorkloadTriggers reads obj's triggers; annotated triggers whose
// fieldPath names no container image are dropped, as oc drops them.
func readWorkloadTriggers(obj runtime.Object) (*workloadTriggers, error) {
	spec, specPath, err := triggerannotation.PodSpec(obj)
	if err != nil {
		return nil, err
	}
	m := obj.(metav1.Object)
	t := &workloadTriggers{Config: true}
	if d, ok := obj.(*kappsv1.Deployment); ok {
		t.Config = !d.Spec.Paused
	}
	triggers, err := triggerannotation.Parse(m.GetAnnotations())
	if err != nil {
		return nil, err
	}
	for _, trigger := range triggers {
		container, err := triggerannotation.Container(spec, specPath, trigger.FieldPath)
		if err != nil {
			continue
		}
		ns := trigger.From.Namespace
		if ns == m.GetNamespace() {
			ns = ""
		}
		t.Images = append(t.Images, workloadImageTrigger{From: trigger.From.Name, Namespace: ns, Auto: !trigger.Paused, Names: []string{container.Name}})
	}
	return t, nil
}

// update applies o to t, as oc's set triggers does; namespace is the
// object's.
func (t *workloadTriggers) update(o *setTriggersOptions, namespace string) error {
	if o.webhooks() > 0 {
		return errors.New("does not support web hooks")
	}
	fromNamespace := o.fromImage.Namespace
	if fromNamespace == namespace {
		fromNamespace = ""
	}
	switch {
	case o.RemoveAll:
		*t = workloadTriggers{}
	case o.Remove:
		if o.FromConfig {
			t.Config = false
		}
		if o.FromImage != "" {
			t.Images = slices.DeleteFunc(t.Images, func(i workloadImageTrigger) bool { return i.From == o.fromImage.Name })
		}
	case o.reset:
		t.Config = o.Auto
		for i := range t.Images {
			t.Images[i].Auto = o.Auto
		}
	case o.FromConfig:
		t.Config = true
	default: // --from-image
		names := o.containerNames()
		if i := slices.IndexFunc(t.Images, func(i workloadImageTrigger) bool {
			return i.From == o.fromImage.Name && i.Namespace == fromNamespace
		}); i >= 0 {
			t.Images[i].Auto, t.Images[i].Names = !o.Manual, names
		} else {
			t.Images = append(t.Images, workloadImageTrigger{From: o.fromImage.Name, Namespace: fromNamespace, Auto: !o.Manual, Names: names})
		}
	}
	return nil
}

// write sets obj's annotation (and a Deployment's paused) from t.
func (t *workloadTriggers) write(obj runtime.Object) error {
	spec, specPath, err := triggerannotation.PodSpec(obj)
	if err != nil {
		return err
	}
	triggered := map[string]bool{}
	triggers := []triggerannotation.Trigger{}
	for _, image := range t.Images {
		names, err := triggerContainers(spec, image.Names)
		if err != nil {
			return err
		}
		for _, name := range names {
			if triggered[name] {
				return fmt.Errorf("only one trigger may reference each container: %s", name)
			}
			triggered[name] = true
			init := !slices.ContainsFunc(spec.Containers, func(c corev1.Container) bool { return c.Name == name })
			triggers = append(triggers, triggerannotation.Trigger{
				From:      triggerannotation.Reference{Kind: "ImageStreamTag", Name: image.From, Namespace: image.Namespace},
				FieldPath: triggerannotation.ImageFieldPath(specPath, name, init),
				Paused:    !image.Auto,
			})
		}
	}
	m := obj.(metav1.Object)
	annotations := m.GetAnnotations()
	if annotations == nil {
		annotations = map[string]string{}
	}
	annotations[triggerannotation.Key] = triggerannotation.Format(triggers)
	m.SetAnnotations(annotations)
	if d, ok := obj.(*kappsv1.Deployment); ok {
		d.Spec.Paused = !t.Config
	}
	return nil
}

// rows are t as the triggers table lists them; namespace is the object's.
func (t *workloadTriggers) rows(namespace string) []triggerRow {
	rows := []triggerRow{{"config", "", fmt.Sprint(t.Config)}}
	for _, image := range t.Images {
		from := corev1.ObjectReference{Name: image.From, Namespace: image.Namespace}
		rows = append(rows, triggerRow{"image", imageTriggerValue(from, namespace, image.Names), fmt.Sprint(image.Auto)})
	}
	return rows
}

// workloadTriggersEqual reports whether set triggers left the annotation
// and paused of a workload as they were.
func workloadTriggersEqual(before, after runtime.Object) bool {
	b, a := before.(metav1.Object), after.(metav1.Object)
	if b.GetAnnotations()[triggerannotation.Key] != a.GetAnnotations()[triggerannotation.Key] {
		return false
	}
	bd, ok := before.(*kappsv1.Deployment)
	if !ok {
		return true
	}
	return bd.Spec.Paused == after.(*kappsv1.Deployment).Spec.Paused
}
