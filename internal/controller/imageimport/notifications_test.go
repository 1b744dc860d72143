package imageimport

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"
	"time"

	imagev1 "github.com/openshift/api/image/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/component-base/metrics/testutil"
	clocktesting "k8s.io/utils/clock/testing"
)

// envelopeOf is a notification as docker-registry sends it for a manifest
// pushed by tag (fields as in distribution's notifications.Event).
func envelopeOf(host, repository, tag string) string {
	return fmt.Sprintf(`{"events":[
 {"id":"1","timestamp":"2026-11-01T12:00:00Z","action":"push",
  "target":{"mediaType":"application/vnd.docker.image.rootfs.diff.tar.gzip","digest":"sha256:1111","size":10,"length":10,"repository":%[2]q,"url":"https://%[1]s/v2/%[2]s/blobs/sha256:1111"},
  "request":{"id":"r1","addr":"127.0.0.1:4000","host":%[1]q,"method":"PUT","useragent":"go"}},
 {"id":"2","timestamp":"2026-11-01T12:00:00Z","action":"push",
  "target":{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":%[4]q,"size":400,"length":400,"repository":%[2]q,"url":"https://%[1]s/v2/%[2]s/manifests/%[4]s","tag":%[3]q},
  "request":{"id":"r2","addr":"127.0.0.1:4000","host":%[1]q,"method":"PUT","useragent":"go"},
  "actor":{"name":"u"},"source":{"addr":"reg:5000","instanceID":"x"}},
 {"id":"3","timestamp":"2026-11-01T12:00:00Z","action":"pull",
  "target":{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":%[4]q,"repository":%[2]q,"tag":%[3]q},
  "request":{"host":%[1]q}}
]}`, host, repository, tag, digestA)
}

func TestParsePushes(t *testing.T) {
	pushes, err := parsePushes(strings.NewReader(envelopeOf("reg.test:5000", "veer/time", "latest")))
	if err != nil {
		t.Fatal(err)
	}
	want := []push{{Hosts: []string{"reg.test:5000"}, Repository: "veer/time", Tag: "latest", Digest: digestA}}
	if fmt.Sprint(pushes) != fmt.Sprint(want) {
		t.Errorf("pushes = %+v, want %+v (blob pushes and pulls skipped)", pushes, want)
	}
	// The URL and the Host header may name the registry differently.
	pushes, err = parsePushes(strings.NewReader(`{"events":[{"action":"push","target":{"repository":"a","tag":"v1","url":"http://localhost:5000/v2/a/manifests/v1"},"request":{"host":"127.0.0.1:5000"}}]}`))
	if err != nil || len(pushes) != 1 || fmt.Sprint(pushes[0].Hosts) != "[localhost:5000 127.0.0.1:5000]" {
		t.Errorf("pushes = %+v, %v", pushes, err)
	}
	for _, bad := range []string{"", "{", `{"events":{}}`, "[1]"} {
		if _, err := parsePushes(strings.NewReader(bad)); err == nil {
			t.Errorf("parsePushes(%q): no error", bad)
		}
	}
}

