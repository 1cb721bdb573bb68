"""Diffing two traces: a streaming, windowed Myers alignment.

Records are keyed by the shape of their instruction: (function, instruction
text with register names abstracted) -- the offset is left out so that an
instruction inserted into a function does not make every later instruction of
that function differ, and the register names so that two builds that allocated
registers differently (5c swapped r10/r11 in the fixed ARM oldstack) pair the
same instruction; such a pair is "renamed" and its registers are compared
through the renaming.  Code addresses inside the text and in register/memory
values are rewritten as symbol+offset, so two runs whose code moved (the fixed
oldstack is longer) still align.  Both traces are streamed: while the heads
agree, they are paired directly; at a mismatch, a window of the next records
of each is aligned with Myers' O(ND) diff and the leading edit (records only
in A / only in B, up to the next common record) is committed; then streaming
resumes.  Edits fewer than 2*CONTEXT+1 aligned pairs apart are one hunk, as
``diff -u`` merges hunks whose context touches.  The window starts at 64
records and grows (x4, up to ``WINDOW``) until the alignment after the hunk
has settled (``SETTLE`` equal records in a row, or both traces end).  Memory
is bounded by the window and by the caps on what is kept: ``CAP``
register/memory/collection differences, renamed pairs and hunks, ``HUNK_KEEP``
records per side of a hunk (the counts are always exact).

JSON (``goemu diff --json``)::

    {"a": {"path", "arch", "variant", "program", "records", "registers"}, "b": {...},
     "identical": bool,
     "common_prefix": N,            # records equal (by key) before the first hunk
     "aligned": N,                  # aligned record pairs in total
     "hunks": [{"a_start", "b_start", "a_len", "b_len",   # a_len/b_len: records only in a / b
                "a_span", "b_span",                        # records of a / b in the hunk
                "only_a": [REC], "only_b": [REC],          # at most HUNK_KEEP of them each
                "ops": [[op, a_index | None, b_index | None]]}],   # "-", "+", "=" in order
     "renamed": {"count", "pairs": [{"a_index", "b_index", "where", "b_where", "a_text", "b_text",
                                     "map": {a_reg: b_reg}}],
                 "by_function": {fn: {"count", "map", "first": [a_index, b_index]}}},
     "register_diffs": [{"a_index", "b_index", "where", "text", "swapped",
                          "regs": {"rax": [A value, B value]}}],     # values as hex or sym+off
     "memory_diffs": [{"a_index", "b_index", "where", "text", "swapped",
                        "a": [WRITE], "b": [WRITE]}],
     "gc": [{"a_index", "b_index", "freed_only_in_a": [OBJ], "freed_only_in_b": [OBJ],
             "retained_only_in_a": [OBJ], "retained_only_in_b": [OBJ]}],
     "collections": {"a": [GC], "b": [GC]},   # each run's collections: what they retained, via which root
     "truncated": {"register_diffs": N, "memory_diffs": N, "hunks": N, "gc": N, "renamed": N},
     "cycles": null | {                 # when both traces were recorded with the cycle model
         "a": {"core", "total", "splits": [int], "unsplits": [int]},   # cycles of each split/unsplit
         "b": {...},
         "delta_total": int,            # b - a
         "per_unsplit": [{"index", "a", "b", "delta"}],  "per_split": [...]}}
    REC   = {"index", "pc", "where", "text", "writes": [WRITE], "events": [kind]}
    WRITE = {"addr", "name", "size", "value"}   # name: "m0.cret", sym+off, or hex
            # + "return_address": true for the address a call pushed (named after the caller);
            #   aligned calls' return addresses are equal by definition, even when code moved
    OBJ   = {"addr", "size", "root", "path"}
    GC    = {"index", "collection", "heap_before", "heap_after", "freed": N, "retained": [OBJ]}
"""
from __future__ import annotations

import bisect
import html as _html
import re
from collections import deque
from dataclasses import dataclass, field
from itertools import islice

from .native import NativeReader, Record, TraceMismatch

WINDOW = 1024
FIRST_WINDOW = 64
SETTLE = 16
SETTLE_RATIO = 8
MAXD = 400
MAXD_DIV = 2
CAP = 200
HUNK_KEEP = 200
CONTEXT = 3
_HEX = re.compile(r"0x[0-9a-fA-F]+")


class Symbolizer:
    def __init__(self, header: dict):
        fs = sorted(header.get("functions", []), key=lambda f: f[1])
        self.starts = [f[1] for f in fs]
        self.funcs = fs
        dn = sorted(header.get("data_names", []))
        self.dstarts = [d[0] for d in dn]
        self.data = dn

    def code(self, v: int) -> str | None:
        i = bisect.bisect_right(self.starts, v) - 1
        if i >= 0:
            name, a, size = self.funcs[i]
            if v <= a + size:       # inclusive: a call's return address may be the end
                return name if v == a else f"{name}+{v - a:#x}"
        return None

    def value(self, v: int) -> str:
        return self.code(v) or f"{v:#x}"

    def return_address(self, v: int, caller_pc: int) -> str:
        """A return address pushed by the call at ``caller_pc``: named after the
        caller even when it is also the next function's first byte (a call that
        never returns, last in its function: ``oldstack+0x98``, not ``malg``)."""
        i = bisect.bisect_right(self.starts, caller_pc) - 1
        if i >= 0:
            name, a, size = self.funcs[i]
            if a <= v <= a + size:
                return f"{name}+{v - a:#x}"
        return self.value(v)

    def addr(self, v: int) -> str:
        i = bisect.bisect_right(self.dstarts, v) - 1
        if i >= 0:
            a, size, name = self.data[i]
            if v < a + size:
                return name if v == a else f"{name}+{v - a}"
        return self.value(v)

    def text(self, t: str) -> str:
        return _HEX.sub(lambda m: self.code(int(m.group(0), 16)) or m.group(0), t)


def _key(sy: Symbolizer, r: Record) -> tuple[str, str]:
    return (r.sym.split("+")[0], sy.text(r.text))


