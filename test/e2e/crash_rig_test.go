package e2e

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	buildv1 "github.com/openshift/api/build/v1"
	appsclient "github.com/openshift/client-go/apps/clientset/versioned"
	imageclient "github.com/openshift/client-go/image/clientset/versioned"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"

	"github.com/slipway-dev/slipway/internal/testregistry"
)

// crashRig is one build server the crash rounds share: each round kills it
// with SIGKILL at its moment and starts it again on the same data
// directory and ports.
type crashRig struct {
	*buildServer
	images imageclient.Interface
	apps   appsclient.Interface
	// internal is the internal registry, as the admin.
	internal *testregistry.Registry
	// proxy stands between the server and the "Docker Hub" for imports,
	// and can hold their connections.
	proxy *holdProxy
	// baseline are the mounts under the data directory of the idle server
	// before any round: they may outlive a restart.
	baseline map[string]string
	// killedLogs is the log of the last server killed; crashes counts them.
	killedLogs string
	crashes    int
}

// round runs f as subtest name, with the rig's failures reported there.
func (r *crashRig) round(t *testing.T, name string, f func(t *testing.T)) {
	t.Run(name, func(t *testing.T) {
		serverT, cliT := r.server.t, r.c.t
		r.server.t, r.c.t = t, t
		defer func() { r.server.t, r.c.t = serverT, cliT }()
		start := time.Now()
		r.killedLogs = ""
		defer func() {
			if t.Failed() && r.killedLogs != "" {
				t.Logf("the killed server's logs:\n%s", tail(r.killedLogs, 40))
			}
		}()
		f(t)
		t.Logf("round %s took %s", name, time.Since(start).Round(100*time.Millisecond))
	})
}

// crashSnapshot is what runs of a server when it is killed.
type crashSnapshot struct {
	procs  []proc
	mounts map[string]string // mount ID -> mount point
}

// proc is a process, told from a later one with its PID by its start time.
type proc struct {
	pid   int
	start uint64
	cmd   string
}

// crash kills the server with SIGKILL, noting first what of it runs, and
// starts it again on the same data directory; then nothing of the killed
// run may be left (see checkNothingLeft).
func (r *crashRig) crash(t *testing.T) {
	t.Helper()
	// Stopped first, so that the moment is this one and not the end of
	// the snapshot.
	if err := r.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	snap := r.snapshot(t)
	if err := r.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-r.done
	killed := time.Now()
	r.killedLogs = r.logs.String()
	r.crashes++
	if dir := os.Getenv("SLIPWAY_E2E_LOGS"); dir != "" {
		_ = os.WriteFile(filepath.Join(dir, fmt.Sprintf("%s-killed-%d.log", strings.ReplaceAll(t.Name(), "/", "_"), r.crashes)), []byte(r.killedLogs), 0o644)
	}
	r.start()
	// The registry listens a moment after the API is ready.
	eventually(t, 30*time.Second, func() error {
		resp, err := http.Get("http://" + r.registry + "/v2/")
		if err != nil {
			return err
		}
		resp.Body.Close()
		return nil
	})
	t.Logf("killed the server with %d processes of it running and %d mounts under its data directory; ready again after %s",
		len(snap.procs), len(snap.mounts), time.Since(killed).Round(100*time.Millisecond))
	r.checkNothingLeft(t, snap)
}

// snapshot notes the server's processes (its descendants, the app
// containers under its runc root, the build step containers of its
// buildkitd) and the mounts under its data directory.
func (r *crashRig) snapshot(t *testing.T) crashSnapshot {
	t.Helper()
	snap := crashSnapshot{procs: descendants(r.cmd.Process.Pid), mounts: mountsUnder(t, r.dataDir)}
	for id, pid := range runcContainers(t, r.dataDir) {
		if p, ok := procOf(pid); ok {
			p.cmd = "app container " + id + ": " + p.cmd
			snap.procs = append(snap.procs, p)
		}
	}
	for _, c := range buildStepContainers(t, r.dataDir) {
		if p, ok := procOf(c.Pid); ok {
			p.cmd = "build step container " + c.ID + ": " + p.cmd
			snap.procs = append(snap.procs, p)
		}
	}
	return snap
}

// checkNothingLeft waits until no process of snap runs and no mount of it
// (other than the idle server's) is left.
func (r *crashRig) checkNothingLeft(t *testing.T, snap crashSnapshot) {
	t.Helper()
	defer func() {
		if t.Failed() {
			t.Logf("the restarted server's logs:\n%s", tail(r.logs.String(), 60))
		}
	}()
	// The restarted node agent clears what is left before it runs pods;
	// on a loaded machine its start can take a while after the API's.
	eventually(t, 90*time.Second, func() error {
		var errs []error
		for _, p := range snap.procs {
			if now, ok := procOf(p.pid); ok && now.start == p.start {
				errs = append(errs, fmt.Errorf("process %d of the killed server still runs: %s", p.pid, p.cmd))
			}
		}
		now := mountsUnder(t, r.dataDir)
		for id, point := range snap.mounts {
			if _, idle := r.baseline[id]; idle {
				continue
			}
			if now[id] == point {
				errs = append(errs, fmt.Errorf("mount %s of the killed server is still there", point))
			}
		}
		return errors.Join(errs...)
	})
}

