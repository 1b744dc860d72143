package e2e

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	buildv1 "github.com/openshift/api/build/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/slipway-dev/slipway/internal/builder/build/buildtest"
)

// minHostileCases is how many cases the catalogue must hold (issue 12 D).
const minHostileCases = 60

// catalogue runs the hostile-input cases of one server and counts them,
// and collects the secrets its cases hand the server, which its last case
// looks for in every log, event and status.
type catalogue struct {
	t       *testing.T
	b       *buildServer
	ns      string
	cases   int
	secrets []string
	client  *http.Client
}

func newCatalogue(t *testing.T, b *buildServer, ns string) *catalogue {
	return &catalogue{t: t, b: b, ns: ns, secrets: []string{hubPassword},
		client: &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}}
}

// run runs one case of the catalogue.
func (c *catalogue) run(name string, f func(t *testing.T)) {
	c.cases++
	c.t.Run(name, f)
}

// secret records a secret a case gives the server.
func (c *catalogue) secret(s string) string {
	c.secrets = append(c.secrets, s)
	return s
}

// raw sends an admin request and returns the status and (up to 1 MiB of)
// the answer.
func (c *catalogue) raw(t *testing.T, method, path, contentType string, body io.Reader) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, c.b.url()+path, body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+c.b.adminToken())
	req.Header.Set("Content-Type", contentType)
	resp, err := c.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, string(data)
}

// objectCase is an object sent to the API and the answer it must get.
type objectCase struct {
	name, path, contentType string
	body                    func() io.Reader
	status                  int
	says                    string
}

