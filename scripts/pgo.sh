#!/usr/bin/env bash
# Profile-guided release build of libwdfdma (gcc), in BUILD (default build-pgo):
#   1. build the library with WDFDMA_PGO=generate (counters on every branch and call),
#      and the command and the sample drivers (built as usual);
#   2. train: run the command's own job, the sample scenarios, on both engines, and a
#      short soak of them under random fault plans, so error and teardown paths count too;
#   3. rebuild everything with WDFDMA_PGO=use: gcc lays out hot paths straight, inlines by
#      measured call counts, and keeps normal optimisation for code the training never ran.
# The training is the product's own job (`wdfdma run`), not the benchmarks: the profile
# says how the simulator is used, not how one benchmark loop runs.
# Optimisation level: -O3 (RelWithDebInfo flags overridden; symbols stay for perf).
# Usage: scripts/pgo.sh [BUILD]
set -euo pipefail
build=${1:-build-pgo}
here=$(cd "$(dirname "$0")/.." && pwd)
jobs=$(nproc)
mkdir -p "$build"
build=$(cd "$build" && pwd)
profile="$build/pgo"
configure() {
  cmake -S "$here" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    "-DCMAKE_C_FLAGS_RELWITHDEBINFO=-O3 -g -DNDEBUG" \
    -DWDFDMA_PGO="$1" "-DWDFDMA_PGO_DIR=$profile" > "$build/pgo-$1.log" ||
    { cat "$build/pgo-$1.log" >&2; exit 1; }
}

echo "pgo: 1/3 instrumented build ($build)" >&2
configure generate
rm -rf "$profile"
cmake --build "$build" -j "$jobs" --target wdfdma_cli > "$build/pgo-build.log" ||
  { tail -40 "$build/pgo-build.log" >&2; exit 1; }

echo "pgo: 2/3 training: wdfdma run (sim, threads), wdfdma soak" >&2
# A failed training run only warns: what it ran is still in the profile, and a threads
# run on a loaded machine can miss a machine-time budget. Whether the product works is
# for the tests on this build to say (make test-pgo).
train() {
  "$build/wdfdma" "$@" > "$build/pgo-train.log" 2>&1 ||
    { tail -20 "$build/pgo-train.log" >&2; echo "pgo: warning: training run failed: wdfdma $*" >&2; }
}
train run
train run --engine threads
train run sgdma --profile sg-duplex --memory above4g
train soak --seeds 40
[ -n "$(find "$profile" -name '*.gcda' -print -quit 2>/dev/null)" ] ||
  { echo "pgo: the training wrote no profile under $profile" >&2; exit 1; }

echo "pgo: 3/3 optimised build with the profile" >&2
configure use
cmake --build "$build" -j "$jobs" > "$build/pgo-build.log" ||
  { tail -40 "$build/pgo-build.log" >&2; exit 1; }
echo "pgo: done: $build" >&2
