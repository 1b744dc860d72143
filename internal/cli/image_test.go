package cli

import (
	"context"
	"crypto/sha256"
	"fmt"
	"strings"
	"testing"
	"time"

	imagev1 "github.com/openshift/api/image/v1"
	imageclient "github.com/openshift/client-go/image/clientset/versioned"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestParseTagSource(t *testing.T) {
	tests := []struct {
		arg, hint string
		want      tagSource
	}{
		{"reg.test:5000/veer/mytime:latest", "", tagSource{Kind: "DockerImage", Name: "reg.test:5000/veer/mytime:latest"}},
		{"localhost/a/b@sha256:abc", "", tagSource{Kind: "DockerImage", Name: "localhost/a/b@sha256:abc"}},
		{"busybox", "", tagSource{Kind: "DockerImage", Name: "busybox"}},
		{"mytime:latest", "", tagSource{Kind: "ImageStreamTag", Name: "mytime:latest"}},
		{"other/mytime:v2", "", tagSource{Kind: "ImageStreamTag", Namespace: "other", Name: "mytime:v2"}},
		{"mytime@sha256:abc", "", tagSource{Kind: "ImageStreamImage", Name: "mytime@sha256:abc"}},
		{"busybox:1.36", "docker", tagSource{Kind: "DockerImage", Name: "busybox:1.36"}},
		{"mytime", "istag", tagSource{Kind: "ImageStreamTag", Name: "mytime:latest"}},
	}
	for _, tt := range tests {
		got, err := parseTagSource(tt.arg, tt.hint)
		if err != nil || got != tt.want {
			t.Errorf("parseTagSource(%q, %q) = %+v, %v; want %+v", tt.arg, tt.hint, got, err, tt.want)
		}
	}
	for _, bad := range []struct{ arg, hint string }{{"mytime", "isimage"}, {"x:y", "nope"}, {":tag", "istag"}} {
		if got, err := parseTagSource(bad.arg, bad.hint); err == nil {
			t.Errorf("parseTagSource(%q, %q) = %+v, want an error", bad.arg, bad.hint, got)
		}
	}
}

func TestTagReference(t *testing.T) {
	ref, err := tagReference(&tagOptions{Scheduled: true, Insecure: true, ImportMode: "PreserveOriginal", ReferencePolicy: "local"},
		tagSource{Kind: "DockerImage", Name: "reg.test/a:1"}, "v1")
	if err != nil {
		t.Fatal(err)
	}
	if ref.Generation == nil || *ref.Generation != 0 || !ref.ImportPolicy.Scheduled || !ref.ImportPolicy.Insecure ||
		ref.ImportPolicy.ImportMode != imagev1.ImportModePreserveOriginal || ref.ReferencePolicy.Type != imagev1.LocalTagReferencePolicy {
		t.Errorf("tag reference = %+v", ref)
	}
	if _, err := tagReference(&tagOptions{Alias: true}, tagSource{Kind: "DockerImage", Name: "a"}, "x"); err == nil {
		t.Error("--alias of a container image: no error")
	}
	if _, err := tagReference(&tagOptions{Scheduled: true}, tagSource{Kind: "ImageStreamTag", Name: "a:b"}, "x"); err == nil {
		t.Error("--scheduled of an image stream tag: no error")
	}
	if _, err := tagReference(&tagOptions{ImportMode: "Both"}, tagSource{Kind: "DockerImage", Name: "a"}, "x"); err == nil {
		t.Error("--import-mode=Both: no error")
	}
}

// pushImage maps a made-up image into ns/stream:tag as the internal
// registry does on a push, and returns its digest.
func pushImage(t *testing.T, images imageclient.Interface, ns, stream, tag, seed string) string {
	t.Helper()
	digest := fmt.Sprintf("sha256:%x", sha256.Sum256([]byte(seed)))
	mapping := &imagev1.ImageStreamMapping{
		ObjectMeta: metav1.ObjectMeta{Name: stream, Namespace: ns},
		Image:      imagev1.Image{ObjectMeta: metav1.ObjectMeta{Name: digest}, DockerImageReference: "reg.test/" + ns + "/" + stream + "@" + digest},
		Tag:        tag,
	}
	if _, err := images.ImageV1().ImageStreamMappings(ns).Create(context.Background(), mapping, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	return digest
}

func specTag(t *testing.T, images imageclient.Interface, ns, stream, tag string) (*imagev1.ImageStream, *imagev1.TagReference) {
	t.Helper()
	is, err := images.ImageV1().ImageStreams(ns).Get(context.Background(), stream, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range is.Spec.Tags {
		if is.Spec.Tags[i].Name == tag {
			return is, &is.Spec.Tags[i]
		}
	}
	t.Fatalf("stream %s has no spec tag %s: %+v", stream, tag, is.Spec.Tags)
	return nil, nil
}

func TestTagCommand(t *testing.T) {
	const ns = "tag-project"
	ensureProject(t, ns, "")
	images := imageclient.NewForConfigOrDie(api.Admin)
	env := newCLIEnv(t)
	loginInsecure(t, env)
	env.mustRun("project", ns)

	const remote = "reg.test:5000/veer/mytime:latest"
	if out := env.mustRun("tag", remote, "mytime:latest", "--scheduled"); out != "Tag mytime:latest set to import "+remote+" periodically.\n" {
		t.Errorf("tag --scheduled printed %q", out)
	}
	is, ref := specTag(t, images, ns, "mytime", "latest")
	if ref.From == nil || ref.From.Kind != "DockerImage" || ref.From.Name != remote || !ref.ImportPolicy.Scheduled ||
		ref.Generation == nil || *ref.Generation != is.Generation {
		t.Errorf("scheduled tag = %+v (stream generation %d), want DockerImage %s, scheduled, generation reset to the stream's", ref, is.Generation, remote)
	}
	// Without --scheduled the policy is reset.
	if out := env.mustRun("tag", remote, "mytime:latest"); out != "Tag mytime:latest set to "+remote+".\n" {
		t.Errorf("tag printed %q", out)
	}
	if _, ref := specTag(t, images, ns, "mytime", "latest"); ref.ImportPolicy.Scheduled {
		t.Errorf("tag without --scheduled kept scheduled: %+v", ref)
	}

	// An image stream tag source is a snapshot of its image.
	digest := pushImage(t, images, ns, "mytime", "latest", "one")
	if out := env.mustRun("tag", "mytime:latest", "mytime:stable"); out != "Tag mytime:stable set to mytime@"+digest+".\n" {
		t.Errorf("tag snapshot printed %q", out)
	}
	if _, ref := specTag(t, images, ns, "mytime", "stable"); ref.From == nil || ref.From.Kind != "ImageStreamImage" || ref.From.Name != "mytime@"+digest {
		t.Errorf("snapshot tag from = %+v, want ImageStreamImage mytime@%s", ref.From, digest)
	}
	// --alias tracks the tag.
	if out := env.mustRun("tag", "--alias", "mytime:latest", "mytime:tracking"); out != "Tag mytime:tracking set up to track mytime:latest.\n" {
		t.Errorf("tag --alias printed %q", out)
	}
	if _, ref := specTag(t, images, ns, "mytime", "tracking"); ref.From == nil || ref.From.Kind != "ImageStreamTag" || ref.From.Name != "mytime:latest" {
		t.Errorf("alias tag from = %+v, want ImageStreamTag mytime:latest", ref.From)
	}
	// --reference records the pull spec without import.
	pinned := "reg.test:5000/veer/mytime@sha256:" + strings.Repeat("a", 64)
	env.mustRun("tag", "--reference", "--reference-policy=local", pinned, "mytime:pinned")
	is, ref = specTag(t, images, ns, "mytime", "pinned")
	if !ref.Reference || ref.ReferencePolicy.Type != imagev1.LocalTagReferencePolicy {
		t.Errorf("reference tag = %+v", ref)
	}
	found := false
	for _, st := range is.Status.Tags {
		found = found || (st.Tag == "pinned" && len(st.Items) == 1 && st.Items[0].DockerImageReference == pinned)
	}
	if !found {
		t.Errorf("reference tag has no event for %s: %+v", pinned, is.Status.Tags)
	}
	// Another project as destination.
	ensureProject(t, "tag-project-2", "")
	if out := env.mustRun("tag", "mytime:latest", "tag-project-2/copy:v1"); out != "Tag tag-project-2/copy:v1 set to mytime@"+digest+".\n" {
		t.Errorf("tag into another project printed %q", out)
	}
	if _, ref := specTag(t, images, "tag-project-2", "copy", "v1"); ref.From == nil || ref.From.Namespace != ns {
		t.Errorf("cross-project tag from = %+v, want namespace %s", ref.From, ns)
	}

	// -d deletes.
	if out := env.mustRun("tag", "-d", "mytime:stable"); out != "Deleted tag mytime:stable.\n" {
		t.Errorf("tag -d printed %q", out)
	}
	if _, err := images.ImageV1().ImageStreamTags(ns).Get(context.Background(), "mytime:stable", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("deleted tag: get error = %v, want NotFound", err)
	}
	if _, _, err := env.run("tag", "--alias", remote, "mytime:x"); err == nil || !strings.Contains(err.Error(), "alias") {
		t.Errorf("tag --alias of a container image: error = %v", err)
	}
	if _, _, err := env.run("tag", "nothere:latest", "mytime:x"); err == nil || !strings.Contains(err.Error(), "not found") {
		t.Errorf("tag of a missing image stream tag: error = %v", err)
	}
}

func TestNewImageImport(t *testing.T) {
	stream := &imagev1.ImageStream{
		ObjectMeta: metav1.ObjectMeta{Name: "mytime", Namespace: "p", ResourceVersion: "7", UID: "u"},
		Spec: imagev1.ImageStreamSpec{Tags: []imagev1.TagReference{
			{Name: "latest", From: &corev1.ObjectReference{Kind: "DockerImage", Name: "reg.test/veer/mytime:latest"}, ImportPolicy: imagev1.TagImportPolicy{Insecure: true}},
			{Name: "stable", From: &corev1.ObjectReference{Kind: "ImageStreamTag", Name: "mytime:latest"}},
		}},
	}
	changed := func(flags ...string) func(string) bool {
		return func(f string) bool {
			for _, c := range flags {
				if c == f {
					return true
				}
			}
			return false
		}
	}
	errs := []struct {
		o      importImageOptions
		stream *imagev1.ImageStream
		want   string
	}{
		{importImageOptions{Name: "new", From: "reg.test/x"}, nil, `no image stream named "new" exists, pass --confirm to create and import`},
		{importImageOptions{Name: "mytime", Tag: "v2"}, stream, `the tag "v2" does not exist on the image stream`},
		{importImageOptions{Name: "mytime", Tag: "stable"}, stream, `tag "stable" points to existing ImageStreamTag "mytime:latest", it cannot be re-imported`},
		{importImageOptions{Name: "mytime", From: "reg.test/other:1"}, stream, `the tag "latest" points to "reg.test/veer/mytime:latest" - pass --confirm`},
		{importImageOptions{Name: "mytime", Tag: "v1", All: true}, stream, `cannot specify a tag "v1" as well as --all`},
	}
	for _, tt := range errs {
		tt.o.changed = changed()
		if _, err := newImageImport(&tt.o, "p", tt.stream); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("newImageImport(%+v): error = %v, want %q", tt.o, err, tt.want)
		}
	}

	// Re-import of an existing tag keeps its policies unless flags say.
	isi, err := newImageImport(&importImageOptions{Name: "mytime", Scheduled: true, changed: changed("scheduled")}, "p", stream)
	if err != nil {
		t.Fatal(err)
	}
	if len(isi.Spec.Images) != 1 || isi.Spec.Images[0].From.Name != "reg.test/veer/mytime:latest" || isi.Spec.Images[0].To.Name != "latest" ||
		!isi.Spec.Images[0].ImportPolicy.Insecure || !isi.Spec.Images[0].ImportPolicy.Scheduled || !isi.Spec.Import || isi.ResourceVersion != "7" {
		t.Errorf("re-import = %+v", isi)
	}
	// A changed source with --confirm.
	isi, err = newImageImport(&importImageOptions{Name: "mytime", From: "reg.test/other:1", Confirm: true, DryRun: true, changed: changed()}, "p", stream)
	if err != nil || isi.Spec.Images[0].From.Name != "reg.test/other:1" || isi.Spec.Import {
		t.Errorf("confirmed change = %+v, %v", isi, err)
	}
	// A new stream without --from imports its own name; --all a repository.
	isi, err = newImageImport(&importImageOptions{Name: "busybox", Tag: "1.36", Confirm: true, changed: changed()}, "p", nil)
	if err != nil || isi.Spec.Images[0].From.Name != "busybox:1.36" || isi.Spec.Images[0].To.Name != "1.36" {
		t.Errorf("new stream import = %+v, %v", isi, err)
	}
	isi, err = newImageImport(&importImageOptions{Name: "all", From: "reg.test/veer/all", All: true, Confirm: true, changed: changed()}, "p", nil)
	if err != nil || isi.Spec.Repository == nil || isi.Spec.Repository.From.Name != "reg.test/veer/all" || len(isi.Spec.Images) != 0 {
		t.Errorf("--all import = %+v, %v", isi, err)
	}
}

func TestImportImageCommand(t *testing.T) {
	const ns = "import-project"
	ensureProject(t, ns, "")
	env := newCLIEnv(t)
	loginInsecure(t, env)
	env.mustRun("project", ns)
	_, _, err := env.run("import-image", "mytime", "--from=reg.test/veer/mytime:latest")
	if err == nil || err.Error() != `no image stream named "mytime" exists, pass --confirm to create and import` {
		t.Errorf("import-image of a new stream without --confirm: error = %v", err)
	}
	if _, err := api.kube.CoreV1().Namespaces().Get(context.Background(), ns, metav1.GetOptions{}); err != nil {
		t.Fatal(err)
	}

	// Port 1 on loopback refuses connections: the import fails for the tag.
	out, _, err := env.run("import-image", "mytime", "--from=127.0.0.1:1/veer/mytime:latest", "--confirm", "--insecure")
	if apierrors.IsNotFound(err) {
		t.Skip("the API server does not serve imagestreamimports yet")
	}
	if err == nil || !strings.Contains(err.Error(), "tag latest failed") {
		t.Errorf("import from a closed port: error = %v, want the failed tag", err)
	}
	if !strings.HasPrefix(out, "imagestream.image.openshift.io/mytime imported with errors\n") || !strings.Contains(out, "! error: Import failed (") {
		t.Errorf("import from a closed port printed:\n%s", out)
	}
}

func TestDescribeImageStream(t *testing.T) {
	now := time.Date(2026, 11, 2, 10, 0, 0, 0, time.UTC)
	ago := func(d time.Duration) metav1.Time { return metav1.NewTime(now.Add(-d)) }
	stream := &imagev1.ImageStream{
		ObjectMeta: metav1.ObjectMeta{
			Name: "mytime", Namespace: "veer", CreationTimestamp: ago(3 * time.Minute),
			Annotations: map[string]string{"openshift.io/image.dockerRepositoryCheck": "2026-11-02T09:59:50Z", "b": "c"},
		},
		Spec: imagev1.ImageStreamSpec{Tags: []imagev1.TagReference{
			{Name: "latest", From: &corev1.ObjectReference{Kind: "DockerImage", Name: "REG/veer/mytime:latest"},
				ImportPolicy: imagev1.TagImportPolicy{Scheduled: true, Insecure: true}},
			{Name: "v2", From: &corev1.ObjectReference{Kind: "DockerImage", Name: "REG/veer/mytime:v2"}},
		}},
		Status: imagev1.ImageStreamStatus{
			DockerImageRepository: "127.0.0.1:5000/veer/mytime",
			Tags: []imagev1.NamedTagEventList{
				{Tag: "latest", Items: []imagev1.TagEvent{
					{Created: ago(5 * time.Second), DockerImageReference: "REG/veer/mytime@sha256:2", Image: "sha256:2"},
					{Created: ago(2 * time.Minute), DockerImageReference: "REG/veer/mytime@sha256:1", Image: "sha256:1"},
				}},
				{Tag: "v2", Conditions: []imagev1.TagEventCondition{{
					Type: imagev1.ImportSuccess, Status: corev1.ConditionFalse, Reason: "Unauthorized",
					Message: "you may not have access to the container image", LastTransitionTime: ago(10 * time.Second),
				}}},
			},
		},
	}
	want := `Name:              mytime
Namespace:         veer
Created:           3 minutes ago
Labels:            <none>
Annotations:       b=c
                   openshift.io/image.dockerRepositoryCheck=2026-11-02T09:59:50Z
Image Repository:  127.0.0.1:5000/veer/mytime
Image Lookup:      local=false
Unique Images:     2
Tags:              2

latest
  updates automatically from registry REG/veer/mytime:latest
    will use insecure HTTPS or HTTP connections

  * REG/veer/mytime@sha256:2
      5 seconds ago
    REG/veer/mytime@sha256:1
      2 minutes ago

v2
  tagged from REG/veer/mytime:v2

  ! error: Import failed (Unauthorized): you may not have access to the container image
      10 seconds ago
`
	if got := describeImageStream(stream, now); got != want {
		t.Errorf("describe:\n%s\nwant:\n%s", got, want)
	}
}

// TestDescribeCommand runs `describe is` against the real server: the
// verb uses the image stream describer, with history and a failed import.
func TestDescribeCommand(t *testing.T) {
	const ns = "describe-project"
	ensureProject(t, ns, "")
	ctx := context.Background()
	images := imageclient.NewForConfigOrDie(api.Admin)
	env := newCLIEnv(t)
	loginInsecure(t, env)
	env.mustRun("project", ns)
	env.mustRun("tag", "reg.test/veer/mytime:v2", "mytime:v2")
	first := pushImage(t, images, ns, "mytime", "latest", "one")
	second := pushImage(t, images, ns, "mytime", "latest", "two")
	is, err := images.ImageV1().ImageStreams(ns).Get(ctx, "mytime", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range is.Status.Tags {
		if is.Status.Tags[i].Tag == "v2" {
			is.Status.Tags = append(is.Status.Tags[:i], is.Status.Tags[i+1:]...)
			break
		}
	}
	is.Status.Tags = append(is.Status.Tags, imagev1.NamedTagEventList{Tag: "v2", Conditions: []imagev1.TagEventCondition{{
		Type: imagev1.ImportSuccess, Status: corev1.ConditionFalse, Reason: "NotFound", Message: "manifest unknown",
		LastTransitionTime: metav1.Now(), Generation: is.Generation,
	}}})
	if _, err := images.ImageV1().ImageStreams(ns).UpdateStatus(ctx, is, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, kind := range []string{"is", "imagestream"} {
		out := env.mustRun("describe", kind, "mytime")
		for _, want := range []string{
			"Name:              mytime\nNamespace:         " + ns + "\n",
			"Tags:              2\n",
			"\nlatest\n  no spec tag\n\n  * reg.test/" + ns + "/mytime@" + second + "\n      ",
			"\n    reg.test/" + ns + "/mytime@" + first + "\n      ",
			"\nv2\n  tagged from reg.test/veer/mytime:v2\n\n  ! error: Import failed (NotFound): manifest unknown\n      ",
		} {
			if !strings.Contains(out, want) {
				t.Errorf("describe %s mytime lacks %q:\n%s", kind, want, out)
			}
		}
	}
}