// invalidSpecs are objects of every kind Slipway serves with a spec
// OpenShift 4 refuses, each with the field its 422 names.
func invalidSpecs(ns string) []objectCase {
	isPath := "/apis/image.openshift.io/v1/namespaces/" + ns + "/imagestreams"
	dcPath := "/apis/apps.openshift.io/v1/namespaces/" + ns + "/deploymentconfigs"
	json := func(name, path, body string, says string) objectCase {
		return objectCase{name, path, "application/json", text(body), http.StatusUnprocessableEntity, says}
	}
	dc := func(name, spec string) string {
		return `{"apiVersion":"apps.openshift.io/v1","kind":"DeploymentConfig","metadata":{"name":"` + name + `"},"spec":` + spec + `}`
	}
	const digest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	return []objectCase{
		json("image stream tag name with a space", isPath, `{"apiVersion":"image.openshift.io/v1","kind":"ImageStream","metadata":{"name":"spaced"},"spec":{"tags":[{"name":"bad tag","from":{"kind":"DockerImage","name":"busybox"}}]}}`, "spec.tags[0].name"),
		json("image stream with a tag twice", isPath, `{"apiVersion":"image.openshift.io/v1","kind":"ImageStream","metadata":{"name":"twice"},"spec":{"tags":[{"name":"a","from":{"kind":"DockerImage","name":"busybox"}},{"name":"a","from":{"kind":"DockerImage","name":"busybox"}}]}}`, "spec.tags[1].name: Duplicate value"),
		json("scheduled import of an image stream tag", isPath, `{"apiVersion":"image.openshift.io/v1","kind":"ImageStream","metadata":{"name":"sched"},"spec":{"tags":[{"name":"a","from":{"kind":"ImageStreamTag","name":"other:latest"},"importPolicy":{"scheduled":true}}]}}`, "spec.tags[0].importPolicy.scheduled"),
		json("image stream tag from a Pod", isPath, `{"apiVersion":"image.openshift.io/v1","kind":"ImageStream","metadata":{"name":"podfrom"},"spec":{"tags":[{"name":"a","from":{"kind":"Pod","name":"x"}}]}}`, "spec.tags[0].from.kind"),
		json("image stream tag named without a tag", "/apis/image.openshift.io/v1/namespaces/"+ns+"/imagestreamtags", `{"apiVersion":"image.openshift.io/v1","kind":"ImageStreamTag","metadata":{"name":"nocolon"},"tag":{"name":"x","from":{"kind":"DockerImage","name":"busybox"}}}`, "must be of the form"),
		json("image stream mapping with a bad tag", "/apis/image.openshift.io/v1/namespaces/"+ns+"/imagestreammappings", `{"apiVersion":"image.openshift.io/v1","kind":"ImageStreamMapping","metadata":{"name":"mapped"},"tag":"-bad","image":{"metadata":{"name":"`+digest+`"},"dockerImageReference":"reg.example/a/b@`+digest+`"}}`, "tag"),
		json("image stream mapping without an image", "/apis/image.openshift.io/v1/namespaces/"+ns+"/imagestreammappings", `{"apiVersion":"image.openshift.io/v1","kind":"ImageStreamMapping","metadata":{"name":"mapped"},"tag":"latest","image":{}}`, "image.metadata.name"),
		json("build with a git URI that is an option", "/apis/build.openshift.io/v1/namespaces/"+ns+"/builds", `{"apiVersion":"build.openshift.io/v1","kind":"Build","metadata":{"name":"optbuild"},"spec":{"source":{"type":"Git","git":{"uri":"--upload-pack=touch /tmp/x"}},"strategy":{"type":"Docker","dockerStrategy":{}}}}`, "spec.source.git.uri"),
		json("build with a context dir out of the source", "/apis/build.openshift.io/v1/namespaces/"+ns+"/builds", `{"apiVersion":"build.openshift.io/v1","kind":"Build","metadata":{"name":"ctxbuild"},"spec":{"source":{"type":"Git","git":{"uri":"https://git.example/x.git"},"contextDir":"../.."},"strategy":{"type":"Docker","dockerStrategy":{}}}}`, "spec.source.contextDir"),
		json("deployment config with an unknown strategy", dcPath, dc("strat", `{"replicas":1,"selector":{"a":"b"},"strategy":{"type":"Teleport"},"template":{"metadata":{"labels":{"a":"b"}},"spec":{"containers":[{"name":"x","image":"busybox"}]}}}`), "spec.strategy.type"),
		json("deployment config whose selector misses its template", dcPath, dc("mismatch", `{"replicas":1,"selector":{"a":"b"},"template":{"metadata":{"labels":{"a":"c"}},"spec":{"containers":[{"name":"x","image":"busybox"}]}}}`), "does not match template"),
		json("deployment config with a negative history limit", dcPath, dc("history", `{"replicas":1,"revisionHistoryLimit":-1,"selector":{"a":"b"},"template":{"metadata":{"labels":{"a":"b"}},"spec":{"containers":[{"name":"x","image":"busybox"}]}}}`), "spec.revisionHistoryLimit"),
		json("deployment config with a container port out of range", dcPath, dc("port", `{"replicas":1,"selector":{"a":"b"},"template":{"metadata":{"labels":{"a":"b"}},"spec":{"containers":[{"name":"x","image":"busybox","ports":[{"containerPort":70000}]}]}}}`), "containerPort"),
		json("deployment whose selector misses its template", "/apis/apps/v1/namespaces/"+ns+"/deployments", `{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"mismatch"},"spec":{"replicas":1,"selector":{"matchLabels":{"a":"b"}},"template":{"metadata":{"labels":{"a":"c"}},"spec":{"containers":[{"name":"x","image":"busybox"}]}}}}`, "selector"),
		json("service with a port out of range", "/api/v1/namespaces/"+ns+"/services", `{"apiVersion":"v1","kind":"Service","metadata":{"name":"badport"},"spec":{"ports":[{"port":70000}],"selector":{"a":"b"}}}`, "spec.ports[0].port"),
		json("TLS secret without its key", "/api/v1/namespaces/"+ns+"/secrets", `{"apiVersion":"v1","kind":"Secret","metadata":{"name":"halftls"},"type":"kubernetes.io/tls","data":{"tls.crt":"eA=="}}`, "tls.key"),
		json("SSH secret without its key", "/api/v1/namespaces/"+ns+"/secrets", `{"apiVersion":"v1","kind":"Secret","metadata":{"name":"nossh"},"type":"kubernetes.io/ssh-auth","data":{"other":"eA=="}}`, "ssh-privatekey"),
		json("project request with a name no project can have", "/apis/project.openshift.io/v1/projectrequests", `{"apiVersion":"project.openshift.io/v1","kind":"ProjectRequest","metadata":{"name":"Bad_Name"}}`, "metadata.name"),
		json("pod mounting a sub path out of its volume", "/api/v1/namespaces/"+ns+"/pods", `{"apiVersion":"v1","kind":"Pod","metadata":{"name":"subpath"},"spec":{"containers":[{"name":"x","image":"busybox","volumeMounts":[{"name":"v","mountPath":"/v","subPath":"../../etc"}]}],"volumes":[{"name":"v","emptyDir":{}}]}}`, "subPath"),
	}
}

