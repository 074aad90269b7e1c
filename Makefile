# zk-flock: see README.md. `make test` is what CI runs.
SHELL := /bin/bash
export PATH := $(PATH):/usr/local/go/bin

VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null | sed 's/^v//' || echo dev)
COMMIT  ?= $(shell git rev-parse --short=12 HEAD 2>/dev/null)
# The binary says the same version as the Debian package built from it.
LDFLAGS := -X main.version=$(shell packaging/deb-version.sh '$(VERSION)') -X main.commit=$(COMMIT)
GO      ?= go
ZK_JAR  := /usr/share/java/zookeeper.jar

.PHONY: all build deps test vet fmt-check unit demo clean

all: build

# build makes zk-flock and, beside it where zk-flock looks for it, the
# helper that writes --metrics-file (zk-flock-metrics). Static, as the
# Debian package's: with cgo, the dynamic loader and pthread start-up cost
# zk-flock about 2 ms of its 5-8 ms per run, and it needs nothing from C.
build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o zk-flock ./cmd/zk-flock
	CGO_ENABLED=0 $(GO) build -trimpath -o zk-flock-metrics ./cmd/zk-flock-metrics

# deps installs what the tests need: ZooKeeper (and its zkCli.sh) from
# Debian's packages, with a Java runtime. Root, or sudo, is needed once.
deps:
	@if [ ! -f $(ZK_JAR) ] || ! command -v java >/dev/null; then \
		echo "installing Debian's zookeeper package"; \
		SUDO=; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
		export DEBIAN_FRONTEND=noninteractive; \
		$$SUDO apt-get install -y --no-install-recommends zookeeper || \
		{ $$SUDO apt-get update && $$SUDO apt-get install -y --no-install-recommends zookeeper; }; \
	fi
	@test -f $(ZK_JAR) || { echo "ZooKeeper is still missing: $(ZK_JAR)"; exit 1; }

vet:
	$(GO) vet ./...

fmt-check:
	@out=$$(gofmt -l .); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

# test: vet, formatting, then unit, integration (real ZooKeeper started by
# internal/testzk) and end-to-end tests of the built binary, all with -race.
test: deps vet fmt-check
	$(GO) test -race -count=1 -timeout 15m ./...

# unit runs only what needs no ZooKeeper.
unit:
	$(GO) test -race -short ./...

# chaos runs the fault-injection suite (internal/chaos, see
# docs/RELIABILITY.md): a real 3-server ensemble, zk-flock clients behind
# fault proxies, every fault kind three times, then a random mix until at
# least 10,000 lock cycles (about ten minutes); it rewrites the figures in
# docs/RELIABILITY.md. chaos-smoke covers every fault kind once in under
# three minutes (make test runs the same as TestChaosSmoke). Both fail if two
# holders of a lock ever ran at once. Exact death times need root (the
# kernel's process events); without it they are end-of-file times.
.PHONY: chaos chaos-smoke
chaos: deps
	$(GO) run ./cmd/zk-flock-chaos -doc docs/RELIABILITY.md -json $${TMPDIR:-/tmp}/zk-flock-chaos.json

chaos-smoke: deps
	$(GO) run ./cmd/zk-flock-chaos -short

# demo builds zk-flock, starts a throwaway ZooKeeper and shows three
# contenders take one lock in turn, then stops everything it started.
demo: deps build
	$(GO) run ./tools/demo -bin ./zk-flock

# deb builds dist/zk-flock_<version>_<arch>.deb with nfpm: the static binary,
# the man page and completions generated from its flags, the example
# configuration as a conffile that never replaces the host's, and examples
# (see packaging/README.md). deb-check builds it, installs it on this machine
# (root, or sudo) over an administrator's configuration and over a stand-in of
# the original Python zk-flock, checks zk-flock --version and man -w zk-flock,
# then purges it and puts back what it moved.
.PHONY: deb deb-check
deb:
	@VERSION='$(VERSION)' GO='$(GO)' packaging/build-deb.sh

deb-check:
	VERSION='$(VERSION)' GO='$(GO)' packaging/deb-check.sh

clean:
	rm -f zk-flock zk-flock-metrics

# bench runs the benchmark suite (cmd/zk-flock-bench): zk-flock side by side
# with flock(1), etcdctl lock and the raw ZooKeeper floor, on servers it
# starts on loopback; it writes docs/BENCHMARKS.md and docs/bench/handoff.png.
# Takes about ten minutes; run it on a quiet machine. bench-smoke is the same
# with tiny sizes (seconds), reporting to a temporary directory: CI's check
# that the bench still works. Both install Debian's etcd-server,
# etcd-client, util-linux (flock) and gcc with libc6-dev (the bench's child
# helper is static C) if missing.
BENCH_DEBS := etcd-server etcd-client util-linux gcc libc6-dev
.PHONY: bench bench-smoke
bench bench-smoke: deps
	@if ! command -v etcd >/dev/null || ! command -v etcdctl >/dev/null || ! command -v flock >/dev/null || \
	    ! command -v cc >/dev/null || ! dpkg -s libc6-dev >/dev/null 2>&1; then \
		echo "installing Debian's $(BENCH_DEBS)"; \
		SUDO=; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
		export DEBIAN_FRONTEND=noninteractive; \
		$$SUDO apt-get install -y --no-install-recommends $(BENCH_DEBS) || \
		{ $$SUDO apt-get update && $$SUDO apt-get install -y --no-install-recommends $(BENCH_DEBS); }; \
	fi
	$(GO) run ./cmd/zk-flock-bench $(if $(filter bench-smoke,$@),-smoke)

# fuzz-smoke runs each fuzz target for FUZZTIME (one target per go test, as
# -fuzz requires): configuration parsing, lock names with app_ids, the
# command line and COMMAND's word splitting. -short keeps cmd/zk-flock's
# TestMain from building the binary and starting ZooKeeper in every fuzz
# worker. An input that fails is written to the package's testdata/fuzz/
# and stays there as a regression test: commit it with the fix.
# FUZZTIME is a count of inputs (Nx), not a duration: with a duration, Go
# before 1.27 can fail a clean run with "context deadline exceeded" as the
# time runs out (go.dev/issue/75804). 200000x is 5 to 20 s a target here.
FUZZTIME ?= 200000x
FUZZ_TARGETS := \
	./internal/config:FuzzParse \
	./internal/config:FuzzValidateLockName \
	./internal/config:FuzzValidateLockPath \
	./cmd/zk-flock:FuzzParseArgs \
	./cmd/zk-flock:FuzzSplitCommand
.PHONY: fuzz-smoke
fuzz-smoke:
	@set -e; for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; fn=$${t##*:}; \
		echo "fuzz $$fn in $$pkg, -fuzztime=$(FUZZTIME)"; \
		$(GO) test -short -run='^$$' -fuzz="^$$fn\$$" -fuzztime=$(FUZZTIME) $$pkg; \
	done
