#!/usr/bin/env bash
# Run every benchmark; each prints its table rows and writes BUILD/bench/<name>.json.
set -euo pipefail
build=${1:-build}
status=0
for b in "$build"/bench/bench_*; do
  [ -x "$b" ] || continue
  echo "== $(basename "$b")"
  "$b" --json "$b.json" || status=1
done
exit $status