// stallingListener accepts connections and holds them: a host that takes
// a request and never answers. With greeting, it writes that first (a
// response cut mid-way).
func stallingListener(t *testing.T, greeting string) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var held []net.Conn
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range held {
			c.Close()
		}
	})
	go func() {
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			held = append(held, conn)
			mu.Unlock()
			if greeting != "" {
				go func() {
					// Read the request's head first, then answer part way.
					buf := make([]byte, 4096)
					_, _ = conn.Read(buf)
					_, _ = conn.Write([]byte(greeting))
				}()
			}
		}
	}()
	return l.Addr().String()
}

// tarEntry is one archive entry, written in order.
type tarEntry struct {
	name, content, link string
	typ                 byte
}

func tarEntries(t *testing.T, entries ...tarEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		typ := e.typ
		if typ == 0 {
			typ = tar.TypeReg
		}
		hdr := &tar.Header{Name: e.name, Linkname: e.link, Typeflag: typ, Mode: 0o644, Size: int64(len(e.content)), ModTime: time.Unix(0, 0)}
		if typ != tar.TypeReg {
			hdr.Size = 0
			hdr.Mode = 0o755
		}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		if hdr.Size > 0 {
			if _, err := tw.Write([]byte(e.content)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// hostileBuilds are builds whose source, base image or output is hostile:
// git and registry hosts that refuse, stall or show a certificate no CA
// here signed, a push with the wrong password, and binary archives with
// links out of the work directory and deep nesting. They run at once;
// each must fail with its reason and a message naming the cause, within
// bounds, and leave the host untouched.
func (c *catalogue) startHostileBuilds(untrusted *buildtest.Registry) (check func()) {
	t, b, ns := c.t, c.b, c.ns
	ctx := context.Background()
	closed := freeAddr(t)
	stall := stallingListener(t, "")
	tlsGit := httptest.NewTLSServer(http.NotFoundHandler())
	t.Cleanup(tlsGit.Close)
	wrongPush := c.secret("wrong-push-pa55word")
	b.c.run("create", "secret", "docker-registry", "badpush", "--docker-server="+b.hub.Host,
		"--docker-username="+hubUser, "--docker-password="+wrongPush)
	scratch := "FROM scratch\nLABEL hostile=yes\n"
	dockerImage := func(name string) *corev1.ObjectReference {
		return &corev1.ObjectReference{Kind: "DockerImage", Name: name}
	}
	type buildCase struct {
		name   string
		bc     *buildv1.BuildConfig
		reason buildv1.StatusReason
		says   string
		within time.Duration
	}
	cases := []buildCase{
		{"git host that refuses connections", dockerBC("git-refused", "https://"+closed+"/x.git", "", "", b.busybox, nil, ""),
			buildv1.StatusReasonFetchSourceFailed, closed, time.Minute},
		{"git host that never answers", dockerBC("git-stalled", "https://"+stall+"/x.git", "", "", b.busybox, nil, ""),
			buildv1.StatusReasonFetchSourceFailed, "did not answer", 2 * time.Minute},
		{"git over TLS with an unknown CA", dockerBC("git-unknown-ca", tlsGit.URL+"/x.git", "", "", b.busybox, nil, ""),
			buildv1.StatusReasonFetchSourceFailed, "certificate", time.Minute},
		{"base image that does not exist", dockerBC("no-base", "", "", "FROM busybox\nRUN true\n", b.hub.Host+"/library/nothere:latest", nil, ""),
			buildv1.StatusReasonPullBuilderImageFailed, "nothere", time.Minute},
		{"base image on a registry that never answers", dockerBC("base-stalled", "", "", "FROM busybox\nRUN true\n", stall+"/library/busybox:latest", nil, ""),
			buildv1.StatusReasonPullBuilderImageFailed, stall, 2 * time.Minute},
		{"push to a registry that never answers", dockerBC("push-stalled", "", "", scratch, "", dockerImage(stall+"/x/y:latest"), ""),
			buildv1.StatusReasonPushImageToRegistryFailed, "the registry " + stall + " did not answer", time.Minute},
		// BuildKit speaks plain HTTP to a loopback registry it has no
		// configuration for (as Docker does), so this one, whose CA the
		// server was not given, answers 400 rather than a certificate
		// error; either way the push fails with the registry's words.
		{"push to a registry whose certificate no CA here signed", dockerBC("push-unknown-ca", "", "", scratch, "", dockerImage(untrusted.Host+"/veer/x:latest"), ""),
			buildv1.StatusReasonPushImageToRegistryFailed, "400 Bad Request", time.Minute},
	}
	for _, bc := range cases {
		if _, err := b.builds.BuildV1().BuildConfigs(ns).Create(ctx, bc.bc, createOpts); err != nil {
			t.Fatalf("creating bc %s: %v", bc.bc.Name, err)
		}
	}
	started := time.Now()
	checkOne := func(t *testing.T, bc buildCase) {
		got := b.waitBuild(t, ns, bc.bc.Name+"-1", bc.within+time.Minute)
		log := b.buildLog(ns, got.Name)
		if got.Status.Phase != buildv1.BuildPhaseFailed || got.Status.Reason != bc.reason || !strings.Contains(got.Status.Message+"\n"+log, bc.says) {
			t.Errorf("%s: %s (%s: %q), want Failed (%s) saying %q\n%s", got.Name, got.Status.Phase, got.Status.Reason, got.Status.Message, bc.reason, bc.says, log)
		}
		if got.Status.CompletionTimestamp != nil && got.Status.CompletionTimestamp.Sub(started) > bc.within {
			t.Errorf("%s took %s, want under %s", got.Name, got.Status.CompletionTimestamp.Sub(started), bc.within)
		}
	}
	return func() {
		for _, bc := range cases {
			c.run("build/"+bc.name, func(t *testing.T) { checkOne(t, bc) })
		}
		// Alone, after the others: BuildKit has shared a registry's wrong
		// login with a concurrent pull from the same registry (see
		// TestBuildOutputsAndFailures).
		wrong := buildCase{"push with the wrong password", dockerBC("push-denied", "", "", scratch, "", dockerImage(b.hub.Host+"/veer/denied:latest"), "badpush"),
			buildv1.StatusReasonPushImageToRegistryFailed, "unauthorized", time.Minute}
		if _, err := b.builds.BuildV1().BuildConfigs(ns).Create(ctx, wrong.bc, createOpts); err != nil {
			t.Fatal(err)
		}
		started = time.Now()
		c.run("build/"+wrong.name, func(t *testing.T) { checkOne(t, wrong) })

		// Binary archives: links out of the work directory, and a path nested
		// 2,000 directories deep.
		outside := t.TempDir()
		deep := strings.Repeat("d/", 2000) + "leaf"
		for _, tc := range []struct {
			name, bc string
			archive  []byte
			says     string
		}{
			{"symlink out of the work directory, written through", "arc-symlink", tarEntries(t,
				tarEntry{name: "Dockerfile", content: "FROM busybox\n"},
				tarEntry{name: "out", link: "../../../../../../../../../.." + outside, typ: tar.TypeSymlink},
				tarEntry{name: "out/through", content: "x"}), "leaves the directory"},
			{"absolute symlink, written through", "arc-abs-symlink", tarEntries(t,
				tarEntry{name: "Dockerfile", content: "FROM busybox\n"},
				tarEntry{name: "abs", link: outside, typ: tar.TypeSymlink},
				tarEntry{name: "abs/through", content: "x"}), "absolute symlink target"},
			{"hard link out of the work directory", "arc-hardlink", tarEntries(t,
				tarEntry{name: "Dockerfile", content: "FROM busybox\n"},
				tarEntry{name: "hard", link: "../../../../../../../../../../etc/passwd", typ: tar.TypeLink}), "leaves the directory"},
			// The tree is extracted (through the root, one directory at a
			// time), but its path is longer than a path may be (PATH_MAX),
			// and BuildKit's load of the context says so.
			{"path 2,000 directories deep", "arc-deep", tarEntries(t,
				tarEntry{name: "Dockerfile", content: "FROM busybox\nCOPY d /d\n"},
				tarEntry{name: deep, content: "x"}), "file name too long"},
		} {
			c.run("archive/"+tc.name, func(t *testing.T) {
				name := tc.bc
				bc := dockerBC(name, "", "", "", b.busybox, nil, "")
				bc.Spec.Source = buildv1.BuildSource{Type: buildv1.BuildSourceBinary, Binary: &buildv1.BinaryBuildSource{}}
				bc.Spec.Triggers = nil
				if _, err := b.builds.BuildV1().BuildConfigs(ns).Create(ctx, bc, createOpts); err != nil {
					t.Fatal(err)
				}
				archive := filepath.Join(t.TempDir(), "a.tar")
				writeFile(t, archive, string(tc.archive))
				_, _, _ = b.c.exec(nil, "start-build", "-n", ns, name, "--from-archive", archive, "--wait")
				got := b.waitBuild(t, ns, name+"-1", 2*time.Minute)
				log := b.buildLog(ns, got.Name)
				if got.Status.Phase != buildv1.BuildPhaseFailed || !strings.Contains(got.Status.Message+"\n"+log, tc.says) {
					t.Errorf("%s: %s (%s: %q), want Failed saying %q\n%s", got.Name, got.Status.Phase, got.Status.Reason, got.Status.Message, tc.says, log)
				}
				if entries, _ := os.ReadDir(outside); len(entries) != 0 {
					t.Fatalf("the archive wrote %s outside the work directory", entries[0].Name())
				}
			})
		}
	}
}

// hostileImages pushes images whose layer holds a "../" entry, an
// absolute symlink written through, and a hard link out of the root, and
// runs a pod of each: the node's image store unpacks each inside the
// image's root (as containerd does, clamping the names), and nothing is
// written or linked on the host.
func (c *catalogue) startHostileImages() (check func()) {
	t, b, ns := c.t, c.b, c.ns
	ctx := context.Background()
	outside := t.TempDir()
	hostFile := filepath.Join(outside, "host-file")
	writeFile(t, hostFile, "host-content")
	base := b.hub.Image(t, b.busybox)
	image := func(repo string, entries ...tarEntry) string {
		data := tarEntries(t, entries...)
		layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil })
		if err != nil {
			t.Fatal(err)
		}
		img, err := mutate.AppendLayers(base, layer)
		if err != nil {
			t.Fatal(err)
		}
		return b.hub.Ref(repo + "@" + b.hub.Push(t, repo+":latest", img))
	}
	dotdot := strings.Repeat("../", 12)
	// The first two run, and find their file where the image's root
	// puts it; the third links a file the root does not have, so the pull
	// fails saying so.
	cases := []struct {
		name, image, script string
		// says is in the pod's log (ran) or its container's waiting message.
		ran  bool
		says string
	}{
		{"layer entry with ../", image("veer/dotdot", tarEntry{name: dotdot + outside[1:] + "/dotdot", content: "in-root"}),
			"cat " + outside + "/dotdot", true, "in-root"},
		{"absolute symlink out of the root, written through", image("veer/abslink",
			tarEntry{name: "abs", link: outside, typ: tar.TypeSymlink},
			tarEntry{name: "abs/through", content: "in-root"}),
			"cat " + outside + "/through", true, "in-root"},
		{"hard link to a host file", image("veer/hardlink",
			tarEntry{name: "hard", link: dotdot + hostFile[1:], typ: tar.TypeLink}),
			"cat /hard", false, "unpacking: link"},
	}
	pods := b.kube.CoreV1().Pods(ns)
	for i, tc := range cases {
		pod := &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("layer-%d", i)},
			Spec: corev1.PodSpec{
				RestartPolicy:    corev1.RestartPolicyNever,
				ImagePullSecrets: []corev1.LocalObjectReference{{Name: "dockerhub"}},
				Containers:       []corev1.Container{{Name: "x", Image: tc.image, Command: []string{"sh", "-c", tc.script}}},
			},
		}
		if _, err := pods.Create(ctx, pod, createOpts); err != nil {
			t.Fatal(err)
		}
	}
	// BuildKit unpacks the first two as the base of a build.
	fromHostile := dockerBC("from-hostile-layers", "", "", "FROM busybox\nCOPY --from="+cases[0].image+" "+outside+"/dotdot /a\nRUN cat /a "+outside+"/through\n", cases[1].image, nil, "")
	if _, err := b.builds.BuildV1().BuildConfigs(ns).Create(ctx, fromHostile, createOpts); err != nil {
		t.Fatal(err)
	}
	return func() {
		c.run("image/build from images with ../ and absolute symlink entries", func(t *testing.T) {
			got := b.waitBuild(t, ns, "from-hostile-layers-1", 2*time.Minute)
			log := b.buildLog(ns, got.Name)
			if got.Status.Phase != buildv1.BuildPhaseComplete || !strings.Contains(log, "in-root") {
				t.Errorf("%s: %s (%s: %q), want Complete printing the file from the image's root\n%s", got.Name, got.Status.Phase, got.Status.Reason, got.Status.Message, log)
			}
			if entries, _ := os.ReadDir(outside); len(entries) != 1 {
				t.Errorf("the build wrote on the host: %v", entries)
			}
		})
		for i, tc := range cases {
			c.run("image/"+tc.name, func(t *testing.T) {
				name := fmt.Sprintf("layer-%d", i)
				var pod *corev1.Pod
				eventually(t, 2*time.Minute, func() error {
					p, err := pods.Get(ctx, name, getOpts)
					if err != nil {
						return err
					}
					pod = p
					if p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
						return nil
					}
					for _, s := range p.Status.ContainerStatuses {
						if w := s.State.Waiting; w != nil && w.Message != "" && w.Reason != "ContainerCreating" {
							return nil
						}
					}
					return fmt.Errorf("pod %s is %s: %+v", name, p.Status.Phase, p.Status.ContainerStatuses)
				})
				out, errOut, _ := b.c.exec(nil, "logs", "-n", ns, "pod/"+name)
				waiting := ""
				for _, s := range pod.Status.ContainerStatuses {
					if w := s.State.Waiting; w != nil {
						waiting = w.Reason + ": " + w.Message
					}
				}
				switch {
				case tc.ran && (pod.Status.Phase != corev1.PodSucceeded || !strings.Contains(out, tc.says)):
					t.Errorf("%s: %s %q, log %q%s; want Succeeded printing %q", name, pod.Status.Phase, waiting, out, errOut, tc.says)
				case !tc.ran && (pod.Status.Phase != corev1.PodPending || !strings.Contains(waiting, "ImagePull") || !strings.Contains(waiting, tc.says)):
					t.Errorf("%s: %s %q; want Pending, its image's pull failed saying %q", name, pod.Status.Phase, waiting, tc.says)
				}
				if strings.Contains(out, "host-content") {
					t.Errorf("the pod read the host's file through the image's hard link")
				}
				entries, _ := os.ReadDir(outside)
				if len(entries) != 1 {
					t.Errorf("the image wrote on the host: %v", entries)
				}
				if data, _ := os.ReadFile(hostFile); string(data) != "host-content" {
					t.Errorf("the host's file changed: %q", data)
				}
			})
		}
	}
}
