// Package imageimport is the image import controller: it imports the image
// stream tags that follow external images whenever their spec is newer than
// their last import, checks tags with importPolicy.scheduled again every
// interval (spread evenly, rate limited, backing off from overloaded
// registries), and imports at once the tags a registry notification says
// were pushed (openshift-semantics.md 2.3; ARCHITECTURE.md on the faster
// schedule and notifications). Every import is a POST of an
// ImageStreamImport: the API server does the registry work and writes the
// stream only when an image or condition changed.
package imageimport

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	imagev1 "github.com/openshift/api/image/v1"
	imageclient "github.com/openshift/client-go/image/clientset/versioned"
	imageinformers "github.com/openshift/client-go/image/informers/externalversions/image/v1"
	imagelisters "github.com/openshift/client-go/image/listers/image/v1"
	"golang.org/x/time/rate"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/clock"

	"github.com/slipway-dev/slipway/internal/controller/worker"
	"github.com/slipway-dev/slipway/internal/serialwrite"
)

// ControllerName names the work queues and the log records.
const ControllerName = "imageimport-controller"

// Defaults of Config, as OpenShift's imageImport configuration.
const (
	// DefaultInterval is how often a scheduled tag is checked
	// (scheduledImageImportMinimumIntervalSeconds: 900).
	DefaultInterval = 15 * time.Minute
	// MinInterval is the shortest interval accepted.
	MinInterval = time.Second
	// DefaultRatePerMinute caps scheduled stream imports per minute
	// (maxScheduledImageImportsPerMinute: 60).
	DefaultRatePerMinute = 60
)

// Config tunes scheduled import.
type Config struct {
	// Interval between two checks of a scheduled tag
	// (--image-import-interval); 0 means DefaultInterval (15m), shorter
	// than MinInterval (1s) means MinInterval.
	Interval time.Duration
	// RatePerMinute caps scheduled checks (one import request per stream)
	// per minute, with bursts of twice as many (--image-import-rate); 0
	// means DefaultRatePerMinute (60), negative means unlimited.
	RatePerMinute int
	// Disabled turns scheduled checks off. Spec changes are still imported
	// and registry notifications still import at once.
	Disabled bool
}

// withDefaults fills in the zero values.
func (c Config) withDefaults() Config {
	switch {
	case c.Interval == 0:
		c.Interval = DefaultInterval
	case c.Interval < MinInterval:
		c.Interval = MinInterval
	}
	if c.RatePerMinute == 0 {
		c.RatePerMinute = DefaultRatePerMinute
	}
	return c
}

// limiter is the token bucket of c: RatePerMinute tokens a minute, burst
// twice that (as OpenShift), or no limit.
func (c Config) limiter() *rate.Limiter {
	if c.RatePerMinute < 0 {
		return rate.NewLimiter(rate.Inf, 1)
	}
	return rate.NewLimiter(rate.Limit(float64(c.RatePerMinute)/60), 2*c.RatePerMinute)
}

// Controller imports image stream tags through imagestreamimports. Its
// queue holds "namespace/name" keys of streams whose spec may need an
// import; checks holds the keys of streams due for a scheduled or
// notified check, with what to check in pending.
type Controller struct {
	images  imageclient.Interface
	streams imagelisters.ImageStreamLister
	indexer cache.Indexer
	synced  []cache.InformerSynced
	queue   worker.Queue
	checks  worker.Queue
	cfg     Config
	clock   clock.WithTicker
	ring    *schedule
	limiter *rate.Limiter
	backoff *registryBackoff
	log     *slog.Logger

	mu      sync.Mutex
	pending map[string]checkRequest
}

// checkRequest says what a check of one stream covers.
type checkRequest struct {
	// scheduled: every scheduled tag whose registry is not backing off.
	scheduled bool
	// tags a registry notification named, imported whatever the back-off,
	// with the digest the notification announced ("" when unknown).
	tags map[string]string
	// attempt counts the re-imports of notified tags that did not show the
	// announced digest yet.
	attempt int
}

// merge adds o to r.
func (r checkRequest) merge(o checkRequest) checkRequest {
	r.scheduled = r.scheduled || o.scheduled
	r.attempt = max(r.attempt, o.attempt)
	if len(o.tags) > 0 {
		tags := make(map[string]string, len(r.tags)+len(o.tags))
		for t, d := range r.tags {
			tags[t] = d
		}
		for t, d := range o.tags {
			tags[t] = d
		}
		r.tags = tags
	}
	return r
}

