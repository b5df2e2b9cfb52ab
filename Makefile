# credential-grafana — `make help` lists the targets.
GO      ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X main.version=$(VERSION)

.DEFAULT_GOAL := help
.PHONY: help setup run build test test-short lint bench dist clean

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

lint: ## gofmt, go vet and go mod tidy
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "run gofmt -w on the files above"; exit 1; }
	$(GO) vet ./...
	@$(GO) mod tidy -diff || { echo "run go mod tidy"; exit 1; }

bench: setup ## run the benchmarks
	$(GO) test -run '^$$' -bench . -benchmem -timeout 30m ./...

DIST_DIR ?= dist
GOOS    ?= $(shell $(GO) env GOOS)
GOARCH  ?= $(shell $(GO) env GOARCH)
DIST_NAME := credential-grafana-$(VERSION)-$(GOOS)-$(GOARCH)

dist: ## build the release tarball $(DIST_DIR)/credential-grafana-<version>-<os>-<arch>.tar.gz
	@rm -rf $(DIST_DIR)/$(DIST_NAME) && mkdir -p $(DIST_DIR)/$(DIST_NAME)
	CGO_ENABLED=0 GOOS=$(GOOS) GOARCH=$(GOARCH) $(GO) build -trimpath -ldflags "-s -w $(LDFLAGS)" -o $(DIST_DIR)/$(DIST_NAME)/credential-grafana .
	cp .env.example slack-app-manifest.yaml deploy/credential-grafana.service deploy/INSTALL.md $(DIST_DIR)/$(DIST_NAME)/
	tar -C $(DIST_DIR) -czf $(DIST_DIR)/$(DIST_NAME).tar.gz $(DIST_NAME)
	@rm -rf $(DIST_DIR)/$(DIST_NAME)
	@echo "$(DIST_DIR)/$(DIST_NAME).tar.gz"

clean: ## remove build output and recorded GIFs
	rm -rf credential-grafana captures dist
