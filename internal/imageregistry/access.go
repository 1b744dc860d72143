package imageregistry

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"

	"github.com/distribution/distribution/v3/registry/api/errcode"
	v2 "github.com/distribution/distribution/v3/registry/api/v2"
	"github.com/gorilla/mux"
	"k8s.io/apiserver/pkg/authentication/serviceaccount"
)

// Realm is the realm of the registry's Basic authentication challenge.
const Realm = "slipway-registry"

// identityReviewer turns a bearer token into an identity (nil when the
// token is not valid); TokenReviewer is the real one.
type identityReviewer interface {
	Review(ctx context.Context, token string) (*Identity, error)
}

// accessHandler authenticates every registry request (HTTP Basic, any user
// name, password = an API token; a Bearer token is accepted too) and
// authorises it by repository namespace before distribution sees it, like
// OpenShift's registry: repositories are `<namespace>/<imagestream>`.
type accessHandler struct {
	reviewer identityReviewer
	router   *mux.Router
	next     http.Handler
	log      *slog.Logger
	// blobs bounds blob uploads; nil for no bound.
	blobs *blobLimit
}

func newAccessHandler(reviewer identityReviewer, next http.Handler, log *slog.Logger) *accessHandler {
	return &accessHandler{reviewer: reviewer, router: v2.Router(), next: next, log: log}
}

// ServeHTTP implements http.Handler.
func (h *accessHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var match mux.RouteMatch
	if !h.router.Match(r, &match) || match.Route == nil {
		// Not a registry API route: distribution answers 404.
		h.next.ServeHTTP(w, r)
		return
	}
	token := requestToken(r)
	if token == "" {
		challenge(w, "authentication required")
		return
	}
	identity, err := h.reviewer.Review(r.Context(), token)
	if err != nil {
		h.log.Error("registry token review failed", "error", err)
		serveError(w, errcode.ErrorCodeUnavailable.WithMessage("cannot verify credentials with the API server"))
		return
	}
	if identity == nil {
		challenge(w, "invalid username or password (the password must be an API token)")
		return
	}

	switch match.Route.GetName() {
	case v2.RouteNameBase:
		h.next.ServeHTTP(w, r)
		return
	case v2.RouteNameCatalog:
		if !identity.IsPrivileged() {
			serveError(w, errcode.ErrorCodeDenied.WithMessage("only cluster administrators may list the catalog"))
			return
		}
		h.next.ServeHTTP(w, r)
		return
	}

	repo := match.Vars["name"]
	namespace, _, ok := SplitRepository(repo)
	if !ok {
		serveError(w, v2.ErrorCodeNameInvalid.WithMessage(fmt.Sprintf("repository name %q must be <namespace>/<imagestream>", repo)))
		return
	}
	if !identity.MayAccess(namespace) {
		serveError(w, errcode.ErrorCodeDenied.WithMessage(fmt.Sprintf("%s may not %s repository %s: access is limited to namespace %s",
			identity.Username, action(r.Method), repo, accessibleNamespace(identity))))
		return
	}
	if match.Route.GetName() == v2.RouteNameBlobUpload && r.Method == http.MethodPost {
		if err := h.checkMount(r, identity); err != nil {
			serveError(w, errcode.ErrorCodeUnknown.WithMessage(err.Error()))
			return
		}
	}
	if h.blobs != nil && (match.Route.GetName() == v2.RouteNameBlobUpload && r.Method == http.MethodPost ||
		match.Route.GetName() == v2.RouteNameBlobUploadChunk && (r.Method == http.MethodPatch || r.Method == http.MethodPut)) {
		h.blobs.serve(w, r, repo, match.Vars["uuid"], h.next)
		return
	}
	h.next.ServeHTTP(w, r)
}

// checkMount vets a cross-repository blob mount, which reads its source
// repository: when that one is out of reach, the mount is dropped so the
// client uploads the blob itself (the spec's answer to a refused mount)
// instead of failing. distribution reads "from" and "mount" with
// FormValue, from the query or a form-encoded body (which wins): both are
// parsed here, every value checked, and what distribution reads is the
// form parsed here.
func (h *accessHandler) checkMount(r *http.Request, identity *Identity) error {
	if err := r.ParseForm(); err != nil {
		return fmt.Errorf("reading the upload request's form: %w", err)
	}
	allowed := true
	for _, from := range r.Form["from"] {
		if fromNS, _, ok := SplitRepository(from); !ok || !identity.MayAccess(fromNS) {
			allowed = false
		}
	}
	if allowed {
		return nil
	}
	for _, values := range []url.Values{r.Form, r.PostForm} {
		values.Del("from")
		values.Del("mount")
	}
	q := r.URL.Query()
	q.Del("from")
	q.Del("mount")
	r.URL.RawQuery = q.Encode()
	return nil
}

// requestToken returns the API token of a request: the Basic password (the
// user name is ignored, as OpenShift's registry does) or a Bearer token.
func requestToken(r *http.Request) string {
	if _, password, ok := r.BasicAuth(); ok {
		return password
	}
	if v := r.Header.Get("Authorization"); len(v) > 7 && strings.EqualFold(v[:7], "bearer ") {
		return strings.TrimSpace(v[7:])
	}
	return ""
}

// SplitRepository splits a repository name `<namespace>/<imagestream>`;
// ok is false for any other shape.
func SplitRepository(repo string) (namespace, stream string, ok bool) {
	namespace, stream, found := strings.Cut(repo, "/")
	if !found || namespace == "" || stream == "" || strings.Contains(stream, "/") {
		return "", "", false
	}
	return namespace, stream, true
}

func action(method string) string {
	switch method {
	case http.MethodGet, http.MethodHead:
		return "pull from"
	case http.MethodDelete:
		return "delete from"
	default:
		return "push to"
	}
}

func accessibleNamespace(id *Identity) string {
	if ns, _, err := serviceaccount.SplitUsername(id.Username); err == nil {
		return ns
	}
	return "(none)"
}

// challenge answers 401 with the Basic challenge docker, buildkit and
// go-containerregistry answer with credentials.
func challenge(w http.ResponseWriter, message string) {
	w.Header().Set("WWW-Authenticate", fmt.Sprintf("Basic realm=%q", Realm))
	serveError(w, errcode.ErrorCodeUnauthorized.WithMessage(message))
}

// serveError writes a registry error body with the code's HTTP status.
func serveError(w http.ResponseWriter, err errcode.Error) {
	w.Header().Set("Docker-Distribution-API-Version", "registry/2.0")
	_ = errcode.ServeJSON(w, err)
}
