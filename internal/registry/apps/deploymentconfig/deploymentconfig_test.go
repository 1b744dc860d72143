package deploymentconfig

import (
	"context"
	"strings"
	"testing"

	appsv1 "github.com/openshift/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	extensionsv1beta1 "k8s.io/api/extensions/v1beta1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apiserver/pkg/registry/rest"
)

// newDeploymentConfig returns what `oc new-app --as-deployment-config`
// creates, before defaulting.
func newDeploymentConfig() *appsv1.DeploymentConfig {
	return &appsv1.DeploymentConfig{
		ObjectMeta: metav1.ObjectMeta{Name: "mytime", Namespace: "demo", ResourceVersion: "5"},
		Spec: appsv1.DeploymentConfigSpec{
			Replicas: 1,
			Triggers: appsv1.DeploymentTriggerPolicies{
				{Type: appsv1.DeploymentTriggerOnConfigChange},
				{Type: appsv1.DeploymentTriggerOnImageChange, ImageChangeParams: &appsv1.DeploymentTriggerImageChangeParams{
					Automatic:      true,
					ContainerNames: []string{"mytime"},
					From:           corev1.ObjectReference{Kind: "ImageStreamTag", Name: "mytime:latest"},
				}},
			},
			Template: &corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"deploymentconfig": "mytime"}},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{
					Name:  "mytime",
					Image: " ",
					Ports: []corev1.ContainerPort{{ContainerPort: 8080}},
				}}},
			},
		},
	}
}

func hasError(errs field.ErrorList, want string) bool {
	for _, e := range errs {
		if strings.HasPrefix(e.Error(), want) {
			return true
		}
	}
	return false
}

func TestPrepareForCreateDefaults(t *testing.T) {
	dc := newDeploymentConfig()
	dc.Spec.Triggers[1].ImageChangeParams.From.Kind = ""
	dc.Spec.Triggers[1].ImageChangeParams.LastTriggeredImage = "registry/x@sha256:abc"
	dc.Status = appsv1.DeploymentConfigStatus{LatestVersion: 4, Replicas: 3}
	Strategy.PrepareForCreate(context.Background(), dc)

	if dc.Generation != 1 {
		t.Errorf("generation = %d, want 1", dc.Generation)
	}
	if dc.Status.LatestVersion != 0 || dc.Status.Replicas != 0 {
		t.Errorf("status not cleared: %+v", dc.Status)
	}
	params := dc.Spec.Triggers[1].ImageChangeParams
	if params.LastTriggeredImage != "" {
		t.Errorf("lastTriggeredImage = %q, want cleared", params.LastTriggeredImage)
	}
	if params.From.Kind != "ImageStreamTag" || params.From.Namespace != "demo" {
		t.Errorf("trigger from = %+v, want kind ImageStreamTag in namespace demo", params.From)
	}
	if dc.Spec.Selector["deploymentconfig"] != "mytime" {
		t.Errorf("selector = %v, want the template labels", dc.Spec.Selector)
	}
	if l := dc.Spec.RevisionHistoryLimit; l == nil || *l != 10 {
		t.Errorf("revisionHistoryLimit = %v, want 10", l)
	}
	if dc.Spec.Replicas != 1 {
		t.Errorf("replicas = %d, want 1 kept", dc.Spec.Replicas)
	}

	s := dc.Spec.Strategy
	if s.Type != appsv1.DeploymentStrategyTypeRolling || s.RollingParams == nil {
		t.Fatalf("strategy = %+v, want Rolling with params", s)
	}
	rp := s.RollingParams
	if *rp.UpdatePeriodSeconds != 1 || *rp.IntervalSeconds != 1 || *rp.TimeoutSeconds != 600 {
		t.Errorf("rolling timings = %d/%d/%d, want 1/1/600", *rp.UpdatePeriodSeconds, *rp.IntervalSeconds, *rp.TimeoutSeconds)
	}
	if rp.MaxSurge.String() != "25%" || rp.MaxUnavailable.String() != "25%" {
		t.Errorf("maxSurge/maxUnavailable = %s/%s, want 25%%/25%%", rp.MaxSurge, rp.MaxUnavailable)
	}
	if *s.ActiveDeadlineSeconds != 21600 {
		t.Errorf("activeDeadlineSeconds = %d, want 21600", *s.ActiveDeadlineSeconds)
	}

	pod := dc.Spec.Template.Spec
	if pod.RestartPolicy != corev1.RestartPolicyAlways || pod.DNSPolicy != corev1.DNSClusterFirst || pod.SchedulerName != "default-scheduler" {
		t.Errorf("pod defaults = %q/%q/%q", pod.RestartPolicy, pod.DNSPolicy, pod.SchedulerName)
	}
	if pod.TerminationGracePeriodSeconds == nil || *pod.TerminationGracePeriodSeconds != 30 || pod.SecurityContext == nil {
		t.Errorf("grace period %v, security context %v; want 30 and {}", pod.TerminationGracePeriodSeconds, pod.SecurityContext)
	}
	c := pod.Containers[0]
	if c.TerminationMessagePath != "/dev/termination-log" || c.TerminationMessagePolicy != corev1.TerminationMessageReadFile {
		t.Errorf("termination message = %q/%q", c.TerminationMessagePath, c.TerminationMessagePolicy)
	}
	if c.ImagePullPolicy != corev1.PullIfNotPresent {
		t.Errorf("imagePullPolicy for a blank image = %q, want IfNotPresent", c.ImagePullPolicy)
	}
	if c.Ports[0].Protocol != corev1.ProtocolTCP {
		t.Errorf("port protocol = %q, want TCP", c.Ports[0].Protocol)
	}
	if errs := Strategy.Validate(context.Background(), dc); len(errs) > 0 {
		t.Errorf("defaulted new-app DeploymentConfig is invalid: %v", errs)
	}
}