// notifyRetries and notifyRetryDelay bound the re-imports of a notified
// tag that does not show the announced digest yet: a registry sends the
// push event before it links the tag to the new manifest, so the first
// import can still find the old one (or a 500). 100 ms doubling, 3 s in all.
const (
	notifyRetries    = 5
	notifyRetryDelay = 100 * time.Millisecond
)

// unconfirmed returns the part of req whose notified tags do not show the
// announced digest in stream (nil when the import has none). A manifest
// list imported in Legacy mode shows a sub-manifest's digest: its retries
// find nothing new and write nothing.
func unconfirmed(req checkRequest, stream *imagev1.ImageStream) checkRequest {
	out := checkRequest{attempt: req.attempt + 1}
	for tag, digest := range req.tags {
		if digest == "" || (stream != nil && newestImage(stream, tag) == digest) {
			continue
		}
		if out.tags == nil {
			out.tags = map[string]string{}
		}
		out.tags[tag] = digest
	}
	return out
}

// New returns an import controller writing through images and watching
// streams. It adds an index to streams' informer, so call it before the
// informer starts.
func New(images imageclient.Interface, streams imageinformers.ImageStreamInformer, cfg Config) *Controller {
	return newController(images, streams, cfg, clock.RealClock{})
}

// newController is New with the clock the schedule, rate limit and back-off
// run on.
func newController(images imageclient.Interface, streams imageinformers.ImageStreamInformer, cfg Config, clk clock.WithTicker) *Controller {
	register()
	cfg = cfg.withDefaults()
	informer := streams.Informer()
	c := &Controller{
		images:  images,
		streams: streams.Lister(),
		indexer: informer.GetIndexer(),
		synced:  []cache.InformerSynced{informer.HasSynced},
		queue:   worker.NewQueue(ControllerName),
		checks:  worker.NewQueue(ControllerName + "-checks"),
		cfg:     cfg,
		clock:   clk,
		ring:    newSchedule(cfg.Interval),
		limiter: cfg.limiter(),
		backoff: newRegistryBackoff(cfg.Interval),
		log:     slog.Default().With("controller", ControllerName),
		pending: map[string]checkRequest{},
	}
	if err := informer.AddIndexers(cache.Indexers{followedTagIndex: followedTags}); err != nil {
		// Notifications then scan every stream instead (see followers).
		c.log.Warn("adding the followed-tag index", "error", err)
	}
	_, _ = informer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: func(obj any) {
			if s, ok := obj.(*imagev1.ImageStream); ok {
				c.streamChanged(nil, s)
			}
		},
		UpdateFunc: func(oldObj, obj any) {
			old, ok1 := oldObj.(*imagev1.ImageStream)
			s, ok2 := obj.(*imagev1.ImageStream)
			if ok1 && ok2 && old.ResourceVersion != s.ResourceVersion {
				c.streamChanged(old, s)
			}
		},
		DeleteFunc: func(obj any) {
			key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj)
			if err != nil {
				return
			}
			c.ring.Remove(key)
			scheduledTagsGauge.Set(float64(c.ring.Tags()))
		},
	})
	return c
}

// streamChanged queues s for an import check and keeps its place in the
// schedule: a stream imported by someone else (its dockerRepositoryCheck
// annotation moved) goes to the back, as it was just checked.
func (c *Controller) streamChanged(old, s *imagev1.ImageStream) {
	key, err := cache.MetaNamespaceKeyFunc(s)
	if err != nil {
		return
	}
	c.queue.Add(key)
	if c.cfg.Disabled {
		return
	}
	c.ring.Set(key, len(scheduledTags(s)), c.clock.Now())
	scheduledTagsGauge.Set(float64(c.ring.Tags()))
	check := imagev1.DockerImageRepositoryCheckAnnotation
	if old != nil && old.Annotations[check] != s.Annotations[check] {
		c.ring.Delay(key)
	}
}

