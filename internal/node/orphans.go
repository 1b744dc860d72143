package node

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"k8s.io/apimachinery/pkg/types"

	"github.com/slipway-dev/slipway/internal/podlogs"
)

// podUIDEnv is set in every host process to its pod's UID, so that a PID
// in a pid file is only killed when it still is that pod's process (PIDs
// are reused, and not only across reboots).
const podUIDEnv = "SLIPWAY_POD_UID"

// appendPID records a started process in the pod's pid file, one
// "<pid> <pod uid> <container>" line per container.
func appendPID(path string, pid int, uid types.UID, container string) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(f, "%d %s %s\n", pid, uid, container)
	return errors.Join(err, f.Close())
}

// killOrphans kills the process groups a previous run of the agent left
// behind (the server stopped hard, or crashed), found through the pid files
// under dir/pods, and removes those files. Their pods are then failed by
// sync as lost.
func killOrphans(dir podlogs.Dir, log *slog.Logger) error {
	files, err := filepath.Glob(filepath.Join(string(dir), "pods", "*", "*", "pid"))
	if err != nil {
		return err
	}
	var errs []error
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, line := range strings.Split(string(data), "\n") {
			fields := strings.Fields(line)
			if len(fields) < 2 {
				continue
			}
			pid, err := strconv.Atoi(fields[0])
			if err != nil || pid <= 1 {
				continue
			}
			if !processOfPod(pid, fields[1]) {
				continue
			}
			log.Info("killing a process left by the previous run", "pid", pid, "podDir", filepath.Dir(file))
			if err := syscall.Kill(-pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
				errs = append(errs, fmt.Errorf("killing process group %d: %w", pid, err))
			}
		}
		if err := os.Remove(file); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// processOfPod reports whether pid runs with the pod UID uid in its
// environment.
func processOfPod(pid int, uid string) bool {
	environ, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "environ"))
	if err != nil {
		return false
	}
	for _, kv := range bytes.Split(environ, []byte{0}) {
		if string(kv) == podUIDEnv+"="+uid {
			return true
		}
	}
	return false
}
