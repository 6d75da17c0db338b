# meshlite — make targets. `make help` lists them.
SHELL := /bin/bash
GO ?= go
export PATH := /usr/local/go/bin:$(PATH)

# External tools are built once, pinned, into a cache outside the repo.
TOOLS_DIR ?= $(HOME)/.cache/meshlite/bin
H2SPEC_VERSION := v2.2.1+incompatible
STATICCHECK_VERSION := v0.7.0
PROTOC_GEN_GO_VERSION := v1.36.12
PROTOC_GEN_GO_GRPC_VERSION := v1.5.1
PROTOS := $(shell find internal/api -name '*.proto')
export MESHLITE_TOOLS_DIR := $(TOOLS_DIR)

# The version every binary reports (proxy_build_info, meshctl check).
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X github.com/meshlite/meshlite/internal/version.Version=$(VERSION)

# Every main package: */cmd/<binary>.
CMDS := ./proxy/cmd/... ./cli/cmd/... ./init/cmd/... ./identity/cmd/... ./destination/cmd/... ./internal/demo/cmd/...
# Debian packages the tests and the demo use (command → package).
APT_NEEDS := iptables:iptables ip:iproute2 curl:curl promtool:prometheus setpriv:util-linux protoc:protobuf-compiler

TEST_TIMEOUT ?= 15m

.PHONY: help build test lint demo bench generate generate-check deps tools clean fmt

help: ## list targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-16s %s\n", $$1, $$2}'

build: ## build every binary into bin/
	@mkdir -p bin
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o bin/ $(CMDS)

deps: ## install missing Debian packages and Go modules
	@missing=""; for pair in $(APT_NEEDS); do cmd=$${pair%%:*}; pkg=$${pair##*:}; \
	  command -v $$cmd >/dev/null 2>&1 || missing="$$missing $$pkg"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" != 0 ]; then echo "make: missing packages:$$missing (run as root or install them)"; exit 1; fi; \
	  echo "installing:$$missing"; apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; fi
	$(GO) mod download

tools: kube-tools $(TOOLS_DIR)/h2spec $(TOOLS_DIR)/staticcheck $(TOOLS_DIR)/protoc-gen-go $(TOOLS_DIR)/protoc-gen-go-grpc ## build the pinned external test tools into $(TOOLS_DIR)

.PHONY: kube-tools
kube-tools: ## build kube-apiserver, kube-controller-manager, kubectl and etcd (pinned) into $(TOOLS_DIR); ~10 min the first time
	@bash hack/kube/build.sh

# Jaeger all-in-one is the trace backend of the tracing tests (spans over
# OTLP, queried back through its API); see docs/observability.md.
.PHONY: jaeger
tools: jaeger
jaeger: ## build Jaeger all-in-one v1.76.0 into $(TOOLS_DIR) for the tracing tests; ~8-11 min the first time
	@bash hack/jaeger/build.sh

# kubeconform validates meshctl inject's and install's output in the tests,
# offline, against the schemas in internal/inject/testdata/schemas.
KUBECONFORM_VERSION := v0.8.0
.PHONY: kubeconform kubeschemas
tools: $(TOOLS_DIR)/kubeconform
kubeconform: $(TOOLS_DIR)/kubeconform ## install kubeconform (pinned) into $(TOOLS_DIR)

$(TOOLS_DIR)/kubeconform:
	@mkdir -p $(TOOLS_DIR)
	GOBIN=$(TOOLS_DIR) $(GO) install github.com/yannh/kubeconform/cmd/kubeconform@$(KUBECONFORM_VERSION)

kubeschemas: ## regenerate the strict JSON schemas kubeconform uses, from k8s.io/kubernetes' OpenAPI document
	$(GO) run ./hack/kubeschemas -out internal/inject/testdata/schemas

$(TOOLS_DIR)/h2spec:
	@mkdir -p $(TOOLS_DIR)
	GOBIN=$(TOOLS_DIR) $(GO) install github.com/summerwind/h2spec/cmd/h2spec@$(H2SPEC_VERSION)

$(TOOLS_DIR)/staticcheck:
	@mkdir -p $(TOOLS_DIR)
	GOBIN=$(TOOLS_DIR) $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)

