#!/usr/bin/env bash
# `wdfdma run` end to end: usage errors exit 2 with one line on stderr, then scenarios on
# both engines, several profiles and memory placements emit JSON whose every required
# field is checked, with no data mismatch, error or verifier finding.
#
# usage: test_cli_run.sh BUILD_DIR SOURCE_DIR
set -u
BUILD=${1:?usage: test_cli_run.sh BUILD_DIR SOURCE_DIR}
WDFDMA="$BUILD/wdfdma"
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
failures=0

fail() {
    echo "FAIL: $*" >&2
    failures=$((failures + 1))
}

# The driver and the command must exist: this test runs once the whole stack builds.
[ -x "$WDFDMA" ] || { echo "FAIL: $WDFDMA is missing" >&2; exit 1; }
[ -f "$BUILD/drivers/sgdma.so" ] || { echo "FAIL: $BUILD/drivers/sgdma.so is missing" >&2; exit 1; }

# ---- usage errors: exit 2, exactly one stderr line naming the problem ------------------
# expect_usage "TEXT IN THE MESSAGE" ARGS...
expect_usage() {
    local want=$1
    shift
    "$WDFDMA" "$@" >"$TMP/out" 2>"$TMP/err"
    local rc=$?
    local lines
    lines=$(wc -l <"$TMP/err")
    if [ "$rc" -ne 2 ]; then
        fail "wdfdma $* exited $rc, expected 2"
    elif [ "$lines" -ne 1 ]; then
        fail "wdfdma $* printed $lines stderr lines, expected 1: $(cat "$TMP/err")"
    elif ! grep -qF -- "$want" "$TMP/err"; then
        fail "wdfdma $*: '$(cat "$TMP/err")' does not mention '$want'"
    elif [ -s "$TMP/out" ]; then
        fail "wdfdma $* printed to stdout on a usage error"
    fi
}

expect_usage "missing command"
expect_usage "unknown command 'frob'" frob
expect_usage "unknown scenario 'bogus'" run bogus
expect_usage "unknown option '--bogus'" run sgdma --bogus
expect_usage "--addr-bits 8 is out of range (valid 24..64)" run sgdma --addr-bits 8
expect_usage "--queue-depth 0 is out of range" run sgdma --queue-depth 0
expect_usage "bad size '12Q' for --size" run sgdma --size 12Q
expect_usage "--size 0 is out of range" run sgdma --size 0
expect_usage "--count 0 is out of range" run --count 0
expect_usage "--size needs a value" run sgdma --size
expect_usage "unknown --profile 'sg128'" run sgdma --profile sg128
expect_usage "unknown --engine 'gpu'" run sgdma --engine gpu
expect_usage "--addr-bits 48: the sgdma model supports 32 or 64" run sgdma --addr-bits 48
expect_usage "--addr-bits 32 cannot drive --profile sg64" run sgdma --addr-bits 32 --profile sg64
expect_usage "--addr-bits 32 cannot drive --profile packet64" run --addr-bits 32
expect_usage "--max-sg applies to scatter/gather profiles" run sgdma --profile packet --max-sg 4
expect_usage "--max-transfer 1024: the sgdma driver takes" run sgdma --max-transfer 1K
expect_usage "--max-sg 5000: the sgdma driver takes" run sgdma --max-sg 5000
expect_usage "with 4 requests in flight needs 2048 MiB of device memory" run sgdma --size 512M \
    --count 4 --queue-depth 4
expect_usage "--json given twice" run sgdma --json --json
expect_usage "scenario 'uart' given twice" run uart sgdma uart
expect_usage "--faults: fault spec: unknown fault kind 'dma-eror'" run sgdma --faults dma-eror:p=0.1
expect_usage "--faults: fault spec:" run sgdma --faults 'dma-error'
expect_usage "--verifier takes no value" run sgdma --verifier=yes
expect_usage "unknown option '--bogus' for 'wdfdma inspect'" inspect --bogus
expect_usage "takes no arguments" list extra

"$WDFDMA" --help >"$TMP/out" 2>&1 || fail "wdfdma --help exited $?"
"$WDFDMA" run --help >"$TMP/out" 2>&1 || fail "wdfdma run --help exited $?"
grep -qF -- "--queue-depth" "$TMP/out" || fail "wdfdma run --help does not list --queue-depth"
for opt in --driver --device --verifier --faults --trace; do
    grep -qF -- "$opt" "$TMP/out" || fail "wdfdma run --help does not list $opt"
