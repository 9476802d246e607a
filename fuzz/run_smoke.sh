#!/usr/bin/env bash
# Run every fuzz target for a bounded time from its seed corpus; exit non-zero if any
# target crashes (a reproducer is left in fuzz/crashes-found/<target>/).
#   fuzz/run_smoke.sh [SECONDS_PER_TARGET] [OUT_DIR]     (defaults: 20, fuzz/out)
# Builds the targets first if they are missing. The corpus directories are read only:
# new inputs go to a scratch directory so the committed seeds stay small.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
secs=${1:-20}
out=${2:-$here/out}
if [[ ! -x "$out/fuzz_ddi" || ! -x "$out/fuzz_faultspec" || ! -x "$out/fuzz_cmdline" ]]; then
    "$here/build.sh" "$out" || exit 1
fi
status=0
for t in faultspec ddi cmdline; do
    scratch=$(mktemp -d)
    crashes="$here/crashes-found/$t"
    mkdir -p "$crashes"
    echo "== fuzz_$t: ${secs}s"
    # fuzz_ddi abandons a machine that bug checks again while being torn down after a bug
    # check (a dead machine, see fuzz_ddi.c): leak detection would flag that on purpose.
    leaks=1
    [ "$t" = ddi ] && leaks=0
    if ! "$out/fuzz_$t" -max_total_time="$secs" -timeout=10 -rss_limit_mb=4096 -detect_leaks=$leaks \
            -artifact_prefix="$crashes/" -print_final_stats=1 "$scratch" "$here/corpus/$t" \
            2>"$scratch.log"; then
        echo "FAIL fuzz_$t (reproducer in $crashes/):"
        grep -E "ERROR|SUMMARY|fuzz_|Test unit written" "$scratch.log" | head -20
        status=1
    else
        grep -E "stat::number_of_executed_units|stat::new_units_added" "$scratch.log"
    fi
    rm -rf "$scratch" "$scratch.log"
done
exit $status
