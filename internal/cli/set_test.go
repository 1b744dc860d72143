package cli

import (
	"context"
	"fmt"
	"strings"
	"testing"

	appsv1 "github.com/openshift/api/apps/v1"
	buildv1 "github.com/openshift/api/build/v1"
	buildclient "github.com/openshift/client-go/build/clientset/versioned"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// triggerSummary is dc's triggers in one line: "config", and
// "image:FROM:CONTAINERS:AUTOMATIC" for image triggers.
func triggerSummary(dc *appsv1.DeploymentConfig) string {
	var parts []string
	for _, t := range dc.Spec.Triggers {
		if p := t.ImageChangeParams; p != nil {
			parts = append(parts, fmt.Sprintf("image:%s:%s:%t", p.From.Name, strings.Join(p.ContainerNames, ","), p.Automatic))
		} else {
			parts = append(parts, "config")
		}
	}
	return strings.Join(parts, " ")
}

// tableLines splits a printed table into lines with single spaces.
func tableLines(out string) []string {
	var lines []string
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		lines = append(lines, strings.Join(strings.Fields(l), " "))
	}
	return lines
}

func TestSetTriggersDeploymentConfig(t *testing.T) {
	e := newAppsEnv(t, "set-triggers-dc")
	pushImageWithPorts(t, e.images, e.ns, "mytime", "latest", "8080/tcp")
	e.mustRun("new-app", "mytime:latest", "--name", "mytime", "--as-deployment-config")

	want := []string{
		"NAME TYPE VALUE AUTO",
		"deploymentconfigs/mytime config true",
		"deploymentconfigs/mytime image mytime:latest (mytime) true",
	}
	if got := tableLines(e.mustRun("set", "triggers", "dc/mytime")); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("listing = %q, want %q", got, want)
	}

	// What rollout undo tells users to run: --manual, then --auto.
	if out := e.mustRun("set", "triggers", "dc/mytime", "--manual"); out != "deploymentconfig.apps.openshift.io/mytime triggers updated\n" {
		t.Errorf("--manual printed %q", out)
	}
	if got := triggerSummary(e.dc("mytime")); got != "image:mytime:latest:mytime:false" {
		t.Errorf("after --manual: %s", got)
	}
	if got := tableLines(e.mustRun("set", "triggers", "dc", "mytime")); got[1] != "deploymentconfigs/mytime config false" || got[2] != "deploymentconfigs/mytime image mytime:latest (mytime) false" {
		t.Errorf("listing after --manual = %q", got)
	}
	e.mustRun("set", "triggers", "dc/mytime", "--auto")
	if got := triggerSummary(e.dc("mytime")); got != "config image:mytime:latest:mytime:true" {
		t.Errorf("after --auto: %s", got)
	}
	if out := e.mustRun("set", "triggers", "dc/mytime", "--auto"); !strings.HasSuffix(out, "triggers unchanged\n") {
		t.Errorf("second --auto printed %q", out)
	}

	// An image trigger on another tag (the only container is the default),
	// made manual in place, then removed.
	e.mustRun("set", "triggers", "dc/mytime", "--from-image=other/base:v1")
	e.mustRun("set", "triggers", "dc/mytime", "--from-image=other/base:v1", "--manual", "-c", "mytime")
	dc := e.dc("mytime")
	if got := triggerSummary(dc); got != "config image:mytime:latest:mytime:true image:base:v1:mytime:false" {
		t.Errorf("after --from-image: %s", got)
	}
	if ns := dc.Spec.Triggers[2].ImageChangeParams.From.Namespace; ns != "other" {
		t.Errorf("trigger namespace %q", ns)
	}
	if got := tableLines(e.mustRun("set", "triggers", "dc/mytime")); got[3] != "deploymentconfigs/mytime image other/base:v1 (mytime) false" {
		t.Errorf("listing = %q", got)
	}
	e.mustRun("set", "triggers", "dc/mytime", "--from-image=other/base:v1", "--remove")
	e.mustRun("set", "triggers", "dc/mytime", "--from-config", "--remove")
	if got := triggerSummary(e.dc("mytime")); got != "image:mytime:latest:mytime:true" {
		t.Errorf("after removals: %s", got)
	}
	e.mustRun("set", "triggers", "dc/mytime", "--from-config")
	if got := triggerSummary(e.dc("mytime")); got != "config image:mytime:latest:mytime:true" {
		t.Errorf("after --from-config: %s", got)
	}

	for _, bad := range [][]string{
		{"--from-image=base:v1", "-c", "nope"},
		{"--from-github"},
		{"--from-image=base"},
		{"--auto", "--manual"},
		{"--remove-all", "--auto"},
		{"--remove"},
	} {
		if _, _, err := e.run(append([]string{"set", "triggers", "dc/mytime"}, bad...)...); err == nil {
			t.Errorf("set triggers %v succeeded", bad)
		}
	}
	if _, _, err := e.run("set", "triggers", "svc/mytime"); err == nil || !strings.Contains(err.Error(), "does not support triggers") {
		t.Errorf("set triggers svc: err = %v", err)
	}

	// --remove-all leaves an empty list, which the server keeps as it is
	// (nil would mean [ConfigChange]).
	e.mustRun("set", "triggers", "dc/mytime", "--remove-all")
	if dc := e.dc("mytime"); dc.Spec.Triggers == nil || len(dc.Spec.Triggers) != 0 {
		t.Errorf("after --remove-all: %#v", dc.Spec.Triggers)
	}
	if got := tableLines(e.mustRun("set", "triggers", "dc/mytime")); len(got) != 2 || got[1] != "deploymentconfigs/mytime config false" {
		t.Errorf("listing after --remove-all = %q", got)
	}
}

