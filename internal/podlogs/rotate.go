package podlogs

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"time"
)

// The kubelet's defaults for containerLogMaxSize and containerLogMaxFiles.
const (
	DefaultLogMaxSize  = 10 << 20
	DefaultLogMaxFiles = 5
)

// Rotation bounds the disk a container's log takes, as the kubelet's
// containerLogMaxSize and containerLogMaxFiles do: once the log (or its
// times file) reaches MaxSize it moves to <log>.1, the older ones to .2
// and on, and the oldest beyond MaxFiles (counting the current file) is
// dropped. A container that prints forever then keeps at most about
// MaxFiles x MaxSize of log, plus as much of times, on the node.
type Rotation struct {
	// MaxSize is the size in bytes that rotates the log; zero or less
	// never rotates. The check runs after each chunk of output, so a
	// file may pass it by one chunk (32 KiB).
	MaxSize int64
	// MaxFiles is how many files of the log are kept, the current one
	// included; at least 2 (a lower value keeps 2).
	MaxFiles int
}

// LogWriter writes a container's output to its log, dating each chunk in
// the times file (Record), and rotates both by its Rotation. The offsets
// in the times and runs files are relative to the current log file: a
// rotation starts them over from 0 and shifts the runs recorded before.
type LogWriter struct {
	dir                       Dir
	namespace, pod, container string
	rot                       Rotation
	log, times                *os.File
	// size and timesSize are the current files' sizes.
	size, timesSize int64
}

// OpenLog opens the log of a container for appending, with rot (the
// zero Rotation never rotates).
func (d Dir) OpenLog(namespace, pod, container string, rot Rotation) (*LogWriter, error) {
	w := &LogWriter{dir: d, namespace: namespace, pod: pod, container: container, rot: rot}
	if w.rot.MaxFiles < 2 {
		w.rot.MaxFiles = 2
	}
	if err := w.open(); err != nil {
		return nil, err
	}
	return w, nil
}

func (w *LogWriter) open() error {
	log, err := os.OpenFile(w.dir.ContainerLog(w.namespace, w.pod, w.container), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("opening the log: %w", err)
	}
	times, err := os.OpenFile(w.dir.ContainerTimes(w.namespace, w.pod, w.container), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		log.Close()
		return fmt.Errorf("opening the log's times: %w", err)
	}
	li, err := log.Stat()
	var ti os.FileInfo
	if err == nil {
		ti, err = times.Stat()
	}
	if err != nil {
		return errors.Join(err, log.Close(), times.Close())
	}
	w.log, w.times, w.size, w.timesSize = log, times, li.Size(), ti.Size()
	return nil
}

// Size is the current log file's size: where the next output goes.
func (w *LogWriter) Size() int64 { return w.size }

// Close closes the files.
func (w *LogWriter) Close() error {
	return errors.Join(w.log.Close(), w.times.Close())
}

// Record copies src to the log until src ends, as Record does, rotating
// the files each time they reach the Rotation's MaxSize.
func (w *LogWriter) Record(src io.Reader) error {
	buf := make([]byte, 32*1024)
	line := make([]byte, 0, 40)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			line = strconv.AppendInt(line[:0], w.size, 10)
			line = append(line, ' ')
			line = strconv.AppendInt(line, time.Now().UnixNano(), 10)
			line = append(line, '\n')
			if _, werr := w.times.Write(line); werr != nil {
				return fmt.Errorf("dating the log: %w", werr)
			}
			w.timesSize += int64(len(line))
			if _, werr := w.log.Write(buf[:n]); werr != nil {
				return fmt.Errorf("writing the log: %w", werr)
			}
			w.size += int64(n)
			if w.rot.MaxSize > 0 && (w.size >= w.rot.MaxSize || w.timesSize >= w.rot.MaxSize) {
				if rerr := w.rotate(); rerr != nil {
					return fmt.Errorf("rotating the log: %w", rerr)
				}
			}
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// rotate moves the current files to .1 (the older ones up by one, the
// oldest dropped) and starts new ones. The current path always names a
// file: each new one is renamed over it, so a reader never finds none; a
// follower holding the old file reads it to its end and then goes on in
// the new one (reader.Read).
func (w *LogWriter) rotate() error {
	rotated := w.size
	for _, path := range []string{w.dir.ContainerTimes(w.namespace, w.pod, w.container), w.dir.ContainerLog(w.namespace, w.pod, w.container)} {
		if err := shiftFiles(path, w.rot.MaxFiles); err != nil {
			return err
		}
	}
	if err := w.Close(); err != nil {
		return err
	}
	if err := shiftRuns(w.dir.ContainerRuns(w.namespace, w.pod, w.container), rotated); err != nil {
		return err
	}
	return w.open()
}

// shiftFiles moves path.(i) to path.(i+1) for the files kept, links the
// current path as path.1 and puts an empty file at path.
func shiftFiles(path string, maxFiles int) error {
	for i := maxFiles - 2; i >= 1; i-- {
		err := os.Rename(fmt.Sprintf("%s.%d", path, i), fmt.Sprintf("%s.%d", path, i+1))
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	first := path + ".1"
	if err := os.Remove(first); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if err := os.Link(path, first); err != nil {
		return err
	}
	next := path + ".new"
	f, err := os.OpenFile(next, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(next, path)
}

// shiftRuns moves the offsets of the runs file at path back by n, the size
// of the log rotated away: a run that began in it gets a negative offset
// (its output starts before the current file). Runs that ended before the
// current file are dropped, except the last two (pods/log?previous reads
// them).
func shiftRuns(path string, n int64) error {
	runs, err := ReadRuns(path)
	if err != nil || len(runs) == 0 {
		return err
	}
	var b strings.Builder
	for i, run := range runs {
		run.Offset -= n
		if i < len(runs)-2 && runs[i+1].Offset-n <= 0 {
			continue
		}
		fmt.Fprintf(&b, "%d %s\n", run.Offset, run.Started.UTC().Format(time.RFC3339Nano))
	}
	tmp := path + ".new"
	if err := os.WriteFile(tmp, []byte(b.String()), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
