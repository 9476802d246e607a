#!/usr/bin/env bash
# `wdfdma run --trace FILE` and `wdfdma trace FILE --svg OUT.svg`: the trace file is read
# back and held to the viewers' rules (valid JSON; B/E nest per track; every flow step
# sits inside an open slice of its track; each flow runs s, t..., f with one id), it has
# the tracks, spans, flows and counters it promises, and the SVG drawn from it is
# well-formed XML with a lane per track.
#
# usage: test_cli_trace.sh BUILD_DIR SOURCE_DIR
set -u
BUILD=${1:?usage: test_cli_trace.sh BUILD_DIR SOURCE_DIR}
WDFDMA="$BUILD/wdfdma"
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
failures=0
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }

cat >"$TMP/check.py" <<'PYEOF'
import json, sys
from collections import defaultdict

path, want = sys.argv[1], json.loads(sys.argv[2])
doc = json.load(open(path))
events = doc["traceEvents"] if isinstance(doc, dict) else doc
problems = []
stacks = defaultdict(list)          # (pid, tid) -> open span names
last_ts = defaultdict(float)
flows = defaultdict(list)           # id -> phases
names = {}                          # (pid, tid) -> thread name
procs = set()
spans = defaultdict(int)
counters = set()
for i, e in enumerate(events):
    ph = e.get("ph")
    if ph is None or "pid" not in e or "tid" not in e:
        problems.append("event %d lacks ph/pid/tid: %r" % (i, e)); continue
    key = (e["pid"], e["tid"])
    if ph == "M":
        if e["name"] == "thread_name": names[key] = e["args"]["name"]
        if e["name"] == "process_name": procs.add(e["pid"])
        continue
    ts = e["ts"]
    if not isinstance(ts, (int, float)) or ts < 0:
        problems.append("event %d: bad ts %r" % (i, ts)); continue
    if ph in "BE":
        if ts < last_ts[key]:
            problems.append("event %d: B/E time goes back on %r" % (i, key))
        last_ts[key] = ts
    if ph == "B":
        stacks[key].append(e["name"]); spans[e["name"]] += 1
    elif ph == "E":
        if not stacks[key]:
            problems.append("event %d: E without B on %r" % (i, key))
        else:
            stacks[key].pop()
    elif ph in "stf":
        if e.get("cat") != "flow" or e.get("name") != "request" or "id" not in e:
            problems.append("event %d: flow without cat/name/id" % i)
        if not stacks[key]:
            problems.append("event %d: flow step %s outside any slice on %r" % (i, ph, key))
        flows[e["id"]].append(ph)
    elif ph == "C":
        counters.add(e["name"])
    elif ph not in "iI":
        problems.append("event %d: unexpected phase %r" % (i, ph))
for key, st in stacks.items():
    if st:
        problems.append("spans left open on %r: %r" % (key, st))
complete = 0
for fid, phs in flows.items():
    if phs[0] != "s" or phs.count("s") != 1 or phs.count("f") > 1 or \
       ("f" in phs and phs[-1] != "f"):
        problems.append("flow %r runs %r" % (fid, "".join(phs)))
    if phs[0] == "s" and phs[-1] == "f" and len(phs) >= 4:
        complete += 1
tracks = set(names.values())
for t in want.get("tracks", []):
    if not any(n == t or n.startswith(t) for n in tracks):
        problems.append("no track named %r (have %r)" % (t, sorted(tracks)))
for s in want.get("spans", []):
    if spans[s] == 0:
        problems.append("no %r span (have %r)" % (s, sorted(spans)))
for c in want.get("counters", []):
    if c not in counters:
        problems.append("no counter %r (have %r)" % (c, sorted(counters)))
if complete < want.get("flows_min", 0):
    problems.append("%d complete request flows, expected at least %d" % (complete, want["flows_min"]))
if len(procs) != want.get("processes", 1):
    problems.append("%d processes, expected %d" % (len(procs), want.get("processes", 1)))
if problems:
    print("\n".join(problems[:20])); sys.exit(1)
PYEOF

# trace_run 'EXPECTED' ARGS...: run with --trace, check the file.
trace_run() {
    local want=$1
    shift
    rm -f "$TMP/t.json"
    if ! "$WDFDMA" run "$@" --trace "$TMP/t.json" >"$TMP/out" 2>"$TMP/err"; then
        fail "wdfdma run $* --trace exited $?: $(head -c 1000 "$TMP/err")"
        return
    fi
    python3 "$TMP/check.py" "$TMP/t.json" "$want" >"$TMP/why" ||
        fail "wdfdma run $* --trace: $(cat "$TMP/why")"
}

trace_run '{"tracks":["cpu0","sgdma0","sgdma0 DMA channel 0","sgdma0 DMA channel 1"],
            "spans":["ISR","DPC","EvtProgramDma","EvtInterruptIsr","descriptor chain","request",
                     "Execute","transfer","request complete"],
            "counters":["map registers in use","DMA bytes mapped"],"flows_min":16}' \
    sgdma --size 64K --count 8
trace_run '{"tracks":["cpu0","sgdma0 DMA channel"],"spans":["transfer"],
            "counters":["map registers in use (all adapters)"],"flows_min":8}' \
    sgdma --profile sg --memory above4g --max-transfer 8K --size 32K --count 4
trace_run '{"tracks":["dma0 DMA channel","uart0"],"spans":["transfer","request complete"],
            "flows_min":4}' uart --count 2
