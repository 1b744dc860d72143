package node

import (
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"
)

// openStdin creates the FIFO at path through which a container with
// stdin: true is fed, and returns the read end of the pipe to give the
// process as its stdin, plus feed, which copies what writers of the FIFO
// send into that pipe until the container exits (exited closes). With
// once (stdinOnce), the first writer's EOF closes the container's stdin;
// otherwise the FIFO is reopened for the next writer, as a kubelet keeps
// stdin open between attaches.
//
// The process does not read the FIFO itself: a FIFO read before any
// writer opened it would see EOF at once, whereas the pipe stays open
// until a writer has come and gone.
func openStdin(path string, once bool) (*os.File, func(exited <-chan struct{}), error) {
	_ = os.Remove(path)
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		return nil, nil, fmt.Errorf("mkfifo %s: %w", path, err)
	}
	r, w, err := os.Pipe()
	if err != nil {
		_ = os.Remove(path)
		return nil, nil, err
	}
	feed := func(exited <-chan struct{}) {
		defer os.Remove(path)
		defer w.Close()
		// Unblock an open still waiting for a writer once the container
		// is gone: opening read-write counts as a writer.
		stop := make(chan struct{})
		defer close(stop)
		go func() {
			select {
			case <-exited:
				if f, err := os.OpenFile(path, os.O_RDWR|syscall.O_NONBLOCK, 0); err == nil {
					f.Close()
				}
				_ = w.Close()
			case <-stop:
			}
		}()
		for {
			select {
			case <-exited:
				return
			default:
			}
			// Blocks until a writer opens the FIFO.
			fifo, err := os.OpenFile(path, os.O_RDONLY, 0)
			if err != nil {
				return
			}
			_, err = io.Copy(w, fifo)
			fifo.Close()
			if once || (err != nil && !errors.Is(err, io.EOF)) {
				return
			}
		}
	}
	return r, feed, nil
}
