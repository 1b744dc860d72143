package imageimport

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"

	imagev1 "github.com/openshift/api/image/v1"
	"k8s.io/client-go/tools/cache"
)

// Media types of distribution's notification envelopes: v1 from registry
// 2.x (Debian's docker-registry), v2 from distribution v3.
const (
	EventsMediaTypeV1 = "application/vnd.docker.distribution.events.v1+json"
	EventsMediaTypeV2 = "application/vnd.docker.distribution.events.v2+json"
)

// maxEnvelopeBytes bounds a notification body; registries send a few
// events per envelope.
const maxEnvelopeBytes = 4 << 20

// followedTagIndex indexes image streams by the "repository:tag" their
// scheduled tags follow, so a push finds its followers without a scan.
const followedTagIndex = "imageimport.slipway.dev/followed-tag"

// envelope is the part of a distribution notification envelope the
// controller reads (distribution/v3/notifications.Event has the rest).
type envelope struct {
	Events []event `json:"events"`
}

type event struct {
	Action string `json:"action"`
	Target struct {
		MediaType  string `json:"mediaType"`
		Digest     string `json:"digest"`
		Repository string `json:"repository"`
		Tag        string `json:"tag"`
		URL        string `json:"url"`
	} `json:"target"`
	Request struct {
		Host string `json:"host"`
	} `json:"request"`
}

// push is a tag pushed to a registry, as a notification tells it.
type push struct {
	// Hosts are the names the registry was reached by (from the target URL
	// and the request's Host header), possibly none.
	Hosts      []string
	Repository string
	Tag        string
	// Digest is the pushed manifest's digest ("" when the event has none).
	Digest string
}

// parsePushes reads a notification envelope and returns its pushes of
// tags; other events (pulls, deletes, blob pushes, pushes by digest) are
// skipped.
func parsePushes(r io.Reader) ([]push, error) {
	var env envelope
	dec := json.NewDecoder(r)
	if err := dec.Decode(&env); err != nil {
		return nil, fmt.Errorf("decoding the notification envelope: %w", err)
	}
	var out []push
	for _, ev := range env.Events {
		if ev.Action != "push" || ev.Target.Tag == "" || ev.Target.Repository == "" {
			continue
		}
		p := push{Repository: ev.Target.Repository, Tag: ev.Target.Tag, Digest: ev.Target.Digest}
		if u, err := url.Parse(ev.Target.URL); err == nil && u.Host != "" {
			p.Hosts = append(p.Hosts, u.Host)
		}
		if h := ev.Request.Host; h != "" && (len(p.Hosts) == 0 || p.Hosts[0] != h) {
			p.Hosts = append(p.Hosts, h)
		}
		out = append(out, p)
	}
	return out, nil
}

// NotificationHandler accepts distribution's notification envelopes (a
// registry's notifications endpoint) and imports at once every scheduled
// tag following a pushed repository and tag. It answers 200 as soon as the
// imports are queued, 400 on a malformed envelope, 415 on another media
// type and 405 on other methods. Authenticate callers in front of it.
func (c *Controller) NotificationHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			http.Error(w, "only POST is allowed", http.StatusMethodNotAllowed)
			return
		}
		mediaType, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
		if err != nil || (mediaType != EventsMediaTypeV1 && mediaType != EventsMediaTypeV2) {
			http.Error(w, fmt.Sprintf("content type must be %s or %s", EventsMediaTypeV1, EventsMediaTypeV2), http.StatusUnsupportedMediaType)
			return
		}
		pushes, err := parsePushes(http.MaxBytesReader(w, r.Body, maxEnvelopeBytes))
		if err != nil {
			var tooLarge *http.MaxBytesError
			if errors.As(err, &tooLarge) {
				http.Error(w, err.Error(), http.StatusRequestEntityTooLarge)
				return
			}
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		for _, p := range pushes {
			c.notified(p)
		}
		w.WriteHeader(http.StatusOK)
	})
}

// notified queues an immediate import of the tags following p. It still
// takes a token of the rate limit, without waiting for it, so a flood of
// pushes slows the scheduled checks instead of the pushes.
func (c *Controller) notified(p push) {
	for key, tags := range c.followers(p) {
		c.limiter.ReserveN(c.clock.Now(), 1)
		c.log.Info("registry notification: importing", "stream", key, "tags", tags, "repository", p.Repository, "tag", p.Tag)
		req := checkRequest{tags: map[string]string{}}
		for _, t := range tags {
			req.tags[t] = p.Digest
		}
		c.request(key, req)
	}
}

// followers returns, by stream key, the scheduled tags that follow p's
// repository and tag. Tags on a registry host p names win; when none
// does (a registry reached under another name, a proxy in front, no host
// in the event) every tag following that repository and tag is imported:
// an import that finds nothing new writes nothing.
func (c *Controller) followers(p push) map[string][]string {
	objs, err := c.indexer.ByIndex(followedTagIndex, p.Repository+":"+p.Tag)
	if err != nil {
		// No index (it could not be added): look at every stream.
		objs = c.indexer.List()
	}
	exact, lenient := map[string][]string{}, map[string][]string{}
	for _, obj := range objs {
		stream, ok := obj.(*imagev1.ImageStream)
		if !ok {
			continue
		}
		key, err := cache.MetaNamespaceKeyFunc(stream)
		if err != nil {
			continue
		}
		for _, tag := range stream.Spec.Tags {
			if !tagScheduled(stream, tag) {
				continue
			}
			s, err := parseSource(tag.From.Name)
			if err != nil || s.Tag != p.Tag || s.Repository != normalisedRepository(s.Registry, p.Repository) {
				continue
			}
			lenient[key] = append(lenient[key], tag.Name)
			if hostMatches(s.Registry, p.Hosts) {
				exact[key] = append(exact[key], tag.Name)
			}
		}
	}
	if len(exact) > 0 {
		return exact
	}
	return lenient
}

// normalisedRepository is repository as a tag on registry names it.
func normalisedRepository(registry, repository string) string {
	_, repository = normaliseRepository(registry, repository)
	return repository
}

// hostMatches reports whether registry is one of hosts.
func hostMatches(registry string, hosts []string) bool {
	for _, h := range hosts {
		if strings.EqualFold(h, registry) {
			return true
		}
		if r, _ := normaliseRepository(h, "x/x"); r == registry {
			return true
		}
	}
	return false
}

// followedTags is the index function of followedTagIndex: the
// "repository:tag" of every scheduled tag of a stream that follows a tag
// (not a digest).
func followedTags(obj any) ([]string, error) {
	stream, ok := obj.(*imagev1.ImageStream)
	if !ok {
		return nil, nil
	}
	var out []string
	seen := map[string]bool{}
	for _, tag := range stream.Spec.Tags {
		if !tagScheduled(stream, tag) {
			continue
		}
		s, err := parseSource(tag.From.Name)
		if err != nil || s.Tag == "" {
			continue
		}
		v := s.Repository + ":" + s.Tag
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	return out, nil
}