func TestTriggerDefaults(t *testing.T) {
	dc := newDeploymentConfig()
	dc.Spec.Triggers = nil
	SetDefaults(dc)
	if len(dc.Spec.Triggers) != 1 || dc.Spec.Triggers[0].Type != appsv1.DeploymentTriggerOnConfigChange {
		t.Errorf("absent triggers became %v, want [ConfigChange]", dc.Spec.Triggers)
	}
	manual := newDeploymentConfig()
	manual.Spec.Triggers = appsv1.DeploymentTriggerPolicies{}
	SetDefaults(manual)
	if len(manual.Spec.Triggers) != 0 {
		t.Errorf("empty triggers became %v, want none (manual only)", manual.Spec.Triggers)
	}
}

func TestStrategyDefaults(t *testing.T) {
	zero, ten := intstr.FromInt32(0), intstr.FromInt32(10)
	tests := []struct {
		name                string
		strategy            appsv1.DeploymentStrategy
		surge, unavailable  string
		recreateTimeout     int64
		wantRecreateDefault bool
	}{
		{name: "empty", strategy: appsv1.DeploymentStrategy{}, surge: "25%", unavailable: "25%"},
		{name: "surge zero", strategy: appsv1.DeploymentStrategy{Type: "Rolling", RollingParams: &appsv1.RollingDeploymentStrategyParams{MaxSurge: &zero}}, surge: "0", unavailable: "25%"},
		{name: "unavailable zero", strategy: appsv1.DeploymentStrategy{Type: "Rolling", RollingParams: &appsv1.RollingDeploymentStrategyParams{MaxUnavailable: &zero}}, surge: "25%", unavailable: "0"},
		{name: "surge set", strategy: appsv1.DeploymentStrategy{Type: "Rolling", RollingParams: &appsv1.RollingDeploymentStrategyParams{MaxSurge: &ten}}, surge: "10", unavailable: "0"},
		{name: "recreate", strategy: appsv1.DeploymentStrategy{Type: "Recreate"}, wantRecreateDefault: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := tt.strategy
			setStrategyDefaults(&s)
			if tt.wantRecreateDefault {
				if s.RollingParams != nil || s.RecreateParams == nil || *s.RecreateParams.TimeoutSeconds != 600 {
					t.Errorf("recreate strategy = %+v, want recreateParams{timeoutSeconds: 600} only", s)
				}
				return
			}
			if got := s.RollingParams.MaxSurge.String(); got != tt.surge {
				t.Errorf("maxSurge = %s, want %s", got, tt.surge)
			}
			if got := s.RollingParams.MaxUnavailable.String(); got != tt.unavailable {
				t.Errorf("maxUnavailable = %s, want %s", got, tt.unavailable)
			}
		})
	}
}