def _writes(sy: Symbolizer, r: Record, ptr: int) -> list[dict]:
    out = []
    ret = r.pc + len(r.bytes)            # the value a call pushes
    for a, s, d in r.writes:
        v = int.from_bytes(d, "little")
        if s != ptr:
            shown = f"{v:#x}"
        elif v == ret and r.bytes:
            out.append({"addr": a, "name": sy.addr(a), "size": s, "value": sy.return_address(v, r.pc),
                        "return_address": True})
            continue
        else:
            shown = sy.value(v)
        out.append({"addr": a, "name": sy.addr(a), "size": s, "value": shown})
    return out


def _rec_json(sy: Symbolizer, r: Record, ptr: int) -> dict:
    return {"index": r.index, "pc": r.pc, "where": r.sym, "text": r.text,
            "writes": _writes(sy, r, ptr), "events": [k for k, _ in r.events]}


def myers(a: list, b: list, maxd: int = MAXD) -> list[tuple[str, int, int]] | None:
    """Myers' O(ND) shortest edit script from ``a`` to ``b``:
    [('=', i, j) | ('-', i, -1) | ('+', -1, j)], or None if it needs more than maxd edits."""
    n, m = len(a), len(b)
    dmax = min(maxd, n + m)
    off = dmax + 1
    v = [0] * (2 * dmax + 3)      # v[off + k]: furthest x on diagonal k
    trace = []
    for d in range(dmax + 1):
        trace.append(v[:])
        for k in range(-d, d + 1, 2):
            if k == -d or (k != d and v[off + k - 1] < v[off + k + 1]):
                x = v[off + k + 1]          # step down: an insertion from b
            else:
                x = v[off + k - 1] + 1      # step right: a deletion from a
            y = x - k
            while x < n and y < m and a[x] == b[y]:
                x += 1
                y += 1
            v[off + k] = x
            if x >= n and y >= m:
                return _backtrack(trace, off, d, k, n, m)
    return None


def _backtrack(trace, off, d, k, x, y):
    ops = []
    for dd in range(d, 0, -1):
        v = trace[dd]                       # the state before step dd
        down = k == -dd or (k != dd and v[off + k - 1] < v[off + k + 1])
        pk = k + 1 if down else k - 1
        px = v[off + pk]
        sx = px if down else px + 1         # where this step's snake began
        while x > sx:
            x -= 1
            y -= 1
            ops.append(("=", x, y))
        if down:
            y -= 1
            ops.append(("+", -1, y))
        else:
            x -= 1
            ops.append(("-", x, -1))
        k = pk
    while x > 0:
        x -= 1
        y -= 1
        ops.append(("=", x, y))
    ops.reverse()
    return ops


@dataclass
class Hunk:
    """One stretch where the traces differ: records only in a or only in b, and the
    aligned records between two such edits when they are closer than 2*CONTEXT (merged
    as ``diff -u`` merges hunks whose context touches)."""
    a_start: int
    b_start: int
    only_a: list[Record] = field(default_factory=list)
    only_b: list[Record] = field(default_factory=list)
    before: list[tuple[Record, Record]] = field(default_factory=list)
    after: list[tuple[Record, Record]] = field(default_factory=list)
    n_a: int = 0            # records only in a (only_a keeps the first HUNK_KEEP)
    n_b: int = 0
    ops: list[tuple[str, Record | None, Record | None]] = field(default_factory=list)
    a_span: int = 0         # records of a in the hunk (only in a + aligned inside it)
    b_span: int = 0
    ops_dropped: int = 0    # ops not kept (past 3*HUNK_KEEP), in all and per op
    dropped_by_op: dict = field(default_factory=dict)

    def add(self, op: str, ra: Record | None, rb: Record | None) -> None:
        if op == "-":
            self.n_a += 1
            if len(self.only_a) < HUNK_KEEP:
                self.only_a.append(ra)
        elif op == "+":
            self.n_b += 1
            if len(self.only_b) < HUNK_KEEP:
                self.only_b.append(rb)
        self.a_span += rb is None or ra is not None
        self.b_span += ra is None or rb is not None
        if len(self.ops) < 3 * HUNK_KEEP:
            self.ops.append((op, ra, rb))
        else:
            self.ops_dropped += 1
            self.dropped_by_op[op] = self.dropped_by_op.get(op, 0) + 1


@dataclass
class DiffResult:
    a: dict
    b: dict
    common_prefix: int = 0
    aligned: int = 0
    hunks: list[Hunk] = field(default_factory=list)
    register_diffs: list[dict] = field(default_factory=list)
    memory_diffs: list[dict] = field(default_factory=list)
    gc: list[dict] = field(default_factory=list)
    renamed: list[dict] = field(default_factory=list)     # aligned pairs differing only in register names
    renamed_count: int = 0
    renamed_by_function: dict = field(default_factory=dict)   # function -> {"count", "map", "first"}
    dropped: dict = field(default_factory=lambda: {"register_diffs": 0, "memory_diffs": 0, "hunks": 0,
                                                   "gc": 0, "renamed": 0})
    sa: Symbolizer | None = None
    sb: Symbolizer | None = None
    ptr: int = 8
    cycles: dict | None = None
    gc_a: list[dict] = field(default_factory=list)        # each side's collections (the first CAP)
    gc_b: list[dict] = field(default_factory=list)

    @property
    def identical(self) -> bool:
        return not (self.hunks or self.register_diffs or self.memory_diffs or self.gc or self.renamed_count)

    def to_json(self) -> dict:
        sa, sb, p = self.sa, self.sb, self.ptr
        op = lambda o, ra, rb: [o, ra.index if ra else None, rb.index if rb else None]
        return {"a": self.a, "b": self.b, "identical": self.identical, "common_prefix": self.common_prefix,
                "aligned": self.aligned,
                "hunks": [{"a_start": h.a_start, "b_start": h.b_start, "a_len": h.n_a, "b_len": h.n_b,
                           "a_span": h.a_span, "b_span": h.b_span,
                           "only_a": [_rec_json(sa, r, p) for r in h.only_a],
                           "only_b": [_rec_json(sb, r, p) for r in h.only_b],
                           "ops": [op(*o) for o in h.ops]} for h in self.hunks],
                "renamed": {"count": self.renamed_count, "pairs": self.renamed,
                            "by_function": self.renamed_by_function},
                "register_diffs": self.register_diffs, "memory_diffs": self.memory_diffs, "gc": self.gc,
                "collections": {"a": self.gc_a, "b": self.gc_b},
                "truncated": self.dropped, "cycles": self.cycles}


