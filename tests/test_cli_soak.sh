#!/usr/bin/env bash
# `wdfdma soak`: a bounded soak (the CI one) passes over every fault kind, on the sim and
# the threads engine; each seed's exact command can be printed and replays to the same
# trace hash; bad usage is one line and exit 2.
#
# usage: test_cli_soak.sh BUILD_DIR SOURCE_DIR
set -u
BUILD=${1:?usage: test_cli_soak.sh BUILD_DIR SOURCE_DIR}
WDFDMA="$BUILD/wdfdma"
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }

# The bounded soak: 40 seeds (five turns of the eight samples), a few seconds at most.
if "$WDFDMA" soak --seeds 40 --minutes 5 >"$TMP/out" 2>"$TMP/err"; then
    grep -qx "soak: 40 seeds, 0 failed" "$TMP/out" || fail "soak summary: $(cat "$TMP/out")"
else
    fail "wdfdma soak --seeds 40 exited $?: $(head -20 "$TMP/err")"
fi

# Every fault kind is in every plan now and every sample recovers from each: the old
# --all-kinds spelling still works and still finds nothing.
if "$WDFDMA" soak --seeds 40 --all-kinds >"$TMP/out" 2>"$TMP/err"; then
    grep -qx "soak: 40 seeds, 0 failed" "$TMP/out" || fail "all-kinds summary: $(cat "$TMP/out")"
else
    fail "soak --all-kinds exited $?: $(head -20 "$TMP/err")"
fi

# --print-commands names each seed's exact command; running one again gives the same
# trace hash twice (the sim engine replays a seed bit for bit).
"$WDFDMA" soak --seeds 3 --print-commands >"$TMP/out" 2>"$TMP/err" || fail "print-commands rc $?"
[ "$(grep -c '^soak: seed [1-3]: ' "$TMP/out")" -eq 3 ] || fail "printed commands: $(cat "$TMP/out")"
cmd=$(sed -n 's/^soak: seed 2: //p' "$TMP/out")
case "$cmd" in
    *" run "*" --seed 2 --faults '"*"' --verifier") ;;
    *) fail "seed 2 command looks wrong: '$cmd'" ;;
esac
if [ -n "$cmd" ]; then
    eval "$cmd --json" >"$TMP/a" 2>&1 || fail "'$cmd' exited $? when run again"
    eval "$cmd --json" >"$TMP/b" 2>&1 || fail "'$cmd' exited $? the second time"
    ha=$(grep -o '"trace_hash": *"[^"]*"' "$TMP/a")
    hb=$(grep -o '"trace_hash": *"[^"]*"' "$TMP/b")
    [ -n "$ha" ] && [ "$ha" = "$hb" ] || fail "replay differs: '$ha' vs '$hb'"
fi

# Regressions found by longer soaks, each the exact command `soak` printed.
# Seed 2852: a surprise removal raised while a power-down fault's D0Exit ran; the nested
# removal released the hardware and the power-down then ended in D3 (WDF_PNP_FATAL_ERROR
# 0x10D/0xC). PnP events of a device now run one at a time (binding.c, node_event).
if "$WDFDMA" run sgdma --profile sg64 --size 64K --count 8 --seed 2852 \
        --faults 'cancel:p=0.02,power-down:nth=4,surprise-remove:nth=24' --verifier \
        >"$TMP/out" 2>"$TMP/err"; then
    grep -q "result       PASS" "$TMP/out" || fail "seed 2852: $(tail -5 "$TMP/out")"
else
    fail "seed 2852 exited $?: $(grep -m3 'BUG CHECK\|WDF_' "$TMP/err")"
fi

