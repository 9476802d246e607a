#!/usr/bin/env python3
"""DDI coverage: which DDIs the WDK-named headers declare and how src/ implements them.

    scripts/ddi_coverage.py [--source DIR] [--output FILE]

Writes docs/ddi-coverage.md (or FILE; "-" is stdout). tests/test_ddi_coverage.sh
regenerates it and fails when the committed copy differs.

What counts as a DDI
  Every function with external linkage that include/ntddk.h, include/wdm.h or
  include/wdf*.h declares, as a driver sees them (the headers are run through the C
  preprocessor: `cc -E` on `#include <ntddk.h>` + `#include <wdf.h>`), plus every member of
  the WDM DMA_OPERATIONS table (the adapter operations a driver reaches only through
  DmaAdapter->DmaOperations). Functions the headers define inline (WDF_*_INIT, list and
  interlocked helpers, ...) are complete by construction and only counted.

How a DDI is classified
  implemented  a non-static definition in src/ (for a DMA operation: the function the
               table in src/ points at) that is not a stub;
  partly       its definition carries a marker comment, inside the body or in the comment
               directly above the definition:
                   /* wdfdma: partial: what is missing or limited */
               The reason is required and is printed in the table;
  missing      no definition, or a stub: a body that only returns STATUS_NOT_SUPPORTED,
               STATUS_NOT_IMPLEMENTED, STATUS_UNSUCCESSFUL or STATUS_INVALID_DEVICE_REQUEST
               (after (void)x; and UNREFERENCED_PARAMETER(x); statements) without a marker.

Errors (exit status 1, nothing written): a marker without a reason, a marker that is not
attached to a DDI's definition, a DDI defined twice, a DMA_OPERATIONS entry naming a
function the source does not define.
"""

import argparse
import os
import re
import subprocess
import sys
from collections import OrderedDict

MARKER = "wdfdma: partial:"
STUB_STATUSES = ("STATUS_NOT_SUPPORTED", "STATUS_NOT_IMPLEMENTED", "STATUS_UNSUCCESSFUL",
                 "STATUS_INVALID_DEVICE_REQUEST")
DMA_OPS_GROUP = "wdm.h: DMA_OPERATIONS"


class Failure(Exception):
    pass


# ---- C text helpers ------------------------------------------------------------------

def split_code(text):
    """Return (code, comments): code has comments, string and character literals and
    preprocessor lines replaced by spaces (offsets and newlines kept); comments is a list
    of (start, end, text)."""
    out = list(text)
    comments = []
    i, n = 0, len(text)
    line_start = True
    while i < n:
        c = text[i]
        if line_start and c == "#":
            # a preprocessor line, with its continuations
            j = i
            while j < n and text[j] != "\n":
                if text[j] == "\\" and j + 1 < n and text[j + 1] == "\n":
                    j += 1
                j += 1
            for k in range(i, j):
                if out[k] != "\n":
                    out[k] = " "
            i = j
            continue
        if c == "\n":
            line_start = True
            i += 1
            continue
        if not c.isspace():
            line_start = False
        if text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            comments.append((i, j, text[i:j]))
            for k in range(i, j):
                if out[k] != "\n":
                    out[k] = " "
            i = j
        elif text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            comments.append((i, j, text[i:j]))
            for k in range(i, j):
                out[k] = " "
            i = j
        elif c in "\"'":
            j = i + 1
            while j < n and text[j] != c:
                j += 2 if text[j] == "\\" else 1
            for k in range(i + 1, min(j, n)):
                if out[k] != "\n":
                    out[k] = " "
            i = j + 1
        else:
            i += 1
    return "".join(out), comments


def matching(code, i, open_ch, close_ch):
    """Index just past the bracket that closes the one at code[i]."""
    depth = 0
    for j in range(i, len(code)):
        if code[j] == open_ch:
            depth += 1
        elif code[j] == close_ch:
            depth -= 1
            if depth == 0:
                return j + 1
    raise Failure("unbalanced %s%s" % (open_ch, close_ch))


def strip_attributes(s):
    while True:
        m = re.search(r"__attribute__\s*\(", s)
        if not m:
            return s
        end = matching(s, m.end() - 1, "(", ")")
        s = s[:m.start()] + " " + s[end:]


# ---- headers: declared DDIs ----------------------------------------------------------

