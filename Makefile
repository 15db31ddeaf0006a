# possync: build, test, demo, fuzz and benchmark targets. CI runs `make test`, `make fuzz-smoke` and
# `make demo` (see .ci/run).
#
# Every build and test needs the duckdb_arrow tag: the runner uses DuckDB's Arrow interface.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := build

GO   ?= go
TAGS := duckdb_arrow
BIN  := bin/possync

# Where `make demo` extracts the example and keeps its state and outputs (recreated on every run).
DEMO_WORK := $(CURDIR)/bin/demo

# Benchmark sizes (rows), comma-separated; generated data is cached under POSSYNC_BENCH_DIR
# (default bench/data).
BENCH_SIZES ?= 100000,1000000

# Fuzz targets, as package:FuzzFunc pairs: every parser that takes outside bytes (one fuzz_test.go per
# package). `go test -fuzz` runs one target per invocation, so `make fuzz` loops over this list.
FUZZ_TARGETS := \
	./pipelines:FuzzParse \
	./transforms/internal/rowexpr:FuzzCompile \
	./runner/plan:FuzzRead \
	./connectors/internal/gtin:FuzzNormalize \
	./connectors/ascend:FuzzParseInventory \
	./connectors/ascend:FuzzParsePromotions \
	./connectors/ascend:FuzzDecodeText \
	./connectors/ascend:FuzzParseUploadName \
	./connectors/file:FuzzReadDelimited \
	./connectors/file:FuzzReadJSONL \
	./connectors/retailpos:FuzzDecodeProducts \
	./connectors/retailpos:FuzzPromotionDates \
	./connectors/retailpos:FuzzCheckpoint \
	./connectors/retailpos:FuzzDecodeError \
	./connectors/ecom:FuzzListProducts \
	./connectors/ecom:FuzzDecodeError
# How long each target fuzzes (a duration, or Nx for N runs); FUZZ_SMOKE_TIME is CI's. FUZZ_MINIMIZE caps
# the minimisation of each new input (the default 60s stalls a short run); FUZZ_PARALLEL the workers.
FUZZTIME        ?= 30s
FUZZ_SMOKE_TIME ?= 5s
FUZZ_MINIMIZE   ?= 5s
FUZZ_PARALLEL   ?= 1

.PHONY: build test fmt-check vet demo generate check-generated bench bench-cycle bench-check fuzz fuzz-smoke clean

build:
	$(GO) build -tags $(TAGS) -o $(BIN) ./cmd/possync

## test: gofmt check, go vet, then the whole test suite under the race detector. Measured on 2 cores
## (2026-11-22): 1m48s with -race from an empty build cache (1m00s without), 1m17s with a warm cache (tests
## always run: -count=1); well under the 5-minute budget, so the whole suite keeps -race.
test: fmt-check vet
	$(GO) test -race -tags $(TAGS) -count=1 -timeout 45m ./...

fmt-check:
	@files="$$(gofmt -l .)"; \
	if [ -n "$$files" ]; then echo "gofmt needed on:"; echo "$$files"; exit 1; fi

vet:
	$(GO) vet -tags $(TAGS) ./...

## demo: the main job on embedded defaults: `possync demo` extracts the Retail POS -> eCom example, starts the
## Retail POS and eCom API emulators on loopback, and runs validate, plan (saved), apply exactly that plan,
## plan again (nothing left), then POS edits and an edit made directly in the store, synced with --refresh.
## Then `possync demo bikeshop`: an Ascend POS chain's inventory uploads over the embedded FTP server, matched
## to the store's products and synced. Then `possync demo orders`: the website's orders from its order export
## emulator, imported once each and confirmed; an order served again is not imported twice. It fails unless
## every step exits as expected. `possync demo acme-outdoor` runs the file-based example.
demo: build
	rm -rf "$(DEMO_WORK)" "$(DEMO_WORK)-bikeshop" "$(DEMO_WORK)-orders"
	$(BIN) demo --dir "$(DEMO_WORK)"
	@echo && echo "==> The Ascend bike-shop chain, over the embedded FTP server" && echo
	$(BIN) demo bikeshop --dir "$(DEMO_WORK)-bikeshop"
	@echo && echo "==> The website's orders, from its order export, each imported once and confirmed" && echo
	$(BIN) demo orders --dir "$(DEMO_WORK)-orders"

## generate: regenerate committed generated files (the pipeline JSON Schema).
generate: build
	$(BIN) schema > schemas/pipeline.schema.json.tmp
	mv schemas/pipeline.schema.json.tmp schemas/pipeline.schema.json

## check-generated: fail when a generated file is not up to date (or not committed).
check-generated: generate
	git diff --exit-code -- schemas/
	@untracked="$$(git ls-files --others --exclude-standard -- schemas/pipeline.schema.json)"; \
	if [ -n "$$untracked" ]; then echo "generated but never committed: $$untracked"; exit 1; fi

