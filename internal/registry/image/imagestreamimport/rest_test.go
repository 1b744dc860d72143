package imagestreamimport

import (
	"context"
	"crypto/x509"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	imagev1 "github.com/openshift/api/image/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	genericapirequest "k8s.io/apiserver/pkg/endpoints/request"
	"k8s.io/apiserver/pkg/registry/rest"

	"github.com/slipway-dev/slipway/internal/builder/build/buildtest"
	"github.com/slipway-dev/slipway/internal/image"
	imagestore "github.com/slipway-dev/slipway/internal/registry/image/image"
	"github.com/slipway-dev/slipway/internal/registry/image/imagestream"
	"github.com/slipway-dev/slipway/internal/registry/storagetest"
)

const registryHost = "registry.test:5000"

// fixture is the import REST over real etcd storage, a real registry
// (docker-registry with TLS and htpasswd) and the real registry client.
type fixture struct {
	imports *REST
	streams *imagestream.Storage
	images  *imagestore.REST
	reg     *buildtest.Registry

	// secrets are the namespaces' secrets; the kube-apiserver keeps them
	// in the server, the import sees them through a SecretsGetter.
	mu      sync.Mutex
	secrets []corev1.Secret
}

// getSecrets is the SecretsGetter over f.secrets.
func (f *fixture) getSecrets(_ context.Context, namespace string) ([]corev1.Secret, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []corev1.Secret
	for _, s := range f.secrets {
		if s.Namespace == namespace {
			out = append(out, s)
		}
	}
	return out, nil
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	opts := storagetest.NewOptions(t)
	images, err := imagestore.NewREST(opts)
	if err != nil {
		t.Fatal(err)
	}
	streams, err := imagestream.NewREST(opts, registryHost)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { images.Destroy(); streams.ImageStream.Destroy() })

	reg := buildtest.StartRegistry(t, "importer", "s3cret")
	ca, err := os.ReadFile(reg.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca)
	client := image.NewClient(image.Options{RootCAs: pool})
	f := &fixture{streams: streams, images: images, reg: reg}
	imports := NewREST(streams.Internal, images, f.getSecrets, client)
	// Every import happens a minute after the previous one, so that a
	// write of the check annotation alone would change the stream.
	clock := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	imports.now = func() metav1.Time {
		clock = clock.Add(time.Minute)
		return metav1.NewTime(clock)
	}
	f.imports = imports
	return f
}

func nsContext(ns string) context.Context {
	return genericapirequest.WithNamespace(genericapirequest.NewContext(), ns)
}

// push writes a random one-layer image to repo:tag and returns its digest.
func (f *fixture) push(t *testing.T, repoTag string) string {
	t.Helper()
	img, err := random.Image(256, 1)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := name.ParseReference(f.reg.Host + "/" + repoTag)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(ref, img, f.reg.Options()...); err != nil {
		t.Fatalf("pushing %s: %v", ref, err)
	}
	digest, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return digest.String()
}

// addPullSecret stores a dockerconfigjson secret for the registry in ns.
func (f *fixture) addPullSecret(t *testing.T, ns, name, password string) {
	t.Helper()
	s := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Type:       corev1.SecretTypeDockerConfigJson,
		Data:       map[string][]byte{corev1.DockerConfigJsonKey: f.reg.DockerConfig(password)},
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.secrets = append(f.secrets, *s)
}

func (f *fixture) run(t *testing.T, ns string, isi *imagev1.ImageStreamImport) (*imagev1.ImageStreamImport, error) {
	t.Helper()
	obj, err := f.imports.Create(nsContext(ns), isi, rest.ValidateAllObjectFunc, &metav1.CreateOptions{})
	if err != nil {
		return nil, err
	}
	return obj.(*imagev1.ImageStreamImport), nil
}

