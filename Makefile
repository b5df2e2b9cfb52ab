# credential-grafana — `make help` lists the targets.
GO      ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X main.version=$(VERSION)

.DEFAULT_GOAL := help
.PHONY: help setup run build test test-short lint bench clean

help: ## list the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-z-]+:.*## / {printf "  %-11s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

setup: ## make sure PostgreSQL runs on 127.0.0.1:5432 and Debian's chromium is installed
	@bash .ci/setup

.env:
	@$(GO) run -ldflags "$(LDFLAGS)" . init

run: setup .env ## run the service against the local PostgreSQL (writes .env on first use)
	$(GO) run -ldflags "$(LDFLAGS)" . serve

build: ## build ./credential-grafana
	$(GO) build -ldflags "$(LDFLAGS)" -o credential-grafana .

test: setup ## run every test against the real PostgreSQL and Chromium
	$(GO) test -race -count=1 -timeout 12m ./...

lint: ## gofmt and go vet
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "run gofmt -w on the files above"; exit 1; }
	$(GO) vet ./...

bench: setup ## run the benchmarks
	$(GO) test -run '^$$' -bench . -benchmem -timeout 30m ./...

clean: ## remove build output and recorded GIFs
	rm -rf credential-grafana captures
