package imageregistry

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"

	"github.com/distribution/distribution/v3/registry/api/errcode"
	"k8s.io/apimachinery/pkg/api/resource"
)

// DefaultMaxBlobSize is the default bound of one blob pushed to the
// registry (the server's --registry-max-blob-size). distribution has no
// such setting: an upload's size is checked here, before distribution
// stores a byte beyond it.
const DefaultMaxBlobSize = 10 << 30

// errBlobTooLarge ends the body of an upload that passed the bound.
var errBlobTooLarge = errors.New("blob upload larger than the registry's limit")

// blobLimit bounds blob uploads: the bytes of an upload so far (its data
// file in distribution's filesystem layout) and the request's must stay
// within max.
type blobLimit struct {
	max        int64
	storageDir string
}

// uploadDir is where distribution's filesystem driver keeps upload id of
// repository name (registry/storage/paths.go: _uploads/<id>). name and id
// have passed distribution's route patterns (no "..").
func (l *blobLimit) uploadDir(name, id string) string {
	return filepath.Join(l.storageDir, "docker", "registry", "v2", "repositories", name, "_uploads", id)
}

// serve passes an upload request (POST to start, monolithic or not;
// PATCH or PUT of a chunk) to next with its body bounded. Past the bound
// the client gets 413 with an OCI error body, and the upload is cancelled:
// its data is removed and nothing was committed.
func (l *blobLimit) serve(w http.ResponseWriter, r *http.Request, name, id string, next http.Handler) {
	var offset int64
	if id != "" {
		if fi, err := os.Stat(filepath.Join(l.uploadDir(name, id), "data")); err == nil {
			offset = fi.Size()
		}
	}
	if r.ContentLength > 0 && offset+r.ContentLength > l.max {
		l.refuse(w, name, id, offset+r.ContentLength)
		return
	}
	body := &cappedBody{r: r.Body, left: l.max - offset}
	r.Body = body
	cw := &cutWriter{ResponseWriter: w, body: body}
	next.ServeHTTP(cw, r)
	switch {
	case !body.exceeded:
	case cw.passed:
		// distribution answered before reading all the body: the upload
		// is cancelled all the same.
		if id != "" {
			_ = os.RemoveAll(l.uploadDir(name, id))
		}
	default:
		l.refuse(w, name, id, -1)
	}
}

// refuse answers 413 SIZE_INVALID naming the limit and cancels the upload.
func (l *blobLimit) refuse(w http.ResponseWriter, name, id string, size int64) {
	if id != "" {
		_ = os.RemoveAll(l.uploadDir(name, id))
	}
	got := "more"
	if size > 0 {
		got = fmt.Sprintf("%d bytes", size)
	}
	msg := fmt.Sprintf("blob upload to %s is larger than the registry's limit of %d bytes (%s, the server's --registry-max-blob-size): %s; the upload was cancelled",
		name, l.max, resource.NewQuantity(l.max, resource.BinarySI).String(), got)
	w.Header().Set("Docker-Distribution-API-Version", "registry/2.0")
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Connection", "close")
	w.WriteHeader(http.StatusRequestEntityTooLarge)
	_ = json.NewEncoder(w).Encode(errcode.Errors{errcode.ErrorCodeSizeInvalid.WithMessage(msg)})
}

// cappedBody reads at most left bytes of r; one more is errBlobTooLarge.
type cappedBody struct {
	r        io.ReadCloser
	left     int64
	exceeded bool
}

func (b *cappedBody) Read(p []byte) (int, error) {
	if b.exceeded {
		return 0, errBlobTooLarge
	}
	if int64(len(p)) > b.left+1 {
		p = p[:b.left+1]
	}
	n, err := b.r.Read(p)
	if int64(n) > b.left {
		b.exceeded = true
		n = int(b.left)
		b.left = 0
		return n, errBlobTooLarge
	}
	b.left -= int64(n)
	return n, err
}

func (b *cappedBody) Close() error { return b.r.Close() }

// cutWriter is distribution's response writer while it reads a capped
// body: once the body passed the bound, what distribution answers (an
// error about the body it could not read) is dropped for the 413.
type cutWriter struct {
	http.ResponseWriter
	body   *cappedBody
	header http.Header
	// passed is set when distribution wrote through before the bound.
	passed bool
}

func (c *cutWriter) Header() http.Header {
	if c.body.exceeded {
		if c.header == nil {
			c.header = http.Header{}
		}
		return c.header
	}
	return c.ResponseWriter.Header()
}

func (c *cutWriter) WriteHeader(code int) {
	if c.body.exceeded {
		return
	}
	c.passed = true
	c.ResponseWriter.WriteHeader(code)
}

func (c *cutWriter) Write(p []byte) (int, error) {
	if c.body.exceeded {
		return len(p), nil
	}
	c.passed = true
	return c.ResponseWriter.Write(p)
}

// Unwrap lets http.ResponseController reach the connection.
func (c *cutWriter) Unwrap() http.ResponseWriter { return c.ResponseWriter }
