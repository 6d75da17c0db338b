# meshlite — make targets. `make help` lists them.
SHELL := /bin/bash
GO ?= go
export PATH := /usr/local/go/bin:$(PATH)

# External tools are built once, pinned, into a cache outside the repo.
TOOLS_DIR ?= $(HOME)/.cache/meshlite/bin
H2SPEC_VERSION := v2.2.1+incompatible
STATICCHECK_VERSION := v0.7.0
export MESHLITE_TOOLS_DIR := $(TOOLS_DIR)

# Every main package: */cmd/<binary>.
CMDS := ./proxy/cmd/... ./cli/cmd/...
# Debian packages the tests and the demo use (command → package).
APT_NEEDS := iptables:iptables ip:iproute2 curl:curl promtool:prometheus setpriv:util-linux

TEST_TIMEOUT ?= 15m

.PHONY: help build test lint demo bench generate generate-check deps tools clean fmt

help: ## list targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-16s %s\n", $$1, $$2}'

build: ## build every binary into bin/
	@mkdir -p bin
	$(GO) build -trimpath -o bin/ $(CMDS)

deps: ## install missing Debian packages and Go modules
	@missing=""; for pair in $(APT_NEEDS); do cmd=$${pair%%:*}; pkg=$${pair##*:}; \
	  command -v $$cmd >/dev/null 2>&1 || missing="$$missing $$pkg"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" != 0 ]; then echo "make: missing packages:$$missing (run as root or install them)"; exit 1; fi; \
	  echo "installing:$$missing"; apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; fi
	$(GO) mod download

tools: $(TOOLS_DIR)/h2spec $(TOOLS_DIR)/staticcheck ## build the pinned external test tools into $(TOOLS_DIR)

$(TOOLS_DIR)/h2spec:
	@mkdir -p $(TOOLS_DIR)
	GOBIN=$(TOOLS_DIR) $(GO) install github.com/summerwind/h2spec/cmd/h2spec@$(H2SPEC_VERSION)

$(TOOLS_DIR)/staticcheck:
	@mkdir -p $(TOOLS_DIR)
	GOBIN=$(TOOLS_DIR) $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)

test: deps tools lint ## run the whole test suite (root: network namespaces and iptables are used)
	$(GO) test -race -timeout $(TEST_TIMEOUT) ./...

lint: tools ## gofmt check, go vet, staticcheck
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(TOOLS_DIR)/staticcheck ./...

fmt: ## format the code
	gofmt -w $$(git ls-files '*.go')

demo: deps build ## run the local demo (root); DEMO_SECONDS=N stops it after N seconds
	bin/meshctl demo --bin-dir bin $(if $(DEMO_SECONDS),--duration $(DEMO_SECONDS)s)

bench: deps build ## run the benchmarks and write bench/RESULTS.md
	$(GO) run ./bench/cmd/meshbench

clean: ## remove build outputs
	rm -rf bin
