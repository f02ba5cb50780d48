# Front door. `make run` and `make test` are all a newcomer needs.
JOBS ?= $(shell nproc)
RELEASE := build
SANITIZE := build/sanitize
DATA ?= ./data
LISTEN ?= 127.0.0.1:8888

.PHONY: all deps build test run lint format fuzz bench clean node-deps web

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
