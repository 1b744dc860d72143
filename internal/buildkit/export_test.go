package buildkit

// PID exposes the running buildkitd's process id to the supervisor tests.
func PID(d *Daemon) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.cmd == nil || d.cmd.Process == nil {
		return 0
	}
	return d.cmd.Process.Pid
}
