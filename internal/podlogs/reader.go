package podlogs

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"time"
)

// ErrNotStarted is returned by Open for a log file that does not exist yet
// (the container has not started) when the caller does not follow.
var ErrNotStarted = errors.New("the container has not started: no log yet")

// Options select which part of a log Open returns.
type Options struct {
	// Follow keeps reading as the log grows until done reports true and
	// the file is drained.
	Follow bool
	// TailLines, when set, starts at that many lines before the end.
	TailLines *int64
	// LimitBytes, when set, ends the stream after that many bytes.
	LimitBytes *int64
	// From is the offset the log starts at: the bytes before it are an
	// earlier run's (a restarted container appends to the same file).
	// TailLines counts back no further than From.
	From int64
	// To, when not zero, is where the log ends (a later run begins):
	// reading stops there, TailLines counts back from it, and Follow does
	// not apply.
	To int64
	// Times is the log's times file (ContainerTimes); empty when it has
	// none. Since and Timestamps need it.
	Times string
	// Since, when not zero, starts at the first line written at or after
	// it (with TailLines, whichever starts later).
	Since time.Time
	// Timestamps prefixes each line with the time it was written (RFC
	// 3339 with nanoseconds, UTC) and a space; LimitBytes then counts
	// them too.
	Timestamps bool
	// PollInterval is how often a follower looks for new bytes at the end
	// of the file; 100ms when zero.
	PollInterval time.Duration
	// DoneInterval is how often a follower at the end of the file asks
	// done whether the writer has finished; 500ms when zero.
	DoneInterval time.Duration
}

// Open returns a reader of the log file at path. Without Follow it reads
// what is there and a missing file is ErrNotStarted. With Follow it waits
// for the file to appear and for more bytes until done reports true, then
// reads what is left and ends; ctx ending stops it with ctx's error.
func Open(ctx context.Context, path string, opts Options, done DoneFunc) (io.ReadCloser, error) {
	r := &reader{ctx: ctx, path: path, opts: opts, done: done, remaining: -1}
	if opts.PollInterval <= 0 {
		r.opts.PollInterval = 100 * time.Millisecond
	}
	if opts.DoneInterval <= 0 {
		r.opts.DoneInterval = 500 * time.Millisecond
	}
	if opts.LimitBytes != nil && !opts.Timestamps {
		r.remaining = max(*opts.LimitBytes, 0)
	}
	if opts.To > 0 {
		r.opts.Follow = false
	}
	if opts.Times != "" {
		r.times = openTimes(opts.Times)
	}
	if err := r.open(); err != nil {
		r.closeTimes()
		if !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
		if !opts.Follow {
			return nil, ErrNotStarted
		}
	}
	if !opts.Timestamps {
		return r, nil
	}
	if r.times == nil {
		// Without a times file every line gets the same date.
		r.times = openTimes("")
	}
	var out io.ReadCloser = &timestamped{r: r, lineStart: true}
	if opts.LimitBytes != nil {
		out = limitCloser{Reader: io.LimitReader(out, max(*opts.LimitBytes, 0)), Closer: out}
	}
	return out, nil
}

type limitCloser struct {
	io.Reader
	io.Closer
}

type reader struct {
	ctx       context.Context
	path      string
	opts      Options
	done      DoneFunc
	file      *os.File
	remaining int64 // bytes left under LimitBytes; -1 for no limit
	finishing bool  // done said true: drain and stop
	lastCheck time.Time
	// pos is the offset of the next byte Read returns.
	pos int64
	// times dates the log (Since, Timestamps); nil without a times file.
	times *timeIndex
	// drained is set once a follower at the end of a rotated file has
	// read it once more since seeing the rotation.
	drained bool
}

func (r *reader) closeTimes() {
	if r.times != nil {
		r.times.close()
	}
}

// open opens the file and seeks to the tail position.
func (r *reader) open() error {
	f, err := os.Open(r.path)
	if err != nil {
		return err
	}
	offset := r.opts.From
	end := r.opts.To
	if end <= 0 {
		info, err := f.Stat()
		if err != nil {
			f.Close()
			return err
		}
		end = info.Size()
	}
	if r.opts.TailLines != nil {
		tail, err := tailOffset(f, end, *r.opts.TailLines)
		if err != nil {
			f.Close()
			return fmt.Errorf("finding the last %d lines of %s: %w", *r.opts.TailLines, r.path, err)
		}
		offset = max(offset, tail)
	}
	if !r.opts.Since.IsZero() && r.times != nil {
		since, ok, err := r.times.since(r.opts.Since)
		if err != nil {
			f.Close()
			return err
		}
		if !ok {
			// Nothing that old... or rather that new: only what comes.
			since = end
		}
		if since, err = lineStartAfter(f, since); err != nil {
			f.Close()
			return err
		}
		offset = max(offset, since)
	}
	if offset > 0 {
		if _, err := f.Seek(offset, io.SeekStart); err != nil {
			f.Close()
			return fmt.Errorf("seeking in %s: %w", r.path, err)
		}
	}
	r.pos = offset
	if r.opts.To > 0 {
		left := max(r.opts.To-offset, 0)
		if r.remaining < 0 || r.remaining > left {
			r.remaining = left
		}
	}
	r.file = f
	return nil
}

