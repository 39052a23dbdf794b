# SitePulse build and test entry points. GNU make; `make help` lists targets.

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

# Build with the Go in PATH (1.26.8), never a downloaded toolchain.
export GOTOOLCHAIN := local

GO          ?= go
STATICCHECK ?= $(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2
TESTTIMEOUT ?= 20m
# Extra `go test` flags for `unit`, e.g. -count=1 (bypass the test cache), -v.
GOTESTFLAGS ?=
FUZZTIME    ?= 10s
BENCHTIME   ?= 1s
QEMU_ARM    ?= qemu-arm-static
# Computed once (:=), not on every use; `make VERSION=v1.2.3 cross` overrides.
ifeq ($(origin VERSION),undefined)
VERSION := $(shell git describe --always --dirty 2>/dev/null || echo dev)
endif
LDFLAGS     := -s -w -X main.version=$(VERSION)

# Packages whose tests run on 32-bit ARM under qemu: the protocol, the
# RouterOS word codec the agent uses, and,
# once it exists, everything under agent/.
ARM_PKGS ?= ./protocol/... ./internal/rosword $(if $(wildcard agent/*),./agent/...)

.PHONY: images help build test fmt-check vet staticcheck unit cross fuzz bench bench-go chaos chaos-short test-arm web demo browser-test clean

help: ## list targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*## "}; {printf "  %-12s %s\n", $$1, $$2}'

build: ## build every command in cmd/ into bin/
	@mkdir -p bin
	$(GO) build -ldflags '-X main.version=$(VERSION)' -o bin/ ./cmd/...

test: fmt-check vet staticcheck unit browser-test ## gofmt check, go vet, staticcheck, go test -race on every package, then the browser test

fmt-check: ## fail listing any Go file that gofmt would change
	@files=$$(git ls-files --cached --others --exclude-standard -- '*.go' | xargs -r gofmt -l); \
	if [ -n "$$files" ]; then echo "gofmt needed on:"; echo "$$files"; exit 1; fi

vet: ## go vet ./...
	$(GO) vet ./...

staticcheck: ## staticcheck ./... (pinned v0.8.2, compiled on first use)
	$(STATICCHECK) ./...

# The image test packs the binaries of `make cross` when they exist, and
# builds its own otherwise.
# The browser test runs on its own after the others (browser-test): it
# times a login's arrival in the dashboard against a 1 s budget, which is
# only meaningful when the rest of the suite is not loading both cores.
unit: ## go test -race on every package but e2e (PostgreSQL tests need SITEPULSE_TEST_DATABASE_URL; .ci/run sets it)
	SITEPULSE_CROSS_DIR=$(CURDIR)/bin/cross $(GO) test -race -timeout $(TESTTIMEOUT) $(GOTESTFLAGS) $$($(GO) list ./... | grep -v '/e2e$$')

cross: ## static agent binaries for linux arm/v7, arm64, amd64 in bin/cross/
	@test -d cmd/sitepulse-agent || { echo "cross: cmd/sitepulse-agent does not exist yet" >&2; exit 1; }
	@mkdir -p bin/cross
	CGO_ENABLED=0 GOOS=linux GOARCH=arm GOARM=7 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/cross/sitepulse-agent-linux-armv7 ./cmd/sitepulse-agent
	CGO_ENABLED=0 GOOS=linux GOARCH=arm64 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/cross/sitepulse-agent-linux-arm64 ./cmd/sitepulse-agent
	CGO_ENABLED=0 GOOS=linux GOARCH=amd64 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/cross/sitepulse-agent-linux-amd64 ./cmd/sitepulse-agent
	@if command -v file >/dev/null; then file bin/cross/*; else ls -l bin/cross/; fi

images: cross ## agent images as single-platform docker-save tars (RouterOS /container import) in bin/images/
	@mkdir -p bin/images
	$(GO) run ./deploy/image --platform linux/arm/v7 --binary bin/cross/sitepulse-agent-linux-armv7 --tag sitepulse/agent:$(VERSION) --out bin/images/sitepulse-agent-arm.tar
	$(GO) run ./deploy/image --platform linux/arm64 --binary bin/cross/sitepulse-agent-linux-arm64 --tag sitepulse/agent:$(VERSION) --out bin/images/sitepulse-agent-arm64.tar
	$(GO) run ./deploy/image --platform linux/amd64 --binary bin/cross/sitepulse-agent-linux-amd64 --tag sitepulse/agent:$(VERSION) --out bin/images/sitepulse-agent-amd64.tar
	@ls -l bin/images/

# Fuzz targets are found, not listed: grep narrows the search to packages
# with a `func Fuzz` in a test file, and `go test -list` names the targets.
# `go test -fuzz` takes one target per run.
#
# Go 1.26's fuzz coordinator can fail a run at the -fuzztime deadline with
# a bare "context deadline exceeded" although nothing was found
# (golang/go#75804, fixed in Go 1.27). Such a run, and only such a run
# (no "Failing input written"), is tried once more; anything else fails.
fuzz: ## run every Fuzz target in the module for FUZZTIME each (default 10s)
	@dirs=$$(git ls-files --cached --others --exclude-standard -- '*_test.go' | xargs -r grep -l '^func Fuzz' | xargs -r -n1 dirname | sort -u); \
	[ -n "$$dirs" ] || { echo "fuzz: no fuzz targets found" >&2; exit 1; }; \
	log=$$(mktemp); trap 'rm -f "$$log"' EXIT; \
	n=0; for d in $$dirs; do \
	  for t in $$($(GO) test -list '^Fuzz' ./$$d | grep '^Fuzz' || true); do \
	    for try in 1 2; do \
	      echo "== fuzz ./$$d $$t for $(FUZZTIME)"; \
	      if $(GO) test -run '^$$' -fuzz "^$$t\$$" -fuzztime $(FUZZTIME) ./$$d 2>&1 | tee "$$log"; then break; fi; \
	      if [ $$try = 1 ] && grep -q '^    context deadline exceeded$$' "$$log" && ! grep -q 'Failing input written' "$$log"; then \
	        echo "== $$t stopped on the fuzz coordinator's deadline race (golang/go#75804), nothing found; once more"; \
	      else exit 1; fi; \
	    done; \
	    echo "fuzz: ok ./$$d $$t"; n=$$((n+1)); \
	  done; \
	done; \
	echo "fuzz: $$n targets ran for $(FUZZTIME) each without a failure"

bench: ## load report (bench/): markdown table + bench/results/<date>.json, ~9 min on 2 cores; BENCH_QUICK=1 for a smoke run
	$(GO) run ./bench

bench-go: ## Go benchmarks of every package
	$(GO) test -run '^$$' -bench . -benchmem -benchtime $(BENCHTIME) ./...

# The chaos suite is a Go test behind the "chaos" build tag, so `make test`
# never runs it. Full mode starts its own PostgreSQL 15 (as the postgres
# user) to restart it; short mode uses SQLite and short outages (CI).
chaos: ## fault injection against the simulator's ground truth: SQLite and PostgreSQL, long outages (~5 min)
	$(GO) test -tags chaos -count=1 -v -timeout 20m -run '^TestChaos$$' ./chaos/

chaos-short: ## the chaos suite's short mode on SQLite (~2 min; run by .ci/run)
	$(GO) test -tags chaos -short -count=1 -v -timeout 10m -run '^TestChaos$$' ./chaos/

# Test binaries are built for GOARCH=arm GOARM=7 and run under qemu user
# emulation from their package directory, as `go test` would, so testdata/
# resolves. This catches 32-bit faults such as unaligned 64-bit atomics.
test-arm: ## build protocol and agent test binaries for arm/v7 and run them under qemu-arm-static
	@command -v $(QEMU_ARM) >/dev/null || { echo "test-arm: $(QEMU_ARM) not found (apt-get install qemu-user-static)" >&2; exit 1; }
	@mkdir -p bin/arm
	@pkgs=$$($(GO) list -f '{{if or .TestGoFiles .XTestGoFiles}}{{.ImportPath}}={{.Dir}}{{end}}' $(ARM_PKGS)); \
	[ -n "$$pkgs" ] || { echo "test-arm: no test packages in $(ARM_PKGS)" >&2; exit 1; }; \
	for p in $$pkgs; do \
	  ip=$${p%%=*}; dir=$${p#*=}; bin=$(CURDIR)/bin/arm/$$(echo "$$ip" | tr / _).test; \
	  CGO_ENABLED=0 GOOS=linux GOARCH=arm GOARM=7 $(GO) test -c -o "$$bin" "$$ip"; \
	  echo "== $$ip under $(QEMU_ARM)"; \
	  (cd "$$dir" && $(QEMU_ARM) "$$bin" -test.timeout $(TESTTIMEOUT)); \
	done

# The dashboard is rebuilt when a source file is newer than dist/index.html
# and reinstalled when package-lock.json is newer than npm ci's own copy of
# it. Build it before `build`: the binary embeds dist/ as it is.
WEB_DIR  := controlplane/web
WEB_SRCS  = $(shell find $(WEB_DIR)/src $(WEB_DIR)/public -type f 2>/dev/null) \
            $(WEB_DIR)/index.html $(WEB_DIR)/package.json $(WEB_DIR)/vite.config.js

web: $(WEB_DIR)/dist/index.html ## build the dashboard into controlplane/web/dist (npm ci and npm run build, when stale)

$(WEB_DIR)/dist/index.html: $(WEB_SRCS) $(WEB_DIR)/node_modules/.package-lock.json
	cd $(WEB_DIR) && npm run build

$(WEB_DIR)/node_modules/.package-lock.json: $(WEB_DIR)/package-lock.json
	cd $(WEB_DIR) && npm ci --no-audit --no-fund --loglevel=error

# The locked pusher-js, laravel-echo and pusher packages the Go tests run
# (controlplane/fanout and cmd/sitepulse), installed once before them so
# that two test binaries never run npm ci in the same folder at once.
JSTEST_DIR := controlplane/fanout/jstest
unit: $(JSTEST_DIR)/node_modules/.package-lock.json

$(JSTEST_DIR)/node_modules/.package-lock.json: $(JSTEST_DIR)/package-lock.json
	cd $(JSTEST_DIR) && npm ci --no-audit --no-fund --loglevel=error

# The demo's settings come from SITEPULSE_DEMO_* variables, e.g.
# SITEPULSE_DEMO_HTTP_ADDR=127.0.0.1:18080 make demo (see demo/doc.go).
demo: web ## build everything, then run the demo: control plane, 3 simulated sites with agents (Ctrl-C stops)
	@$(MAKE) --no-print-directory build
	$(GO) build -o bin/sitepulse-demo ./demo
	bin/sitepulse-demo

browser-test: ## only the dashboard test in headless Chromium, verbose (SITEPULSE_E2E_WATCH=60 seconds)
	$(GO) test -count=1 -v -run '^TestDashboardInChromium$$' ./e2e/

clean: ## remove bin/
	rm -rf bin
