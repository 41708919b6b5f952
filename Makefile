# mutualauth: build, test and lint. `make help` lists the targets.
#
# Variables that CI or a developer may override:
#   PKGS=./store/...           packages for test, test-short, bench, fuzz
#   TESTFLAGS='-run TestFoo -v' extra flags for go test
#   TEST_TIMEOUT=20m           go test -timeout for the full suite
#   BENCHFLAGS='-count 5'      extra flags for bench
#   FUZZTIME=30s               how long each fuzz target runs
#   IMAGE=mutualauth:dev       the tag that `make docker` builds

GO           ?= go
BIN          ?= bin/mutualauth
PKGS         ?= ./...
TEST_TIMEOUT ?= 20m
TESTFLAGS    ?=
BENCHFLAGS   ?=
FUZZTIME     ?= 30s
IMAGE        ?= mutualauth:latest

# staticcheck 2026.2.2 (v0.8.2) builds with Go 1.26; `go run` caches it after
# the first build. Point STATICCHECK at an installed binary to skip that.
STATICCHECK_VERSION ?= v0.8.2
STATICCHECK         ?= $(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)

.DEFAULT_GOAL := build

.PHONY: help build run test test-short e2e lint fmt bench fuzz docker clean

help:
	@echo 'make build       build $(BIN) (static, CGO_ENABLED=0)'
	@echo 'make run         build and serve on the embedded defaults (SQLite in ./data)'
	@echo 'make test        the whole suite, with the race detector where cgo works (TESTFLAGS, PKGS, TEST_TIMEOUT)'
	@echo 'make test-short  the quick tests only (go test -short; no browser tests)'
	@echo 'make e2e         the end-to-end tests in headless Chromium'
	@echo 'make lint        gofmt, go vet and staticcheck'
	@echo 'make bench       benchmarks (BENCHFLAGS)'
	@echo 'make fuzz        every fuzz target for FUZZTIME each'
	@echo 'make docker      build the container image $(IMAGE)'
	@echo 'make clean       remove build output and screenshots'

build:
	CGO_ENABLED=0 $(GO) build -trimpath -o $(BIN) .

run: build
	./$(BIN)

# The race detector needs cgo, so a C compiler; where there is none, test
# and e2e run without it and say so (.ci/run requires it).
RACE ?= $(if $(filter 1,$(shell $(GO) env CGO_ENABLED)),-race,)

test:
	@[ -n "$(RACE)" ] || echo 'no C compiler (go env CGO_ENABLED is 0): testing without the race detector; install gcc to have it'
	$(GO) test $(RACE) -count=1 -timeout $(TEST_TIMEOUT) $(TESTFLAGS) $(PKGS)

test-short:
	$(GO) test -short -count=1 -timeout 5m $(TESTFLAGS) $(PKGS)

e2e:
	$(GO) test $(RACE) -count=1 -timeout $(TEST_TIMEOUT) $(TESTFLAGS) ./e2e/...

lint:
	@unformatted="$$(gofmt -l .)"; \
	if [ -n "$$unformatted" ]; then \
		echo 'gofmt: these files need formatting (run make fmt):'; echo "$$unformatted"; exit 1; \
	fi
	$(GO) vet ./...
	$(STATICCHECK) ./...

fmt:
	gofmt -w .

# The Go micro-benchmarks of the hot pieces (proof signing, session lookup,
# the verify handler on a cached session, password verify, TOTP check),
# then the load benchmark against the real binary and a throwaway Redis
# (bench/: the bare net/http and redis GET limits, verify with and without
# the client-side cache, the revocation lag between two instances, begin,
# full login, peak memory; flags in BENCHARGS, e.g.
# BENCHARGS='-duration 5s -loadgen wrk'). It writes bench/results.json.
bench:
	$(GO) test -run '^$$' -bench . -benchmem $(BENCHFLAGS) ./server/... ./store/redis/...
	$(GO) run ./bench $(BENCHARGS)

# Runs each FuzzXxx function of PKGS in turn for FUZZTIME (.ci/fuzz says
# how). A failing input is saved under the package's testdata/fuzz/FuzzXxx/
# and fails the run.
fuzz:
	GO=$(GO) bash .ci/fuzz $(FUZZTIME) $(PKGS)

docker:
	docker build -t $(IMAGE) .

clean:
	rm -rf bin e2e/screenshots