func (f *fixture) mustRun(t *testing.T, ns string, isi *imagev1.ImageStreamImport) *imagev1.ImageStreamImport {
	t.Helper()
	out, err := f.run(t, ns, isi)
	if err != nil {
		t.Fatalf("import: %v", err)
	}
	return out
}

func (f *fixture) stream(t *testing.T, ns, name string) *imagev1.ImageStream {
	t.Helper()
	obj, err := f.streams.ImageStream.Get(nsContext(ns), name, &metav1.GetOptions{})
	if err != nil {
		t.Fatalf("reading stream %s/%s: %v", ns, name, err)
	}
	return obj.(*imagev1.ImageStream)
}

func byTag(stream, from, to string) *imagev1.ImageStreamImport {
	isi := &imagev1.ImageStreamImport{
		ObjectMeta: metav1.ObjectMeta{Name: stream},
		Spec: imagev1.ImageStreamImportSpec{Import: true, Images: []imagev1.ImageImportSpec{
			{From: corev1.ObjectReference{Kind: "DockerImage", Name: from}},
		}},
	}
	if to != "" {
		isi.Spec.Images[0].To = &corev1.LocalObjectReference{Name: to}
	}
	return isi
}

func imageStatus(t *testing.T, isi *imagev1.ImageStreamImport, i int) imagev1.ImageImportStatus {
	t.Helper()
	if len(isi.Status.Images) <= i {
		t.Fatalf("status.images = %+v, want an entry %d", isi.Status.Images, i)
	}
	return isi.Status.Images[i]
}

