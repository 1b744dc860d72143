# Slipway: `make run` runs it on its embedded defaults, `make test` proves it.
GO       ?= go
BIN      := bin/slipway
BUILDKITD := bin/buildkitd
DATA_DIR ?= _data
LISTEN   ?= 127.0.0.1:8443
# The OpenShift modules are pseudo-versions the checksum database does not know;
# go.sum pins them.
export GONOSUMDB := github.com/openshift/*
# The embedded Kubernetes reports this version (kubectl version parses it).
KUBE_VERSION := v1.37.2
LDFLAGS  := -X k8s.io/component-base/version.gitVersion=$(KUBE_VERSION) -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=37
# Tests run this binary as the server (internal/testserver, test/e2e).
export SLIPWAY_TEST_BINARY := $(CURDIR)/$(BIN)

.PHONY: all build run test unit e2e bench vet deps clean

all: build

build: $(BUILDKITD)
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/slipway

# buildkitd is built from its own pinned tools module (`go install` of it is
# refused: buildkit's go.mod has exclude directives); rebuilt only when the
# pin changes.
$(BUILDKITD): hack/tools/buildkitd/go.mod hack/tools/buildkitd/go.sum
	cd hack/tools/buildkitd && $(GO) build -ldflags "-X github.com/moby/buildkit/version.Version=v0.34.2" -o $(CURDIR)/$(BUILDKITD) github.com/moby/buildkit/cmd/buildkitd

# deps installs the Debian packages Slipway and its tests use (git, etcd-server).
deps:
	@./hack/install-deps.sh

run: deps build
	$(BIN) server --data-dir $(DATA_DIR) --listen $(LISTEN)

vet:
	$(GO) vet ./...

unit:
	$(GO) test ./internal/... ./cmd/...

e2e: build
	$(GO) test -count=1 -timeout 20m ./test/e2e/...

test: deps vet build
	$(GO) test -count=1 -timeout 25m ./...

bench: build
	$(GO) test -run '^$$' -bench . -benchmem ./bench/...

clean:
	rm -rf bin $(DATA_DIR)