def preprocess_headers(src):
    cc = os.environ.get("CC", "cc")
    unit = "#include <ntddk.h>\n#include <wdf.h>\n"
    cmd = [cc, "-E", "-std=c17", "-fshort-wchar", "-I", os.path.join(src, "include"), "-x", "c", "-"]
    try:
        res = subprocess.run(cmd, input=unit, capture_output=True, text=True, check=False)
    except OSError as e:
        raise Failure("cannot run the C preprocessor (%s): %s" % (cc, e))
    if res.returncode != 0:
        raise Failure("the headers do not preprocess:\n" + res.stderr)
    return res.stdout


def header_items(pre, include_dir):
    """Yield (header, statement) for every top-level statement or definition that comes
    from one of our headers, in order. `statement` ends with ';' or is 'HEAD{...}'."""
    include_dir = os.path.realpath(include_dir)
    segments = []              # (header or None, text)
    current = None
    buf = []
    for line in pre.splitlines():
        m = re.match(r'#\s*\d+\s+"([^"]*)"', line)
        if m:
            segments.append((current, "".join(buf)))
            buf = []
            path = m.group(1)
            real = os.path.realpath(path) if os.path.isabs(path) else path
            current = os.path.basename(path) if real.startswith(include_dir + os.sep) else None
            continue
        if line.startswith("#"):
            continue
        buf.append(line + "\n")
    segments.append((current, "".join(buf)))
    # Join everything and remember which header each character came from.
    text = "".join(t for _, t in segments)
    owners = []
    for h, t in segments:
        owners.append((len(t), h))
    pos_owner = []
    for length, h in owners:
        pos_owner.extend([h] * length)
    code, _ = split_code(text)
    i, start, n = 0, 0, len(code)
    while i < n:
        c = code[i]
        if c in "({[":
            close = {"(": ")", "{": "}", "[": "]"}[c]
            end = matching(code, i, c, close)
            if c == "{" and re.search(r"\)\s*$", strip_attributes(code[start:i])) \
                    and not re.match(r"\s*typedef\b", code[start:i]) \
                    and "=" not in code[start:i]:
                yield pos_owner[i], code[start:end].strip(), True
                start = end
            i = end
        elif c == ";":
            yield pos_owner[i], code[start:i + 1].strip(), False
            start = i + 1
            i += 1
        else:
            i += 1


FUNC_DECL = re.compile(r"([A-Za-z_]\w*)\s*\(")
NOT_FUNCTIONS = {"_Static_assert", "static_assert", "sizeof", "_Alignof", "alignof",
                 "__typeof__", "typeof", "_Alignas", "__extension__", "__asm__"}


def function_name(stmt):
    """The name a function declaration or definition declares, or None."""
    s = strip_attributes(stmt)
    if re.match(r"\s*(typedef|struct|union|enum)\b", s) and not re.search(r"\)\s*(;|\{)", s):
        return None
    if re.match(r"\s*typedef\b", s):
        return None
    s = s.split("{", 1)[0]
    m = FUNC_DECL.search(s)
    if not m:
        return None
    # the parameter list closes the declarator: "... Name ( ... ) ;"
    end = matching(s, m.end() - 1, "(", ")")
    if not re.match(r"\s*(;|$)", s[end:]):
        return None
    return None if m.group(1) in NOT_FUNCTIONS else m.group(1)


def declared_ddis(src):
    pre = preprocess_headers(src)
    ddis = OrderedDict()       # name -> header
    inline = OrderedDict()
    dma_ops = []
    for header, stmt, is_def in header_items(pre, os.path.join(src, "include")):
        if header is None:
            continue
        if re.match(r"typedef\s+struct\s+_DMA_OPERATIONS\b", stmt):
            body = stmt[stmt.index("{") + 1:stmt.rindex("}")]
            for member in body.split(";"):
                words = member.split()
                if len(words) == 2 and words[1] != "Size":
                    dma_ops.append(words[1])
            continue
        name = function_name(stmt)
        if name is None:
            continue
        if is_def:
            inline.setdefault(name, header)
        elif not re.match(r"\s*static\b", stmt):
            ddis.setdefault(name, header)
    for name in inline:
        ddis.pop(name, None)
    if not ddis:
        raise Failure("no DDI declarations found in include/: is the parser broken?")
    return ddis, inline, dma_ops


# ---- sources: definitions ------------------------------------------------------------

class Definition:
    def __init__(self, name, path, static, body, markers, line):
        self.name, self.path, self.static = name, path, static
        self.body, self.markers, self.line = body, markers, line


def source_files(src):
    root = os.path.join(src, "src")
    for d, dirs, files in os.walk(root):
        dirs.sort()
        for f in sorted(files):
            if f.endswith(".c"):
                yield os.path.join(d, f)


