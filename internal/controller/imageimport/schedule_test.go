package imageimport

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/slipway-dev/slipway/internal/controller/worker"
)

var t0 = time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)

// visits runs s from t0 to t0+d in steps of tick and returns when each key
// was visited.
func visits(s *schedule, d, tick time.Duration) map[string][]time.Duration {
	out := map[string][]time.Duration{}
	for at := time.Duration(0); at <= d; at += tick {
		for {
			key, _ := s.Next(t0.Add(at))
			if key == "" {
				break
			}
			out[key] = append(out[key], at)
		}
	}
	return out
}

func TestScheduleSpreadsOverInterval(t *testing.T) {
	s := newSchedule(8 * time.Second)
	for i := range 4 {
		s.Set(fmt.Sprintf("ns/s%d", i), 1, t0)
	}
	if key, wait := s.Next(t0); key != "" || wait != 2*time.Second {
		t.Fatalf("Next(t0) = %q, %v; want nothing for 2s", key, wait)
	}
	got := visits(s, 16*time.Second, 100*time.Millisecond)
	for i := range 4 {
		key := fmt.Sprintf("ns/s%d", i)
		first := time.Duration(i+1) * 2 * time.Second
		want := []time.Duration{first, first + 8*time.Second}
		if fmt.Sprint(got[key]) != fmt.Sprint(want) {
			t.Errorf("%s visited at %v, want %v (once per interval, 2s apart from the others)", key, got[key], want)
		}
	}
}

func TestScheduleDelayRemoveAndLateVisits(t *testing.T) {
	s := newSchedule(4 * time.Second)
	s.Set("ns/a", 1, t0)
	s.Set("ns/b", 2, t0)
	s.Set("ns/a", 3, t0) // update: same place, new tag count
	if s.Len() != 2 || s.Tags() != 5 {
		t.Fatalf("len %d tags %d, want 2 and 5", s.Len(), s.Tags())
	}
	// a was imported by someone else: b comes first now.
	s.Delay("ns/a")
	if key, _ := s.Next(t0.Add(2 * time.Second)); key != "ns/b" {
		t.Errorf("after Delay(a): next = %q, want ns/b", key)
	}
	s.Remove("ns/b")
	if s.Len() != 1 || s.Tags() != 3 {
		t.Errorf("after Remove: len %d tags %d", s.Len(), s.Tags())
	}
	// One stream: the step is the whole interval.
	if key, wait := s.Next(t0.Add(3 * time.Second)); key != "" || wait != 3*time.Second {
		t.Errorf("Next = %q, %v; want a in 3s", key, wait)
	}
	// A stall of several intervals yields one visit, not a burst.
	if key, _ := s.Next(t0.Add(time.Minute)); key != "ns/a" {
		t.Errorf("after a stall: next = %q", key)
	}
	if key, wait := s.Next(t0.Add(time.Minute)); key != "" || wait != 4*time.Second {
		t.Errorf("right after: %q, %v; want a wait of one interval", key, wait)
	}
	s.Set("ns/a", 0, t0)
	if key, wait := s.Next(t0); s.Len() != 0 || key != "" || wait >= 0 {
		t.Errorf("emptied ring: len %d, Next = %q, %v", s.Len(), key, wait)
	}
}

// newScheduleController is a controller with only the parts the schedule
// loop uses (no API client: it only queues checks).
func newScheduleController(cfg Config, clk *clocktesting.FakeClock) *Controller {
	register()
	cfg = cfg.withDefaults()
	return &Controller{
		cfg:     cfg,
		clock:   clk,
		ring:    newSchedule(cfg.Interval),
		limiter: cfg.limiter(),
		backoff: newRegistryBackoff(cfg.Interval),
		checks:  worker.NewQueue("test-checks"),
		pending: map[string]checkRequest{},
		log:     slog.Default(),
	}
}

