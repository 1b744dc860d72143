package podlogs

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// lineChunks is a reader that returns one line per Read, as a container's
// output arrives through its pipe.
type lineChunks struct{ lines []string }

func (c *lineChunks) Read(p []byte) (int, error) {
	if len(c.lines) == 0 {
		return 0, io.EOF
	}
	n := copy(p, c.lines[0])
	c.lines = c.lines[1:]
	return n, nil
}

func line(i int) string { return fmt.Sprintf("line %04d %s\n", i, strings.Repeat("x", 89)) } // 100 bytes

func TestLogWriterRotates(t *testing.T) {
	d := Dir(t.TempDir())
	if err := os.MkdirAll(d.PodDir("ns", "p"), 0o700); err != nil {
		t.Fatal(err)
	}
	runs := d.ContainerRuns("ns", "p", "c")
	// Two earlier runs: one wholly in what will be rotated away, one
	// that began there and goes on.
	for _, off := range []int64{0, 200} {
		if err := AppendRun(runs, Run{Offset: off, Started: time.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	w, err := d.OpenLog("ns", "p", "c", Rotation{MaxSize: 1000, MaxFiles: 3})
	if err != nil {
		t.Fatal(err)
	}
	var all bytes.Buffer
	src := &lineChunks{}
	for i := range 95 {
		src.lines = append(src.lines, line(i))
		all.WriteString(line(i))
	}
	if err := w.Record(src); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	path := d.ContainerLog("ns", "p", "c")
	var kept []byte
	for _, p := range []string{path + ".2", path + ".1", path} {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if len(b) > 1000 {
			t.Errorf("%s is %d bytes, over the max size 1000", p, len(b))
		}
		kept = append(kept, b...)
	}
	for _, p := range []string{path + ".3", d.ContainerTimes("ns", "p", "c") + ".3"} {
		if _, err := os.Stat(p); !os.IsNotExist(err) {
			t.Errorf("%s: want it dropped (max 3 files), got %v", p, err)
		}
	}
	// 95 lines of 100 bytes, rotated every 10: the current file has the
	// last 5, the two kept before it 10 each.
	if want := all.Bytes()[all.Len()-2500:]; !bytes.Equal(kept, want) {
		t.Errorf("kept files hold %d bytes, want the last 2500 written, in order", len(kept))
	}
	cur, _ := os.ReadFile(path)
	if string(cur) != strings.Join(src0(90, 95), "") {
		t.Errorf("current log = %q", cur)
	}
	// The times start over with the current file.
	times, _ := os.ReadFile(d.ContainerTimes("ns", "p", "c"))
	if !strings.HasPrefix(string(times), "0 ") || strings.Count(string(times), "\n") != 5 {
		t.Errorf("current times = %q, want 5 lines from offset 0", times)
	}
	// The runs moved back by what was rotated away (9000 bytes); the
	// oldest two are kept for previous.
	got, err := ReadRuns(runs)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Offset != -9000 || got[1].Offset != -8800 {
		t.Errorf("runs = %+v, want offsets -9000, -8800", got)
	}
}

func src0(from, to int) []string {
	var s []string
	for i := from; i < to; i++ {
		s = append(s, line(i))
	}
	return s
}

// A follower reads on across rotations: what the writer wrote to a file
// before rotating it, then the new file, each line dated.
func TestFollowAcrossRotation(t *testing.T) {
	d := Dir(t.TempDir())
	if err := os.MkdirAll(d.PodDir("ns", "p"), 0o700); err != nil {
		t.Fatal(err)
	}
	w, err := d.OpenLog("ns", "p", "c", Rotation{MaxSize: 350, MaxFiles: 2})
	if err != nil {
		t.Fatal(err)
	}
	pr, pw := io.Pipe()
	recorded := make(chan error, 1)
	go func() { recorded <- w.Record(pr) }()
	var finished atomic.Bool
	done := func(context.Context) (bool, error) { return finished.Load(), nil }
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	r, err := Open(ctx, d.ContainerLog("ns", "p", "c"), Options{Follow: true, Timestamps: true, Times: d.ContainerTimes("ns", "p", "c"),
		PollInterval: 5 * time.Millisecond, DoneInterval: 5 * time.Millisecond}, done)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	lines := bufio.NewReader(r)
	start := time.Now().Add(-time.Second)
	for i := range 12 { // 4 lines a file: two rotations and more
		if _, err := io.WriteString(pw, line(i)); err != nil {
			t.Fatal(err)
		}
		got, err := lines.ReadString('\n')
		if err != nil {
			t.Fatalf("line %d: %v (read %q)", i, err, got)
		}
		stamp, text, _ := strings.Cut(got, " ")
		if text != line(i) {
			t.Fatalf("line %d = %q, want %q", i, text, line(i))
		}
		if ts, err := time.Parse(time.RFC3339Nano, stamp); err != nil || ts.Before(start) {
			t.Errorf("line %d: timestamp %q (%v)", i, stamp, err)
		}
	}
	pw.Close()
	if err := <-recorded; err != nil {
		t.Fatal(err)
	}
	finished.Store(true)
	if rest, err := io.ReadAll(lines); err != nil || len(rest) != 0 {
		t.Errorf("after the writer ended: %q, %v", rest, err)
	}
}

// A follower that falls behind by several rotations reads on through the
// files still kept, oldest first, rather than jumping to the current one.
func TestSlowFollowerReadsKeptFiles(t *testing.T) {
	d := Dir(t.TempDir())
	if err := os.MkdirAll(d.PodDir("ns", "p"), 0o700); err != nil {
		t.Fatal(err)
	}
	w, err := d.OpenLog("ns", "p", "c", Rotation{MaxSize: 1000, MaxFiles: 5})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Record(&lineChunks{lines: src0(0, 5)}); err != nil {
		t.Fatal(err)
	}
	var finished atomic.Bool
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	r, err := Open(ctx, d.ContainerLog("ns", "p", "c"), Options{Follow: true, PollInterval: 5 * time.Millisecond, DoneInterval: 5 * time.Millisecond},
		func(context.Context) (bool, error) { return finished.Load(), nil })
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	first := make([]byte, 500)
	if _, err := io.ReadFull(r, first); err != nil || string(first) != strings.Join(src0(0, 5), "") {
		t.Fatalf("first lines %q, %v", first, err)
	}
	// Three rotations (35 lines of 100 bytes) before it reads again.
	if err := w.Record(&lineChunks{lines: src0(5, 40)}); err != nil {
		t.Fatal(err)
	}
	w.Close()
	finished.Store(true)
	rest, err := io.ReadAll(r)
	if err != nil || string(rest) != strings.Join(src0(5, 40), "") {
		t.Errorf("after falling behind: %d bytes (%v); want lines 5 to 39 (%d bytes)", len(rest), err, 35*100)
	}
}
