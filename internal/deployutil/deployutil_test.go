package deployutil

import (
	"strings"
	"testing"

	appsv1 "github.com/openshift/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

func TestCanTransitionPhase(t *testing.T) {
	var (
		n = appsv1.DeploymentStatusNew
		p = appsv1.DeploymentStatusPending
		r = appsv1.DeploymentStatusRunning
		c = appsv1.DeploymentStatusComplete
		f = appsv1.DeploymentStatusFailed
	)
	for _, tc := range []struct {
		from, to appsv1.DeploymentStatus
		want     bool
	}{
		{n, p, true}, {n, r, true}, {n, c, true}, {n, f, true}, {n, n, false},
		{p, r, true}, {p, f, true}, {p, n, false}, {p, p, false},
		{r, c, true}, {r, f, true}, {r, p, false},
		{c, f, false}, {f, c, false}, {c, r, false}, {"", p, false}, {n, "", false},
	} {
		if got := CanTransitionPhase(tc.from, tc.to); got != tc.want {
			t.Errorf("CanTransitionPhase(%q, %q) = %v, want %v", tc.from, tc.to, got, tc.want)
		}
	}
}

func deployment(version string, phase appsv1.DeploymentStatus) *corev1.ReplicationController {
	return &corev1.ReplicationController{ObjectMeta: metav1.ObjectMeta{
		Name: "dc-" + version,
		Annotations: map[string]string{
			appsv1.DeploymentVersionAnnotation: version,
			appsv1.DeploymentStatusAnnotation:  string(phase),
		},
	}}
}

func names(rcs []*corev1.ReplicationController) string {
	var out []string
	for _, rc := range rcs {
		out = append(out, rc.Name)
	}
	return strings.Join(out, ",")
}

func TestLatestActiveAndCleanup(t *testing.T) {
	var (
		c = appsv1.DeploymentStatusComplete
		f = appsv1.DeploymentStatusFailed
		r = appsv1.DeploymentStatusRunning
	)
	for _, tc := range []struct {
		name                  string
		latestVersion         int64
		deployments           []*corev1.ReplicationController
		latest, active, prune string
		latestExists          bool
	}{
		{"none", 0, nil, "", "", "", false},
		{"latest to be created", 3, []*corev1.ReplicationController{deployment("2", c), deployment("1", c)}, "dc-2", "dc-2", "dc-1", false},
		{"running latest", 3, []*corev1.ReplicationController{deployment("3", r), deployment("1", c), deployment("2", f)}, "dc-3", "dc-1", "", true},
		{"active in the middle", 4, []*corev1.ReplicationController{deployment("4", f), deployment("3", c), deployment("1", c), deployment("2", f)}, "dc-4", "dc-3", "dc-1,dc-2", true},
		{"none complete", 3, []*corev1.ReplicationController{deployment("3", f), deployment("1", f), deployment("2", f)}, "dc-3", "", "dc-1,dc-2", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dc := &appsv1.DeploymentConfig{Status: appsv1.DeploymentConfigStatus{LatestVersion: tc.latestVersion}}
			latest, exists := LatestDeployment(dc, tc.deployments)
			if (latest == nil && tc.latest != "") || (latest != nil && latest.Name != tc.latest) || exists != tc.latestExists {
				t.Errorf("LatestDeployment = %v %v, want %s %v", latest, exists, tc.latest, tc.latestExists)
			}
			active := ActiveDeployment(tc.deployments)
			if (active == nil && tc.active != "") || (active != nil && active.Name != tc.active) {
				t.Errorf("ActiveDeployment = %v, want %s", active, tc.active)
			}
			if got := names(DeploymentsForCleanup(dc, tc.deployments)); got != tc.prune {
				t.Errorf("DeploymentsForCleanup = %s, want %s", got, tc.prune)
			}
		})
	}
}