def _objs(report: dict, which: str) -> dict[tuple[int, int], dict]:
    return {(o["addr"], o["size"]): o for o in report.get(which, [])}


def _gc_diff(ra: Record, rb: Record) -> dict | None:
    ga = next((d.get("report") for k, d in ra.events if k == "gc"), None)
    gb = next((d.get("report") for k, d in rb.events if k == "gc"), None)
    if ga is None or gb is None:
        return None
    fa, fb = _objs(ga, "freed"), _objs(gb, "freed")
    ka, kb = _objs(ga, "retained"), _objs(gb, "retained")
    out = {"a_index": ra.index, "b_index": rb.index,
           "freed_only_in_a": [fa[k] for k in sorted(fa.keys() - fb.keys())],
           "freed_only_in_b": [fb[k] for k in sorted(fb.keys() - fa.keys())],
           "retained_only_in_a": [ka[k] for k in sorted(ka.keys() - kb.keys())],
           "retained_only_in_b": [kb[k] for k in sorted(kb.keys() - ka.keys())]}
    if any(out[k] for k in out if k.endswith(("_a", "_b"))):
        return out
    return None


class _CycleTally:
    """Cycles per side, in total and per split/unsplit, as records stream by."""

    def __init__(self, header: dict):
        self.core = (header.get("cycles") or {}).get("core")
        self.total = 0
        self.by: dict[str, dict[int, int]] = {"split": {}, "unsplit": {}}

    def add(self, r: Record) -> None:
        if r.cycles is None:
            return
        self.total += r.cycles
        if r.within:
            kind, n = r.within.split(" ")
            d = self.by[kind]
            d[int(n)] = d.get(int(n), 0) + r.cycles

    def json(self) -> dict:
        return {"core": self.core, "total": self.total,
                "splits": [self.by["split"][k] for k in sorted(self.by["split"])],
                "unsplits": [self.by["unsplit"][k] for k in sorted(self.by["unsplit"])]}


def _cycles_json(ta: _CycleTally, tb: _CycleTally) -> dict | None:
    if ta.core is None or tb.core is None:
        return None
    a, b = ta.json(), tb.json()

    def per(kind: str) -> list[dict]:
        xs, ys = a[kind], b[kind]
        return [{"index": i, "a": xs[i] if i < len(xs) else None, "b": ys[i] if i < len(ys) else None,
                 "delta": (ys[i] - xs[i]) if i < len(xs) and i < len(ys) else None}
                for i in range(max(len(xs), len(ys)))]
    return {"a": a, "b": b, "delta_total": b["total"] - a["total"],
            "per_unsplit": per("unsplits"), "per_split": per("splits")}


def diff(path_a: str, path_b: str, window: int = WINDOW) -> DiffResult:
    with NativeReader(path_a) as A, NativeReader(path_b) as B:
        return diff_readers(A, B, window)


def _leading(ops: list) -> tuple[int, int, int]:
    """(records only in a, records only in b) before the first common record, and
    the length of the run of common records that follows."""
    na = nb = run = 0
    k = 0
    while k < len(ops) and ops[k][0] != "=":
        if ops[k][0] == "-":
            na += 1
        else:
            nb += 1
        k += 1
    while k < len(ops) and ops[k][0] == "=":
        run += 1
        k += 1
    return na, nb, run


def _reg_tokens(rx: re.Pattern | None, text: str) -> list[str]:
    return rx.findall(text) if rx is not None else []


def _rename_map(rx: re.Pattern | None, ta: str, tb: str) -> dict[str, str]:
    """The register renaming that turns instruction text ``ta`` into ``tb`` (their shapes are
    equal): a's register -> b's register, identities left out.  A register that the pair
    maps two ways (``mov rax, [rax]`` against ``mov rax, [rcx]``: rax is rax and rcx) is
    left out too, in either direction: its values are compared under its own name."""
    pairs = list(zip(_reg_tokens(rx, ta), _reg_tokens(rx, tb)))
    fwd: dict[str, set[str]] = {}
    back: dict[str, set[str]] = {}
    for x, y in pairs:
        fwd.setdefault(x, set()).add(y)
        back.setdefault(y, set()).add(x)
    return {x: y for x, y in pairs if x != y and len(fwd[x]) == 1 and len(back[y]) == 1}


def _swapped(ra: Record, rb: Record, va: int, vb: int) -> bool:
    """Values ``va`` (in a) and ``vb`` (in b) are explained by renamed registers: some register
    holds va in a and vb in b, and another holds vb in a and va in b."""
    A, B = ra.after, rb.after
    regs = A.keys() & B.keys()
    return (any(A[r] == va and B[r] == vb for r in regs)
            and any(A[r] == vb and B[r] == va for r in regs))


def _gc_side(r: Record) -> dict | None:
    rep = next((d.get("report") for k, d in r.events if k == "gc" and isinstance(d, dict)), None)
    if not isinstance(rep, dict):
        return None
    return {"index": r.index, "collection": rep.get("index"), "heap_before": rep.get("heap_before"),
            "heap_after": rep.get("heap_after"), "freed": len(rep.get("freed", [])),
            "retained": [{"addr": o.get("addr"), "size": o.get("size"), "root": o.get("root"),
                          "path": o.get("path")} for o in rep.get("retained", [])]}