// descendants are the processes under root, found through their parents.
func descendants(root int) []proc {
	entries, _ := os.ReadDir("/proc")
	children := map[int][]int{}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if ppid, ok := parentOf(pid); ok {
			children[ppid] = append(children[ppid], pid)
		}
	}
	var out []proc
	queue := []int{root}
	for len(queue) > 0 {
		pid := queue[0]
		queue = queue[1:]
		for _, child := range children[pid] {
			if p, ok := procOf(child); ok {
				out = append(out, p)
			}
			queue = append(queue, child)
		}
	}
	return out
}

// statFields are the fields of /proc/pid/stat after the command (the
// state is [0], the parent [1], the start time [19]).
func statFields(pid int) ([]string, bool) {
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return nil, false
	}
	s := string(stat)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return nil, false
	}
	fields := strings.Fields(s[i+1:])
	return fields, len(fields) > 19
}

func parentOf(pid int) (int, bool) {
	fields, ok := statFields(pid)
	if !ok {
		return 0, false
	}
	ppid, err := strconv.Atoi(fields[1])
	return ppid, err == nil
}

// procOf is pid's process if it runs (a zombie does not).
func procOf(pid int) (proc, bool) {
	fields, ok := statFields(pid)
	if !ok || fields[0] == "Z" {
		return proc{}, false
	}
	start, _ := strconv.ParseUint(fields[19], 10, 64)
	cmdline, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	cmd := strings.TrimSpace(strings.ReplaceAll(string(cmdline), "\x00", " "))
	if len(cmd) > 200 {
		cmd = cmd[:200] + "..."
	}
	return proc{pid: pid, start: start, cmd: cmd}, true
}

// mountsUnder are the mounts (ID -> mount point) at or under dir.
func mountsUnder(t *testing.T, dir string) map[string]string {
	t.Helper()
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	roots := []string{dir}
	if resolved, err := filepath.EvalSymlinks(dir); err == nil && resolved != dir {
		roots = append(roots, resolved)
	}
	out := map[string]string{}
	scanner := bufio.NewScanner(f)
	scanner.Buffer(make([]byte, 1<<20), 1<<20)
	for scanner.Scan() {
		fields := strings.Fields(scanner.Text())
		if len(fields) < 5 {
			continue
		}
		point := unescapeMount(fields[4])
		for _, root := range roots {
			if point == root || strings.HasPrefix(point, root+"/") {
				out[fields[0]] = point
			}
		}
	}
	return out
}

// unescapeMount undoes mountinfo's octal escapes (\040 for a space).
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// runcContainer is an entry of `runc list -f json`.
type runcContainer struct {
	ID     string `json:"id"`
	Pid    int    `json:"pid"`
	Bundle string `json:"bundle"`
	Status string `json:"status"`
}

// buildStepContainers are the containers of runc's default root (where
// buildkitd runs build steps) whose bundle is under dataDir.
func buildStepContainers(t *testing.T, dataDir string) []runcContainer {
	t.Helper()
	out, err := exec.Command("runc", "list", "-f", "json").Output()
	if err != nil {
		return nil
	}
	var all []runcContainer
	if err := json.Unmarshal(out, &all); err != nil {
		return nil
	}
	var mine []runcContainer
	for _, c := range all {
		if strings.HasPrefix(c.Bundle, dataDir+"/") {
			mine = append(mine, c)
		}
	}
	return mine
}

// registryRoot is where the internal registry keeps blobs and
// repositories (distribution's filesystem driver).
func (r *crashRig) registryRoot() string {
	return filepath.Join(r.dataDir, "registry", "docker", "registry", "v2")
}