## bench: plan benchmark at BENCH_SIZES rows (e.g. make bench BENCH_SIZES=100000,1000000,3000000);
## BENCH_MEMORY_LIMIT=256MB sets the pipeline's state.memory_limit (DuckDB then spills to disk).
bench:
	BENCH_SIZES=$(BENCH_SIZES) BENCH_MEMORY_LIMIT=$(BENCH_MEMORY_LIMIT) $(GO) test -tags $(TAGS) -run '^$$' -bench '^BenchmarkPlan$$' -benchtime 1x -count=1 -timeout 60m ./runner

## bench-cycle: the full cycle (plan + apply to the file sink + state update), a no-change rerun, and a
## first sync (every record a create into an empty state).
bench-cycle:
	BENCH_SIZES=$(BENCH_SIZES) $(GO) test -tags $(TAGS) -run '^$$' -bench '^Benchmark(Cycle|FirstSync)$$' -benchtime 1x -count=1 -timeout 60m ./runner

## bench-check: run the 100k plan benchmark and compare possync's ratio to the DuckDB-only floor measured in
## the same run with the ratio committed in BENCHMARKS.md (the `bench-check:` marker). It prints the
## comparison and never fails on timing: machines here are shared and noisy, so a regression shows up in
## every CI log instead of failing builds at random.
bench-check:
	@committed="$$(sed -n 's/.*bench-check: rows=100000 ratio=\([0-9.]*\).*/\1/p' BENCHMARKS.md)"; \
	out="$$(BENCH_SIZES=100000 $(GO) test -tags $(TAGS) -run '^$$' -bench '^BenchmarkPlan$$' -benchtime 1x -count=1 ./runner)"; \
	echo "$$out" | sed -n '/possync plan:/,/possync \/ floor/p'; \
	now="$$(echo "$$out" | awk '/x-floor/ { for (i = 1; i < NF; i++) if ($$(i+1) == "x-floor") print $$i }')"; \
	if [ -z "$$now" ]; then echo "bench-check: the benchmark did not report a ratio" >&2; exit 1; fi; \
	awk -v now="$$now" -v was="$$committed" 'BEGIN { \
	  if (was == "") { printf "bench-check: possync/floor = %.2fx at 100k (no committed ratio in BENCHMARKS.md)\n", now; exit } \
	  d = (now - was) / was * 100; \
	  printf "bench-check: possync/floor = %.2fx at 100k; committed %.2fx (%+.0f%%)%s\n", now, was, d, \
	    (d > 25 ? "  <-- slower than committed: look for a regression" : "") }'

## fuzz: run every fuzz target of FUZZ_TARGETS for FUZZTIME each (e.g. make fuzz FUZZTIME=10m). A crash
## stops the loop; Go writes the failing input under the package's testdata/fuzz/<target>/, where the
## plain `go test` then replays it: commit it with the fix as a regression test.
fuzz:
	@for t in $(FUZZ_TARGETS); do \
	  pkg="$${t%%:*}"; fn="$${t##*:}"; start=$$(date +%s); \
	  echo "==> $$fn in $$pkg for $(FUZZTIME)"; \
	  $(GO) test -tags $(TAGS) -run '^$$' -fuzz "^$$fn\$$" -fuzztime $(FUZZTIME) \
	    -fuzzminimizetime $(FUZZ_MINIMIZE) -parallel $(FUZZ_PARALLEL) "$$pkg"; \
	  echo "    $$fn: $$(( $$(date +%s) - start ))s"; \
	done

## fuzz-smoke: every fuzz target for FUZZ_SMOKE_TIME (CI runs it after `make test`). Measured on 2 cores
## shared with other jobs (2026-12-06): 4m17s for the 16 targets with a warm build cache (9-33 s each:
## building the instrumented test binary, the seed corpus, then 5 s of fuzzing); a cold cache adds the
## instrumented build of the dependencies, a few minutes once.
fuzz-smoke:
	$(MAKE) --no-print-directory fuzz FUZZTIME=$(FUZZ_SMOKE_TIME)

clean:
	rm -rf bin

## fleet-sim: a simulated fleet (cmd/fleetsim, docs/deploy.md): 200 small pipelines run by 1, 2, 4 and 8
## workers from a shared queue for FLEETSIM_DURATION each, with overlapping triggers and 1% of runs killed
## (SIGKILL); checks 0 lock violations and 0 duplicate or lost changes, and prints runs/s per worker count.
## With POSSYNC_STATE_URL set the workers share the PostgreSQL state (a state folder each); without it, one
## local state folder. FLEETSIM_FLAGS passes more flags (e.g. -seed N -keep -pipelines 50).
FLEETSIM_DURATION ?= 30s
FLEETSIM_WORKERS  ?= 1,2,4,8
FLEETSIM_FLAGS    ?=
.PHONY: fleet-sim
fleet-sim: build
	$(GO) build -o bin/fleetsim ./cmd/fleetsim
	bin/fleetsim -possync $(BIN) -duration $(FLEETSIM_DURATION) -workers $(FLEETSIM_WORKERS) $(FLEETSIM_FLAGS)
