#!/usr/bin/env bash
# Run every benchmark, then print ONE table of every row and write BUILD/bench/results.json.
#
# Each bench_* program prints its own rows as it goes (progress) and writes them to
# BUILD/bench/<name>.json. The DPDK peer (bench/peer) is built and run only when DPDK's
# development files are installed (pkg-config libdpdk); without them its rows are absent.
set -euo pipefail
build=${1:-build}
here=$(cd "$(dirname "$0")/.." && pwd)
status=0
jsons=()
for b in "$build"/bench/bench_*; do
  [ -x "$b" ] && [ -f "$b" ] || continue
  case "$b" in *.json) continue ;; esac
  echo "== $(basename "$b")" >&2
  # Only a run that finished: a failed one may leave a truncated file, or last run's.
  if "$b" --json "$b.json" >&2; then
    jsons+=("$b.json")
  else
    echo "$(basename "$b"): failed (its rows are left out)" >&2
    rm -f "$b.json"
    status=1
  fi
done
if pkg-config --exists libdpdk 2>/dev/null; then
  echo "== peer_dpdk (bench/peer)" >&2
  if bash "$here/bench/peer/build.sh" "$build/bench/peer_dpdk" >&2 &&
     "$build/bench/peer_dpdk" --json "$build/bench/peer_dpdk.json" >&2; then
    jsons+=("$build/bench/peer_dpdk.json")
  else
    echo "peer_dpdk: failed (its rows are left out)" >&2
  fi
else
  echo "== peer_dpdk: skipped (no libdpdk: apt-get install dpdk-dev librte-dma-skeleton23)" >&2
fi

# One combined table and one JSON file: {"benches": [...], "rows": [every row + "bench"]}.
python3 - "$build/bench/results.json" "${jsons[@]}" <<'EOF'
import json, sys
out, files = sys.argv[1], sys.argv[2:]
rows, benches = [], []
for f in files:
    with open(f) as h:
        d = json.load(h)
    benches.append(d["bench"])
    for r in d["rows"]:
        rows.append(dict(r, bench=d["bench"]))
with open(out, "w") as h:
    json.dump({"benches": benches, "rows": rows}, h, indent=1)
print()
print("%-8s %-60s %12s %-9s %-32s %s" % ("bench", "measure", "value", "unit", "ratio", "target"))
print("-" * 140)
for r in rows:
    ratio = "%.3f x %s" % (r["ratio"], r["baseline"]) if "baseline" in r else ""
    target = ""
    if "target" in r:
        target = "%s: %s" % (r["target"], "met" if r["met"] else "NOT met")
    print("%-8s %-60s %12.4g %-9s %-32s %s" % (r["bench"], r["measure"][:60], r["value"],
                                                r["unit"], ratio, target))
print()
print("written: %s" % out)
EOF
exit $status
