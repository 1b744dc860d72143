package podlogs

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// ContainerTimes is the file that dates a container's log:
// <dir>/pods/<namespace>/<pod>/<container>.times, one line "<offset>
// <unix nanoseconds>" per chunk of output, written before the chunk. The
// log itself stays the container's bytes as written (builds/log reads it
// as is); the times give pods/log its timestamps, sinceSeconds and
// sinceTime, as the CRI log format gives them to a kubelet.
func (d Dir) ContainerTimes(namespace, pod, container string) string {
	return filepath.Join(d.PodDir(namespace, pod), container+".times")
}

// Record copies a container's output from src to log, dating each chunk
// in times, until src ends. Each chunk's date is written before the chunk,
// so a reader that sees a byte finds its date.
func Record(src io.Reader, log, times io.Writer, offset int64) error {
	buf := make([]byte, 32*1024)
	line := make([]byte, 0, 40)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			line = strconv.AppendInt(line[:0], offset, 10)
			line = append(line, ' ')
			line = strconv.AppendInt(line, time.Now().UnixNano(), 10)
			line = append(line, '\n')
			if _, werr := times.Write(line); werr != nil {
				return fmt.Errorf("dating the log: %w", werr)
			}
			if _, werr := log.Write(buf[:n]); werr != nil {
				return fmt.Errorf("writing the log: %w", werr)
			}
			offset += int64(n)
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// mark is one dated chunk: the bytes from offset on were written at t.
type mark struct {
	offset int64
	t      time.Time
}

// timeIndex reads a times file, and what is appended to it as the log
// grows.
type timeIndex struct {
	path  string
	file  *os.File
	rest  []byte // a line not complete yet
	marks []mark
}

func openTimes(path string) *timeIndex { return &timeIndex{path: path} }

// refresh reads the lines appended since the last call.
func (x *timeIndex) refresh() error {
	if x.path == "" {
		return nil
	}
	if x.file == nil {
		f, err := os.Open(x.path)
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return err
		}
		x.file = f
	}
	b, err := io.ReadAll(x.file)
	if err != nil {
		return err
	}
	b = append(x.rest, b...)
	end := bytes.LastIndexByte(b, '\n')
	if end < 0 {
		x.rest = b
		return nil
	}
	x.rest = append([]byte(nil), b[end+1:]...)
	s := bufio.NewScanner(bytes.NewReader(b[:end+1]))
	for s.Scan() {
		offset, nanos, ok := strings.Cut(s.Text(), " ")
		o, err1 := strconv.ParseInt(offset, 10, 64)
		n, err2 := strconv.ParseInt(nanos, 10, 64)
		if !ok || err1 != nil || err2 != nil {
			return fmt.Errorf("%s: bad line %q", x.path, s.Text())
		}
		x.marks = append(x.marks, mark{offset: o, t: time.Unix(0, n).UTC()})
	}
	return nil
}

// at is when the byte at offset was written: the date of the chunk that
// holds it; ok is false when no chunk at or before offset is dated.
func (x *timeIndex) at(offset int64) (time.Time, bool, error) {
	if len(x.marks) == 0 || x.marks[len(x.marks)-1].offset <= offset {
		// A later chunk may hold it: its date was written before it.
		if err := x.refresh(); err != nil {
			return time.Time{}, false, err
		}
	}
	i := sort.Search(len(x.marks), func(i int) bool { return x.marks[i].offset > offset })
	if i == 0 {
		return time.Time{}, false, nil
	}
	return x.marks[i-1].t, true, nil
}

// since is the offset of the first chunk written at or after t; ok is
// false when every chunk is older.
func (x *timeIndex) since(t time.Time) (int64, bool, error) {
	if err := x.refresh(); err != nil {
		return 0, false, err
	}
	i := sort.Search(len(x.marks), func(i int) bool { return !x.marks[i].t.Before(t) })
	if i == len(x.marks) {
		return 0, false, nil
	}
	return x.marks[i].offset, true, nil
}

func (x *timeIndex) close() {
	if x.file != nil {
		x.file.Close()
	}
}

// timestamped prefixes each line read from r with the time it was
// written (RFC 3339, UTC, with nanoseconds) and a space, as the kubelet's
// timestamps=true does.
type timestamped struct {
	r         *reader
	lineStart bool
	in, out   []byte
	pending   []byte
}

func (t *timestamped) Read(p []byte) (int, error) {
	for len(t.pending) == 0 {
		if t.in == nil {
			t.in = make([]byte, 32*1024)
		}
		n, err := t.r.Read(t.in)
		if n > 0 {
			if perr := t.prefix(t.in[:n], t.r.pos-int64(n)); perr != nil {
				return 0, perr
			}
		}
		if err != nil && len(t.pending) == 0 {
			return 0, err
		}
	}
	n := copy(p, t.pending)
	t.pending = t.pending[n:]
	return n, nil
}

// prefix moves b, whose first byte is at offset in the log, to pending
// with a timestamp before each line start.
func (t *timestamped) prefix(b []byte, offset int64) error {
	out := t.out[:0]
	for len(b) > 0 {
		if t.lineStart {
			when, ok, err := t.r.times.at(offset)
			if err != nil {
				return err
			}
			if !ok {
				// A log older than its times file: the file's date.
				when = time.Now()
				if info, err := os.Stat(t.r.path); err == nil {
					when = info.ModTime()
				}
			}
			out = when.UTC().AppendFormat(out, time.RFC3339Nano)
			out = append(out, ' ')
			t.lineStart = false
		}
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			out = append(out, b...)
			break
		}
		out = append(out, b[:i+1]...)
		offset += int64(i + 1)
		b = b[i+1:]
		t.lineStart = true
	}
	t.out = out
	t.pending = out
	return nil
}

func (t *timestamped) Close() error { return t.r.Close() }

// lineStartAfter is the first line start at or after offset in f: offset
// itself when the byte before it ends a line.
func lineStartAfter(f *os.File, offset int64) (int64, error) {
	if offset <= 0 {
		return 0, nil
	}
	buf := make([]byte, 4096)
	pos := offset - 1
	for {
		n, err := f.ReadAt(buf, pos)
		if i := bytes.IndexByte(buf[:n], '\n'); i >= 0 {
			return pos + int64(i) + 1, nil
		}
		pos += int64(n)
		if err != nil {
			// No line starts after offset yet: what comes next does.
			return pos, nil
		}
	}
}
