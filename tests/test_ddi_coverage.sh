#!/usr/bin/env bash
# test_ddi_coverage.sh BUILD_DIR SOURCE_DIR
#
# docs/ddi-coverage.md is generated from the headers and src/ by scripts/ddi_coverage.py.
# 1. The classification rules hold on a small synthetic tree (implemented, partly by
#    marker, missing, stub; a marker without a reason or outside a DDI is an error).
# 2. Regenerating the real table gives exactly the committed file.
set -u
SRC=$(cd "${2:?usage: test_ddi_coverage.sh BUILD_DIR SOURCE_DIR}" && pwd)
SCRIPT=$SRC/scripts/ddi_coverage.py
TMP=$(mktemp -d "${TMPDIR:-/tmp}/wdfdma-ddicov.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

# ---- 1. the rules, on a synthetic tree -------------------------------------------------
T=$TMP/tree
mkdir -p "$T/include" "$T/src/wdm"
cat > "$T/include/ntddk.h" <<'H'
typedef int NTSTATUS;
#define STATUS_NOT_SUPPORTED ((NTSTATUS)0xC00000BB)
NTSTATUS KeDone(void);
NTSTATUS KeLimited(int x);
NTSTATUS KeStub(int x);
NTSTATUS KeAbsent(void);
static inline int KeInline(void) { return 0; }
H
: > "$T/include/wdf.h"
cat > "$T/src/wdm/k.c" <<'C'
#include <ntddk.h>
NTSTATUS KeDone(void) { return 0; }
/* Limited on purpose.
 * wdfdma: partial: only x == 0 */
NTSTATUS KeLimited(int x)
{
    return x == 0 ? 0 : STATUS_NOT_SUPPORTED;
}
NTSTATUS KeStub(int x)
{
    (void)x;
    return STATUS_NOT_SUPPORTED;
}
C
python3 "$SCRIPT" --source "$T" --output "$TMP/syn.md" > /dev/null ||
    fail "scripts/ddi_coverage.py failed on the synthetic tree"
check() { grep -q "$1" "$TMP/syn.md" || fail "synthetic tree: expected a line matching '$1'"; }
check '^| `KeDone` | implemented | `src/wdm/k.c` |'
check '^| `KeLimited` | partly | `src/wdm/k.c` | only x == 0 |'
check '^| `KeStub` | missing | `src/wdm/k.c` | stub: returns STATUS_NOT_SUPPORTED |'
check '^| `KeAbsent` | missing | — | not defined in src/ |'
check '^| \*\*all\*\* | \*\*4\*\* | \*\*1\*\* | \*\*1\*\* | \*\*2\*\* |'
grep -q 'KeInline' "$TMP/syn.md" && fail "synthetic tree: an inline function was counted"

echo 'static void helper(void) { /* wdfdma: partial: stray */ }' >> "$T/src/wdm/k.c"
python3 "$SCRIPT" --source "$T" --output "$TMP/syn.md" > /dev/null 2> "$TMP/err" &&
    fail "a marker outside a DDI's definition was accepted"
grep -q "marker outside a DDI" "$TMP/err" || fail "no clear message for a stray marker"
sed -i '$d' "$T/src/wdm/k.c"
sed -i 's|wdfdma: partial: only x == 0|wdfdma: partial:|' "$T/src/wdm/k.c"
python3 "$SCRIPT" --source "$T" --output "$TMP/syn.md" > /dev/null 2> "$TMP/err" &&
    fail "a marker without a reason was accepted"
grep -q "without a reason" "$TMP/err" || fail "no clear message for a marker without a reason"

# ---- 2. the committed table is current ---------------------------------------------------
python3 "$SCRIPT" --source "$SRC" --output "$TMP/ddi-coverage.md" > /dev/null ||
    fail "scripts/ddi_coverage.py failed (see above): fix the source or the marker"
if ! diff -u "$SRC/docs/ddi-coverage.md" "$TMP/ddi-coverage.md" > "$TMP/diff"; then
    head -n 40 "$TMP/diff" >&2
    fail "docs/ddi-coverage.md is out of date: run scripts/ddi_coverage.py and commit the result"
fi
echo "test_ddi_coverage: ok ($(grep -m1 '^| \*\*all' "$SRC/docs/ddi-coverage.md"))"