func TestDefaultPullPolicy(t *testing.T) {
	tests := map[string]corev1.PullPolicy{
		"busybox":                         corev1.PullAlways,
		"busybox:latest":                  corev1.PullAlways,
		"localhost:5000/app":              corev1.PullAlways,
		"localhost:5000/app:v1":           corev1.PullIfNotPresent,
		"quay.io/app@sha256:0123abcd":     corev1.PullIfNotPresent,
		" ":                               corev1.PullIfNotPresent,
		"":                                corev1.PullIfNotPresent,
		"docker.io/veermuchandi/mytime:1": corev1.PullIfNotPresent,
	}
	for image, want := range tests {
		if got := DefaultPullPolicy(image); got != want {
			t.Errorf("DefaultPullPolicy(%q) = %q, want %q", image, got, want)
		}
	}
}

func TestValidate(t *testing.T) {
	negative := int32(-1)
	zero := intstr.FromInt32(0)
	zeroPercent := intstr.FromString("0%")
	tests := []struct {
		name   string
		mutate func(*appsv1.DeploymentConfig)
		want   string
	}{
		{"valid", func(*appsv1.DeploymentConfig) {}, ""},
		{"zero replicas", func(dc *appsv1.DeploymentConfig) { dc.Spec.Replicas = 0 }, ""},
		{"manual only", func(dc *appsv1.DeploymentConfig) {
			dc.Spec.Triggers = appsv1.DeploymentTriggerPolicies{}
			dc.Spec.Template.Spec.Containers[0].Image = "busybox"
		}, ""},
		{"name", func(dc *appsv1.DeploymentConfig) { dc.Name = "" }, "metadata.name: Required value"},
		{"replicas", func(dc *appsv1.DeploymentConfig) { dc.Spec.Replicas = -1 }, "spec.replicas: Invalid value"},
		{"revision history", func(dc *appsv1.DeploymentConfig) { dc.Spec.RevisionHistoryLimit = &negative }, "spec.revisionHistoryLimit: Invalid value"},
		{"template", func(dc *appsv1.DeploymentConfig) { dc.Spec.Template = nil }, "spec.template: Required value"},
		{"containers", func(dc *appsv1.DeploymentConfig) { dc.Spec.Template.Spec.Containers = nil }, "spec.template.spec.containers: Required value"},
		{"container name", func(dc *appsv1.DeploymentConfig) { dc.Spec.Template.Spec.Containers[0].Name = "" }, "spec.template.spec.containers[0].name: Required value"},
		{"duplicate container", func(dc *appsv1.DeploymentConfig) {
			c := dc.Spec.Template.Spec.Containers
			dc.Spec.Template.Spec.Containers = append(c, c[0])
		}, "spec.template.spec.containers[1].name: Duplicate value"},
		{"image required without trigger", func(dc *appsv1.DeploymentConfig) { dc.Spec.Triggers = dc.Spec.Triggers[:1] }, "spec.template.spec.containers[0].image: Required value"},
		{"port", func(dc *appsv1.DeploymentConfig) { dc.Spec.Template.Spec.Containers[0].Ports[0].ContainerPort = 70000 }, "spec.template.spec.containers[0].ports[0].containerPort: Invalid value"},
		{"restart policy", func(dc *appsv1.DeploymentConfig) { dc.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyNever }, "spec.template.spec.restartPolicy: Unsupported value"},
		{"selector mismatch", func(dc *appsv1.DeploymentConfig) { dc.Spec.Selector = map[string]string{"app": "other"} }, "spec.template.metadata.labels: Invalid value"},
		{"trigger from name", func(dc *appsv1.DeploymentConfig) { dc.Spec.Triggers[1].ImageChangeParams.From.Name = "" }, "spec.triggers[1].imageChangeParams.from.name: Required value"},
		{"trigger from form", func(dc *appsv1.DeploymentConfig) { dc.Spec.Triggers[1].ImageChangeParams.From.Name = "mytime" }, "spec.triggers[1].imageChangeParams.from.name: Invalid value"},
		{"trigger from kind", func(dc *appsv1.DeploymentConfig) { dc.Spec.Triggers[1].ImageChangeParams.From.Kind = "DockerImage" }, "spec.triggers[1].imageChangeParams.from.kind: Unsupported value"},
		{"trigger params", func(dc *appsv1.DeploymentConfig) {
			dc.Spec.Triggers[1].ImageChangeParams = nil
			dc.Spec.Template.Spec.Containers[0].Image = "busybox"
		}, "spec.triggers[1].imageChangeParams: Required value"},
		{"trigger container", func(dc *appsv1.DeploymentConfig) {
			dc.Spec.Triggers[1].ImageChangeParams.ContainerNames = []string{"mytime", "web"}
		}, "spec.triggers[1].imageChangeParams.containerNames[1]: Invalid value"},
		{"trigger type", func(dc *appsv1.DeploymentConfig) { dc.Spec.Triggers[0].Type = "Webhook" }, "spec.triggers[0].type: Unsupported value"},
		{"strategy type", func(dc *appsv1.DeploymentConfig) { dc.Spec.Strategy.Type = "BlueGreen" }, "spec.strategy.type: Unsupported value"},
		{"custom params", func(dc *appsv1.DeploymentConfig) { dc.Spec.Strategy = appsv1.DeploymentStrategy{Type: "Custom"} }, "spec.strategy.customParams: Required value"},
		{"surge and unavailable zero", func(dc *appsv1.DeploymentConfig) {
			dc.Spec.Strategy.RollingParams.MaxSurge = &zero
			dc.Spec.Strategy.RollingParams.MaxUnavailable = &zeroPercent
		}, "spec.strategy.rollingParams.maxUnavailable: Invalid value"},
		{"unavailable over 100%", func(dc *appsv1.DeploymentConfig) {
			over := intstr.FromString("150%")
			dc.Spec.Strategy.RollingParams.MaxUnavailable = &over
		}, "spec.strategy.rollingParams.maxUnavailable: Invalid value"},
		{"hook failure policy", func(dc *appsv1.DeploymentConfig) {
			dc.Spec.Strategy.RollingParams.Pre = &appsv1.LifecycleHook{FailurePolicy: "Sometimes", ExecNewPod: &appsv1.ExecNewPodHook{Command: []string{"true"}, ContainerName: "mytime"}}
		}, "spec.strategy.rollingParams.pre.failurePolicy: Unsupported value"},
		{"hook action", func(dc *appsv1.DeploymentConfig) {
			dc.Spec.Strategy.RollingParams.Post = &appsv1.LifecycleHook{FailurePolicy: "Abort"}
		}, "spec.strategy.rollingParams.post: Invalid value"},
		{"hook container", func(dc *appsv1.DeploymentConfig) {
			dc.Spec.Strategy = appsv1.DeploymentStrategy{Type: "Recreate", RecreateParams: &appsv1.RecreateDeploymentStrategyParams{
				Mid: &appsv1.LifecycleHook{FailurePolicy: "Retry", ExecNewPod: &appsv1.ExecNewPodHook{Command: []string{"migrate"}, ContainerName: "db"}},
			}}
		}, "spec.strategy.recreateParams.mid.execNewPod.containerName: Invalid value"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dc := newDeploymentConfig()
			SetDefaults(dc)
			tt.mutate(dc)
			errs := Validate(dc)
			if tt.want == "" {
				if len(errs) > 0 {
					t.Fatalf("unexpected errors: %v", errs)
				}
				return
			}
			if !hasError(errs, tt.want) {
				t.Fatalf("errors %v do not include %q", errs, tt.want)
			}
		})
	}
}

