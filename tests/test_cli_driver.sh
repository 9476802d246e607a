#!/usr/bin/env bash
# `wdfdma run --driver PATH.so --device MODEL`: an out-of-tree driver (tests/out_of_tree/
# pktdma.c, built here against the SDK headers the way an installed one is) runs the sgdma
# workload with verification, the verifier on and a trace; every bad --driver / --device
# is one line and exit 2; a driver that bug-checks ends the run with exit 1, `wdfdma
# inspect` shows the objects at the bug check and the trace file stays valid JSON.
#
# usage: test_cli_driver.sh BUILD_DIR SOURCE_DIR
set -u
BUILD=$(cd "${1:?usage: test_cli_driver.sh BUILD_DIR SOURCE_DIR}" && pwd)
SRC=$(cd "${2:?usage: test_cli_driver.sh BUILD_DIR SOURCE_DIR}" && pwd)
WDFDMA="$BUILD/wdfdma"
CC=${CC:-cc}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }

# What `pkg-config --cflags --libs wdfdma` gives an installed SDK, from the source tree.
SDK_FLAGS="-I$SRC/include -fshort-wchar -Wno-multichar -L$BUILD -lwdfdma"
cp "$SRC/tests/out_of_tree/pktdma.c" "$SRC/tests/out_of_tree/pktdma.inf" "$TMP/"
$CC -std=c17 -Wall -Wextra -Werror -fPIC -shared -o "$TMP/pktdma.so" "$TMP/pktdma.c" \
    $SDK_FLAGS || { echo "FAIL: pktdma.c does not build" >&2; exit 1; }
cat >"$TMP/bugcheck.c" <<'CEOF'
#include <ntddk.h>
#include <wdf.h>
/* Deletes a forged handle in DriverEntry: bug check 0x10D (WDF_INVALID_HANDLE). */
NTSTATUS DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath)
{
    UNREFERENCED_PARAMETER(DriverObject);
    UNREFERENCED_PARAMETER(RegistryPath);
    WdfObjectDelete((WDFOBJECT)(ULONG_PTR)0x1234);
    return STATUS_SUCCESS;
}
CEOF
$CC -std=c17 -Wall -Wextra -Werror -fPIC -shared -o "$TMP/bugcheck.so" "$TMP/bugcheck.c" \
    $SDK_FLAGS || { echo "FAIL: bugcheck.c does not build" >&2; exit 1; }
echo 'int not_a_driver(void) { return 0; }' >"$TMP/plain.c"
$CC -fPIC -shared -o "$TMP/plain.so" "$TMP/plain.c" || exit 1
echo 'not an ELF file' >"$TMP/text.so"

"$WDFDMA" run --help | grep -qF -- "--driver" || fail "run --help does not list --driver"

# ---- runs ------------------------------------------------------------------------------------
if "$WDFDMA" run --driver "$TMP/pktdma.so" --device sgdma --size 64K --count 4 --verifier \
    --json --trace "$TMP/t.json" >"$TMP/json" 2>"$TMP/err"; then
    python3 - "$TMP/json" "$TMP/t.json" <<'PYEOF' || fail "--driver JSON: see above"
import json, sys
r = json.load(open(sys.argv[1]))
assert len(r) == 1, r
r = r[0]
want = {"scenario": "sgdma", "profile": "packet64", "verifier": True, "requests": 8,
        "bytes": 8 * 65536, "errors": 0, "data_mismatches": 0, "verifier_findings": 0,
        "passed": True}
bad = {k: r.get(k) for k, v in want.items() if r.get(k) != v}
if bad or not r["driver"].endswith("pktdma.so") or r["transfers"] < 4 * 8:
    print("unexpected: %r (driver %r, transfers %r)" % (bad, r["driver"], r["transfers"]))
    sys.exit(1)
json.load(open(sys.argv[2]))
PYEOF
else
    fail "run --driver pktdma.so exited $?: $(head -5 "$TMP/err")"
fi
"$WDFDMA" run --driver "$TMP/pktdma.so" --device sgdma --size 4097 --count 3 --memory above4g \
    --direction read --engine threads >"$TMP/out" 2>"$TMP/err" ||
    fail "run --driver on threads: exit $?: $(head -5 "$TMP/err")"
grep -qF "driver       $TMP/pktdma.so" "$TMP/out" || fail "the summary does not name the driver"

# A driver that bug-checks: exit 1, the objects shown, the trace still valid JSON.
"$WDFDMA" inspect --driver "$TMP/bugcheck.so" --device sgdma --size 4K --count 2 \
    --trace "$TMP/bc.json" >"$TMP/out" 2>"$TMP/err"
rc=$?
[ "$rc" -eq 1 ] || fail "a bug-checking driver exited $rc, expected 1"
grep -qF "inspect: sgdma at the bug check" "$TMP/out" || fail "no inspection at the bug check"
grep -qF "bug check 0x10d stops the run" "$TMP/err" || fail "no bug-check line on stderr"
python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$TMP/bc.json" ||
    fail "the trace file of a bug-checked run is not valid JSON"

# ---- usage errors ------------------------------------------------------------------------------
expect_usage() {
    local want=$1
    shift
    "$WDFDMA" "$@" >"$TMP/out" 2>"$TMP/err"
    local rc=$?
    if [ "$rc" -ne 2 ] || [ "$(wc -l <"$TMP/err")" -ne 1 ] || ! grep -qF -- "$want" "$TMP/err" ||
        [ -s "$TMP/out" ]; then
        fail "wdfdma $*: exit $rc, '$(cat "$TMP/err")' (wanted 2 and '$want')"
    fi
}
expect_usage "No such file or directory" run --driver "$TMP/missing.so" --device sgdma
expect_usage "no DriverEntry (not a KMDF driver module)" run --driver "$TMP/plain.so" --device sgdma
expect_usage "cannot load" run --driver "$TMP/text.so" --device sgdma
expect_usage "--driver needs --device MODEL" run --driver "$TMP/pktdma.so"
expect_usage "--device needs --driver" run --device sgdma
expect_usage "--device toy: wdfdma has a workload only for the sgdma, uart and ring models" \
    run --driver "$TMP/pktdma.so" --device toy
expect_usage "--device bogus" run --driver "$TMP/pktdma.so" --device bogus
expect_usage "do not name a scenario ('uart')" run uart --driver "$TMP/pktdma.so" --device sgdma
expect_usage "--profile sets the sgdma sample driver's registry" \
    run --driver "$TMP/pktdma.so" --device sgdma --profile sg
expect_usage "--max-sg sets the sgdma sample driver's registry" \
    run --driver "$TMP/pktdma.so" --device sgdma --max-sg 4
expect_usage "--driver given twice" run --driver a.so --driver b.so --device sgdma
expect_usage "--driver needs a non-empty value" run --driver= --device sgdma
expect_usage "--baud is not an option of scenario 'sgdma'" \
    run --driver "$TMP/pktdma.so" --device sgdma --baud 9600

if [ "$failures" -ne 0 ]; then
    echo "$failures failure(s)" >&2
    exit 1
fi
echo "test_cli_driver: PASS"