func TestSetTriggersBuildConfig(t *testing.T) {
	e := newAppsEnv(t, "set-triggers-bc")
	builds := buildclient.NewForConfigOrDie(api.Admin).BuildV1().BuildConfigs(e.ns)
	ctx := context.Background()
	bc := &buildv1.BuildConfig{
		ObjectMeta: metav1.ObjectMeta{Name: "time"},
		Spec: buildv1.BuildConfigSpec{
			CommonSpec: buildv1.CommonSpec{
				Source: buildv1.BuildSource{Git: &buildv1.GitBuildSource{URI: "https://example.com/time.git"}},
				Strategy: buildv1.BuildStrategy{Type: buildv1.DockerBuildStrategyType, DockerStrategy: &buildv1.DockerBuildStrategy{
					From: &corev1.ObjectReference{Kind: "ImageStreamTag", Name: "base:latest"},
				}},
				Output: buildv1.BuildOutput{To: &corev1.ObjectReference{Kind: "ImageStreamTag", Name: "time:latest"}},
			},
			Triggers: []buildv1.BuildTriggerPolicy{
				{Type: buildv1.GitHubWebHookBuildTriggerType, GitHubWebHook: &buildv1.WebHookTrigger{Secret: "gh-secret"}},
				{Type: buildv1.GenericWebHookBuildTriggerType, GenericWebHook: &buildv1.WebHookTrigger{Secret: "generic-secret", AllowEnv: true}},
				{Type: buildv1.ConfigChangeBuildTriggerType},
				{Type: buildv1.ImageChangeBuildTriggerType, ImageChange: &buildv1.ImageChangeTrigger{}},
			},
		},
	}
	if _, err := builds.Create(ctx, bc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	get := func() *buildv1.BuildConfig {
		t.Helper()
		bc, err := builds.Get(ctx, "time", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return bc
	}
	types := func() string {
		var parts []string
		for _, tr := range get().Spec.Triggers {
			part := string(tr.Type)
			if tr.ImageChange != nil && tr.ImageChange.From != nil {
				part += ":" + tr.ImageChange.From.Name
			}
			parts = append(parts, part)
		}
		return strings.Join(parts, " ")
	}

	out := e.mustRun("set", "triggers", "bc/time")
	want := []string{
		"NAME TYPE VALUE AUTO",
		"buildconfigs/time config true",
		"buildconfigs/time image base:latest true",
		"buildconfigs/time github <secret>",
		"buildconfigs/time webhook <secret>, allowenv",
	}
	if got := tableLines(out); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("listing = %q, want %q", got, want)
	}
	if strings.Contains(out, "gh-secret") || strings.Contains(out, "generic-secret") {
		t.Errorf("listing shows a secret:\n%s", out)
	}

	// --manual drops the config and image triggers (a build config's image
	// triggers are automatic or absent); the strategy's image stays listed.
	if out := e.mustRun("set", "triggers", "bc/time", "--manual"); out != "buildconfig.build.openshift.io/time triggers updated\n" {
		t.Errorf("--manual printed %q", out)
	}
	if got := types(); got != "GitHub Generic" {
		t.Errorf("after --manual: %s", got)
	}
	if got := tableLines(e.mustRun("set", "triggers", "bc/time")); got[2] != "buildconfigs/time image base:latest false" {
		t.Errorf("listing after --manual = %q", got)
	}
	e.mustRun("set", "triggers", "bc/time", "--auto")
	if got := types(); got != "GitHub Generic ConfigChange ImageChange" {
		t.Errorf("after --auto: %s", got)
	}

	// --from-image on the strategy's tag is the trigger there is already.
	e.mustRun("set", "triggers", "bc/time", "--from-image=base:latest")
	e.mustRun("set", "triggers", "bc/time", "--from-image=tools:v1")
	if got := types(); got != "GitHub Generic ConfigChange ImageChange ImageChange:tools:v1" {
		t.Errorf("after --from-image: %s", got)
	}
	e.mustRun("set", "triggers", "bc/time", "--from-image=tools:v1", "--remove")

	e.mustRun("set", "triggers", "bc/time", "--from-github")
	hooks := get().Spec.Triggers
	if got := types(); got != "GitHub Generic ConfigChange ImageChange GitHub" {
		t.Fatalf("after --from-github: %s", got)
	}
	if s := hooks[4].GitHubWebHook.Secret; len(s) < 20 || s == "gh-secret" {
		t.Errorf("generated secret %q", s)
	}
	e.mustRun("set", "triggers", "bc/time", "--from-github", "--remove")
	e.mustRun("set", "triggers", "bc/time", "--from-webhook")
	if got := types(); got != "Generic ConfigChange ImageChange Generic" {
		t.Errorf("after removing GitHub and adding a webhook: %s", got)
	}

	e.mustRun("set", "triggers", "bc/time", "--remove-all")
	if got := types(); got != "" {
		t.Errorf("after --remove-all: %s", got)
	}
}

func TestSetImageDeploymentConfig(t *testing.T) {
	e := newAppsEnv(t, "set-image-dc")
	e.plainDC("web")

	if out := e.mustRun("set", "image", "dc/web", "web=reg.test/web:v2"); out != "deploymentconfig.apps.openshift.io/web image updated\n" {
		t.Errorf("set image printed %q", out)
	}
	if image := e.dc("web").Spec.Template.Spec.Containers[0].Image; image != "reg.test/web:v2" {
		t.Errorf("image = %q", image)
	}
	if _, _, err := e.run("set", "image", "dc/web", "nope=reg.test/web:v3"); err == nil || !strings.Contains(err.Error(), `unable to find container named "nope"`) {
		t.Errorf("unknown container: err = %v", err)
	}

	// --source=istag resolves the tag to its image's pull spec.
	pullSpec := pushImageWithPorts(t, e.images, e.ns, "web", "v1", "8080/tcp")
	e.mustRun("set", "image", "dc", "web", "*=web:v1", "--source=istag")
	if image := e.dc("web").Spec.Template.Spec.Containers[0].Image; image != pullSpec {
		t.Errorf("image = %q, want %q", image, pullSpec)
	}
	if _, _, err := e.run("set", "image", "dc/web", "web=web:missing", "--source=istag"); err == nil || !strings.Contains(err.Error(), "resolving image stream tag web:missing") {
		t.Errorf("missing tag: err = %v", err)
	}

	// A container an automatic image trigger follows gets a warning.
	pushImageWithPorts(t, e.images, e.ns, "mytime", "latest", "8080/tcp")
	e.mustRun("new-app", "mytime:latest", "--name", "mytime", "--as-deployment-config")
	out, errOut, err := e.run("set", "image", "dc/mytime", "mytime=reg.test/mytime:old")
	if err != nil || !strings.Contains(errOut, "set triggers dc/mytime --manual") || !strings.HasSuffix(out, "image updated\n") {
		t.Errorf("set image on a triggered container: err %v, stdout %q, stderr %q", err, out, errOut)
	}
}

func TestExposeHostIP(t *testing.T) {
	e := newAppsEnv(t, "expose-hostip")
	pushImageWithPorts(t, e.images, e.ns, "mytime", "latest", "8080/tcp")
	e.mustRun("new-app", "mytime:latest", "--name", "mytime", "--as-deployment-config")

	out := e.mustRun("expose", "dc/mytime", "--port=8080", "--host-port=18090", "--host-ip=192.0.2.10")
	if !strings.Contains(out, "Port 18090 on 192.0.2.10 forwards to port 8080 of the pods of deploymentconfig.apps.openshift.io/mytime") {
		t.Errorf("expose printed %q", out)
	}
	svc := e.service("mytime")
	if fmt.Sprint(svc.Spec.ExternalIPs) != "[192.0.2.10]" || svc.Spec.Type != corev1.ServiceTypeNodePort || svc.Spec.Ports[0].NodePort != 18090 {
		t.Errorf("service = %+v", svc.Spec)
	}

	e.mustRun("expose", "dc/mytime", "--name=web", "--port=8080", "--host-port=18091", "--host-ip=2001:db8::1")
	if web := e.service("web"); fmt.Sprint(web.Spec.ExternalIPs) != "[2001:db8::1]" {
		t.Errorf("new service externalIPs = %v", web.Spec.ExternalIPs)
	}

	for _, bad := range [][]string{
		{"expose", "dc/mytime", "--name=x", "--host-ip=127.0.0.2"},
		{"expose", "dc/mytime", "--name=x", "--host-port=18092", "--host-ip=localhost"},
	} {
		if _, _, err := e.run(bad...); err == nil || !strings.Contains(err.Error(), "--host-ip") {
			t.Errorf("%v: err = %v", bad, err)
		}
	}
}

func TestSetTriggersFlagsUnit(t *testing.T) {
	tests := []struct {
		o            setTriggersOptions
		print, reset bool
		wantErr      string
	}{
		{o: setTriggersOptions{}, print: true},
		{o: setTriggersOptions{Manual: true}, reset: true},
		{o: setTriggersOptions{FromConfig: true, Auto: true}},
		{o: setTriggersOptions{FromConfig: true, FromGitHub: true}, wantErr: "one trigger type at a time"},
		{o: setTriggersOptions{Containers: "a"}, wantErr: "--containers applies to --from-image only"},
		{o: setTriggersOptions{FromImage: "a@sha256:0"}, wantErr: "must include the tag"},
	}
	for _, tt := range tests {
		o := tt.o
		err := o.complete()
		switch {
		case tt.wantErr != "":
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("%+v: err = %v, want %q", tt.o, err, tt.wantErr)
			}
		case err != nil || o.print != tt.print || o.reset != tt.reset:
			t.Errorf("%+v: print %t reset %t err %v", tt.o, o.print, o.reset, err)
		}
	}
}