// runFor steps clk through d in ticks, letting the schedule loop run
// between ticks, and returns the number of checks requested.
func runFor(t *testing.T, c *Controller, clk *clocktesting.FakeClock, d, tick time.Duration) int {
	t.Helper()
	n := 0
	drain := func() {
		for c.checks.Len() > 0 {
			key, _ := c.checks.Get()
			c.checks.Done(key)
			if _, ok := c.take(key); ok {
				n++
			}
		}
	}
	for elapsed := time.Duration(0); elapsed < d; elapsed += tick {
		deadline := time.Now().Add(5 * time.Second)
		for !clk.HasWaiters() {
			if time.Now().After(deadline) {
				t.Fatal("schedule loop not waiting on the clock")
			}
			time.Sleep(time.Millisecond)
		}
		drain()
		clk.Step(tick)
	}
	for !clk.HasWaiters() {
		time.Sleep(time.Millisecond)
	}
	drain()
	return n
}

func TestScheduleLoopRateLimit(t *testing.T) {
	tests := []struct {
		name string
		rate int
		want int
	}{
		// 20 streams every 2s for 60s = 600 visits without a limit.
		{"unlimited", -1, 600},
		// 6/min: a burst of 12, then one every 10s.
		{"six a minute", 6, 12 + 6},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := clocktesting.NewFakeClock(t0)
			c := newScheduleController(Config{Interval: 2 * time.Second, RatePerMinute: tt.rate}, clk)
			for i := range 20 {
				c.ring.Set(fmt.Sprintf("ns/s%02d", i), 1, t0)
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			go c.runSchedule(ctx)
			got := runFor(t, c, clk, time.Minute, 50*time.Millisecond)
			if got < tt.want-1 || got > tt.want+1 {
				t.Errorf("checks in a minute = %d, want %d", got, tt.want)
			}
		})
	}
}

func TestConfigDefaults(t *testing.T) {
	c := Config{}.withDefaults()
	if c.Interval != 15*time.Minute || c.RatePerMinute != 60 {
		t.Errorf("defaults = %+v", c)
	}
	if l := c.limiter(); l.Burst() != 120 || float64(l.Limit()) != 1 {
		t.Errorf("limiter burst %d limit %v, want 120 and 1/s", l.Burst(), l.Limit())
	}
	if c := (Config{Interval: time.Millisecond}).withDefaults(); c.Interval != time.Second {
		t.Errorf("interval 1ms -> %v, want 1s", c.Interval)
	}
}

func TestRegistryBackoff(t *testing.T) {
	b := newRegistryBackoff(time.Minute)
	var pauses []time.Duration
	for range 6 {
		pauses = append(pauses, b.Failure("reg.test", t0))
	}
	want := []time.Duration{5 * time.Second, 10 * time.Second, 20 * time.Second, 40 * time.Second, time.Minute, time.Minute}
	if fmt.Sprint(pauses) != fmt.Sprint(want) {
		t.Errorf("pauses = %v, want %v (doubling, capped at the interval)", pauses, want)
	}
	if !b.Blocked("reg.test", t0.Add(59*time.Second)) || b.Blocked("reg.test", t0.Add(time.Minute)) {
		t.Error("blocked for the wrong time")
	}
	if b.Blocked("other.test", t0) {
		t.Error("another registry is blocked")
	}
	b.Success("reg.test")
	if b.Blocked("reg.test", t0) || b.Failure("reg.test", t0) != 5*time.Second {
		t.Error("success did not reset the back-off")
	}
}

func TestOverloaded(t *testing.T) {
	tests := []struct {
		status metav1.Status
		want   bool
	}{
		{metav1.Status{Reason: metav1.StatusReasonTooManyRequests}, true},
		{metav1.Status{Reason: metav1.StatusReasonInternalError, Message: "502 Bad Gateway"}, true},
		{metav1.Status{Code: 503}, true},
		{metav1.Status{Message: "TOOMANYREQUESTS: slow down"}, true},
		{metav1.Status{Reason: metav1.StatusReasonUnauthorized, Code: 401}, false},
		{metav1.Status{Reason: metav1.StatusReasonNotFound, Code: 404}, false},
	}
	for _, tt := range tests {
		if got := overloaded(tt.status); got != tt.want {
			t.Errorf("overloaded(%+v) = %v, want %v", tt.status, got, tt.want)
		}
	}
}
