package standby

import (
	"errors"
	"fmt"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// A standby started to replace the one just taken initialises while the
// command handed to that one runs (a build: the builder, buildkitd and
// the registry all busy). Its start-up is ~0.1 s of CPU and page faults
// that nothing waits for, so it runs under SCHED_IDLE, on CPU time nobody
// else wants, and gets the normal policy back when it is handed a
// command. Threads inherit their creator's policy, so a process's threads
// are set one by one and the later ones follow.

// setPolicy sets the scheduling policy of every thread of pid. A thread
// created meanwhile by one not yet set would keep the old policy, so the
// threads are listed again until a pass finds no new one.
func setPolicy(pid, policy int) error {
	dir := "/proc/" + strconv.Itoa(pid) + "/task"
	done := map[int]bool{}
	var errs []error
	for pass := 0; pass < 5; pass++ {
		tasks, err := os.ReadDir(dir)
		if err != nil {
			return fmt.Errorf("threads of %d: %w", pid, err)
		}
		fresh := false
		for _, task := range tasks {
			tid, err := strconv.Atoi(task.Name())
			if err != nil || done[tid] {
				continue
			}
			fresh, done[tid] = true, true
			err = unix.SchedSetAttr(tid, &unix.SchedAttr{Policy: uint32(policy)}, 0)
			if err != nil && !errors.Is(err, unix.ESRCH) { // ESRCH: the thread ended
				errs = append(errs, fmt.Errorf("thread %d: %w", tid, err))
			}
		}
		if !fresh {
			break
		}
	}
	return errors.Join(errs...)
}

// policyOf is the scheduling policy of thread tid.
func policyOf(tid int) (int, error) {
	attr, err := unix.SchedGetAttr(tid, 0)
	if err != nil {
		return 0, err
	}
	return int(attr.Policy), nil
}
