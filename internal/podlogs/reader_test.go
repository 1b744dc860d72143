package podlogs

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"
)

func ptr(n int64) *int64 { return &n }

func TestOpenWhole(t *testing.T) {
	tests := []struct {
		name    string
		content string
		opts    Options
		want    string
	}{
		{"all", "a\nb\nc\n", Options{}, "a\nb\nc\n"},
		{"tail 2", "a\nb\nc\n", Options{TailLines: ptr(2)}, "b\nc\n"},
		{"tail 2 no final newline", "a\nb\nc", Options{TailLines: ptr(2)}, "b\nc"},
		{"tail more than there is", "a\nb\n", Options{TailLines: ptr(10)}, "a\nb\n"},
		{"tail 0", "a\nb\n", Options{TailLines: ptr(0)}, ""},
		{"limit", "hello world\n", Options{LimitBytes: ptr(5)}, "hello"},
		{"tail then limit", "one\ntwo\nthree\n", Options{TailLines: ptr(1), LimitBytes: ptr(3)}, "thr"},
		{"empty", "", Options{TailLines: ptr(3)}, ""},
		{"from", "run1\nrun2a\nrun2b\n", Options{From: 5}, "run2a\nrun2b\n"},
		{"tail stops at from", "run1\nrun2\n", Options{From: 5, TailLines: ptr(5)}, "run2\n"},
		{"from to", "run1\nrun2\nrun3\n", Options{From: 5, To: 10}, "run2\n"},
		{"tail before to", "a\nb\nc\nd\n", Options{To: 6, TailLines: ptr(1)}, "c\n"},
		{"limit within to", "abcdef", Options{To: 4, LimitBytes: ptr(2)}, "ab"},
		{"to ends follow", "abcdef", Options{To: 3, Follow: true}, "abc"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "c.log")
			if err := os.WriteFile(path, []byte(tt.content), 0o600); err != nil {
				t.Fatal(err)
			}
			r, err := Open(context.Background(), path, tt.opts, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			got, err := io.ReadAll(r)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestTailOffsetAcrossChunks(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.log")
	line := make([]byte, 40*1024)
	for i := range line {
		line[i] = 'x'
	}
	content := string(line) + "\n" + string(line) + "\nlast\n"
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	r, err := Open(context.Background(), path, Options{TailLines: ptr(2)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(r)
	if want := string(line) + "\nlast\n"; string(got) != want {
		t.Errorf("got %d bytes, want %d", len(got), len(want))
	}
}

func TestOpenMissingWithoutFollow(t *testing.T) {
	_, err := Open(context.Background(), filepath.Join(t.TempDir(), "none.log"), Options{}, nil)
	if !errors.Is(err, ErrNotStarted) {
		t.Fatalf("err = %v, want ErrNotStarted", err)
	}
}

// TestFollow writes the log while a follower reads it: the follower waits
// for the file, sees every write, and ends only after done says so.
func TestFollow(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.log")
	var finished atomic.Bool
	done := func(context.Context) (bool, error) { return finished.Load(), nil }
	opts := Options{Follow: true, PollInterval: 5 * time.Millisecond, DoneInterval: 5 * time.Millisecond}
	r, err := Open(context.Background(), path, opts, done)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()

	result := make(chan string, 1)
	go func() {
		b, err := io.ReadAll(r)
		if err != nil {
			result <- "error: " + err.Error()
			return
		}
		result <- string(b)
	}()

	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"step 1\n", "step 2\n", "done\n"} {
		time.Sleep(20 * time.Millisecond)
		f.WriteString(s)
	}
	f.Close()
	select {
	case got := <-result:
		t.Fatalf("follower ended before the writer was done: %q", got)
	case <-time.After(50 * time.Millisecond):
	}
	finished.Store(true)
	select {
	case got := <-result:
		if got != "step 1\nstep 2\ndone\n" {
			t.Errorf("got %q", got)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("follower did not end after done")
	}
}

func TestFollowStopsWithContext(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.log")
	os.WriteFile(path, []byte("x\n"), 0o600)
	ctx, cancel := context.WithCancel(context.Background())
	r, err := Open(ctx, path, Options{Follow: true, PollInterval: 5 * time.Millisecond}, func(context.Context) (bool, error) { return false, nil })
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	buf := make([]byte, 10)
	if n, _ := r.Read(buf); string(buf[:n]) != "x\n" {
		t.Fatalf("first read %q", buf[:n])
	}
	cancel()
	if _, err := r.Read(buf); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
}

func TestDirOf(t *testing.T) {
	if _, ok := DirOf(nil); ok {
		t.Error("nil getter carries a dir")
	}
	g := WithDir(nil, Dir("/data"))
	dir, ok := DirOf(g)
	if !ok || dir != "/data" {
		t.Errorf("DirOf = %q, %v", dir, ok)
	}
	if got := dir.ContainerLog("ns", "p", "c"); got != "/data/pods/ns/p/c.log" {
		t.Errorf("ContainerLog = %q", got)
	}
}

func TestRuns(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c.runs")
	if runs, err := ReadRuns(path); err != nil || runs != nil {
		t.Fatalf("no file: %v, %v", runs, err)
	}
	t0 := time.Date(2026, 12, 1, 10, 0, 0, 123456789, time.UTC)
	want := []Run{{Offset: 0, Started: t0}, {Offset: 42, Started: t0.Add(time.Minute)}}
	for _, r := range want {
		if err := AppendRun(path, r); err != nil {
			t.Fatal(err)
		}
	}
	got, err := ReadRuns(path)
	if err != nil || len(got) != 2 || got[0] != want[0] || !got[1].Started.Equal(want[1].Started) || got[1].Offset != 42 {
		t.Errorf("ReadRuns = %v, %v; want %v", got, err, want)
	}
}
