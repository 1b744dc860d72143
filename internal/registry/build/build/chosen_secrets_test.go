package build

import (
	"testing"

	buildv1 "github.com/openshift/api/build/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestUpdateMayOnlyRecordChosenSecrets(t *testing.T) {
	base := func() *buildv1.Build {
		return &buildv1.Build{ObjectMeta: metav1.ObjectMeta{Name: "time-1", Namespace: "p", ResourceVersion: "7"}, Spec: buildv1.BuildSpec{CommonSpec: buildv1.CommonSpec{
			Strategy: buildv1.BuildStrategy{Type: buildv1.DockerBuildStrategyType, DockerStrategy: &buildv1.DockerBuildStrategy{}},
			Output:   buildv1.BuildOutput{To: &corev1.ObjectReference{Kind: "DockerImage", Name: "reg/x:latest"}},
		}}}
	}
	secret := &corev1.LocalObjectReference{Name: "builder-dockercfg-abcde"}
	cases := []struct {
		name    string
		old     func() *buildv1.Build
		change  func(*buildv1.Build)
		allowed bool
	}{
		{"fill push secret", base, func(b *buildv1.Build) { b.Spec.Output.PushSecret = secret }, true},
		{"fill pull secret", base, func(b *buildv1.Build) { b.Spec.Strategy.DockerStrategy.PullSecret = secret }, true},
		{"replace push secret", func() *buildv1.Build {
			b := base()
			b.Spec.Output.PushSecret = &corev1.LocalObjectReference{Name: "dockerhub"}
			return b
		}, func(b *buildv1.Build) { b.Spec.Output.PushSecret = secret }, false},
		{"change output", base, func(b *buildv1.Build) { b.Spec.Output.To.Name = "reg/y:latest" }, false},
		{"fill secret and change output", base, func(b *buildv1.Build) {
			b.Spec.Output.PushSecret = secret
			b.Spec.Output.To.Name = "reg/y:latest"
		}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			old := c.old()
			updated := old.DeepCopy()
			c.change(updated)
			errs := ValidateUpdate(updated, old)
			if got := len(errs) == 0; got != c.allowed {
				t.Fatalf("allowed = %v, want %v (%v)", got, c.allowed, errs)
			}
		})
	}
}
