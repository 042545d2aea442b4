# Developer entry points. `make help` lists them.
# Tool versions are pinned in scripts/tools.sh; tools live in ./bin.

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

BIN       := $(CURDIR)/bin
TOOLS     := TOOLS_BIN=$(BIN) $(CURDIR)/scripts/tools.sh
PKGS      ?= ./...
FUZZTIME  ?= 30s
BENCH     ?= .
BENCH_OUT ?= $(BIN)/bench.txt
GOTEST    ?= go test

.PHONY: help run build test race fuzz bench bench-go load-bench benchstat vet fmt fmt-check lint vuln tools ci clean

help: ## list targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

run: ## run the server locally (go run ./cmd/grantlog serve)
	go run ./cmd/grantlog serve $(ARGS)

build: ## build bin/grantlog
	go build -o $(BIN)/grantlog ./cmd/grantlog

test: ## go test ./... (the README's test command)
	$(GOTEST) -timeout 10m $(PKGS)

race: ## tests under the race detector (-short)
	$(GOTEST) -race -short -timeout 10m $(PKGS)

fuzz: ## run every Fuzz target for FUZZTIME each (FUZZTIME=30s)
	@grep -rl --include='*_test.go' '^func Fuzz' . | xargs -r -n1 dirname | sort -u | while read -r dir; do \
	  for f in $$(grep -ho '^func Fuzz[A-Za-z0-9_]*' $$dir/*_test.go | sed 's/^func //'); do \
	    echo "== $$dir $$f ($(FUZZTIME))"; \
	    $(GOTEST) -run='^$$' -fuzz="^$$f\$$" -fuzztime=$(FUZZTIME) $$dir; \
	  done; \
	done

bench: ## the tables of docs/BENCHMARKS.md: Go benchmarks, load tool, 10k/100k/1M scale runs, charts (bin/bench, ~10 min)
	./scripts/bench.sh

bench-go: ## Go benchmarks only, -benchmem, output tee'd to BENCH_OUT (bin/bench.txt)
	@mkdir -p $(dir $(BENCH_OUT))
	$(GOTEST) -run='^$$' -bench='$(BENCH)' -benchmem $(PKGS) | tee $(BENCH_OUT)

load-bench: ## the load tool on the default shape (100k users); results also in bin/grantbench.json
	@mkdir -p bin
	go run ./cmd/grantbench --json bin/grantbench.json

benchstat: tools ## compare benchmark runs: make benchstat OLD=a.txt NEW=b.txt
	$(BIN)/benchstat $(OLD) $(NEW)

vet: ## go vet ./...
	go vet $(PKGS)

fmt: tools ## format code (gofmt + goimports, local prefix github.com/grantlog/grantlog)
	$(BIN)/golangci-lint fmt

fmt-check: ## list files gofmt would change (fails if any)
	@files=$$(find . -path ./.git -prune -o -path ./bin -prune -o -path '*/testdata' -prune -o -name '*.go' -type f -print | xargs -r gofmt -l); \
	if [[ -n "$$files" ]]; then echo "not gofmt'ed:"; echo "$$files"; exit 1; fi

lint: ## golangci-lint (pinned) with .golangci.yml
	@$(TOOLS) golangci-lint
	$(BIN)/golangci-lint run $(PKGS)

vuln: ## govulncheck (pinned)
	@$(TOOLS) govulncheck
	$(BIN)/govulncheck $(PKGS)

tools: ## install pinned golangci-lint, govulncheck, benchstat into ./bin
	@$(TOOLS)

ci: ## everything CI runs (.ci/run)
	./.ci/run

clean: ## remove build outputs in ./bin (keeps nothing)
	rm -rf $(BIN)
