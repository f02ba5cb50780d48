# Front door. `make run` and `make test` are all a newcomer needs.
JOBS ?= $(shell nproc)
RELEASE := build
SANITIZE := build/sanitize
DATA ?= ./data
LISTEN ?= 127.0.0.1:8888

.PHONY: all deps build test tsan run lint format fuzz bench clean node-deps web

all: build

deps:
	@./scripts/install-deps.sh

node-deps:
	@./scripts/install-node-deps.sh

$(RELEASE)/CMakeCache.txt:
	cmake -S . -B $(RELEASE) -DCMAKE_BUILD_TYPE=RelWithDebInfo

# The web UI is built too when node is there (from web/node_modules without network), so that
# `build/bin/bank run` serves it at /.
build: deps $(RELEASE)/CMakeCache.txt
	cmake --build $(RELEASE) -j$(JOBS)
	@./scripts/build-web.sh --if-possible

$(SANITIZE)/CMakeCache.txt:
	cmake -S . -B $(SANITIZE) -DCMAKE_BUILD_TYPE=Debug -DSANITIZE=ON

test: build node-deps $(SANITIZE)/CMakeCache.txt
	@./scripts/build-web.sh
	cmake --build $(SANITIZE) -j$(JOBS)
	ctest --test-dir $(SANITIZE) --output-on-failure -j$(JOBS)

# ThreadSanitizer over the unit tests, for changes to threads and hand-offs (not in `make test`:
# a third build would not fit CI's time). gRPC's (abseil) and OpenSSL's own locks are invisible
# to it, so the tests through them (bkes, TLS) are left out.
tsan: deps node-deps
	cmake -S . -B build/tsan -DCMAKE_BUILD_TYPE=Debug -DTSAN=ON
	cmake --build build/tsan -j$(JOBS)
	TSAN_OPTIONS=halt_on_error=1 ctest --test-dir build/tsan -L unit -E 'bkes|tls' --output-on-failure -j$(JOBS)

run: build node-deps
	@./scripts/build-web.sh
	exec $(RELEASE)/bin/bank run --data $(DATA) --listen $(LISTEN)

bench: build node-deps
	./bench/run-all.sh

lint: deps
	./scripts/lint.sh

format: deps
	./scripts/lint.sh --fix

fuzz: deps
	cmake -S . -B build/fuzz -DCMAKE_C_COMPILER=clang -DFUZZ=ON -DCMAKE_BUILD_TYPE=Debug
	cmake --build build/fuzz -j$(JOBS)
	./scripts/fuzz.sh build/fuzz

clean:
	rm -rf build
