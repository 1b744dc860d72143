package imagestreamimport

import (
	"context"
	"sync"

	imagev1 "github.com/openshift/api/image/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/slipway-dev/slipway/internal/image"
	"github.com/slipway-dev/slipway/internal/registry/image/imagestream"
)

// repositoryWorkers is how many tags of a spec.repository import are
// fetched at once: enough to import 50 tags within a request's timeout,
// few enough not to trip a registry's rate limit.
const repositoryWorkers = 4

// importRun is one request's lookups: the credentials of the namespace and
// the stream as it was before the import (nil when it does not exist yet).
type importRun struct {
	importer Importer
	keyring  image.Keyring
	stream   *imagev1.ImageStream
}

// importAll fetches every image the request names, fills isi.Status with
// the results and returns them as tag imports for the stream.
func (run *importRun) importAll(ctx context.Context, isi *imagev1.ImageStreamImport) []tagImport {
	var imports []tagImport
	isi.Status.Images = make([]imagev1.ImageImportStatus, len(isi.Spec.Images))
	for i, spec := range isi.Spec.Images {
		ref, err := image.ParseReference(spec.From.Name)
		if err != nil {
			// Validation parsed it already; keep the answer whole anyway.
			isi.Status.Images[i] = imagev1.ImageImportStatus{Status: failureStatus(err)}
			continue
		}
		if ref.Tag == "" && ref.Digest == "" {
			ref.Tag = "latest"
		}
		target := ref.Tag
		if spec.To != nil {
			target = spec.To.Name
		}
		status, reference := run.importOne(ctx, ref, run.options(target, spec.ImportPolicy))
		status.Tag = ref.Tag
		isi.Status.Images[i] = status
		// An image by digest without a target tag is only looked up.
		if target == "" {
			continue
		}
		imports = append(imports, tagImport{
			tag:             target,
			from:            spec.From.Name,
			importPolicy:    spec.ImportPolicy,
			referencePolicy: spec.ReferencePolicy,
			status:          status,
			reference:       reference,
			ensureSpec:      true,
		})
	}
	if spec := isi.Spec.Repository; spec != nil {
		imports = append(imports, run.importRepository(ctx, spec, isi)...)
	}
	return imports
}

// importRepository lists the repository's tags and imports up to
// MaxImagesBulkImported of them, "latest" first, into status.repository.
func (run *importRun) importRepository(ctx context.Context, spec *imagev1.RepositoryImportSpec, isi *imagev1.ImageStreamImport) []tagImport {
	status := &imagev1.RepositoryImportStatus{}
	isi.Status.Repository = status
	repo, err := image.ParseReference(spec.From.Name)
	if err != nil {
		status.Status = failureStatus(err)
		return nil
	}
	repo.Tag, repo.Digest = "", ""
	tags, err := run.tags(ctx, repo, run.options("", spec.ImportPolicy))
	if err != nil {
		status.Status = failureStatus(err)
		return nil
	}
	status.Status = metav1.Status{Status: metav1.StatusSuccess}
	tags = latestFirst(tags)
	if len(tags) > MaxImagesBulkImported {
		status.AdditionalTags = tags[MaxImagesBulkImported:]
		tags = tags[:MaxImagesBulkImported]
	}

	status.Images = make([]imagev1.ImageImportStatus, len(tags))
	references := make([]string, len(tags))
	next := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < repositoryWorkers && w < len(tags); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				ref := repo
				ref.Tag = tags[i]
				status.Images[i], references[i] = run.importOne(ctx, ref, run.options(tags[i], spec.ImportPolicy))
				status.Images[i].Tag = tags[i]
			}
		}()
	}
	for i := range tags {
		next <- i
	}
	close(next)
	wg.Wait()

	imports := make([]tagImport, 0, len(tags))
	for i, tag := range tags {
		imports = append(imports, tagImport{
			tag:             tag,
			from:            spec.From.Name + ":" + tag,
			importPolicy:    spec.ImportPolicy,
			referencePolicy: spec.ReferencePolicy,
			status:          status.Images[i],
			reference:       references[i],
		})
	}
	return imports
}

// options are the import options of one target tag: the request's import
// policy, and the architecture and OS its spec tag prefers among the
// entries of a manifest list.
func (run *importRun) options(tag string, policy imagev1.TagImportPolicy) image.ImportOptions {
	o := image.ImportOptions{Insecure: policy.Insecure, ImportMode: policy.ImportMode, Keyring: run.keyring}
	if o.ImportMode == "" {
		o.ImportMode = imagev1.ImportModeLegacy
	}
	if run.stream != nil && tag != "" {
		if spec := imagestream.SpecTag(run.stream, tag); spec != nil {
			o.PreferArch = spec.Annotations[imagev1.ImporterPreferArchAnnotation]
			o.PreferOS = spec.Annotations[imagev1.ImporterPreferOSAnnotation]
		}
	}
	return o
}

// importOne fetches one image. The client itself asks a registry that
// refuses the namespace's credentials again anonymously, as OpenShift
// does, and reports the first error when that fails too.
func (run *importRun) importOne(ctx context.Context, ref image.Reference, o image.ImportOptions) (imagev1.ImageImportStatus, string) {
	result, err := run.importer.Import(ctx, ref, o)
	if err == nil && (result == nil || result.Image == nil) {
		err = errNoImage
	}
	if err != nil {
		return imagev1.ImageImportStatus{Status: failureStatus(err)}, ""
	}
	status := imagev1.ImageImportStatus{Status: metav1.Status{Status: metav1.StatusSuccess}, Image: result.Image}
	for _, m := range result.Manifests {
		if m != nil {
			status.Manifests = append(status.Manifests, *m)
		}
	}
	return status, result.Reference
}

// tags lists a repository's tags (the client retries anonymously too).
func (run *importRun) tags(ctx context.Context, repo image.Reference, o image.ImportOptions) ([]string, error) {
	return run.importer.Tags(ctx, repo, o)
}

// latestFirst puts "latest" first and keeps the registry's order otherwise,
// so that the tag most users mean is imported even past the limit.
func latestFirst(tags []string) []string {
	out := make([]string, 0, len(tags))
	for _, t := range tags {
		if t == "latest" {
			out = append(out, t)
		}
	}
	for _, t := range tags {
		if t != "latest" {
			out = append(out, t)
		}
	}
	return out
}