done
for cmd in run inspect trace list soak selftest; do
    "$WDFDMA" "$cmd" --help >"$TMP/out" 2>&1 || fail "wdfdma $cmd --help exited $?"
    grep -q "^usage: wdfdma $cmd" "$TMP/out" || fail "wdfdma $cmd --help has no usage line"
    "$WDFDMA" --help | grep -qF "wdfdma $cmd" || fail "wdfdma --help does not list $cmd"
done
if "$WDFDMA" list >"$TMP/out" 2>"$TMP/err"; then
    for word in "Device models" sgdma sdmac uart "Sample drivers" "DMA profiles" sg64-duplex \
        system-duplex "Scenarios" "Fault kinds" surprise-remove; do
        grep -qF -- "$word" "$TMP/out" || fail "wdfdma list does not show '$word'"
    done
else
    fail "wdfdma list exited $?"
fi

# ---- JSON runs ---------------------------------------------------------------------------
cat >"$TMP/check.py" <<'EOF'
import json, sys

text = open(sys.argv[1]).read()
expect = json.loads(sys.argv[2])
data = json.loads(text)
required = ["scenario", "requests", "bytes", "transactions", "transfers", "interrupts",
            "dpcs", "bounced_bytes", "sg_elements_max", "errors", "data_mismatches",
            "verifier_findings", "wall_ns", "virtual_ns", "throughput_bytes_per_s",
            "device_utilization", "sg_elements_mean", "map_registers_peak",
            "device_throughput_bytes_per_s", "seed", "engine", "profile", "trace_hash",
            "driver", "verifier", "faults", "faults_fired", "failed_requests", "passed"]
problems = []
if not isinstance(data, list) or len(data) != expect.get("results", 1):
    problems.append("expected a list of %d results" % expect.get("results", 1))
    data = data if isinstance(data, list) else []
for i, r in enumerate(data):
    for k in required:
        if k not in r:
            problems.append("result %d lacks %s" % (i, k))
    if problems:
        break
    for k in ("errors", "data_mismatches", "verifier_findings"):
        if r[k] != 0:
            problems.append("result %d: %s = %s" % (i, k, r[k]))
    if r["scenario"] not in ("sgdma", "uart", "ring"):
        problems.append("result %d: scenario %r" % (i, r["scenario"]))
    # System DMA completes through the controller, with no peripheral interrupt, and only
    # the bus-master model accounts its busy time.
    bus_master = r["scenario"] == "sgdma"
    positive = ["requests", "bytes", "transactions", "transfers", "dpcs", "wall_ns", "virtual_ns"]
    if bus_master:
        positive.append("interrupts")
    for k in positive:
        if not isinstance(r[k], int) or r[k] <= 0:
            problems.append("result %d: %s = %r, expected > 0" % (i, k, r[k]))
    if bus_master and not 0 < r["device_utilization"] <= 2.0:
        problems.append("result %d: device_utilization %r" % (i, r["device_utilization"]))
    # A transaction a fault failed before its first transfer has none.
    faulted = r["faults"] not in (None, "none")
    if r["transfers"] < r["transactions"] and not faulted:
        problems.append("result %d: fewer transfers than transactions" % i)
    if r["sg_elements_max"] < 1 or r["sg_elements_mean"] < 1:
        problems.append("result %d: no SG elements" % i)
    for k, v in expect.items():
        if k == "results":
            continue
        if k.endswith("_min"):
            if r[k[:-4]] < v:
                problems.append("result %d: %s = %r < %r" % (i, k[:-4], r[k[:-4]], v))
        elif k.endswith("_gt_transactions"):
            if r["transfers"] <= r["transactions"]:
                problems.append("result %d: transfers not split" % i)
        elif r.get(k) != v:
            problems.append("result %d: %s = %r, expected %r" % (i, k, r.get(k), v))
if problems:
    print("\n".join(problems))
    sys.exit(1)
EOF

# run_json 'EXPECTED-JSON' ARGS...: exit 0, valid JSON meeting the expectations.
run_json() {
    local expect=$1
    shift
    "$WDFDMA" run "$@" --json >"$TMP/json" 2>"$TMP/err"
    local rc=$?
    if [ "$rc" -ne 0 ]; then
        fail "wdfdma run $* --json exited $rc: $(head -c 2000 "$TMP/err")"
        return
    fi
    if ! python3 "$TMP/check.py" "$TMP/json" "$expect" >"$TMP/why"; then
        fail "wdfdma run $* --json: $(cat "$TMP/why")"
    fi
}