// Run waits for the cache, then imports with workers workers per queue and
// runs the schedule until ctx is done.
func (c *Controller) Run(ctx context.Context, workers int) error {
	if !c.cfg.Disabled {
		go c.runSchedule(ctx)
	}
	errc := make(chan error, 1)
	go func() {
		errc <- worker.Run(ctx, ControllerName+"-checks", c.checks, workers, c.synced, c.check)
	}()
	err := worker.Run(ctx, ControllerName, c.queue, workers, c.synced, c.sync)
	if checkErr := <-errc; err == nil {
		err = checkErr
	}
	return err
}

// sync imports the tags of the stream named by key whose spec generation is
// newer than their last import, and spec.dockerImageRepository when it was
// never imported.
func (c *Controller) sync(ctx context.Context, key string) error {
	stream, err := c.get(key)
	if stream == nil || err != nil {
		return err
	}
	needed := func(s *imagev1.ImageStream) ([]imagev1.TagReference, bool) {
		return tagsNeedingImport(s), repositoryNeedsImport(s)
	}
	if tags, repo := needed(stream); len(tags) == 0 && !repo {
		return nil
	}
	// An import now makes the next scheduled check of this stream a
	// whole interval away.
	c.ring.Delay(key)
	result, err := c.importStream(ctx, stream, needed)
	if err != nil {
		errorsTotal.WithLabelValues(reasonRequestFailed).Inc()
		return err
	}
	c.record(stream, result, false)
	return nil
}

// check runs the scheduled or notified check of the stream named by key.
func (c *Controller) check(ctx context.Context, key string) error {
	req, ok := c.take(key)
	if !ok {
		return nil
	}
	stream, err := c.get(key)
	if err != nil {
		c.request(key, req)
		return err
	}
	if stream == nil {
		return nil
	}
	chosen := c.chooser(req, c.clock.Now())
	if tags, _ := chosen(stream); len(tags) == 0 {
		return nil
	}
	result, err := c.importStream(ctx, stream, chosen)
	if err != nil {
		errorsTotal.WithLabelValues(reasonRequestFailed).Inc()
		// Not lost: the retry checks what was asked and anything asked
		// since.
		c.request(key, req)
		return err
	}
	c.record(stream, result, true)
	if retry := unconfirmed(req, result.Status.Import); len(retry.tags) > 0 && req.attempt < notifyRetries {
		after := c.clock.After(notifyRetryDelay << req.attempt)
		go func() {
			<-after
			c.request(key, retry)
		}()
	}
	return nil
}

// chooser returns what a check covering req imports from a stream at now:
// the tags a notification named, and with a scheduled check every scheduled
// tag whose registry is not backing off.
func (c *Controller) chooser(req checkRequest, now time.Time) func(*imagev1.ImageStream) ([]imagev1.TagReference, bool) {
	return func(s *imagev1.ImageStream) ([]imagev1.TagReference, bool) {
		var tags []imagev1.TagReference
		for _, tag := range s.Spec.Tags {
			switch {
			case !tagImportable(tag):
			case hasTag(req.tags, tag.Name):
				tags = append(tags, tag)
			case req.scheduled && tagScheduled(s, tag) && !c.backoff.Blocked(registryOf(tag), now):
				tags = append(tags, tag)
			}
		}
		return tags, false
	}
}

// get returns the stream named by key from the cache, nil when it is gone.
func (c *Controller) get(key string) (*imagev1.ImageStream, error) {
	return worker.Lookup(key, func(namespace, name string) (*imagev1.ImageStream, error) {
		return c.streams.ImageStreams(namespace).Get(name)
	})
}

// importStream POSTs the import of the tags choose picks from stream (and
// the repository when it says so). A conflict means the stream changed
// since it was read: it is read again from the API, choose picks again, and
// the import is retried. The result is nil when nothing was left to import
// or the stream is gone.
func (c *Controller) importStream(ctx context.Context, stream *imagev1.ImageStream, choose func(*imagev1.ImageStream) ([]imagev1.TagReference, bool)) (*imagev1.ImageStreamImport, error) {
	var result *imagev1.ImageStreamImport
	err := retry.RetryOnConflict(serialwrite.Backoff, func() error {
		result = nil
		tags, repo := choose(stream)
		if len(tags) == 0 && !repo {
			return nil
		}
		isi := newImport(stream, tags, repo)
		res, err := c.images.ImageV1().ImageStreamImports(stream.Namespace).Create(ctx, isi, metav1.CreateOptions{})
		if err == nil {
			result = res
			return nil
		}
		if apierrors.IsConflict(err) {
			live, getErr := c.images.ImageV1().ImageStreams(stream.Namespace).Get(ctx, stream.Name, metav1.GetOptions{})
			if getErr != nil {
				return getErr
			}
			stream = live
		}
		return err
	})
	if apierrors.IsNotFound(err) {
		// The stream was deleted meanwhile: nothing to import into.
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("importing image stream %s/%s: %w", stream.Namespace, stream.Name, err)
	}
	return result, nil
}

