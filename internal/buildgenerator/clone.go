package buildgenerator

import (
	"context"
	"fmt"
	"maps"
	"strconv"

	buildv1 "github.com/openshift/api/build/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"

	"github.com/slipway-dev/slipway/internal/serialwrite"
)

// Clone creates a new Build with the spec of build namespace/name (`oc
// start-build --from-build`): it takes the next number of the build's
// BuildConfig when it still exists, else "<name>-<unix time>"; it records
// openshift.io/build.clone-of and drops binary input and the old pod name.
func (g *Generator) Clone(ctx context.Context, namespace, name string, req *buildv1.BuildRequest) (*buildv1.Build, error) {
	orig, err := g.builds.Builds(namespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	build := &buildv1.Build{
		ObjectMeta: metav1.ObjectMeta{
			Namespace:       namespace,
			Labels:          maps.Clone(orig.Labels),
			Annotations:     maps.Clone(orig.Annotations),
			OwnerReferences: append([]metav1.OwnerReference(nil), orig.OwnerReferences...),
		},
		Spec: *orig.Spec.DeepCopy(),
	}
	if build.Annotations == nil {
		build.Annotations = map[string]string{}
	}
	delete(build.Annotations, buildv1.BuildPodNameAnnotation)
	build.Annotations[buildv1.BuildCloneAnnotation] = orig.Name
	build.Status.Config = orig.Status.Config.DeepCopy()

	bcName := orig.Annotations[buildv1.BuildConfigAnnotation]
	if orig.Status.Config != nil && orig.Status.Config.Kind == "BuildConfig" {
		bcName = orig.Status.Config.Name
	}
	if bcName != "" {
		release, _, err := g.turns.Take(ctx, counterKey(namespace, bcName))
		if err != nil {
			return nil, err
		}
		err = retry.RetryOnConflict(serialwrite.Backoff, func() error {
			bc, err := g.builds.BuildConfigs(namespace).Get(ctx, bcName, metav1.GetOptions{})
			if err != nil {
				return err
			}
			bc.Status.LastVersion++
			if _, err := g.builds.BuildConfigs(namespace).UpdateStatus(ctx, bc, metav1.UpdateOptions{}); err != nil {
				return err
			}
			build.Name = BuildName(bc.Name, bc.Status.LastVersion)
			build.Annotations[buildv1.BuildNumberAnnotation] = strconv.FormatInt(bc.Status.LastVersion, 10)
			return nil
		})
		release()
		if err != nil && !apierrors.IsNotFound(err) {
			return nil, fmt.Errorf("numbering the clone of build %s/%s: %w", namespace, name, err)
		}
	}
	if build.Name == "" {
		build.Name = ShortName(orig.Name, fmt.Sprintf("%010d", g.now().Unix()))
	}
	// Binary input was streamed to the original build's pod; a clone has
	// none unless the request brings it.
	build.Spec.Source.Binary = nil
	if err := g.prepareBuild(ctx, build, req); err != nil {
		return nil, err
	}
	if err := g.selectPullSecrets(ctx, build); err != nil {
		return nil, err
	}
	return g.createBuild(ctx, build)
}