run_json '{"profile":"sg64","engine":"sim","requests":32,"bytes":2097152}' \
    sgdma --size 64K --count 16
run_json '{"profile":"packet","requests":16,"bytes":65552}' \
    sgdma --profile packet --size 4097 --count 8
run_json '{"profile":"sg","memory":"above4g","addr_bits":32,"bounced_bytes_min":8388608}' \
    sgdma --profile sg --memory above4g --size 1M --count 4
run_json '{"profile":"sg64-duplex","engine":"threads","requests":16}' \
    sgdma --profile sg64-duplex --engine threads --size 256K --count 8
run_json '{"profile":"sg-duplex","direction":"read","requests":5,"bytes":500000}' \
    sgdma --profile sg-duplex --direction read --memory contiguous --size 100000 --count 5 \
    --queue-depth 2
run_json '{"profile":"packet64","direction":"write","requests":3,"bytes":3}' \
    sgdma --profile packet64 --direction write --memory below4g --size 1 --count 3
run_json '{"profile":"sg64","transfers_gt_transactions":1}' \
    sgdma --max-transfer 8K --max-sg 3 --size 64K --count 4
run_json '{"profile":"sg","addr_bits":64}' sgdma --profile sg --addr-bits 64 --size 8K --count 4
run_json '{"results":10}' --size 4K --count 4
run_json '{"results":2}' ring sgdma --size 4K --count 2
run_json '{"verifier":true,"faults":null}' sgdma --verifier --size 64K --count 4
run_json '{"verifier":true,"faults_fired_min":1}' sgdma --verifier --faults 'dma-error:every=3' \
    --size 16K --count 8
run_json '{"faults":"none","faults_fired":0,"failed_requests":0}' uart --faults none --count 2
run_json '{"faults_fired_min":1,"failed_requests_min":1}' sgdma --faults 'map-exhaust:every=2' \
    --profile sg --size 16K --count 8

# Same seed on the sim engine: the same machine-time figures and the same trace hash, from
# two separate processes (so host addresses differ: the trace must never record them).
"$WDFDMA" run sgdma --size 16K --count 8 --seed 7 --json >"$TMP/a" 2>/dev/null
"$WDFDMA" run sgdma --size 16K --count 8 --seed 7 --json >"$TMP/b" 2>/dev/null
python3 - "$TMP/a" "$TMP/b" <<'EOF' || fail "two sim runs with seed 7 differ"
import json, sys
a, b = (json.load(open(p))[0] for p in sys.argv[1:3])
keys = ["requests", "bytes", "transactions", "transfers", "interrupts", "dpcs",
        "virtual_ns", "sg_elements_max", "bounced_bytes", "trace_hash"]
sys.exit(0 if all(a[k] == b[k] for k in keys) else 1)
EOF

# The readable summary.
if "$WDFDMA" run sgdma --size 4K --count 2 >"$TMP/out" 2>"$TMP/err"; then
    for word in requests transactions interrupts "SG elements" "verifier findings" \
        utilisation PASS; do
        grep -qF "$word" "$TMP/out" || fail "the summary does not show '$word'"
    done
else
    fail "wdfdma run sgdma --size 4K --count 2 exited $?: $(cat "$TMP/err")"
fi

# What `make run` runs: every sample scenario over the whole size ladder (1 B..16 MiB).
if "$WDFDMA" run >"$TMP/out" 2>"$TMP/err"; then
    [ "$(grep -c "result       PASS" "$TMP/out")" -eq 10 ] || fail "wdfdma run: not 10 PASS blocks"
    grep -qF "from 1 B to 16 MiB" "$TMP/out" || fail "wdfdma run did not cover 1 B..16 MiB"
else
    fail "wdfdma run exited $?: $(grep -v '^\[dbg' "$TMP/err" | head -5)"
fi

# The machine self-test is still there.
"$WDFDMA" selftest --copies 50 >"$TMP/out" 2>&1 || fail "wdfdma selftest exited $?"
grep -qF "selftest: PASS" "$TMP/out" || fail "wdfdma selftest did not PASS"

if [ "$failures" -ne 0 ]; then
    echo "$failures failure(s)" >&2
    exit 1
fi
echo "test_cli_run: PASS"
