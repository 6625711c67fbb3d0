# jobstatus — see README.md. Every target works on a fresh Debian machine
# with Go; `make test` installs and starts what its tests need.

GO          ?= go
BIN         ?= bin/jobstatus
STATICCHECK ?= honnef.co/go/tools/cmd/staticcheck@v0.8.2
FUZZTIME    ?= 30s

# Integration tests run PostgreSQL in containers: host networking on
# loopback, no reaper image (no registry here), see scripts/test-env.sh.
export TESTCONTAINERS_RYUK_DISABLED ?= true
export TESTCONTAINERS_HOST_OVERRIDE ?= 127.0.0.1

IMAGE       ?= jobstatus:latest

# Stamped into the binary; `jobstatus version` prints them.
VERSION     ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT      ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
LDFLAGS     := -X github.com/jobstatus/jobstatus/cmd/jobstatus/cli.version=$(VERSION) -X github.com/jobstatus/jobstatus/cmd/jobstatus/cli.commit=$(COMMIT)

SOAK_DURATION ?= 10m
SOAK_RATE     ?= 300

.PHONY: run test test-unit test-deploy test-env db db-stop docs-check build image image-smoke lint fuzz bench soak clean

# At a terminal the service runs as its own job (set -m): Ctrl-C reaches it
# alone, it stops cleanly with 0 and so does make, with no "Error" or
# "Interrupt" line. Elsewhere it replaces the shell (exec), so an interrupt
# of the whole group still leaves no shell to report one.
run: build ## build, then serve with the in-memory store and --dev auth, printing curl lines; Ctrl-C stops it
	@if [ -t 0 ]; then set -m; $(BIN) serve --dev; else exec $(BIN) serve --dev; fi

test: ## every unit and integration test, and deploy/'s checks (sets up Docker, a PostgreSQL image and promtool)
	@image="$$(scripts/test-env.sh)" && \
	TEST_POSTGRES_IMAGE="$$image" $(GO) test -race -count=1 -timeout 15m ./... && \
	(cd deploy && $(GO) test -count=1 ./...); \
	status=$$?; scripts/test-env.sh --cleanup; exit $$status

test-unit: ## tests that need no container
	JOBSTATUS_SKIP_CONTAINERS=1 $(GO) test -race -count=1 ./...

# deploy/ is a module of its own (its checks import the Kubernetes API
# types, which the service does not need): `go test ./...` above does not
# enter it.
test-deploy: ## Prometheus rules (promtool), dashboard docs and Kubernetes manifests, no cluster needed
	cd deploy && $(GO) test -count=1 ./...

docs-check: ## run the shell blocks of README.md and docs/ marked runnable, as pasted (make db containers; also part of make test)
	@image="$$(scripts/test-env.sh)" && \
	TEST_POSTGRES_IMAGE="$$image" $(GO) test -count=1 -run '^TestREADMEBlocks$$' ./test/e2e; \
	status=$$?; scripts/test-env.sh --cleanup; exit $$status

test-env: ## only prepare the Docker engine and the PostgreSQL image
	scripts/test-env.sh

db: ## a throwaway PostgreSQL in a container for trying things; prints the JOBSTATUS_DATABASE_URL line to paste (eval "$$(make db)")
	@scripts/db.sh

db-stop: ## removes the container of make db and its data
	@scripts/db.sh stop

build: ## static binary in bin/
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/jobstatus

image: build ## FROM scratch image, non-root, built with the local engine (no registry needed)
	@command -v docker >/dev/null && docker info >/dev/null 2>&1 || scripts/test-env.sh >/dev/null
	cp /etc/ssl/certs/ca-certificates.crt bin/ca-certificates.crt
	docker build -t $(IMAGE) .

image-smoke: image ## run the image against PostgreSQL on loopback and query the status endpoint; then under --memory=256m through its loads (test/memlimit)
	scripts/image-smoke.sh $(IMAGE)
	TEST_POSTGRES_IMAGE="$$(scripts/test-env.sh)" JOBSTATUS_IMAGE=$(IMAGE) $(GO) test -count=1 -timeout 15m ./test/memlimit

lint: ## gofmt, go vet, staticcheck
	@out="$$(gofmt -l .)"; if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) run $(STATICCHECK) ./...
	cd deploy && $(GO) vet ./... && $(GO) run $(STATICCHECK) ./...

bench: ## micro-benchmarks, per-request overhead, the load run (pgbench, a bare handler and the service on 10^6 jobs; BENCH_* in scripts/bench.sh) wake-ups and the change log's write cost; writes the figures into docs/performance.md
	scripts/bench/record.sh micro $(GO) test -run '^$$' -skip '^BenchmarkOverhead$$' -bench . -benchmem -benchtime 2s ./domain ./adapters/jwtauth ./adapters/jobcache ./adapters/httpapi
	scripts/bench/record.sh overhead scripts/bench/overhead.sh
	scripts/bench/record.sh load scripts/bench.sh
	scripts/bench/record.sh wake scripts/bench/wake.sh
	scripts/bench/record.sh writes scripts/bench/writes.sh

soak: ## SOAK_DURATION of mixed traffic at SOAK_RATE req/s with a PostgreSQL crash half-way (not part of make test)
	@image="$$(scripts/test-env.sh)" && \
	TEST_POSTGRES_IMAGE="$$image" SOAK_DURATION=$(SOAK_DURATION) SOAK_RATE=$(SOAK_RATE) $(GO) run ./test/soak; \
	status=$$?; scripts/test-env.sh --cleanup; exit $$status

fuzz: ## run each fuzz target for FUZZTIME (seed corpora in testdata/fuzz run in `make test` too)
	$(GO) test ./domain -run '^$$' -fuzz '^FuzzParseID$$' -fuzztime $(FUZZTIME)
	$(GO) test ./domain -run '^$$' -fuzz '^FuzzValidHref$$' -fuzztime $(FUZZTIME)
	$(GO) test ./adapters/httpapi -run '^$$' -fuzz '^FuzzCredentials$$' -fuzztime $(FUZZTIME)
	$(GO) test ./adapters/httpapi -run '^$$' -fuzz '^FuzzPreferWait$$' -fuzztime $(FUZZTIME)
	$(GO) test ./adapters/httpapi -run '^$$' -fuzz '^FuzzFraming$$' -fuzztime $(FUZZTIME)
	$(GO) test ./adapters/jwtauth -run '^$$' -fuzz '^FuzzVerify$$' -fuzztime $(FUZZTIME)
	$(GO) test ./adapters/jwtauth -run '^$$' -fuzz '^FuzzJWKS$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 5s

clean:
	rm -rf bin