// record counts the outcome of an import of before's tags and feeds the
// registries' back-off; checked says whether it was a scheduled or
// notified check.
func (c *Controller) record(before *imagev1.ImageStream, result *imagev1.ImageStreamImport, checked bool) {
	if result == nil {
		return
	}
	now := c.clock.Now()
	for i, status := range result.Status.Images {
		if i >= len(result.Spec.Images) {
			break
		}
		spec := result.Spec.Images[i]
		registry := ""
		if s, err := parseSource(spec.From.Name); err == nil {
			registry = s.Registry
		}
		tag := ""
		if spec.To != nil {
			tag = spec.To.Name
		}
		if status.Status.Status != metav1.StatusSuccess {
			if checked {
				checksTotal.WithLabelValues("failure").Inc()
			}
			reason := string(status.Status.Reason)
			if reason == "" {
				reason = string(metav1.StatusReasonInternalError)
			}
			errorsTotal.WithLabelValues(reason).Inc()
			if overloaded(status.Status) && registry != "" {
				pause := c.backoff.Failure(registry, now)
				c.log.Info("registry overloaded, backing off", "registry", registry, "pause", pause, "reason", reason)
			}
			continue
		}
		if checked {
			checksTotal.WithLabelValues("success").Inc()
		}
		if registry != "" {
			c.backoff.Success(registry)
		}
		if tag != "" && result.Status.Import != nil && newestImage(before, tag) != newestImage(result.Status.Import, tag) {
			changesTotal.Inc()
		}
	}
}

// hasTag reports whether tags names tag.
func hasTag(tags map[string]string, tag string) bool {
	_, ok := tags[tag]
	return ok
}

// newestImage is the image of tag's newest status event, "" when none.
func newestImage(stream *imagev1.ImageStream, tag string) string {
	for _, list := range stream.Status.Tags {
		if list.Tag == tag && len(list.Items) > 0 {
			return list.Items[0].Image
		}
	}
	return ""
}

// runSchedule hands the streams due for a scheduled check to the check
// queue, one every interval/N, each after a token of the rate limit.
func (c *Controller) runSchedule(ctx context.Context) {
	for {
		key, wait := c.ring.Next(c.clock.Now())
		if key != "" {
			if !c.waitForToken(ctx) {
				return
			}
			c.request(key, checkRequest{scheduled: true})
			continue
		}
		var timer clock.Timer
		var timeout <-chan time.Time
		if wait >= 0 {
			timer = c.clock.NewTimer(wait)
			timeout = timer.C()
		}
		select {
		case <-ctx.Done():
		case <-c.ring.Changed():
		case <-timeout:
		}
		if timer != nil {
			timer.Stop()
		}
		if ctx.Err() != nil {
			return
		}
	}
}

// waitForToken takes a token of the rate limit, waiting for it when the
// bucket is empty; false when ctx ended first.
func (c *Controller) waitForToken(ctx context.Context) bool {
	now := c.clock.Now()
	delay := c.limiter.ReserveN(now, 1).DelayFrom(now)
	if delay <= 0 {
		return ctx.Err() == nil
	}
	timer := c.clock.NewTimer(delay)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-timer.C():
		return true
	}
}

// request queues a check of key covering req (merged with any pending one).
func (c *Controller) request(key string, req checkRequest) {
	c.mu.Lock()
	c.pending[key] = c.pending[key].merge(req)
	c.mu.Unlock()
	c.checks.Add(key)
}

// take removes and returns the pending check of key.
func (c *Controller) take(key string) (checkRequest, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	req, ok := c.pending[key]
	delete(c.pending, key)
	return req, ok
}
