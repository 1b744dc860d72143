#!/bin/sh
# make-layout1.sh regenerates layout1.tar.gz, the data directory of a
# Slipway of layout 1 (its own core API on etcd, before the Kubernetes
# control plane was embedded) that TestLayout1DataDirIsTakenOver starts
# the current binary on.
#
#   test/e2e/testdata/make-layout1.sh [COMMIT]     # default e115bd5, the last commit of layout 1
#
# It builds COMMIT's slipway in a git worktree, runs its server on a new
# data directory (no buildkitd: no build runs), makes with its CLI the
# objects below, stops it with SIGINT (etcd closes its WAL cleanly) and
# packs the data directory without what the current server makes again
# (the admin kubeconfig, the node's empty image and container stores, the
# registry's storage, which holds no image).
#
#   project legacy: secret creds (password=s3cret), config map settings
#   (greeting=hello), service account robot, service web (8080), BuildConfig
#   time (Git, Docker strategy, Generic webhook trigger only, so no build
#   starts), ImageStream mytime with status tag latest (an
#   ImageStreamMapping: image sha256 of "layout1") and spec tag stable
#   (from mytime:latest), DeploymentConfig mytime (replicas 0, ConfigChange
#   and ImageChange on mytime:latest: rolled out once by a deployer pod,
#   which leaves ReplicationController mytime-1)
set -eu

commit=${1:-e115bd5}
here=$(cd "$(dirname "$0")" && pwd)
repo=$(git -C "$here" rev-parse --show-toplevel)
out=$here/layout1.tar.gz
work=$(mktemp -d /tmp/slipway-layout1.XXXXXX)
src=$work/src
data=$work/data
bin=$work/slipway
pid=

cleanup() {
	[ -n "$pid" ] && kill -INT "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
	git -C "$repo" worktree remove --force "$src" 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT INT TERM

git -C "$repo" worktree add --detach "$src" "$commit" >/dev/null
(cd "$src" && GONOSUMDB='github.com/openshift/*' go build -o "$bin" ./cmd/slipway)

port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
listen=127.0.0.1:$(port)
"$bin" server --data-dir "$data" --listen "$listen" --registry-listen "127.0.0.1:$(port)" \
	--buildkitd /nonexistent/buildkitd >"$work/server.log" 2>&1 &
pid=$!
i=0
until [ -f "$data/admin.token" ] &&
	curl -sfk -H "Authorization: Bearer $(cat "$data/admin.token")" "https://$listen/readyz" >/dev/null; do
	i=$((i + 1))
	if [ $i -gt 600 ] || ! kill -0 "$pid" 2>/dev/null; then
		cat "$work/server.log" >&2
		echo "the layout 1 server did not get ready" >&2
		exit 1
	fi
	sleep 0.2
done

export KUBECONFIG=$work/kubeconfig HOME=$work
cp "$data/admin.kubeconfig" "$KUBECONFIG"
s() { "$bin" "$@"; }

s new-project legacy >/dev/null
s create secret generic creds --from-literal=password=s3cret
s create configmap settings --from-literal=greeting=hello
s create serviceaccount robot
s create service clusterip web --tcp=8080:8080
digest=sha256:$(printf layout1 | sha256sum | cut -d' ' -f1)
s create -f - <<EOF
apiVersion: build.openshift.io/v1
kind: BuildConfig
metadata:
  name: time
  labels: {app: time}
spec:
  source:
    type: Git
    git: {uri: "https://git.example.com/time.git", ref: main}
    contextDir: busybox
  strategy:
    type: Docker
    dockerStrategy:
      from: {kind: DockerImage, name: "registry.example.com/library/busybox:latest"}
  output:
    to: {kind: ImageStreamTag, name: "mytime:latest"}
  triggers:
  - type: Generic
    generic:
      secretReference: {name: creds}
---
apiVersion: image.openshift.io/v1
kind: ImageStream
metadata:
  name: mytime
spec:
  lookupPolicy: {local: true}
EOF
# imagestreammappings is create-only: the server publishes no schema for it.
s create --validate=false -f - >/dev/null <<EOF
apiVersion: image.openshift.io/v1
kind: ImageStreamMapping
metadata:
  name: mytime
tag: latest
image:
  metadata: {name: "$digest"}
  dockerImageReference: "registry.example.com/legacy/mytime@$digest"
EOF

s tag mytime:latest mytime:stable
s create -f - <<EOF
apiVersion: apps.openshift.io/v1
kind: DeploymentConfig
metadata:
  name: mytime
  labels: {app: mytime}
spec:
  replicas: 0
  selector: {deploymentconfig: mytime}
  strategy: {type: Recreate}
  template:
    metadata:
      labels: {app: mytime, deploymentconfig: mytime}
    spec:
      containers:
      - name: mytime
        image: " "
        ports: [{containerPort: 8080, protocol: TCP}]
  triggers:
  - type: ConfigChange
  - type: ImageChange
    imageChangeParams:
      automatic: true
      containerNames: [mytime]
      from: {kind: ImageStreamTag, name: "mytime:latest"}
EOF
i=0
until [ "$(s get rc mytime-1 -o 'jsonpath={.metadata.annotations.openshift\.io/deployment\.phase}' 2>/dev/null)" = Complete ]; do
	i=$((i + 1))
	if [ $i -gt 600 ]; then
		s get dc,rc,pods -o wide >&2 || true
		tail -40 "$work/server.log" >&2
		echo "mytime-1 did not complete" >&2
		exit 1
	fi
	sleep 0.2
done
s get all,secrets,configmaps,serviceaccounts,is,istag

kill -INT "$pid"
wait "$pid" || true
pid=

# What the current server makes again or never reads.
rm -rf "$data/registry" "$data/containers" "$data/images" "$data/runc" "$data/sandboxes" "$data/admin.kubeconfig"
tar -C "$data" --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 -cf - . | gzip -9n >"$out"
ls -l "$out"
