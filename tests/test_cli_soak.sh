#!/usr/bin/env bash
# `wdfdma soak`: a bounded soak (the CI one) passes; a failing seed prints the exact
# command that reproduces it, and that command fails the same way again; bad usage is one
# line and exit 2.
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

# With every fault kind, the samples' known gaps show up (docs/cli.md, "soak"): each
# failure names a command; run it again and it fails again (the sim engine replays).
"$WDFDMA" soak --seeds 40 --all-kinds >"$TMP/out" 2>"$TMP/err"
rc=$?
if [ "$rc" -ne 1 ]; then
    fail "soak --all-kinds exited $rc, expected 1 (no known gap found?)"
else
    grep -q "^soak: 40 seeds, [1-9][0-9]* failed" "$TMP/out" || fail "summary: $(cat "$TMP/out")"
    cmd=$(grep -A1 "FAILED" "$TMP/err" | sed -n 's/^  //p' | head -n 1)
    case "$cmd" in
        *" run "*" --seed "*" --faults '"*"' --verifier") ;;
        *) fail "no reproducing command in: $(head -3 "$TMP/err")" ;;
    esac
    eval "$cmd" >"$TMP/again" 2>&1
    again=$?
    [ "$again" -ne 0 ] && [ "$again" -ne 2 ] || fail "'$cmd' exited $again when run again"
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
expect_usage "unknown option '--bogus' for 'wdfdma soak'" soak --bogus 1
"$WDFDMA" soak --help | grep -qF -- "--all-kinds" || fail "soak --help"

if [ "$failures" -ne 0 ]; then
    echo "$failures failure(s)" >&2
    exit 1
fi
echo "test_cli_soak: PASS"