func TestUpdateStrategies(t *testing.T) {
	ctx := context.Background()
	old := newDeploymentConfig()
	Strategy.PrepareForCreate(ctx, old)
	old.Status = appsv1.DeploymentConfigStatus{LatestVersion: 2, ObservedGeneration: 1, Replicas: 1}

	tests := []struct {
		name           string
		mutate         func(*appsv1.DeploymentConfig)
		wantGeneration int64
		wantVersion    int64
	}{
		{"metadata only", func(dc *appsv1.DeploymentConfig) { dc.Labels = map[string]string{"a": "b"} }, 1, 2},
		{"spec change", func(dc *appsv1.DeploymentConfig) { dc.Spec.Replicas = 3 }, 2, 2},
		{"status ignored", func(dc *appsv1.DeploymentConfig) { dc.Status.Replicas = 9; dc.Status.LatestVersion = 7 }, 1, 2},
		{"rollback bumps latestVersion by one", func(dc *appsv1.DeploymentConfig) { dc.Status.LatestVersion = 3 }, 2, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dc := old.DeepCopy()
			tt.mutate(dc)
			Strategy.PrepareForUpdate(ctx, dc, old)
			if dc.Generation != tt.wantGeneration || dc.Status.LatestVersion != tt.wantVersion {
				t.Errorf("generation %d, latestVersion %d; want %d, %d", dc.Generation, dc.Status.LatestVersion, tt.wantGeneration, tt.wantVersion)
			}
			if dc.Status.Replicas != 1 {
				t.Errorf("status.replicas = %d, want 1 kept", dc.Status.Replicas)
			}
			if errs := Strategy.ValidateUpdate(ctx, dc, old); len(errs) > 0 {
				t.Errorf("unexpected errors: %v", errs)
			}
		})
	}

	statusTests := []struct {
		name   string
		mutate func(*appsv1.DeploymentConfig)
		want   string
	}{
		{"controller writes status", func(dc *appsv1.DeploymentConfig) {
			dc.Status.LatestVersion, dc.Status.ObservedGeneration, dc.Status.Replicas = 3, 2, 2
		}, ""},
		{"latestVersion back", func(dc *appsv1.DeploymentConfig) { dc.Status.LatestVersion = 1 }, "status.latestVersion: Invalid value"},
		{"latestVersion jump", func(dc *appsv1.DeploymentConfig) { dc.Status.LatestVersion = 5 }, "status.latestVersion: Invalid value"},
		{"observedGeneration back", func(dc *appsv1.DeploymentConfig) { dc.Status.ObservedGeneration = 0 }, "status.observedGeneration: Invalid value"},
		{"negative replicas", func(dc *appsv1.DeploymentConfig) { dc.Status.Replicas = -1 }, "status.replicas: Invalid value"},
	}
	for _, tt := range statusTests {
		t.Run("status "+tt.name, func(t *testing.T) {
			dc := old.DeepCopy()
			tt.mutate(dc)
			dc.Spec.Replicas = 7
			StatusStrategy.PrepareForUpdate(ctx, dc, old)
			if dc.Spec.Replicas != old.Spec.Replicas {
				t.Errorf("status update changed spec.replicas to %d", dc.Spec.Replicas)
			}
			errs := StatusStrategy.ValidateUpdate(ctx, dc, old)
			if tt.want == "" {
				if len(errs) > 0 {
					t.Fatalf("unexpected errors: %v", errs)
				}
				return
			}
			if !hasError(errs, tt.want) {
				t.Fatalf("errors %v do not include %q", errs, tt.want)
			}
		})
	}
}

