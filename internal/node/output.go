package node

import (
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/slipway-dev/slipway/internal/podlogs"
)

// outputDrainTimeout bounds the wait for a container's last output after
// its main process ended: a process it left behind (outside its process
// group) may hold the pipe open.
const outputDrainTimeout = 5 * time.Second

// containerOutput is where a container's stdout and stderr go: a pipe
// whose read end the agent copies into the container's log, dating each
// chunk in its times file (podlogs.Record), as a CRI runtime's shim writes
// a kubelet's logs. The log keeps the bytes as written; the times give
// pods/log its timestamps and since.
type containerOutput struct {
	// w is the container's end of the pipe.
	w *os.File
	r *os.File
	// done is closed once everything read is in the log.
	done chan struct{}
}

// openOutput opens the container's log for a run that starts at started,
// records where the run begins in it (podlogs.AppendRun), and starts
// copying, rotating the log by the agent's ContainerLogMaxSize and
// ContainerLogMaxFiles.
func (a *Agent) openOutput(namespace, pod, container string, started time.Time) (*containerOutput, error) {
	log, err := a.logs.OpenLog(namespace, pod, container, podlogs.Rotation{MaxSize: a.cfg.ContainerLogMaxSize, MaxFiles: a.cfg.ContainerLogMaxFiles})
	if err != nil {
		return nil, err
	}
	// Where this run's output begins: the kubelet API serves a restarted
	// container's current run, or with previous the one before.
	err = podlogs.AppendRun(a.logs.ContainerRuns(namespace, pod, container), podlogs.Run{Offset: log.Size(), Started: started})
	var r, w *os.File
	if err == nil {
		r, w, err = os.Pipe()
	}
	if err != nil {
		return nil, errors.Join(fmt.Errorf("preparing the log: %w", err), log.Close())
	}
	o := &containerOutput{w: w, r: r, done: make(chan struct{})}
	go func() {
		defer close(o.done)
		if err := log.Record(r); err != nil && !errors.Is(err, os.ErrClosed) {
			a.log.Error("copying a container's output", "pod", namespace+"/"+pod, "container", container, "error", err)
		}
		r.Close()
		log.Close()
	}()
	return o, nil
}

// started closes the agent's copy of the container's end, once the
// container has its own: the copy then ends when the container's does.
func (o *containerOutput) started() { o.w.Close() }

// wait waits until the output is in the log, for at most timeout; then it
// stops the copy.
func (o *containerOutput) wait(timeout time.Duration) {
	select {
	case <-o.done:
	case <-time.After(timeout):
		o.r.Close()
		<-o.done
	}
}
