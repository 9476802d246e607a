# Thin wrapper around CMake. `make run` runs the main job, `make test` every test.
# Both install what they need with apt on a fresh Debian 12 machine (as root).
BUILD ?= build
PGO_BUILD ?= build-pgo
CC ?= cc
CMAKE_FLAGS ?=
JOBS ?= $(shell nproc)

.PHONY: all deps deps-clang build run test pgo test-pgo bench bench-plain install clean test-asan test-tsan fuzz-smoke

all: build

deps:
	@bash scripts/deps.sh

deps-clang:
	@bash scripts/deps.sh --clang

$(BUILD)/CMakeCache.txt: | deps
	cmake -S . -B $(BUILD) $(CMAKE_FLAGS)

build: deps $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS)

run: build
	./$(BUILD)/wdfdma run

test: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

# The release build: libwdfdma optimised with a profile of the sample scenarios
# (scripts/pgo.sh, gcc). `make bench` and `make install` use it; bench-plain measures the
# ordinary build beside it.
pgo: deps
	@bash scripts/pgo.sh $(PGO_BUILD)

test-pgo: pgo
	cd $(PGO_BUILD) && ctest --output-on-failure -j $(JOBS)

bench: pgo
	@bash scripts/bench.sh $(PGO_BUILD)

bench-plain: build
	@bash scripts/bench.sh $(BUILD)

install: pgo
	cmake --install $(PGO_BUILD)

test-asan: deps-clang
	$(MAKE) test BUILD=build-asan CMAKE_FLAGS="-DCMAKE_C_COMPILER=clang -DWDFDMA_SANITIZE=address,undefined"

test-tsan: deps-clang
	$(MAKE) test BUILD=build-tsan CMAKE_FLAGS="-DCMAKE_C_COMPILER=clang -DWDFDMA_SANITIZE=thread"

# libFuzzer targets (fuzz/): build them and run each for a bounded time.
fuzz-smoke: deps-clang
	bash fuzz/build.sh
	bash fuzz/run_smoke.sh $(FUZZ_SECONDS)

FUZZ_SECONDS ?= 20

clean:
	rm -rf build build-asan build-tsan build-pgo