func TestTable(t *testing.T) {
	dc := newDeploymentConfig()
	Strategy.PrepareForCreate(context.Background(), dc)
	dc.Status.LatestVersion, dc.Status.Replicas = 3, 1

	manual := newDeploymentConfig()
	manual.Name = "manual"
	manual.Spec.Replicas = 2
	manual.Spec.Triggers[0] = appsv1.DeploymentTriggerPolicy{Type: appsv1.DeploymentTriggerOnImageChange, ImageChangeParams: &appsv1.DeploymentTriggerImageChangeParams{
		Automatic: false, ContainerNames: []string{"mytime"}, From: corev1.ObjectReference{Name: "old:v1"},
	}}

	sidecar := newDeploymentConfig()
	sidecar.Name = "sidecar"
	sidecar.Spec.Template.Spec.Containers = append(sidecar.Spec.Template.Spec.Containers, corev1.Container{Name: "proxy", Image: "envoy"})

	list := &appsv1.DeploymentConfigList{Items: []appsv1.DeploymentConfig{*dc, *manual, *sidecar}}
	table, err := TableConvertor.ConvertToTable(context.Background(), list, nil)
	if err != nil {
		t.Fatal(err)
	}
	var headers []string
	for _, c := range table.ColumnDefinitions {
		headers = append(headers, strings.ToUpper(c.Name))
	}
	if got := strings.Join(headers, " "); got != "NAME REVISION DESIRED CURRENT TRIGGERED BY" {
		t.Errorf("headers = %q", got)
	}
	want := [][]interface{}{
		{"mytime", int64(3), int32(1), int32(1), "config,image(mytime:latest)"},
		{"manual", int64(0), int32(2), int32(0), "image(mytime:latest)"},
		{"sidecar", int64(0), int32(1), int32(0), "config,image(mytime:mytime:latest)"},
	}
	if len(table.Rows) != len(want) {
		t.Fatalf("%d rows, want %d", len(table.Rows), len(want))
	}
	for i, row := range table.Rows {
		for j, cell := range row.Cells {
			if cell != want[i][j] {
				t.Errorf("row %d cell %d = %#v, want %#v", i, j, cell, want[i][j])
			}
		}
	}
}