def definitions(src):
    """Every function definition in src/**.c, and every marker comment found."""
    defs, markers, op_tables = [], [], []
    for path in source_files(src):
        rel = os.path.relpath(path, src)
        with open(path, encoding="utf-8") as f:
            text = f.read()
        code, comments = split_code(text)
        for (s, e, t) in comments:
            if MARKER in t:
                markers.append((rel, text.count("\n", 0, s) + 1, s, t))
        i, start, n = 0, 0, len(code)
        while i < n:
            c = code[i]
            if c in "([":
                i = matching(code, i, c, {"(": ")", "[": "]"}[c])
            elif c == "{":
                end = matching(code, i, "{", "}")
                head = code[start:i]
                name = None
                if "=" not in head and not re.match(r"\s*typedef\b", head):
                    name = function_name(head + "{")
                if name:
                    attached = [(s, t) for (s, _, t) in comments if start <= s < end and MARKER in t]
                    defs.append(Definition(name, rel, bool(re.search(r"\bstatic\b", head)),
                                           code[i + 1:end - 1], attached,
                                           text.count("\n", 0, i) + 1))
                elif re.search(r"\bDMA_OPERATIONS\b", head) and "=" in head:
                    for m in re.finditer(r"\.(\w+)\s*=\s*(\w+)\s*[,}]", code[i:end]):
                        op_tables.append((rel, m.group(1), m.group(2)))
                start = end
                i = end
                # a definition or initializer may be followed by ';'
            elif c == ";":
                start = i + 1
                i += 1
            else:
                i += 1
    return defs, markers, op_tables


def marker_reason(comment):
    t = comment.strip()
    t = t[2:-2] if t.startswith("/*") else t[2:]
    reason = t.split(MARKER, 1)[1]
    reason = " ".join(w.strip("* ") for w in reason.split())
    return " ".join(reason.split())


def stub_status(body):
    """The status a stub returns, or None if the body does more than return an error."""
    stmts = [s.strip() for s in body.split(";") if s.strip()]
    stmts = [s for s in stmts if not re.match(r"^\(void\)\s*\w+$", s)
             and not re.match(r"^UNREFERENCED_PARAMETER\s*\(\s*\w+\s*\)$", s)]
    if len(stmts) == 1:
        m = re.match(r"^return\s+\(?\s*(STATUS_\w+)\s*\)?$", stmts[0])
        if m and m.group(1) in STUB_STATUSES:
            return m.group(1)
    return None


# ---- classification --------------------------------------------------------------------

def classify(src):
    ddis, inline, dma_ops = declared_ddis(src)
    defs, markers, op_tables = definitions(src)
    errors = []

    public = {}
    for d in defs:
        if d.static or d.name not in ddis:
            continue
        if d.name in public:
            errors.append("%s is defined twice: %s:%d and %s:%d" % (
                d.name, public[d.name].path, public[d.name].line, d.path, d.line))
        public[d.name] = d
    by_file_name = {(d.path, d.name): d for d in defs}
    by_name = {}
    for d in defs:
        by_name.setdefault(d.name, d)

    rows = OrderedDict()       # group -> list of (name, status, where, note)
    used_markers = set()

    def judge(name, d):
        if d is None:
            return "missing", "", "not defined in src/"
        where = d.path
        if d.markers:
            reasons = []
            for (s, t) in d.markers:
                used_markers.add((d.path, s))
                r = marker_reason(t)
                if not r:
                    errors.append("%s:%d: '%s' marker without a reason in %s" % (
                        d.path, d.line, MARKER, name))
                reasons.append(r)
            return "partly", where, "; ".join(reasons)
        st = stub_status(d.body)
        if st:
            return "missing", where, "stub: returns %s" % st
        return "implemented", where, ""

    for name, header in ddis.items():
        rows.setdefault(header, []).append((name,) + judge(name, public.get(name)))

    table = {}
    for (rel, member, fn) in op_tables:
        table[member] = (rel, fn)
    for member in dma_ops:
        if member not in table or table[member][1] == "NULL":
            rows.setdefault(DMA_OPS_GROUP, []).append((member, "missing", "", "NULL in the table"))
            continue
        rel, fn = table[member]
        d = by_file_name.get((rel, fn)) or by_name.get(fn)
        if d is None:
            errors.append("DMA_OPERATIONS.%s = %s: %s is not defined in src/" % (member, fn, fn))
            continue
        status, where, note = judge(member, d)
        rows.setdefault(DMA_OPS_GROUP, []).append((member, status, where, note or ""))
    for member in table:
        if member not in dma_ops:
            errors.append("DMA_OPERATIONS has no member %s (initialised in %s)" % (
                member, table[member][0]))

    # Operations may share a function: count a marker used if any DDI consumed it.
    for (rel, line, s, t) in markers:
        if (rel, s) not in used_markers:
            errors.append("%s:%d: '%s' marker outside a DDI's definition (put it inside "
                          "the body or in the comment directly above it)" % (rel, line, MARKER))
    if errors:
        raise Failure("\n".join(errors))
    return rows, inline


