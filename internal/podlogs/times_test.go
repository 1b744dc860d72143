package podlogs

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// chunks is a reader that returns one chunk per Read, waiting gap
// before each but the first: a container writing now and then.
type chunks struct {
	parts []string
	gap   time.Duration
	n     int
}

func (c *chunks) Read(p []byte) (int, error) {
	if c.n == len(c.parts) {
		return 0, io.EOF
	}
	if c.n > 0 {
		time.Sleep(c.gap)
	}
	n := copy(p, c.parts[c.n])
	c.n++
	return n, nil
}

// recorded writes the parts as a container's output through Record and
// returns the log and times paths and when the second part was written.
func recorded(t *testing.T, parts ...string) (logPath, timesPath string) {
	t.Helper()
	dir := t.TempDir()
	logPath, timesPath = filepath.Join(dir, "c.log"), filepath.Join(dir, "c.times")
	log, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	times, err := os.Create(timesPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := Record(&chunks{parts: parts, gap: 20 * time.Millisecond}, log, times, 0); err != nil {
		t.Fatal(err)
	}
	log.Close()
	times.Close()
	return logPath, timesPath
}

func readAll(t *testing.T, path string, opts Options) string {
	t.Helper()
	r, err := Open(context.Background(), path, opts, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestRecordTimestamps(t *testing.T) {
	before := time.Now()
	logPath, timesPath := recorded(t, "one\ntw", "o\nthree\n", "four")
	if b, _ := os.ReadFile(logPath); string(b) != "one\ntwo\nthree\nfour" {
		t.Fatalf("log = %q: Record must keep the bytes as written", b)
	}
	out := readAll(t, logPath, Options{Times: timesPath, Timestamps: true})
	lines := strings.Split(out, "\n")
	want := []string{"one", "two", "three", "four"}
	if len(lines) != len(want) {
		t.Fatalf("timestamped log %q", out)
	}
	var stamps []time.Time
	for i, line := range lines {
		stamp, text, _ := strings.Cut(line, " ")
		ts, err := time.Parse(time.RFC3339Nano, stamp)
		if err != nil || text != want[i] || ts.Before(before.Add(-time.Second)) || ts.Location() != time.UTC {
			t.Errorf("line %d = %q (%v)", i, line, err)
		}
		stamps = append(stamps, ts)
	}
	// A line is dated by the chunk it starts in: "two" began in the first.
	if !stamps[0].Equal(stamps[1]) || !stamps[2].After(stamps[1]) || !stamps[3].After(stamps[2]) {
		t.Errorf("stamps %v: want one, two together, then three, then four later", stamps)
	}

	// Since the third chunk: the lines that start in it or after.
	if got := readAll(t, logPath, Options{Times: timesPath, Since: stamps[3]}); got != "four" {
		t.Errorf("since the last chunk: %q", got)
	}
	// Since the second chunk, which starts mid-line: from the next line.
	if got := readAll(t, logPath, Options{Times: timesPath, Since: stamps[2]}); got != "three\nfour" {
		t.Errorf("since the second chunk: %q", got)
	}
	if got := readAll(t, logPath, Options{Times: timesPath, Since: time.Now().Add(time.Hour)}); got != "" {
		t.Errorf("since the future: %q", got)
	}
	if got := readAll(t, logPath, Options{Times: timesPath, Since: before.Add(-time.Hour), TailLines: ptr(1)}); got != "four" {
		t.Errorf("since long ago, tail 1: %q", got)
	}
	// The limit counts the timestamps.
	if got := readAll(t, logPath, Options{Times: timesPath, Timestamps: true, LimitBytes: ptr(10)}); len(got) != 10 || got != out[:10] {
		t.Errorf("limited timestamped log %q", got)
	}
}