func TestScale(t *testing.T) {
	dc := newDeploymentConfig()
	Strategy.PrepareForCreate(context.Background(), dc)
	dc.UID = "uid-1"
	dc.Status.Replicas = 1

	scale := ScaleFromDeploymentConfig(dc)
	if scale.Name != "mytime" || scale.Namespace != "demo" || scale.UID != "uid-1" || scale.ResourceVersion != "5" {
		t.Errorf("scale metadata = %+v", scale.ObjectMeta)
	}
	if scale.Spec.Replicas != 1 || scale.Status.Replicas != 1 || scale.Status.TargetSelector != "deploymentconfig=mytime" {
		t.Errorf("scale = %+v / %+v", scale.Spec, scale.Status)
	}

	// A client PUTs a Scale read earlier with 4 replicas.
	desired := scale.DeepCopy()
	desired.Spec.Replicas = 4
	update := &scaleUpdate{objInfo: rest.DefaultUpdatedObjectInfo(desired)}
	obj, err := update.UpdatedObject(context.Background(), dc)
	if err != nil {
		t.Fatal(err)
	}
	scaled := obj.(*appsv1.DeploymentConfig)
	if scaled.Spec.Replicas != 4 || scaled.ResourceVersion != "5" {
		t.Errorf("scaled replicas %d resourceVersion %q, want 4 and 5", scaled.Spec.Replicas, scaled.ResourceVersion)
	}
	if dc.Spec.Replicas != 1 {
		t.Error("the stored object was modified in place")
	}
	if got := ScaleFromDeploymentConfig(scaled).Spec.Replicas; got != 4 {
		t.Errorf("round trip replicas = %d, want 4", got)
	}

	// A stale Scale carries its resourceVersion to the store's conflict check.
	stale := desired.DeepCopy()
	stale.ResourceVersion = "3"
	obj, err = (&scaleUpdate{objInfo: rest.DefaultUpdatedObjectInfo(stale)}).UpdatedObject(context.Background(), dc)
	if err != nil {
		t.Fatal(err)
	}
	if rv := obj.(*appsv1.DeploymentConfig).ResourceVersion; rv != "3" {
		t.Errorf("resourceVersion = %q, want the Scale's 3", rv)
	}

	for name, bad := range map[string]*extensionsv1beta1.Scale{
		"negative": {ObjectMeta: metav1.ObjectMeta{Name: "mytime"}, Spec: extensionsv1beta1.ScaleSpec{Replicas: -1}},
		"renamed":  {ObjectMeta: metav1.ObjectMeta{Name: "other"}, Spec: extensionsv1beta1.ScaleSpec{Replicas: 1}},
	} {
		_, err := ApplyScale(dc, bad)
		if !apierrors.IsInvalid(err) {
			t.Errorf("%s: err = %v, want 422 Invalid", name, err)
		}
	}
}