def group_order(group):
    order = ["ntddk.h", "wdm.h", DMA_OPS_GROUP]
    if group in order:
        return (1, order.index(group), group)
    return (0, 0, group)


def render(rows, inline):
    out = []
    w = out.append
    w("# DDI coverage")
    w("")
    w("Generated by `scripts/ddi_coverage.py` from the headers in `include/` and the definitions")
    w("in `src/`; `tests/test_ddi_coverage.sh` fails when this file is out of date. Do not edit")
    w("it by hand: change the code, then run `python3 scripts/ddi_coverage.py`.")
    w("")
    w("- **DDI**: a function with external linkage that `<ntddk.h>`, `<wdm.h>` or a `<wdf*.h>`")
    w("  header declares (as a driver sees them after preprocessing), and each member of the")
    w("  WDM `DMA_OPERATIONS` table.")
    w("- **implemented**: defined in `src/` (for a `DMA_OPERATIONS` member: the function the")
    w("  adapter's table points at), and not a stub.")
    w("- **partly**: the definition carries `/* wdfdma: partial: REASON */` (in its body or in the")
    w("  comment directly above it); the reason is shown. Use it for every DDI that leaves out")
    w("  part of its documented behaviour, returns `STATUS_NOT_SUPPORTED` for a documented case,")
    w("  or has a documented limit of this model.")
    w("- **missing**: not defined, or a stub that only returns `STATUS_NOT_SUPPORTED`,")
    w("  `STATUS_NOT_IMPLEMENTED`, `STATUS_UNSUCCESSFUL` or `STATUS_INVALID_DEVICE_REQUEST`")
    w("  without a marker. A driver that calls a DDI declared but not defined fails to load")
    w("  (`dlopen` reports the undefined symbol).")
    w("")
    groups = sorted(rows, key=group_order)
    w("## Summary")
    w("")
    w("| Header | DDIs | implemented | partly | missing |")
    w("|---|---:|---:|---:|---:|")
    tot = [0, 0, 0, 0]
    for g in groups:
        r = rows[g]
        c = [len(r)] + [sum(1 for x in r if x[1] == s) for s in ("implemented", "partly", "missing")]
        tot = [a + b for a, b in zip(tot, c)]
        w("| `%s` | %d | %d | %d | %d |" % (g, c[0], c[1], c[2], c[3]))
    w("| **all** | **%d** | **%d** | **%d** | **%d** |" % tuple(tot))
    w("")
    w("The headers also define %d inline functions (initializers such as" % len(inline))
    w("`WDF_DMA_ENABLER_CONFIG_INIT`, list and interlocked helpers); they are not counted above.")
    w("")
    missing = [(g, x[0], x[3]) for g in groups for x in rows[g] if x[1] == "missing"]
    if missing:
        w("## Missing")
        w("")
        for g, name, note in missing:
            w("- `%s` (%s)%s" % (name, g, ": " + note if note and note != "not defined in src/" else ""))
        w("")
    for g in groups:
        w("## `%s`" % g)
        w("")
        w("| DDI | status | defined in | note |")
        w("|---|---|---|---|")
        for name, status, where, note in rows[g]:
            w("| `%s` | %s | %s | %s |" % (name, status, "`%s`" % where if where else "—",
                                         note.replace("|", "\\|")))
        w("")
    return "\n".join(out)


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--source", default=os.path.dirname(here), help="the source tree")
    ap.add_argument("--output", default=None, help="default: SOURCE/docs/ddi-coverage.md")
    args = ap.parse_args()
    src = os.path.abspath(args.source)
    output = args.output or os.path.join(src, "docs", "ddi-coverage.md")
    try:
        rows, inline = classify(src)
    except Failure as e:
        print("ddi_coverage: %s" % e, file=sys.stderr)
        return 1
    text = render(rows, inline)
    if output == "-":
        sys.stdout.write(text)
    else:
        with open(output, "w", encoding="utf-8") as f:
            f.write(text)
        counts = {}
        for r in rows.values():
            for x in r:
                counts[x[1]] = counts.get(x[1], 0) + 1
        print("ddi_coverage: %s: %d implemented, %d partly, %d missing" % (
            output, counts.get("implemented", 0), counts.get("partly", 0),
            counts.get("missing", 0)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