func TestMaxUnavailable(t *testing.T) {
	pct := func(s string) *intstr.IntOrString { v := intstr.FromString(s); return &v }
	num := func(i int32) *intstr.IntOrString { v := intstr.FromInt32(i); return &v }
	for _, tc := range []struct {
		name     string
		strategy appsv1.DeploymentStrategy
		replicas int32
		want     int32
	}{
		{"recreate", appsv1.DeploymentStrategy{Type: appsv1.DeploymentStrategyTypeRecreate}, 4, 0},
		{"25% of 4", appsv1.DeploymentStrategy{Type: appsv1.DeploymentStrategyTypeRolling, RollingParams: &appsv1.RollingDeploymentStrategyParams{MaxSurge: pct("25%"), MaxUnavailable: pct("25%")}}, 4, 1},
		{"25% of 2 rounds down", appsv1.DeploymentStrategy{Type: appsv1.DeploymentStrategyTypeRolling, RollingParams: &appsv1.RollingDeploymentStrategyParams{MaxSurge: pct("25%"), MaxUnavailable: pct("25%")}}, 2, 0},
		{"both zero means one", appsv1.DeploymentStrategy{Type: appsv1.DeploymentStrategyTypeRolling, RollingParams: &appsv1.RollingDeploymentStrategyParams{MaxSurge: num(0), MaxUnavailable: pct("10%")}}, 2, 1},
		{"absolute", appsv1.DeploymentStrategy{Type: appsv1.DeploymentStrategyTypeRolling, RollingParams: &appsv1.RollingDeploymentStrategyParams{MaxUnavailable: num(2)}}, 5, 2},
	} {
		dc := &appsv1.DeploymentConfig{Spec: appsv1.DeploymentConfigSpec{Replicas: tc.replicas, Strategy: tc.strategy}}
		if got := MaxUnavailable(dc); got != tc.want {
			t.Errorf("%s: MaxUnavailable = %d, want %d", tc.name, got, tc.want)
		}
	}
}

func TestMakeDeploymentRoundTrip(t *testing.T) {
	dc := &appsv1.DeploymentConfig{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "p", UID: "u1", Labels: map[string]string{"app": "web"}},
		Spec: appsv1.DeploymentConfigSpec{
			Replicas: 3,
			Selector: map[string]string{"app": "web"},
			Template: &corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "web", Image: " img:1 "}}},
			},
		},
		Status: appsv1.DeploymentConfigStatus{LatestVersion: 7, Details: ImageChangeDetails([]string{"img:1"})},
	}
	rc, err := MakeDeployment(dc)
	if err != nil {
		t.Fatal(err)
	}
	if rc.Name != "web-7" || VersionFor(rc) != 7 || PhaseFor(rc) != appsv1.DeploymentStatusNew || ConfigNameFor(rc) != "web" ||
		StatusReasonFor(rc) != MessageImageChange || rc.Annotations[appsv1.DesiredReplicasAnnotation] != "3" {
		t.Errorf("deployment metadata = %+v", rc.ObjectMeta)
	}
	if got := rc.Spec.Template.Spec.Containers[0].Image; got != "img:1" {
		t.Errorf("image = %q, want it trimmed", got)
	}
	if dc.Spec.Template.Spec.Containers[0].Image != " img:1 " {
		t.Error("MakeDeployment changed the config's template")
	}
	decoded, err := DecodeConfig(rc)
	if err != nil {
		t.Fatal(err)
	}
	if decoded.Name != "web" || decoded.Status.LatestVersion != 7 || decoded.Spec.Replicas != 3 {
		t.Errorf("decoded = %+v", decoded)
	}
	if got := NewImages(dc, rc); len(got) != 1 || got[0] != " img:1 " {
		t.Errorf("NewImages of the untrimmed template = %v", got)
	}
	if _, err := DecodeConfig(&corev1.ReplicationController{}); err == nil {
		t.Error("DecodeConfig of an RC without the annotation: no error")
	}
}

func TestDeployerPodName(t *testing.T) {
	if got := DeployerPodName("web-1"); got != "web-1-deploy" {
		t.Errorf("DeployerPodName = %q", got)
	}
	long := DeployerPodName(strings.Repeat("a", 70) + "-1")
	if len(long) > 63 || !strings.HasSuffix(long, "-deploy") {
		t.Errorf("DeployerPodName of a long name = %q", long)
	}
}