func TestImport(t *testing.T) {
	f := newFixture(t)
	f.addPullSecret(t, "ns", "registry-login", "s3cret")
	repo := f.reg.Host + "/team/web"
	v1 := f.push(t, "team/web:v1")
	v2 := f.push(t, "team/web:v2")

	t.Run("by tag creates the stream, the image and the tag", func(t *testing.T) {
		out := f.mustRun(t, "ns", byTag("web", repo+":v1", ""))
		st := imageStatus(t, out, 0)
		if st.Status.Status != metav1.StatusSuccess || st.Image == nil || st.Image.Name != v1 || st.Tag != "v1" {
			t.Fatalf("status = %+v", st)
		}
		if st.Image.DockerImageManifest != "" {
			t.Error("the manifest is returned without includeManifest")
		}
		is := out.Status.Import
		if is == nil || is.Name != "web" || is.Generation != 1 {
			t.Fatalf("status.import = %+v", is)
		}
		if is.Annotations[imagev1.DockerImageRepositoryCheckAnnotation] == "" {
			t.Error("no dockerRepositoryCheck annotation")
		}
		spec := imagestream.SpecTag(is, "v1")
		if spec == nil || spec.From.Name != repo+":v1" || *spec.Generation != 1 {
			t.Errorf("spec tag = %+v", spec)
		}
		e := imagestream.LatestTagEvent(is, "v1")
		if e == nil || e.Image != v1 || e.DockerImageReference != repo+"@"+v1 || e.Generation != 1 {
			t.Errorf("event = %+v", e)
		}
		obj, err := f.images.Get(nsContext(""), v1, &metav1.GetOptions{})
		if err != nil {
			t.Fatalf("the Image was not stored: %v", err)
		}
		if img := obj.(*imagev1.Image); len(img.DockerImageLayers) != 1 || img.DockerImageReference != repo+"@"+v1 {
			t.Errorf("stored image = %s %d layers", img.DockerImageReference, len(img.DockerImageLayers))
		}
	})

	t.Run("re-importing identical content leaves the stream untouched", func(t *testing.T) {
		before := f.stream(t, "ns", "web")
		out := f.mustRun(t, "ns", byTag("web", repo+":v1", ""))
		if st := imageStatus(t, out, 0); st.Status.Status != metav1.StatusSuccess {
			t.Fatalf("status = %+v", st)
		}
		after := f.stream(t, "ns", "web")
		if after.ResourceVersion != before.ResourceVersion {
			t.Errorf("resourceVersion %s -> %s: a no-op import wrote the stream", before.ResourceVersion, after.ResourceVersion)
		}
		if out.Status.Import == nil || out.Status.Import.ResourceVersion != before.ResourceVersion {
			t.Errorf("status.import = %+v, want the stream as it is", out.Status.Import)
		}
	})

	t.Run("a changed digest adds a new event first", func(t *testing.T) {
		before := f.stream(t, "ns", "web")
		v1b := f.push(t, "team/web:v1")
		out := f.mustRun(t, "ns", byTag("web", repo+":v1", ""))
		is := out.Status.Import
		list := imagestream.StatusTag(is, "v1")
		if len(list.Items) != 2 || list.Items[0].Image != v1b || list.Items[1].Image != v1 || list.Items[0].Generation != 2 {
			t.Errorf("events = %+v", list.Items)
		}
		if is.ResourceVersion == before.ResourceVersion || is.Generation != 2 {
			t.Errorf("stream not written: rv %s generation %d", is.ResourceVersion, is.Generation)
		}
	})

	t.Run("by digest into a named tag", func(t *testing.T) {
		out := f.mustRun(t, "ns", byTag("web", repo+"@"+v2, "pinned"))
		if st := imageStatus(t, out, 0); st.Status.Status != metav1.StatusSuccess || st.Image.Name != v2 {
			t.Fatalf("status = %+v", st)
		}
		if e := imagestream.LatestTagEvent(out.Status.Import, "pinned"); e == nil || e.Image != v2 || e.DockerImageReference != repo+"@"+v2 {
			t.Errorf("event = %+v", e)
		}
	})

	t.Run("a whole repository", func(t *testing.T) {
		isi := &imagev1.ImageStreamImport{
			ObjectMeta: metav1.ObjectMeta{Name: "all"},
			Spec: imagev1.ImageStreamImportSpec{Import: true, Repository: &imagev1.RepositoryImportSpec{
				From: corev1.ObjectReference{Kind: "DockerImage", Name: repo},
			}},
		}
		out := f.mustRun(t, "ns", isi)
		rs := out.Status.Repository
		if rs == nil || rs.Status.Status != metav1.StatusSuccess || len(rs.Images) != 2 {
			t.Fatalf("status.repository = %+v", rs)
		}
		for _, st := range rs.Images {
			if st.Status.Status != metav1.StatusSuccess || st.Image == nil {
				t.Errorf("tag %s: %+v", st.Tag, st.Status)
			}
		}
		is := out.Status.Import
		for tag, digest := range map[string]string{"v2": v2} {
			if e := imagestream.LatestTagEvent(is, tag); e == nil || e.Image != digest {
				t.Errorf("tag %s event = %+v", tag, e)
			}
			if spec := imagestream.SpecTag(is, tag); spec == nil || spec.From.Name != repo+":"+tag {
				t.Errorf("tag %s spec = %+v", tag, spec)
			}
		}
		if imagestream.LatestTagEvent(is, "v1") == nil {
			t.Error("tag v1 not imported")
		}
	})

	t.Run("a dry run writes nothing", func(t *testing.T) {
		isi := byTag("dry", repo+":v2", "")
		isi.Spec.Import = false
		out := f.mustRun(t, "ns", isi)
		if st := imageStatus(t, out, 0); st.Status.Status != metav1.StatusSuccess || st.Image.Name != v2 {
			t.Fatalf("status = %+v", st)
		}
		if out.Status.Import != nil {
			t.Errorf("status.import = %+v", out.Status.Import)
		}
		if _, err := f.streams.ImageStream.Get(nsContext("ns"), "dry", &metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("the dry run created its stream: %v", err)
		}
	})

	t.Run("an unknown tag fails with NotFound and keeps older events", func(t *testing.T) {
		f.mustRun(t, "ns", byTag("gone", repo+":v2", "app"))
		out := f.mustRun(t, "ns", byTag("gone", repo+":nope", "app"))
		st := imageStatus(t, out, 0)
		if st.Status.Status != metav1.StatusFailure || st.Status.Reason != metav1.StatusReasonNotFound || st.Image != nil {
			t.Fatalf("status = %+v", st.Status)
		}
		list := imagestream.StatusTag(out.Status.Import, "app")
		if list == nil || len(list.Items) != 1 || list.Items[0].Image != v2 {
			t.Fatalf("events = %+v", list)
		}
		if len(list.Conditions) != 1 || list.Conditions[0].Type != imagev1.ImportSuccess ||
			list.Conditions[0].Status != corev1.ConditionFalse || list.Conditions[0].Reason != "NotFound" {
			t.Errorf("conditions = %+v", list.Conditions)
		}
		// The same failure again is no change.
		rv := out.Status.Import.ResourceVersion
		again := f.mustRun(t, "ns", byTag("gone", repo+":nope", "app"))
		if again.Status.Import.ResourceVersion != rv {
			t.Errorf("a repeated failure wrote the stream: %s -> %s", rv, again.Status.Import.ResourceVersion)
		}
	})

	t.Run("without credentials the import is Unauthorized", func(t *testing.T) {
		f.addPullSecret(t, "wrong", "bad-login", "not-the-password")
		for _, ns := range []string{"anonymous", "wrong"} {
			out := f.mustRun(t, ns, byTag("web", repo+":v2", ""))
			st := imageStatus(t, out, 0)
			if st.Status.Status != metav1.StatusFailure || st.Status.Reason != metav1.StatusReasonUnauthorized {
				t.Errorf("%s: status = %+v", ns, st.Status)
			}
			list := imagestream.StatusTag(out.Status.Import, "v2")
			if list == nil || len(list.Conditions) != 1 || list.Conditions[0].Reason != "Unauthorized" || list.Conditions[0].Generation != 1 {
				t.Errorf("%s: status tag = %+v", ns, list)
			}
			if spec := imagestream.SpecTag(out.Status.Import, "v2"); spec == nil || spec.From.Name != repo+":v2" {
				t.Errorf("%s: spec tag = %+v, want it kept for a later import", ns, spec)
			}
		}
	})

	t.Run("preconditions", func(t *testing.T) {
		is := f.stream(t, "ns", "web")
		isi := byTag("web", repo+":v1", "")
		isi.ResourceVersion = "1"
		if _, err := f.run(t, "ns", isi); !apierrors.IsConflict(err) {
			t.Errorf("stale resourceVersion: err = %v, want 409", err)
		}
		isi = byTag("web", repo+":v1", "")
		isi.ResourceVersion, isi.UID = is.ResourceVersion, is.UID
		if _, err := f.run(t, "ns", isi); err != nil {
			t.Errorf("current resourceVersion and UID: %v", err)
		}
		isi = byTag("web", repo+":v1", "")
		isi.UID = "not-the-uid"
		if _, err := f.run(t, "ns", isi); !apierrors.IsConflict(err) {
			t.Errorf("other UID: err = %v, want 409", err)
		}
		isi = byTag("missing", repo+":v1", "")
		isi.ResourceVersion = is.ResourceVersion
		if _, err := f.run(t, "ns", isi); !apierrors.IsNotFound(err) {
			t.Errorf("precondition on a missing stream: err = %v, want 404", err)
		}
	})

	t.Run("invalid requests answer 422", func(t *testing.T) {
		isi := byTag("web", repo+":v1", "")
		isi.Spec.Images[0].From.Kind = "ImageStreamTag"
		_, err := f.run(t, "ns", isi)
		if !apierrors.IsInvalid(err) {
			t.Fatalf("err = %v, want 422", err)
		}
		if causes := err.(apierrors.APIStatus).Status().Details.Causes; len(causes) != 1 || causes[0].Field != "spec.images[0].from.kind" {
			t.Errorf("causes = %+v", causes)
		}
	})
}