trace_run '{"processes":2,"tracks":["cpu0"],"flows_min":4}' sgdma uart --size 4K --count 2
trace_run '{"tracks":["thread"],"spans":["DPC"],"flows_min":4}' \
    sgdma --engine threads --size 16K --count 4

# The same seed on the sim engine writes the same trace, byte for byte.
"$WDFDMA" run sgdma --size 16K --count 4 --seed 9 --trace "$TMP/a.json" >/dev/null 2>&1
"$WDFDMA" run sgdma --size 16K --count 4 --seed 9 --trace "$TMP/b.json" >/dev/null 2>&1
cmp -s "$TMP/a.json" "$TMP/b.json" || fail "two sim runs with seed 9 wrote different traces"

# ---- the SVG -------------------------------------------------------------------------------
"$WDFDMA" run sgdma uart --size 16K --count 4 --trace "$TMP/t.json" >/dev/null 2>&1 ||
    fail "run for the SVG failed"
if "$WDFDMA" trace "$TMP/t.json" --svg "$TMP/t.svg" >"$TMP/out" 2>"$TMP/err"; then
    python3 - "$TMP/t.svg" "$TMP/t.json" <<'PYEOF' || fail "the SVG: see above"
import json, sys, xml.etree.ElementTree as ET
svg = ET.parse(sys.argv[1]).getroot()
ns = "{http://www.w3.org/2000/svg}"
if svg.tag != ns + "svg":
    print("root is %r" % svg.tag); sys.exit(1)
lanes = [g for g in svg.iter(ns + "g") if g.get("class") == "lane"]
doc = json.load(open(sys.argv[2]))
threads = {(e["pid"], e["tid"]) for e in doc["traceEvents"]
           if e["ph"] == "M" and e["name"] == "thread_name"}
counters = {(e["pid"], e["name"], tuple(e["args"])) for e in doc["traceEvents"] if e["ph"] == "C"}
if len(lanes) != len(threads) + len(counters):
    print("%d lanes, expected %d tracks + %d counters" % (len(lanes), len(threads), len(counters)))
    sys.exit(1)
labels = {"".join(t.itertext()) for g in lanes for t in g.iter(ns + "text")}
for want in ("cpu0", "sgdma0 DMA channel 0", "uart0"):
    if not any(l.startswith(want) for l in labels):
        print("no lane %r in %r" % (want, sorted(labels))); sys.exit(1)
spans = [r for r in svg.iter(ns + "rect") if r.get("class") == "span"]
flows = [l for l in svg.iter(ns + "line") if l.get("class") == "flow"]
if not spans or not flows:
    print("%d spans, %d flow lines" % (len(spans), len(flows))); sys.exit(1)
PYEOF
else
    fail "wdfdma trace --svg exited $?: $(cat "$TMP/err")"
fi

# Bad input to `wdfdma trace`: exit 2, one line.
expect_usage() {
    local want=$1
    shift
    "$WDFDMA" "$@" >"$TMP/out" 2>"$TMP/err"
    local rc=$?
    if [ "$rc" -ne 2 ] || [ "$(wc -l <"$TMP/err")" -ne 1 ] || ! grep -qF -- "$want" "$TMP/err"; then
        fail "wdfdma $*: exit $rc, '$(cat "$TMP/err")' (wanted 2 and '$want')"
    fi
}
printf '{"traceEvents":[{"ph":"B","pid":1,"tid":1,"ts":1}' >"$TMP/cut.json"
printf '[1,2' >"$TMP/short.json"
echo '{"traceEvents":[{"pid":1}]}' >"$TMP/noph.json"
expect_usage "not a trace-event JSON file" trace "$TMP/cut.json" --svg "$TMP/x.svg"
expect_usage "not a trace-event JSON file" trace "$TMP/short.json" --svg "$TMP/x.svg"
expect_usage "without \"ph\"" trace "$TMP/noph.json" --svg "$TMP/x.svg"
expect_usage "No such file" trace "$TMP/missing.json" --svg "$TMP/x.svg"
expect_usage "trace needs --svg" trace "$TMP/t.json"
expect_usage "trace needs a trace FILE" trace --svg "$TMP/x.svg"
expect_usage "unknown option '--png'" trace "$TMP/t.json" --png x
expect_usage "--trace $TMP/no/dir/t.json" run sgdma --trace "$TMP/no/dir/t.json"
expect_usage "--trace needs a value" run sgdma --trace

# ---- inspect --------------------------------------------------------------------------------
if "$WDFDMA" inspect sgdma --profile sg-duplex --size 4K --count 2 >"$TMP/out" 2>"$TMP/err"; then
    for word in "!wdfdmaenabler 0x" "profile          sg-duplex" "map registers" \
        "!wdfdmatransaction 0x" "history" "common buffer 0x" "SgdmaEvtDmaEnablerFill" \
        "1 DMA enabler, 2 DMA transactions, 2 common buffers" "inspect: 1 scenario, PASS"; do
        grep -qF -- "$word" "$TMP/out" || fail "wdfdma inspect does not show '$word'"
    done
else
    fail "wdfdma inspect exited $?: $(head -5 "$TMP/err")"
fi
"$WDFDMA" inspect --help | grep -qF "!wdfdmatransaction" || fail "inspect --help"

if [ "$failures" -ne 0 ]; then
    echo "$failures failure(s)" >&2
    exit 1
fi
echo "test_cli_trace: PASS"