def diff_readers(A: NativeReader, B: NativeReader, window: int = WINDOW) -> DiffResult:
    if A.header["arch"] != B.header["arch"] or A.header["registers"] != B.header["registers"]:
        raise TraceMismatch(f"cannot diff traces of two architectures: {A.path} is {A.header['arch']}, "
                            f"{B.path} is {B.header['arch']}", B.path)
    sa, sb = Symbolizer(A.header), Symbolizer(B.header)
    ptr = A.header.get("ptrsize", 8)
    info = lambda R: {"path": R.path, "arch": R.header["arch"], "variant": R.header["variant"],
                      "program": R.header["program"], "records": 0, "registers": R.header["registers"]}
    res = DiffResult(info(A), info(B), sa=sa, sb=sb, ptr=ptr)
    rx = _regs_rx(A.header["registers"])
    ia, ib = iter(A), iter(B)
    # buffered records: (shape key, exact key, record); keys are interned small ints
    ba: deque[tuple[int, int, Record]] = deque()
    bb: deque[tuple[int, int, Record]] = deque()
    ends = [False, False]
    tallies = (_CycleTally(A.header), _CycleTally(B.header))
    sides = ((ia, sa, res.a, {}, A, res.gc_a), (ib, sb, res.b, {}, B, res.gc_b))
    ids: dict[tuple[str, str], int] = {}   # keys cached per pc: bounded by the code size
    recent: deque = deque(maxlen=CONTEXT)
    cur: list[Hunk | None] = [None]          # the hunk still collecting aligned pairs after its edits
    tail: list[tuple[Record, Record]] = []   # aligned pairs since cur's last edit
    in_prefix = True

    def fill(buf, side, n):
        it, sy, inf, keys, R, gcs = sides[side]
        while len(buf) < n and not ends[side]:
            r = next(it, None)
            if r is None:
                ends[side] = True
                break
            # the whole register state after r: a register one run changes and the other
            # already held (renamed registers) is no difference (bounded: the window only)
            r.after = R.state.copy()
            inf["records"] = r.index + 1
            tallies[side].add(r)
            if r.events and len(gcs) < CAP:
                g = _gc_side(r)
                if g:
                    gcs.append(g)
            k = keys.get(r.pc)
            if k is None:     # interned: Myers compares small ints
                fn, text = _key(sy, r)
                k = keys[r.pc] = (ids.setdefault(("shape", fn, _shape(rx, text)), len(ids)),
                                  ids.setdefault((fn, text), len(ids)))
            buf.append((k[0], k[1], r))

    def pair(ra: Record, rb: Record, renamed: bool) -> None:
        res.aligned += 1
        inv: dict[str, str] = {}
        if renamed:
            ta, tb = sa.text(ra.text), sb.text(rb.text)
            m = _rename_map(rx, ta, tb)
            inv = {y: x for x, y in m.items()}
            res.renamed_count += 1
            fn = ra.sym.split("+")[0]
            s = res.renamed_by_function.setdefault(fn, {"count": 0, "map": {}, "first": [ra.index, rb.index]})
            s["count"] += 1
            for x, y in m.items():
                s["map"].setdefault(x, y)
            if len(res.renamed) < CAP:
                res.renamed.append({"a_index": ra.index, "b_index": rb.index, "where": ra.sym,
                                    "b_where": rb.sym, "a_text": ta, "b_text": tb, "map": m})
            else:
                res.dropped["renamed"] += 1
        regs = {}
        # b's registers, with a's named through the renaming of this instruction
        amap = {v: k for k, v in inv.items()}       # a's name -> b's name
        names = set(rb.regs) | {amap.get(n, n) for n in ra.regs}
        for name in sorted(names):
            an = inv.get(name, name)
            va = ra.regs.get(an, ra.after.get(an))
            vb = rb.regs.get(name, rb.after.get(name))
            na = sa.value(va) if va is not None else "(unchanged)"
            nb = sb.value(vb) if vb is not None else "(unchanged)"
            if na != nb:
                regs[name if an == name else f"{an}/{name}"] = [na, nb]
        if regs:
            if len(res.register_diffs) < CAP:
                vals = [(ra.regs.get(n, ra.after.get(n)), rb.regs.get(n, rb.after.get(n))) for n in regs
                        if "/" not in n]
                sw = bool(vals) and len(vals) == len(regs) and all(
                    va is not None and vb is not None and _swapped(ra, rb, va, vb) for va, vb in vals)
                res.register_diffs.append({"a_index": ra.index, "b_index": rb.index, "where": ra.sym,
                                           "text": ra.text, "regs": regs, "swapped": sw})
            else:
                res.dropped["register_diffs"] += 1
        if ra.mem or rb.mem:
            wa, wb = _writes(sa, ra, ptr), _writes(sb, rb, ptr)
            # a call's return address differs whenever code before it moved: aligned
            # calls push "the address after this call" in both runs, which is the same
            strip = lambda ws: [(w["name"], w["size"], "<ret>" if w.get("return_address") else w["value"])
                                for w in ws]
            if strip(wa) != strip(wb):
                if len(res.memory_diffs) < CAP:
                    res.memory_diffs.append({"a_index": ra.index, "b_index": rb.index, "where": ra.sym,
                                             "text": ra.text, "a": wa, "b": wb,
                                             "swapped": _writes_swapped(ra, rb, wa, wb, strip)})
                else:
                    res.dropped["memory_diffs"] += 1
        if ra.events or rb.events:
            g = _gc_diff(ra, rb)
            if g:
                if len(res.gc) < CAP:
                    res.gc.append(g)
                else:
                    res.dropped["gc"] += 1
        if cur[0] is not None:
            tail.append((ra, rb))
            if len(tail) > 2 * CONTEXT:          # the next edit is too far: close the hunk
                cur[0].after = tail[:CONTEXT]
                recent.extend(tail[-CONTEXT:])
                cur[0] = None
                tail.clear()
        else:
            recent.append((ra, rb))

    while True:
        fill(ba, 0, 1)
        fill(bb, 1, 1)
        if not ba and not bb:
            break
        if ba and bb and ba[0][0] == bb[0][0]:      # same shape: equal, or renamed registers
            _, ka, ra = ba.popleft()
            _, kb, rb = bb.popleft()
            if in_prefix and ka == kb:
                res.common_prefix += 1
            else:
                in_prefix = False
            pair(ra, rb, ka != kb)
            continue
        in_prefix = False
        # align a growing window until the alignment after the leading hunk has settled
        w = min(FIRST_WINDOW, window)
        best = None
        while True:
            fill(ba, 0, w)
            fill(bb, 1, w)
            ka = [k for k, _, _ in islice(ba, w)]
            kb = [k for k, _, _ in islice(bb, w)]
            ops = myers(ka, kb, min(MAXD, (len(ka) + len(kb)) // MAXD_DIV + 8))
            if ops is None:          # more than MAXD edits: keep the smaller window's answer
                break
            na_, nb_, run = _leading(ops)
            best = (na_, nb_)
            edits = sum(op != "=" for op, _, _ in ops)
            at_end = ends[0] and ends[1] and len(ba) <= w and len(bb) <= w \
                and na_ + run == len(ka) and nb_ + run == len(kb)
            # settled: common records follow the hunk and the window is mostly aligned
            if (run >= SETTLE and edits * SETTLE_RATIO <= len(ka) + len(kb)) or at_end or w >= window:
                break
            w = min(w * 4, window)
        if best is None:             # window smaller than MAXD/2 and still no script: all of it differs
            best = (len(ka), len(kb))
        na_, nb_ = best
        h = cur[0]
        if h is not None:            # close enough to the open hunk: one hunk, as diff -u merges them
            for ra, rb in tail:
                h.add("=", ra, rb)
            tail.clear()
        else:
            h = Hunk(ba[0][2].index if ba else res.a["records"], bb[0][2].index if bb else res.b["records"],
                     before=list(recent))
            recent.clear()
            cur[0] = h
            if len(res.hunks) < CAP:
                res.hunks.append(h)
            else:
                res.dropped["hunks"] += 1
        for _ in range(na_):
            h.add("-", ba.popleft()[2], None)
        for _ in range(nb_):
            h.add("+", None, bb.popleft()[2])
    if cur[0] is not None:
        cur[0].after = tail[:CONTEXT]
    res.cycles = _cycles_json(*tallies)
    return res


def _writes_swapped(ra: Record, rb: Record, wa: list[dict], wb: list[dict], strip) -> bool:
    """Every write that differs (same address, other value) holds values of renamed registers."""
    da = {(w["addr"], w["size"]): w for w in wa}
    db = {(w["addr"], w["size"]): w for w in wb}
    if da.keys() != db.keys():
        return False
    raw = lambda r: {(a, s): int.from_bytes(d, "little") for a, s, d in r.writes}
    xa, xb = raw(ra), raw(rb)
    diffs = [k for k in da if strip([da[k]]) != strip([db[k]])]
    return bool(diffs) and all(_swapped(ra, rb, xa[k], xb[k]) for k in diffs)


def _regs_rx(names) -> re.Pattern | None:
    names = sorted(set(names), key=len, reverse=True)
    return re.compile(r"\b(?:" + "|".join(map(re.escape, names)) + r")\b") if names else None


# -- presentation -----------------------------------------------------------------------
_C = {"red": "\033[31m", "green": "\033[32m", "cyan": "\033[36m", "bold": "\033[1m", "yellow": "\033[33m",
      "off": "\033[0m"}


def _where(ra: Record, rb: Record) -> str:
    """a's ``symbol+offset``; when b's differs (code moved), b's offset after an arrow:
    ``oldstack+0x78→0x84`` (or b's whole ``symbol+offset`` when the function differs)."""
    if ra.sym == rb.sym:
        return ra.sym
    fa, _, _ = ra.sym.partition("+")
    fb, _, ob = rb.sym.partition("+")
    return f"{ra.sym}→{ob or '0'}" if fa == fb else f"{ra.sym}→{rb.sym}"


def _context(ra: Record, rb: Record, sa: Symbolizer, sb: Symbolizer, ptr: int) -> str:
    """An aligned record pair around or inside a hunk: both indexes (they differ after an
    insertion), a's place, and b's text and writes (the same as a's: differences are reported
    below); a pair whose text differs only in register names is a ``~`` line with both texts."""
    ta, tb = sa.text(ra.text), sb.text(rb.text)
    head = f" a#{ra.index} b#{rb.index}".ljust(17)
    if ta != tb:
        return "~" + head[1:] + f"{_where(ra, rb):<22} {ta} | {tb}   (registers renamed)"
    return head + _body(rb, sb, ptr, _where(ra, rb))


def _body(r: Record, sy: Symbolizer, ptr: int, where: str | None = None) -> str:
    ws = ", ".join(f"[{w['name']}]={w['value']}" for w in _writes(sy, r, ptr))
    ev = " ".join(f"<{k}>" for k, _ in r.events)
    return (f"{where or r.sym:<22} {sy.text(r.text):<40}" + (f" ; {ws}" if ws else "")
            + (f" {ev}" if ev else "")).rstrip()


def _line(r: Record, sy: Symbolizer, ptr: int, mark: str = "", who: str = "") -> str:
    """A record of one side: ``-a#2210``, ``+b#2211`` (whose index it is, always said)."""
    return f"{mark}{who}#{r.index}".ljust(17) + _body(r, sy, ptr)


def _shape(regs: re.Pattern | None, text: str) -> str:
    """An instruction with its register names abstracted: ``mov r10, r9`` -> ``mov R, R``."""
    return regs.sub("R", text) if regs is not None else text


def _signature(h: Hunk) -> tuple:
    return (tuple((r.sym, r.text) for r in h.only_a), tuple((r.sym, r.text) for r in h.only_b), h.n_a, h.n_b)


def _hunk_lines(h: Hunk, res: DiffResult, c) -> list[str]:
    sa, sb, p = res.sa, res.sb, res.ptr
    first = next((r for _o, ra, rb in h.ops for r in (ra, rb) if r is not None), None)
    out = [c("cyan", f"@@ -{h.a_start},{h.a_span} +{h.b_start},{h.b_span} @@ {first.sym if first else ''}")]
    def ctx(ra: Record, rb: Record) -> str:
        s = _context(ra, rb, sa, sb, p)
        return c("yellow", s) if s.startswith("~") else s
    out += [ctx(ra, rb) for ra, rb in h.before]
    for op, ra, rb in h.ops:
        if op == "-":
            out.append(c("red", _line(ra, sa, p, "-", "a")))
        elif op == "+":
            out.append(c("green", _line(rb, sb, p, "+", "b")))
        else:
            out.append(ctx(ra, rb))
    more = h.dropped_by_op
    if more.get("-"):
        out.append(c("red", f"-... {more['-']} more records only in a"))
    if more.get("+"):
        out.append(c("green", f"+... {more['+']} more records only in b"))
    if more.get("="):
        out.append(f" ... {more['=']} more aligned pairs inside this hunk")
    out += [ctx(ra, rb) for ra, rb in h.after]
    return out


def format_text(res: DiffResult, color: bool = False, fold: bool = True) -> str:
    """``diff -u``-like text.  With ``fold``, a hunk that repeats an earlier one (the same
    instructions at the same places: the second unsplit) is one line, and the aligned
    instructions that differ only in register names are summed up per function (``fold=False``
    lists each).  Renamed pairs inside or around a hunk are ``~`` lines."""
    c = (lambda k, s: f"{_C[k]}{s}{_C['off']}") if color else (lambda k, s: s)
    sa = res.sa
    A, B = res.a, res.b
    out = [c("bold", f"--- a: {A['path']} ({A['arch']} {A['variant']}, {A['records']} records)"),
           c("bold", f"+++ b: {B['path']} ({B['arch']} {B['variant']}, {B['records']} records)")]
    if res.identical:
        out.append("traces are identical")
        out += _cycles_text(res, c)
        return "\n".join(out) + "\n"
    nh = len(res.hunks) + res.dropped["hunks"]
    ren = f" ({res.renamed_count} with registers renamed)" if res.renamed_count else ""
    out.append(f"common prefix: {res.common_prefix} records; aligned: {res.aligned}{ren}; hunks: {nh}"
               + (f" ({res.dropped['hunks']} not kept)" if res.dropped["hunks"] else ""))
    seen: dict[tuple, int] = {}
    repeat: list[tuple[int, int]] = []      # (this hunk number, the earlier one it repeats), a run

    def flush_repeats():
        if repeat:
            (h0, e0), (h1, e1) = repeat[0], repeat[-1]
            hs = f"hunk {h0}" if h0 == h1 else f"hunks {h0}-{h1}"
            es = f"hunk {e0}" if e0 == e1 else f"hunks {e0}-{e1}"
            hk = res.hunks[h0 - 1]
            out.append(c("cyan", f"@@ -{hk.a_start} +{hk.b_start} @@ {hs} repeat{'s' if h0 == h1 else ''} {es}"))
            repeat.clear()

    for num, h in enumerate(res.hunks, 1):
        sig = _signature(h)
        if fold and sig in seen and (not repeat or seen[sig] == repeat[-1][1] + 1):
            repeat.append((num, seen[sig]))
            continue
        flush_repeats()
        seen.setdefault(sig, num)
        out += _hunk_lines(h, res, c)
    flush_repeats()
    if res.renamed_count:
        out.append(c("bold", f"registers renamed at {res.renamed_count} aligned instructions "
                             "(the text differs only in register names):"))
        for fn, s in res.renamed_by_function.items():
            m = " ".join(f"{x}->{y}" for x, y in s["map"].items())
            out.append(c("yellow", f"  {fn}: {s['count']} instructions, first a#{s['first'][0]} "
                                   f"b#{s['first'][1]}; a's -> b's: {m}"))
        if not fold:
            for d in res.renamed:
                out.append(c("yellow", f"  ~a#{d['a_index']} b#{d['b_index']} {d['where']:<22} "
                                       f"{d['a_text']} | {d['b_text']}"))
            if res.dropped["renamed"]:
                out.append(f"  ... {res.dropped['renamed']} more not kept")
    if res.register_diffs:
        out.append(c("bold", f"register differences at aligned instructions ({len(res.register_diffs)}"
                     + (f", {res.dropped['register_diffs']} more not shown" if res.dropped["register_diffs"] else "")
                     + "):"))
        for d in res.register_diffs:
            regs = " ".join(f"{n}: {c('red', va)} -> {c('green', vb)}" for n, (va, vb) in d["regs"].items())
            sw = "   (values swapped between renamed registers)" if d.get("swapped") else ""
            out.append(f"  a#{d['a_index']} b#{d['b_index']} {d['where']:<22} {sa.text(d['text']):<34} {regs}{sw}")
    if res.memory_diffs:
        out.append(c("bold", f"memory write differences at aligned instructions ({len(res.memory_diffs)}"
                     + (f", {res.dropped['memory_diffs']} more not shown" if res.dropped["memory_diffs"] else "")
                     + "; only the writes that differ):"))
        for d in res.memory_diffs:
            fa, fb = _differing_writes(d)
            sw = "   (values of renamed registers)" if d.get("swapped") else ""
            out.append(f"  a#{d['a_index']} b#{d['b_index']} {d['where']:<22} {c('red', '-' + fa)} {c('green', '+' + fb)}{sw}")
    for g in res.gc:
        out.append(c("bold", f"collection at a#{g['a_index']} / b#{g['b_index']} came out differently:"))
        for key, label, col in (("retained_only_in_a", "retained only in a", "red"),
                                ("freed_only_in_b", "freed only in b", "green"),
                                ("freed_only_in_a", "freed only in a", "red"),
                                ("retained_only_in_b", "retained only in b", "green")):
            for o in g[key]:
                via = f" via {o['path']}" if o.get("path") else ""
                out.append(c(col, f"  {label}: object {o['addr']:#x} ({o['size']} bytes){via}"))
    out += _cycles_text(res, c)
    return "\n".join(out) + "\n"


def _differing_writes(d: dict) -> tuple[str, str]:
    """The writes of a memory difference that are not the same in both runs, as text."""
    key = lambda w: (w["name"], w["size"], "<ret>" if w.get("return_address") else w["value"])
    ka, kb = {key(w) for w in d["a"]}, {key(w) for w in d["b"]}
    fa = ", ".join(f"[{w['name']}]={w['value']}" for w in d["a"] if key(w) not in kb) or "(none)"
    fb = ", ".join(f"[{w['name']}]={w['value']}" for w in d["b"] if key(w) not in ka) or "(none)"
    return fa, fb


def _cycles_text(res: DiffResult, c) -> list[str]:
    cy = res.cycles
    if not cy:
        return []
    a, b = cy["a"], cy["b"]
    out = [c("bold", f"cycles ({a['core']} model): a {a['total']}, b {b['total']} ({cy['delta_total']:+d})")]
    for kind, label in (("per_unsplit", "unsplit"), ("per_split", "split")):
        rows = cy[kind]
        if not rows:
            continue
        cells = [f"#{r['index']} {r['a'] if r['a'] is not None else '-'}->{r['b'] if r['b'] is not None else '-'}"
                 + (f" ({r['delta']:+d})" if r["delta"] is not None else "") for r in rows[:8]]
        more = f" ... {len(rows) - 8} more" if len(rows) > 8 else ""
        deltas = [r["delta"] for r in rows if r["delta"] is not None]
        mean = f"; mean {sum(deltas) / len(deltas):+.1f} per {label}" if deltas else ""
        out.append(f"  per {label}: " + ", ".join(cells) + more + mean)
    return out


HTML_ROWS = 100_000     # hidden rows the HTML page's folds write in all (their counts are always exact)

_CSS = (
    "body{font-family:monospace;font-size:13px;margin:8px;max-width:100%}"
    "h1{font-size:16px;overflow-wrap:anywhere}h2{font-size:14px;margin:18px 0 4px}"
    # two columns of equal width that never grow past the page: long lines wrap inside their cell
    "table.sbs{border-collapse:collapse;width:100%;table-layout:fixed}"
    "table.sbs col{width:50%}"
    "table.sbs td,table.sbs th{vertical-align:top;padding:1px 6px;white-space:pre-wrap;"
    "overflow-wrap:anywhere;word-break:break-all;text-align:left;border-left:1px solid #ccc}"
    "tr.del td.a,td.only-a{background:#fdd}tr.add td.b,td.only-b{background:#dfd}"
    "tr.ren td{background:#ffc}tr.gc td{background:#eef;font-weight:bold}"
    "tr.fold>td{padding:0;border:0}details{margin:2px 0}"
    "summary{color:#555;cursor:pointer;padding:1px 6px;background:#f4f4f4}"
    "pre{white-space:pre-wrap;overflow-wrap:anywhere}"
)


class _Cursor:
    """Records of one trace, read again in order for the page's folds."""

    def __init__(self, path: str):
        self.reader = NativeReader(path)
        self.it = iter(self.reader)
        self.pos = 0
        self.gcs: dict[int, Record] = {}      # the records of the first CAP collections, by index

    def next(self) -> Record | None:
        r = next(self.it, None)
        if r is not None:
            self.pos += 1
            if r.events and len(self.gcs) < CAP and any(k == "gc" for k, _ in r.events):
                self.gcs[r.index] = r
        return r

    def skip(self, n: int) -> None:
        for _ in range(n):
            if self.next() is None:
                return

    def pairs(self, other: _Cursor, n: int):
        for _ in range(n):
            ra, rb = self.next(), other.next()
            if ra is None or rb is None:
                return
            yield ra, rb

    def close(self) -> None:
        self.reader.close()


def _gc_rows(ra: Record | None, rb: Record | None, e) -> list[str]:
    """A collection side by side: its summary, then each retained object of either run, in the
    other run's column what became of it (retained too, or freed)."""
    sides = [_gc_side(r) if r is not None else None for r in (ra, rb)]
    freed = []
    for r in (ra, rb):
        rep = next((d.get("report") for k, d in (r.events if r else []) if k == "gc" and isinstance(d, dict)), None)
        freed.append({(o.get("addr"), o.get("size")) for o in (rep or {}).get("freed", [])})
    head = []
    for who, (g, r) in zip("ab", zip(sides, (ra, rb))):
        head.append(f"collection {g['collection']} at {who}#{r.index}: heap {g['heap_before']} -> "
                    f"{g['heap_after']} bytes; freed {g['freed']}, retained {len(g['retained'])}" if g else "")
    rows = [f"<tr class='gc'><td class='a'>{e(head[0])}</td><td class='b'>{e(head[1])}</td></tr>"]
    objs: dict = {}
    for k, g in enumerate(sides):
        for o in (g or {}).get("retained", []):
            objs.setdefault((o["addr"], o["size"]), [None, None])[k] = o
    for key, pair in sorted(objs.items(), key=lambda kv: kv[0][0] or 0):
        cells = []
        for k, who in enumerate("ab"):
            o = pair[k]
            if o is not None:
                only = pair[1 - k] is None
                cells.append((f"retained-only only-{who}" if only else "retained",
                               f"retained {o['addr']:#x} ({o['size']} bytes) via {o.get('path') or o.get('root')}"))
            elif key in freed[k]:
                cells.append((f"freed only-{who}", f"freed {key[0]:#x} ({key[1]} bytes)"))
            else:
                cells.append(("absent", ""))
        rows.append("<tr class='gcobj'>" + "".join(f"<td class='{who} {cls}'>{e(t)}</td>"
                                                   for who, (cls, t) in zip("ab", cells)) + "</tr>")
    return rows


def format_html(res: DiffResult) -> str:
    """One self-contained page (no scripts, no external files): the collections of both runs
    side by side (what each retained and through which root), then both traces side by side --
    every hunk expanded, every aligned stretch between hunks folded in a ``<details>`` that holds
    all of its rows (the count in its summary), collections shown where they happen -- then the
    text report.  The traces are read a second time for the folds."""
    e = _html.escape
    sa, sb, p = res.sa, res.sb, res.ptr
    A, B = res.a, res.b
    rows: list[str] = []

    texts: tuple[dict, dict] = ({}, {})       # symbolized instruction text per pc, per side

    def text(r: Record, side: int) -> str:
        t = texts[side].get(r.pc)
        if t is None:
            t = texts[side][r.pc] = (sa, sb)[side].text(r.text)
        return t

    def pair_row(ra: Record, rb: Record) -> str:
        ta, tb = text(ra, 0), text(rb, 1)
        cls = "ren" if ta != tb else "ctx"
        return (f"<tr class='{cls}' data-a='{ra.index}' data-b='{rb.index}'><td class='a'>"
                f"{e(_line(ra, sa, p, ' ' if cls == 'ctx' else '~', 'a'))}</td><td class='b'>"
                f"{e(_line(rb, sb, p, ' ' if cls == 'ctx' else '~', 'b'))}</td></tr>")

    def one_row(op: str, r: Record) -> str:
        if op == "-":
            return (f"<tr class='del' data-a='{r.index}'><td class='a'>{e(_line(r, sa, p, '-', 'a'))}</td>"
                    "<td class='b'></td></tr>")
        return (f"<tr class='add' data-b='{r.index}'><td class='a'></td>"
                f"<td class='b'>{e(_line(r, sb, p, '+', 'b'))}</td></tr>")

    budget = [HTML_ROWS]            # rows the folds may still write (the page's size bound)

    class Fold:
        def __init__(self):
            self.n = self.ren = 0
            self.first = self.last = None
            self.html: list[str] = []

        def add(self, ra: Record, rb: Record) -> None:
            self.n += 1
            self.first = self.first or (ra, rb)
            self.last = (ra, rb)
            if budget[0] > 0:
                budget[0] -= 1
                self.html.append(pair_row(ra, rb))
            self.ren += text(ra, 0) != text(rb, 1)

        def close(self) -> None:
            if not self.n:
                return
            (a0, b0), (a1, b1) = self.first, self.last
            ren = f", {self.ren} with registers renamed" if self.ren else ""
            more = (f"<tr class='more'><td colspan=2>... {self.n - len(self.html)} more rows not written (the page "
                    f"keeps {HTML_ROWS} hidden rows; goemu trace-show FILE --from N prints them)</td></tr>"
                    if self.n > len(self.html) else "")
            rows.append(f"<tr class='fold'><td colspan=2><details data-rows='{self.n}'><summary>{self.n} "
                        f"aligned instructions hidden{ren} (a#{a0.index}..a#{a1.index}, b#{b0.index}..b#{b1.index})"
                        "</summary><table class='sbs'><colgroup><col><col></colgroup>"
                        + "".join(self.html) + more + "</table></details></td></tr>")

    def gap(pairs, length: int, head: int, tail: int) -> None:
        """An aligned stretch of ``length`` pairs, streamed: ``head`` rows shown after a hunk,
        ``tail`` before the next one, collections shown with their outcome, the rest folded."""
        f = Fold()
        for i, (ra, rb) in enumerate(pairs):
            is_gc = any(k == "gc" for k, _ in ra.events) or any(k == "gc" for k, _ in rb.events)
            if not (i < head or i >= length - tail or is_gc):
                f.add(ra, rb)
                continue
            f.close()
            f = Fold()
            rows.append(pair_row(ra, rb))
            if is_gc:
                rows.extend(_gc_rows(ra, rb, e))
        f.close()

    ca, cb = _Cursor(A["path"]), _Cursor(B["path"])
    try:
        for n, h in enumerate(res.hunks):
            la, lb = h.a_start - ca.pos, h.b_start - cb.pos
            gap(ca.pairs(cb, min(la, lb)), min(la, lb), CONTEXT if n else 0, CONTEXT)
            if la != lb:             # cannot happen for a consistent alignment; say so rather than hide it
                rows.append(f"<tr class='more'><td colspan=2>(alignment gap: {la} records of a, {lb} of b)</td></tr>")
                ca.skip(h.a_start - ca.pos)
                cb.skip(h.b_start - cb.pos)
            for op, ra, rb in h.ops:
                rows.append(pair_row(ra, rb) if op == "=" else one_row(op, ra if op == "-" else rb))
            if h.ops_dropped:
                more = h.dropped_by_op
                rows.append(f"<tr class='more'><td class='a'>... {more.get('-', 0)} more records only in a, "
                            f"{more.get('=', 0)} more aligned</td><td class='b'>... {more.get('+', 0)} more "
                            f"records only in b</td></tr>")
            ca.skip(h.a_span)
            cb.skip(h.b_span)
        if res.dropped["hunks"]:
            rows.append(f"<tr class='more'><td colspan=2>{res.dropped['hunks']} more hunks not kept: the rest of "
                        f"the traces (from a#{ca.pos} and b#{cb.pos}) is not aligned here</td></tr>")
        else:
            rest = min(A["records"] - ca.pos, B["records"] - cb.pos)
            gap(ca.pairs(cb, rest), rest, CONTEXT if res.hunks else 0, 0)
        # every record was read once more: the collections' records were kept on the way
        while ca.next() is not None:
            pass
        while cb.next() is not None:
            pass
    finally:
        ca.close()
        cb.close()
    # the collections of both runs, side by side (the n-th of a against the n-th of b)
    gcs = []
    for i in range(max(len(res.gc_a), len(res.gc_b))):
        ga = res.gc_a[i] if i < len(res.gc_a) else None
        gb = res.gc_b[i] if i < len(res.gc_b) else None
        gcs.append((ga, gb))
    gc_rows: list[str] = []
    for ga, gb in gcs:
        gc_rows += _gc_rows(ca.gcs.get(ga["index"]) if ga else None,
                            cb.gcs.get(gb["index"]) if gb else None, e)
    report = format_text(res, color=False, fold=False)
    head = (f"<tr><th class='a'>a: {e(A['path'])} ({e(A['arch'])} {e(A['variant'])}, {A['records']} records)</th>"
            f"<th class='b'>b: {e(B['path'])} ({e(B['arch'])} {e(B['variant'])}, {B['records']} records)</th></tr>")
    table = lambda tid, body: (f"<table class='sbs' id='{tid}'><colgroup><col><col></colgroup>{head}"
                               + "".join(body) + "</table>")
    summary = report.splitlines()[2] if len(report.splitlines()) > 2 else ""
    return ("<!doctype html><html><head><meta charset='utf-8'><meta name='viewport' "
            "content='width=device-width'><title>goemu trace diff</title>"
            f"<style>{_CSS}</style></head><body>"
            f"<h1>{e(A['path'])} vs {e(B['path'])}</h1><p>{e(summary)}</p>"
            "<h2>Collections: what each run retained, and through which root</h2>"
            + (table("collections", gc_rows) if gc_rows else "<p>no collection in either run</p>")
            + "<h2>Instructions, side by side</h2>" + table("trace", rows)
            + f"<h2>Report</h2><pre>{e(report)}</pre></body></html>\n")