// checkRegistry holds the registry to what a crash must not break: every
// blob it stores is complete (its content has its digest), and every tag
// event of every image stream of ns names an Image that exists and a
// manifest the registry serves whole.
func (r *crashRig) checkRegistry(t *testing.T, ns string) {
	t.Helper()
	blobs := filepath.Join(r.registryRoot(), "blobs", "sha256")
	err := filepath.WalkDir(blobs, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || d.Name() != "data" {
			return err
		}
		want := filepath.Base(filepath.Dir(path))
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		h := sha256.New()
		if _, err := io.Copy(h, f); err != nil {
			return err
		}
		if got := hex.EncodeToString(h.Sum(nil)); got != want {
			t.Errorf("the registry stores blob sha256:%s with content of sha256:%s (a half-written blob)", want, got)
		}
		return nil
	})
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("walking the registry's blobs: %v", err)
	}
	streams, err := r.images.ImageV1().ImageStreams(ns).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, is := range streams.Items {
		for _, tag := range is.Status.Tags {
			for _, item := range tag.Items {
				what := fmt.Sprintf("%s/%s:%s event %s", ns, is.Name, tag.Tag, item.Image)
				if _, err := r.images.ImageV1().Images().Get(context.Background(), item.Image, getOpts); err != nil {
					t.Errorf("%s: its Image: %v", what, err)
				}
				if !strings.HasPrefix(item.DockerImageReference, r.registry+"/") {
					continue // imported from elsewhere
				}
				repo := strings.TrimSuffix(strings.TrimPrefix(item.DockerImageReference, r.registry+"/"), "@"+item.Image)
				if code, body := r.registryGet(t, "/v2/"+repo+"/manifests/"+item.Image); code != http.StatusOK {
					t.Errorf("%s: the registry answers %d to its manifest", what, code)
				} else if got := "sha256:" + sha256Hex(body); got != item.Image {
					t.Errorf("%s: the registry serves a manifest of digest %s", what, got)
				}
			}
		}
	}
}

func sha256Hex(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// registryGet is GET path of the internal registry as the admin, accepting
// every manifest type.
func (r *crashRig) registryGet(t *testing.T, path string) (int, []byte) {
	t.Helper()
	return r.registryDo(t, "GET", path, "", nil)
}

func (r *crashRig) registryDo(t *testing.T, method, path, contentType string, body io.Reader) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, "http://"+r.registry+path, body)
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth("admin", r.adminToken())
	req.Header.Set("Accept", strings.Join([]string{
		"application/vnd.oci.image.manifest.v1+json", "application/vnd.oci.image.index.v1+json",
		"application/vnd.docker.distribution.manifest.v2+json", "application/vnd.docker.distribution.manifest.list.v2+json",
	}, ", "))
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, data
}

// checkBuilds: every build of ns is in a terminal phase, and a failed one
// says why in words a user can act on.
func (r *crashRig) checkBuilds(t *testing.T, ns string) {
	t.Helper()
	list, err := r.builds.BuildV1().Builds(ns).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range list.Items {
		switch b.Status.Phase {
		case buildv1.BuildPhaseComplete, buildv1.BuildPhaseCancelled:
		case buildv1.BuildPhaseFailed, buildv1.BuildPhaseError:
			if b.Status.Reason == "" || b.Status.Reason == buildv1.StatusReasonGenericBuildFailed || b.Status.Message == "" {
				t.Errorf("build %s ended %s with reason %q, message %q; want a reason a user can act on", b.Name, b.Status.Phase, b.Status.Reason, b.Status.Message)
			}
		default:
			t.Errorf("build %s is %s, not in a terminal phase", b.Name, b.Status.Phase)
		}
	}
}

// holdProxy is a TCP proxy that can hold what clients send (connections
// new or kept alive): a registry that has not answered yet.
type holdProxy struct {
	listener net.Listener
	target   string
	mu       sync.Mutex
	release  chan struct{} // nil when requests go through
	held     int
}

func startHoldProxy(t *testing.T, target string) *holdProxy {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &holdProxy{listener: l, target: target}
	t.Cleanup(func() { l.Close(); p.open() })
	go func() {
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			go p.serve(conn)
		}
	}()
	return p
}

func (p *holdProxy) addr() string { return p.listener.Addr().String() }

// hold makes what clients send from now on wait.
func (p *holdProxy) hold() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.release == nil {
		p.release, p.held = make(chan struct{}), 0
	}
}

// open lets what waits and whatever follows through.
func (p *holdProxy) open() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.release != nil {
		close(p.release)
		p.release = nil
	}
}

// holding is how many client writes wait since hold.
func (p *holdProxy) holding() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.held
}

// wait blocks while the proxy holds.
func (p *holdProxy) wait() {
	p.mu.Lock()
	release := p.release
	if release != nil {
		p.held++
	}
	p.mu.Unlock()
	if release != nil {
		<-release
	}
}

func (p *holdProxy) serve(conn net.Conn) {
	defer conn.Close()
	upstream, err := net.Dial("tcp", p.target)
	if err != nil {
		return
	}
	defer upstream.Close()
	done := make(chan struct{}, 2)
	go func() {
		buf := make([]byte, 32<<10)
		for {
			n, err := conn.Read(buf)
			if n > 0 {
				p.wait()
				if _, werr := upstream.Write(buf[:n]); werr != nil {
					break
				}
			}
			if err != nil {
				break
			}
		}
		done <- struct{}{}
	}()
	go func() { io.Copy(conn, upstream); done <- struct{}{} }()
	<-done
}

// noWarnings is cfg without the deprecation warnings of DeploymentConfigs.
func noWarnings(cfg *rest.Config) *rest.Config {
	cfg.WarningHandler = rest.NoWarnings{}
	return cfg
}