func (r *reader) Read(p []byte) (int, error) {
	if r.remaining == 0 {
		return 0, io.EOF
	}
	if r.remaining > 0 && int64(len(p)) > r.remaining {
		p = p[:r.remaining]
	}
	for {
		if r.file == nil {
			if err := r.open(); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return 0, err
			}
		}
		if r.file != nil {
			n, err := r.file.Read(p)
			if n > 0 {
				r.pos += int64(n)
				if r.remaining > 0 {
					r.remaining -= int64(n)
				}
				return n, nil
			}
			if err != nil && err != io.EOF {
				return 0, err
			}
		}
		// At the end of what has been written so far.
		if !r.opts.Follow || r.finishing {
			return 0, io.EOF
		}
		if r.file != nil {
			switched, err := r.followRotation()
			if err != nil {
				return 0, err
			}
			if switched {
				continue
			}
		}
		if r.done != nil && time.Since(r.lastCheck) >= r.opts.DoneInterval {
			r.lastCheck = time.Now()
			finished, err := r.done(r.ctx)
			if err != nil {
				return 0, err
			}
			if finished {
				// Bytes written before the writer finished may have
				// arrived since the last read: read once more.
				r.finishing = true
				continue
			}
		}
		select {
		case <-r.ctx.Done():
			return 0, r.ctx.Err()
		case <-time.After(r.opts.PollInterval):
		}
	}
}

// followRotation goes on in the new file at path when the one read was
// rotated away (LogWriter.rotate) and has been read to its end. The writer
// may have written to the old file after the last read saw its end: it is
// read once more after the rotation is seen, and left only when that read
// finds nothing.
func (r *reader) followRotation() (bool, error) {
	current, err := os.Stat(r.path)
	if err != nil {
		return false, nil
	}
	held, err := r.file.Stat()
	if err != nil || os.SameFile(current, held) {
		return false, nil
	}
	if !r.drained {
		r.drained = true
		return true, nil
	}
	f, suffix := r.successor(held)
	if f == nil {
		return false, nil
	}
	r.file.Close()
	r.file, r.pos, r.drained = f, 0, false
	if r.times != nil {
		// The next file's times start over with it.
		r.times.close()
		times := r.opts.Times
		if times != "" {
			times += suffix
		}
		r.times = openTimes(times)
	}
	return true, nil
}

// successor opens the file written after held: held is now <path>.k
// (LogWriter.rotate), the next one <path>.(k-1), or <path> itself when k
// is 1. A follower slower than the rotations so reads every file still
// kept; when held is no longer among them (dropped), it goes on with the
// current one. suffix is the file's (".1", or "" for the current one),
// which its times file has too.
func (r *reader) successor(held os.FileInfo) (*os.File, string) {
	for range 3 {
		var infos []os.FileInfo // infos[i] is <path>.(i+1)
		for i := 1; ; i++ {
			fi, err := os.Stat(fmt.Sprintf("%s.%d", r.path, i))
			if err != nil {
				break
			}
			infos = append(infos, fi)
		}
		suffix := ""
		want, err := os.Stat(r.path)
		if err != nil {
			return nil, ""
		}
		for i, fi := range infos {
			if !os.SameFile(fi, held) {
				continue
			}
			if i > 0 {
				suffix, want = fmt.Sprintf(".%d", i), infos[i-1]
			}
			break
		}
		f, err := os.Open(r.path + suffix)
		if err != nil {
			continue
		}
		// A rotation between the look and the open moved the names on:
		// look again.
		if got, err := f.Stat(); err == nil && os.SameFile(got, want) {
			return f, suffix
		}
		f.Close()
	}
	f, err := os.Open(r.path)
	if err != nil {
		return nil, ""
	}
	return f, ""
}

func (r *reader) Close() error {
	r.closeTimes()
	if r.file == nil {
		return nil
	}
	return r.file.Close()
}

// tailOffset returns where the last n lines of f before offset size
// start. A final newline ends the last line rather than starting an empty
// one.
func tailOffset(f *os.File, size, n int64) (int64, error) {
	if n <= 0 {
		return size, nil
	}
	end := size
	if end > 0 {
		last := make([]byte, 1)
		if _, err := f.ReadAt(last, end-1); err != nil {
			return 0, err
		}
		if last[0] == '\n' {
			end--
		}
	}
	const chunk = 32 * 1024
	buf := make([]byte, chunk)
	var lines int64
	for pos := end; pos > 0; {
		size := min(int64(chunk), pos)
		pos -= size
		if _, err := f.ReadAt(buf[:size], pos); err != nil {
			return 0, err
		}
		for i := size - 1; i >= 0; i-- {
			if buf[i] == '\n' {
				lines++
				if lines == n {
					return pos + i + 1, nil
				}
			}
		}
	}
	return 0, nil
}