# The threads engine under faults (soak is sim only): before, a uart round whose write
# a fault failed waited 60 s for bytes that never came (no cancel on threads), and under
# TSan the scenarios' completion bookkeeping and the IRP cancel flag raced. Each must pass
# (under `make test-tsan` this also runs them under TSan).
for cmd in \
    "run uart --size 64 --count 4 --seed 31 --faults surprise-remove:nth=2,dma-error:nth=12" \
    "run ring --count 4 --seed 8 --faults map-exhaust:p=0.10,surprise-remove:nth=20,dma-error:nth=30" \
    "run sgdma --profile sg64-duplex --size 16K --count 8 --seed 6 --faults cancel:p=0.04,dma-error:nth=27"; do
    # Real threads on a loaded 2-CPU machine: a run may miss its machine-time budget, so a
    # failure without a race report gets one more try; a race report never does.
    for attempt in 1 2; do
        # shellcheck disable=SC2086
        timeout 120 "$WDFDMA" $cmd --verifier --engine threads >"$TMP/out" 2>"$TMP/err"
        rc=$?
        if grep -q "WARNING: ThreadSanitizer" "$TMP/err"; then
            fail "threads: wdfdma $cmd: $(grep -m1 'SUMMARY' "$TMP/err")"
            break
        fi
        [ "$rc" -eq 0 ] && break
        if [ "$attempt" -eq 2 ]; then
            fail "threads: wdfdma $cmd exited $rc: $(grep -v '^    |' "$TMP/err" | tail -3)"
        fi
    done
done

# The whole soak on the threads engine (72 seeds: nine turns of the eight samples), which
# under `make test-tsan` is the TSan sweep that found the races above. A seed that fails
# without a race report gets its command run once more (real threads on a loaded 2-CPU
# machine can miss a machine-time budget); a race report fails at once.
"$WDFDMA" soak --seeds 72 --engine threads >"$TMP/out" 2>"$TMP/err"
rc=$?
if grep -q "ThreadSanitizer" "$TMP/err"; then
    fail "soak --engine threads: a race: $(grep -m3 'FAILED\|SUMMARY' "$TMP/err")"
elif [ "$rc" -ne 0 ]; then
    grep -A1 "reproduce with:" "$TMP/err" | grep '^  ' >"$TMP/again" || true
    [ -s "$TMP/again" ] || fail "soak --engine threads exited $rc: $(tail -5 "$TMP/err")"
    while read -r again; do
        eval "timeout 120 $again" >"$TMP/out2" 2>"$TMP/err2" ||
            fail "threads seed failed twice: $again: $(grep -v '^    |' "$TMP/err2" | tail -3)"
    done <"$TMP/again"
else
    grep -qx "soak: 72 seeds, 0 failed" "$TMP/out" || fail "threads soak summary: $(cat "$TMP/out")"
fi

expect_usage() {
    local want=$1
    shift
    "$WDFDMA" "$@" >"$TMP/out" 2>"$TMP/err"
    local rc=$?
    if [ "$rc" -ne 2 ] || [ "$(wc -l <"$TMP/err")" -ne 1 ] || ! grep -qF -- "$want" "$TMP/err"; then
        fail "wdfdma $*: exit $rc, '$(cat "$TMP/err")' (wanted 2 and '$want')"
    fi
}
expect_usage "soak needs --seeds N" soak
expect_usage "soak needs --seeds N" soak --minutes 1
expect_usage "--seeds 0 is out of range" soak --seeds 0
expect_usage "--seeds x is out of range" soak --seeds x
expect_usage "--minutes 0 is out of range" soak --seeds 1 --minutes 0
expect_usage "--seeds needs a value" soak --seeds
expect_usage "--seeds given twice" soak --seeds 1 --seeds 2
expect_usage "--print-commands given twice" soak --seeds 1 --print-commands --print-commands
expect_usage "unknown --engine 'gpu' (use sim or threads)" soak --seeds 1 --engine gpu
expect_usage "--engine given twice" soak --seeds 1 --engine sim --engine threads
expect_usage "--engine needs a value" soak --seeds 1 --engine
expect_usage "unknown option '--bogus' for 'wdfdma soak'" soak --bogus 1
"$WDFDMA" soak --help | grep -qF -- "--print-commands" || fail "soak --help"

if [ "$failures" -ne 0 ]; then
    echo "$failures failure(s)" >&2
    exit 1
fi
echo "test_cli_soak: PASS"