$(TOOLS_DIR)/protoc-gen-go:
	@mkdir -p $(TOOLS_DIR)
	GOBIN=$(TOOLS_DIR) $(GO) install google.golang.org/protobuf/cmd/protoc-gen-go@$(PROTOC_GEN_GO_VERSION)

$(TOOLS_DIR)/protoc-gen-go-grpc:
	@mkdir -p $(TOOLS_DIR)
	GOBIN=$(TOOLS_DIR) $(GO) install google.golang.org/grpc/cmd/protoc-gen-go-grpc@$(PROTOC_GEN_GO_GRPC_VERSION)

generate: deps $(TOOLS_DIR)/protoc-gen-go $(TOOLS_DIR)/protoc-gen-go-grpc ## regenerate the gRPC code from internal/api/**/*.proto
	PATH=$(TOOLS_DIR):$$PATH protoc -I . -I /usr/include --go_out=. --go_opt=module=github.com/meshlite/meshlite \
	  --go-grpc_out=. --go-grpc_opt=module=github.com/meshlite/meshlite $(PROTOS)

generate-check: generate ## fail if the committed generated code differs from what generate produces
	@git diff --exit-code -- internal/api || (echo "generated code is stale: run make generate and commit"; exit 1)
	@test -z "$$(git status --porcelain -- internal/api | grep '^??')" || (echo "untracked generated files: run make generate and commit"; git status --porcelain -- internal/api; exit 1)

test: deps tools lint generate-check ## run the whole test suite (root: network namespaces and iptables are used)
	$(GO) test -race -timeout $(TEST_TIMEOUT) ./...

lint: tools ## gofmt check, go vet, staticcheck
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(TOOLS_DIR)/staticcheck ./...

fmt: ## format the code
	gofmt -w $$(git ls-files '*.go')

demo: deps build ## run the local demo (root); DEMO_SECONDS=N stops it after N seconds
	bin/meshctl demo --bin-dir bin $(if $(DEMO_SECONDS),--duration $(DEMO_SECONDS)s)

# Benchmarks (bench/). The full run installs the peers and tools it drives;
# BENCH_FLAGS passes flags to meshbench, e.g. BENCH_FLAGS="-reps 1 -window 3s".
FORTIO_VERSION := v1.68.2
BENCH_APT_NEEDS := haproxy:haproxy nginx:nginx wrk:wrk h2load:nghttp2-client iperf3:iperf3
NGINX_STREAM_MODULE := /usr/lib/nginx/modules/ngx_stream_module.so
BENCH_FLAGS ?=
.PHONY: bench-quick bench-bin bench-deps

bench: deps build bench-deps bench-bin ## run the full benchmarks (root, 20-40 min): bench/RESULTS.md, bench/latency.png
	bin/meshbench $(BENCH_FLAGS)

bench-quick: deps bench-bin ## quick benchmark (root, < 3 min): direct vs meshlite vs Go ReverseProxy, also in bench/out/quick.md
	bin/meshbench -quick $(BENCH_FLAGS)

bench-bin:
	@mkdir -p bin
	CGO_ENABLED=0 $(GO) build -trimpath -o bin/ ./proxy/cmd/meshlite-proxy ./identity/cmd/meshlite-identity ./bench/cmd/...

bench-deps: $(TOOLS_DIR)/fortio
	@missing=""; for pair in $(BENCH_APT_NEEDS); do cmd=$${pair%%:*}; pkg=$${pair##*:}; \
	  command -v $$cmd >/dev/null 2>&1 || [ -x /usr/sbin/$$cmd ] || missing="$$missing $$pkg"; done; \
	[ -f $(NGINX_STREAM_MODULE) ] || missing="$$missing libnginx-mod-stream"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" != 0 ]; then echo "make: missing packages:$$missing (run as root or install them)"; exit 1; fi; \
	  echo "installing:$$missing"; apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; fi

$(TOOLS_DIR)/fortio:
	@mkdir -p $(TOOLS_DIR)
	GOBIN=$(TOOLS_DIR) $(GO) install fortio.org/fortio@$(FORTIO_VERSION)

clean: ## remove build outputs
	rm -rf bin
