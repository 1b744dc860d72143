package e2e

import (
	"context"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"sigs.k8s.io/yaml"
)

// TestInvalidObjectsAreRefused: each invalid object gets a 422 whose message
// names the offending field, and nothing is stored.
func TestInvalidObjectsAreRefused(t *testing.T) {
	s := startServer(t)
	cfg := s.restConfig()
	newProject(t, cfg, "bad")
	dyn := dynamic.NewForConfigOrDie(cfg)
	gvr := map[string]schema.GroupVersionResource{
		"BuildConfig":      {Group: "build.openshift.io", Version: "v1", Resource: "buildconfigs"},
		"Build":            {Group: "build.openshift.io", Version: "v1", Resource: "builds"},
		"ImageStream":      {Group: "image.openshift.io", Version: "v1", Resource: "imagestreams"},
		"DeploymentConfig": {Group: "apps.openshift.io", Version: "v1", Resource: "deploymentconfigs"},
		"Secret":           {Version: "v1", Resource: "secrets"},
		"ServiceAccount":   {Version: "v1", Resource: "serviceaccounts"},
		"Pod":              {Version: "v1", Resource: "pods"},
		"ProjectRequest":   {Group: "project.openshift.io", Version: "v1", Resource: "projectrequests"},
	}
	cases := []struct {
		name, field, yaml string
	}{
		{"bc without output name", "spec.output.to.name", `
apiVersion: build.openshift.io/v1
kind: BuildConfig
metadata: {name: no-output-name}
spec:
  source: {git: {uri: "https://git.example.com/x.git"}}
  strategy: {type: Docker, dockerStrategy: {}}
  output: {to: {kind: DockerImage}}`},
		{"bc output kind", "spec.output.to.kind", `
apiVersion: build.openshift.io/v1
kind: BuildConfig
metadata: {name: bad-output-kind}
spec:
  source: {git: {uri: "https://git.example.com/x.git"}}
  strategy: {type: Docker, dockerStrategy: {}}
  output: {to: {kind: Pod, name: x}}`},
		{"bc source strategy without from", "spec.strategy.sourceStrategy.from", `
apiVersion: build.openshift.io/v1
kind: BuildConfig
metadata: {name: s2i-no-from}
spec:
  source: {git: {uri: "https://git.example.com/x.git"}}
  strategy: {type: Source, sourceStrategy: {}}`},
		{"bc git without uri", "spec.source.git.uri", `
apiVersion: build.openshift.io/v1
kind: BuildConfig
metadata: {name: no-uri}
spec:
  source: {git: {ref: main}}
  strategy: {type: Docker, dockerStrategy: {}}`},
		{"bc bad run policy", "spec.runPolicy", `
apiVersion: build.openshift.io/v1
kind: BuildConfig
metadata: {name: bad-policy}
spec:
  runPolicy: Sometimes
  source: {git: {uri: "https://git.example.com/x.git"}}
  strategy: {type: Docker, dockerStrategy: {}}`},
		{"bc context dir escapes", "spec.source.contextDir", `
apiVersion: build.openshift.io/v1
kind: BuildConfig
metadata: {name: escape}
spec:
  source: {git: {uri: "https://git.example.com/x.git"}, contextDir: "../etc"}
  strategy: {type: Docker, dockerStrategy: {}}`},
		{"build istag output not name:tag", "spec.output.to.name", `
apiVersion: build.openshift.io/v1
kind: Build
metadata: {name: b-1}
spec:
  source: {git: {uri: "https://git.example.com/x.git"}}
  strategy: {type: Docker, dockerStrategy: {}}
  output: {to: {kind: ImageStreamTag, name: "no-tag"}}`},
		{"is tag without from name", "spec.tags[0].from.name", `
apiVersion: image.openshift.io/v1
kind: ImageStream
metadata: {name: s}
spec:
  tags: [{name: latest, from: {kind: DockerImage}}]`},
		{"is tag with bad reference", "spec.tags[0].from.name", `
apiVersion: image.openshift.io/v1
kind: ImageStream
metadata: {name: s2}
spec:
  tags: [{name: latest, from: {kind: DockerImage, name: "UPPER/Case:latest"}}]`},
		{"dc image trigger without from", "spec.triggers[1].imageChangeParams.from.name", `
apiVersion: apps.openshift.io/v1
kind: DeploymentConfig
metadata: {name: dc1}
spec:
  replicas: 1
  selector: {app: x}
  template:
    metadata: {labels: {app: x}}
    spec: {containers: [{name: x, image: " "}]}
  triggers:
  - type: ConfigChange
  - type: ImageChange
    imageChangeParams: {automatic: true, containerNames: [x], from: {kind: ImageStreamTag}}`},
		{"dc without template", "spec.template", `
apiVersion: apps.openshift.io/v1
kind: DeploymentConfig
metadata: {name: dc2}
spec: {replicas: 1}`},
		{"dc negative replicas", "spec.replicas", `
apiVersion: apps.openshift.io/v1
kind: DeploymentConfig
metadata: {name: dc3}
spec:
  replicas: -1
  template:
    metadata: {labels: {app: x}}
    spec: {containers: [{name: x, image: busybox}]}`},
		{"dockercfg secret with bad JSON", "data[.dockercfg]", `
apiVersion: v1
kind: Secret
metadata: {name: badcfg}
type: kubernetes.io/dockercfg
stringData: {.dockercfg: "not json"}`},
		{"dockerconfigjson secret without key", "data[.dockerconfigjson]", `
apiVersion: v1
kind: Secret
metadata: {name: badjson}
type: kubernetes.io/dockerconfigjson
stringData: {config.json: "{}"}`},
		{"service account bad name", "metadata.name", `
apiVersion: v1
kind: ServiceAccount
metadata: {name: "Not_Valid"}`},
		{"pod without containers", "spec.containers", `
apiVersion: v1
kind: Pod
metadata: {name: p}
spec: {containers: []}`},
		{"invalid project name", "metadata.name", `
apiVersion: project.openshift.io/v1
kind: ProjectRequest
metadata: {name: Not_A_Project}`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			obj := &unstructured.Unstructured{}
			if err := yaml.Unmarshal([]byte(c.yaml), &obj.Object); err != nil {
				t.Fatal(err)
			}
			res := gvr[obj.GetKind()]
			var err error
			if obj.GetKind() == "ProjectRequest" {
				_, err = dyn.Resource(res).Create(context.Background(), obj, createOpts)
			} else {
				_, err = dyn.Resource(res).Namespace("bad").Create(context.Background(), obj, createOpts)
			}
			if !apierrors.IsInvalid(err) {
				t.Fatalf("create: %v, want 422 Invalid", err)
			}
			if status := err.(apierrors.APIStatus).Status(); status.Code != 422 {
				t.Fatalf("HTTP %d, want 422", status.Code)
			}
			if !strings.Contains(err.Error(), c.field) {
				t.Fatalf("error %q does not name field %s", err, c.field)
			}
			if obj.GetKind() != "ProjectRequest" {
				if _, err := dyn.Resource(res).Namespace("bad").Get(context.Background(), obj.GetName(), getOpts); !apierrors.IsNotFound(err) {
					t.Fatalf("invalid object was stored: %v", err)
				}
			}
		})
	}
}
