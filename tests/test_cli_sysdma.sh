#!/usr/bin/env bash
# `wdfdma run uart` / `wdfdma run ring`: the system-DMA sample drivers end to end.
# Usage: test_cli_sysdma.sh BUILD_DIR SOURCE_DIR
set -u
build=${1:?build dir}
cli="$build/wdfdma"
fails=0
check() {   # name, expected exit, command...
    local name=$1 want=$2; shift 2
    local out rc
    out=$("$@" 2>&1); rc=$?
    if [ "$rc" != "$want" ]; then
        echo "FAIL $name: exit $rc, expected $want"; echo "$out" | tail -5; fails=$((fails + 1))
    else
        echo "ok   $name"
    fi
}
json_has() {  # name, pattern, command...
    local name=$1 pat=$2; shift 2
    local out
    out=$("$@" 2>/dev/null)
    if echo "$out" | grep -q -- "$pat"; then echo "ok   $name"; else
        echo "FAIL $name: no $pat in: $out" | cut -c1-300; fails=$((fails + 1)); fi
}
json_has "uart json passes" '"passed":true' "$cli" run uart --json
json_has "uart json names its profile" '"profile":"system-duplex"' "$cli" run uart --json
json_has "uart baud in json" '"baud":230400' "$cli" run uart --json --baud 230400
json_has "ring json passes" '"passed":true' "$cli" run ring --json
json_has "ring json names its profile" '"profile":"system"' "$cli" run ring --json
for baud in 921600 115200 9600; do
    check "uart --baud $baud" 0 "$cli" run uart --baud "$baud" --size 64 --count 2
done
check "uart --devices 4 (a channel each)" 0 "$cli" run uart --devices 4
check "ring --devices 8 (a channel each)" 0 "$cli" run ring --devices 8
check "uart --devices 16 (shared channels)" 0 "$cli" run uart --devices 16 --size 64 --count 2
check "ring --devices 16 (shared channels)" 0 "$cli" run ring --devices 16 --count 4
check "bad --baud" 2 "$cli" run uart --baud 100000
check "--baud 0" 2 "$cli" run uart --baud 0
check "--baud is not an sgdma option" 2 "$cli" run sgdma --baud 9600
check "--devices 0" 2 "$cli" run ring --devices 0
check "--devices 33 uarts" 2 "$cli" run uart --devices 33
check "ring --size not a multiple of 8" 2 "$cli" run ring --size 1001
[ "$fails" = 0 ] || { echo "$fails failures"; exit 1; }
