#!/usr/bin/env bash
# Instructions per 512 B read (bench_sgdma --only small: one at a time) under callgrind:
# two run lengths, subtracted, so set-up, warm-up and the anchor cancel out. Each of the
# 7 rounds runs N reads, so the difference is 7 x 2000 reads.
# Usage: scripts/instr_per_request.sh [BUILD]   (needs valgrind)
set -euo pipefail
build=${1:-build}
run() {
  BENCH_SMALL_N=$1 valgrind --tool=callgrind --callgrind-out-file=/dev/null \
    "$build/bench/bench_sgdma" --only small 2>&1 | awk '/Collected/ {gsub(",", "", $4); print $4}'
}
a=$(run 1000)
b=$(run 3000)
echo "instructions per 512 B read: $(( (b - a) / (7 * 2000) ))"