func scheduledStream(ns, name string, froms map[string]string) *imagev1.ImageStream {
	s := &imagev1.ImageStream{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
	var tags []string
	for tag := range froms {
		tags = append(tags, tag)
	}
	sort.Strings(tags)
	for _, tag := range tags {
		ref := dockerTag(tag, froms[tag], gen(1))
		ref.ImportPolicy.Scheduled = true
		s.Spec.Tags = append(s.Spec.Tags, ref)
	}
	return s
}

// newNotifyController is a controller with the stream index and the check
// queue (no API client: the handler only queues checks).
func newNotifyController(t *testing.T, streams ...*imagev1.ImageStream) *Controller {
	t.Helper()
	c := newScheduleController(Config{}, clocktesting.NewFakeClock(t0))
	c.indexer = cache.NewIndexer(cache.MetaNamespaceKeyFunc, cache.Indexers{followedTagIndex: followedTags})
	for _, s := range streams {
		if err := c.indexer.Add(s); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

func TestFollowers(t *testing.T) {
	notScheduled := scheduledStream("ns", "manual", map[string]string{"latest": "reg.test:5000/veer/time:latest"})
	notScheduled.Spec.Tags[0].ImportPolicy.Scheduled = false
	c := newNotifyController(t,
		scheduledStream("ns", "time", map[string]string{"latest": "reg.test:5000/veer/time:latest", "v2": "reg.test:5000/veer/time:v2", "other": "reg.test:5000/veer/other:latest"}),
		scheduledStream("ns2", "time", map[string]string{"prod": "reg.test:5000/veer/time"}),
		scheduledStream("ns", "mirror", map[string]string{"latest": "mirror.test/veer/time:latest"}),
		scheduledStream("ns", "hub", map[string]string{"latest": "busybox"}),
		notScheduled,
	)
	tests := []struct {
		name string
		p    push
		want string
	}{
		{"host and tag", push{Hosts: []string{"reg.test:5000"}, Repository: "veer/time", Tag: "latest"}, "map[ns/time:[latest] ns2/time:[prod]]"},
		{"other tag", push{Hosts: []string{"reg.test:5000"}, Repository: "veer/time", Tag: "v2"}, "map[ns/time:[v2]]"},
		{"second host name", push{Hosts: []string{"localhost:5000", "mirror.test"}, Repository: "veer/time", Tag: "latest"}, "map[ns/mirror:[latest]]"},
		{"unknown host: lenient", push{Hosts: []string{"127.0.0.1:5000"}, Repository: "veer/time", Tag: "latest"}, "map[ns/mirror:[latest] ns/time:[latest] ns2/time:[prod]]"},
		{"no host: lenient", push{Repository: "veer/time", Tag: "latest"}, "map[ns/mirror:[latest] ns/time:[latest] ns2/time:[prod]]"},
		{"docker hub", push{Hosts: []string{"registry-1.docker.io"}, Repository: "library/busybox", Tag: "latest"}, "map[ns/hub:[latest]]"},
		{"nobody follows", push{Hosts: []string{"reg.test:5000"}, Repository: "veer/time", Tag: "v3"}, "map[]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := fmt.Sprint(c.followers(tt.p)); got != tt.want {
				t.Errorf("followers = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestNotificationHandler(t *testing.T) {
	c := newNotifyController(t, scheduledStream("ns", "time", map[string]string{"latest": "reg.test:5000/veer/time:latest", "v2": "reg.test:5000/veer/time:v2"}))
	srv := httptest.NewServer(c.NotificationHandler())
	defer srv.Close()
	post := func(contentType, body string) int {
		t.Helper()
		resp, err := http.Post(srv.URL, contentType, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := post("application/json", envelopeOf("reg.test:5000", "veer/time", "latest")); code != http.StatusUnsupportedMediaType {
		t.Errorf("application/json: %d, want 415", code)
	}
	if code := post(EventsMediaTypeV1, "{not json"); code != http.StatusBadRequest {
		t.Errorf("malformed: %d, want 400", code)
	}
	if resp, err := http.Get(srv.URL); err != nil || resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET: %v %v, want 405", resp, err)
	}
	if c.checks.Len() != 0 {
		t.Fatal("rejected requests queued checks")
	}
	tokens := c.limiter.TokensAt(t0)
	if code := post(EventsMediaTypeV1+"; charset=utf-8", envelopeOf("reg.test:5000", "veer/time", "latest")); code != http.StatusOK {
		t.Errorf("v1 envelope: %d, want 200", code)
	}
	if code := post(EventsMediaTypeV2, envelopeOf("reg.test:5000", "veer/time", "v2")); code != http.StatusOK {
		t.Errorf("v2 envelope: %d, want 200", code)
	}
	if c.checks.Len() != 1 {
		t.Fatalf("queued checks = %d, want 1 (ns/time)", c.checks.Len())
	}
	req, ok := c.take("ns/time")
	if !ok || req.scheduled || !hasTag(req.tags, "latest") || !hasTag(req.tags, "v2") || len(req.tags) != 2 {
		t.Errorf("check = %+v, want tags latest and v2 only", req)
	}
	if used := tokens - c.limiter.TokensAt(t0); used != 2 {
		t.Errorf("notified imports took %v tokens, want 2 (counted, not waited for)", used)
	}
}

func TestChooserSkipsBackedOffRegistries(t *testing.T) {
	c := newScheduleController(Config{}, clocktesting.NewFakeClock(t0))
	stream := scheduledStream("ns", "s", map[string]string{"a": "slow.test/a:latest", "b": "fast.test/b:latest", "c": "slow.test/c:latest"})
	stream.Spec.Tags = append(stream.Spec.Tags, dockerTag("manual", "fast.test/m:latest", gen(1)))
	c.backoff.Failure("slow.test", t0)
	names := func(tags []imagev1.TagReference) string {
		var out []string
		for _, tag := range tags {
			out = append(out, tag.Name)
		}
		return strings.Join(out, ",")
	}
	tags, _ := c.chooser(checkRequest{scheduled: true}, t0)(stream)
	if got := names(tags); got != "b" {
		t.Errorf("scheduled check = %s, want b (slow.test backing off, manual not scheduled)", got)
	}
	tags, _ = c.chooser(checkRequest{tags: map[string]string{"a": ""}}, t0)(stream)
	if got := names(tags); got != "a" {
		t.Errorf("notified check = %s, want a (a push beats the back-off)", got)
	}
	tags, _ = c.chooser(checkRequest{scheduled: true}, t0.Add(time.Minute))(stream)
	if got := names(tags); got != "a,b,c" {
		t.Errorf("after the back-off = %s, want a,b,c", got)
	}
}

func TestRecord(t *testing.T) {
	c := newScheduleController(Config{}, clocktesting.NewFakeClock(t0))
	before := scheduledStream("ns", "s", map[string]string{"a": "slow.test/a:latest", "b": "reg.test/b:latest", "c": "reg.test/c:latest"})
	before.Status.Tags = []imagev1.NamedTagEventList{statusTag("b", 1, 0), statusTag("c", 1, 0)}
	after := before.DeepCopy()
	after.Status.Tags[0].Items[0].Image = "sha256:changed"
	isi := newImport(before, before.Spec.Tags, false)
	isi.Status = imagev1.ImageStreamImportStatus{
		Import: after,
		Images: []imagev1.ImageImportStatus{
			{Status: metav1.Status{Status: metav1.StatusFailure, Reason: metav1.StatusReasonTooManyRequests, Code: 429}},
			{Status: metav1.Status{Status: metav1.StatusSuccess}},
			{Status: metav1.Status{Status: metav1.StatusSuccess}},
		},
	}
	success, _ := testutil.GetCounterMetricValue(checksTotal.WithLabelValues("success"))
	failure, _ := testutil.GetCounterMetricValue(checksTotal.WithLabelValues("failure"))
	changes, _ := testutil.GetCounterMetricValue(changesTotal)
	tooMany, _ := testutil.GetCounterMetricValue(errorsTotal.WithLabelValues("TooManyRequests"))
	c.record(before, isi, true)
	check := func(name string, now float64, was, want float64) {
		t.Helper()
		if now-was != want {
			t.Errorf("%s grew by %v, want %v", name, now-was, want)
		}
	}
	v, _ := testutil.GetCounterMetricValue(checksTotal.WithLabelValues("success"))
	check("checks{success}", v, success, 2)
	v, _ = testutil.GetCounterMetricValue(checksTotal.WithLabelValues("failure"))
	check("checks{failure}", v, failure, 1)
	v, _ = testutil.GetCounterMetricValue(changesTotal)
	check("changes", v, changes, 1)
	v, _ = testutil.GetCounterMetricValue(errorsTotal.WithLabelValues("TooManyRequests"))
	check("errors{TooManyRequests}", v, tooMany, 1)
	if !c.backoff.Blocked("slow.test", t0) || c.backoff.Blocked("reg.test", t0) {
		t.Error("back-off: want slow.test blocked after its 429, reg.test free")
	}
}

func TestUnconfirmedNotifiedTags(t *testing.T) {
	stream := &imagev1.ImageStream{Status: imagev1.ImageStreamStatus{Tags: []imagev1.NamedTagEventList{
		{Tag: "latest", Items: []imagev1.TagEvent{{Image: "sha256:new"}}},
		{Tag: "v1", Items: []imagev1.TagEvent{{Image: "sha256:old"}}},
	}}}
	req := checkRequest{tags: map[string]string{"latest": "sha256:new", "v1": "sha256:newer", "v2": ""}, attempt: 1}
	got := unconfirmed(req, stream)
	if len(got.tags) != 1 || got.tags["v1"] != "sha256:newer" || got.attempt != 2 {
		t.Errorf("unconfirmed = %+v, want v1 only at attempt 2", got)
	}
	if got := unconfirmed(req, nil); len(got.tags) != 2 {
		t.Errorf("unconfirmed without a stream = %+v, want latest and v1", got)
	}
}
