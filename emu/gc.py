"""A conservative mark-sweep collector over emulated memory, as Go 1.0's.

Roots, as mgc0.c's mark() found them (reference §7):
  1. data and bss, skipping the heap's own metadata (runtime·mheap), which
     is where m0, g0, allm and allg live -- so every word of m0 is a root;
  2. every goroutine on allg (not g0: g0 is not on allg), from its saved SP
     (the current SP for the goroutine that called runtime.gc) through each
     segment, following the Stktop chain;
  3. (Go's finalizer table: the model has no finalizers.)
Every aligned word that falls inside an allocated object marks that object
(interior pointers count) and the object is scanned in turn.  Registers are
not roots: 6g/6c code keeps nothing live in registers across the call into
the collector, and neither did Go 1.0's collector look at them.

The sweep is real: unmarked objects are freed in the emulated heap's own
metadata, so the next allocation of that size class reuses the slot.

Every surviving object gets the shortest chain from a root (breadth-first
marking from all roots at once), with the root named in runtime terms.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from .heap import Heap
from .unwind import segment_chain, walk

if TYPE_CHECKING:
    from .machine import Machine


@dataclass
class Step:
    """One link of a chain: the word at ``addr`` (inside root or object) holds ``value``."""
    addr: int
    value: int
    where: str          # "m0.cret", "+0x8", ".alllink"


@dataclass
class ObjectInfo:
    addr: int
    size: int
    root: str | None = None
    root_addr: int | None = None
    path: list[Step] = field(default_factory=list)

    @property
    def levels(self) -> int:
        return len(self.path)

    def path_text(self) -> str:
        """``m0.cret → 0xf840000000 48 → +0x8 → 0xf840000040 48``."""
        if not self.path:
            return ""
        parts = [self.root or "?"]
        for i, st in enumerate(self.path):
            if i:
                parts.append(st.where)
            obj = self._target(i)
            interior = st.value - obj[0]
            parts.append(f"{obj[0]:#x} {obj[1]}" + (f" (interior +{interior:#x})" if interior else ""))
        return " → ".join(parts)

    def _target(self, i: int) -> tuple[int, int]:
        return self._targets[i] if hasattr(self, "_targets") else (self.addr, self.size)

    def to_json(self) -> dict:
        d = {"addr": self.addr, "size": self.size}
        if self.root is not None:
            d.update(root=self.root, root_addr=self.root_addr, levels=self.levels, path=self.path_text())
        return d


@dataclass
class GcReport:
    index: int
    icount: int
    pc: int
    freed: list[ObjectInfo]
    retained: list[ObjectInfo]
    heap_before: int
    heap_after: int
    roots_scanned: int = 0
    words_scanned: int = 0

    def to_json(self) -> dict:
        return {"index": self.index, "instructions": self.icount, "heap_before": self.heap_before,
                "heap_after": self.heap_after, "freed": [o.to_json() for o in self.freed],
                "retained": [o.to_json() for o in self.retained]}

    def retained_via(self, root_prefix: str) -> list[ObjectInfo]:
        return [o for o in self.retained if o.root and o.root.startswith(root_prefix)]


# -- roots ------------------------------------------------------------------------------------
@dataclass
class RootRange:
    start: int
    end: int
    kind: str                  # "data", "stack"
    namer: object              # callable(addr) -> str


def _global_namer(mc: Machine):
    img = mc.image
    struct_globals = {"m0": "M", "g0": "G", "bootargs": "BootArgs", "mstats": "MStats",
                      "stackheap": "StackHeap"}

    def name(addr: int) -> str:
        for g, sname in struct_globals.items():
            base = img.symbols.get(g)
            if base is not None and base <= addr < base + mc.layouts[sname].size:
                f = mc.layouts[sname].field_at(addr - base)
                return f"{g}.{f.path}" if f else f"{g}+{addr - base:#x}"
        sym = img.symbolize(addr)
        if sym:
            base_name = sym.split("+")[0]
            shown = "runtime·" + base_name if base_name in ("allm", "allg", "gcount") else sym
            return f"data {shown}"
        return f"data {addr:#x}"
    return name


def goroutines(mc: Machine) -> list[int]:
    out, g = [], mc.read_ptr(mc.image.symbols["allg"])
    while g and len(out) < 10000:
        out.append(g)
        g = mc.field("G", g, "alllink")
    return out


def _stack_roots(mc: Machine, g: int, sp: int, running: bool) -> list[RootRange]:
    """One root range per segment of g, from sp (then each Stktop's gobuf.sp) up to the Stktop."""
    goid = mc.field("G", g, "goid")
    tops = segment_chain(mc, g)
    guard = mc.field("G", g, "stackguard")
    frames = []
    if running and mc.g == g:
        lr = mc.reg(mc.arch.link_register) if mc.arch.link_register else None
        frames = walk(mc, mc.pc, mc.sp, lr, tops, 100000, innermost=True)
    else:
        frames = walk(mc, mc.field("G", g, "sched.pc"), mc.field("G", g, "sched.sp"), None, tops,
                       100000, innermost=False)
    # frames are innermost first; at an equal sp (an ARM leaf with autosize 0 owns no
    # words) the caller must come last so that it owns the words from that sp up
    sp_list = sorted((f.sp, i, f.symbol.split("+")[0], f.segment) for i, f in enumerate(frames))
    nseg = len(tops)
    out = []
    cur_sp = sp
    for k, top in enumerate(tops):
        seg_no = nseg - k
        seg_base = guard - mc.layouts.constants["StackGuard"]

        def namer(addr: int, seg_no=seg_no, seg_base=seg_base) -> str:
            owner = None
            for fsp, _i, fname, _seg in sp_list:
                if fsp <= addr:
                    owner = fname
                else:
                    break
            frame = f" (frame of {owner})" if owner else ""
            return f"g{goid} stack seg {seg_no} +{addr - seg_base:#x}{frame}"
        if cur_sp and cur_sp <= top:
            out.append(RootRange(cur_sp, top, "stack", namer))
        cur_sp = mc.field("Stktop", top, "gobuf.sp")
        guard = mc.field("Stktop", top, "stackguard")
    return out


def roots(mc: Machine, gc_sp: int) -> list[RootRange]:
    """All root ranges.  Ms are scanned last, after the other globals and
    every goroutine stack, so that an object also reachable from, say,
    runtime·allg or a live frame is attributed to that (the breadth-first
    marking keeps the first root to reach it); an object attributed to an M
    field such as m0.cret is one that nothing else holds, which is what a
    leak hunter needs to know.  (Go 1.0 marked in another order; the set of
    marked objects does not depend on the order, only the names do.)"""
    namer = _global_namer(mc)
    m0 = mc.m0
    msize = mc.layouts["M"].size
    out, ms = [], []
    for _k, lo, hi in mc.image.root_ranges():
        if lo <= m0 < hi:
            out.append(RootRange(lo, m0, "data", namer))
            ms.append(RootRange(m0, m0 + msize, "data", namer))
            out.append(RootRange(m0 + msize, hi, "data", namer))
        else:
            out.append(RootRange(lo, hi, "data", namer))
    Gdead = mc.layouts.constants["Gdead"]
    for g in goroutines(mc):
        if mc.field("G", g, "status") == Gdead:
            continue
        running = g == mc.g
        out += _stack_roots(mc, g, gc_sp if running else mc.field("G", g, "sched.sp"), running)
    return out + ms


# -- the collector ----------------------------------------------------------------------------
def _words(mc: Machine, start: int, end: int) -> tuple[np.ndarray, int]:
    ps = mc.arch.ptrsize
    start = (start + ps - 1) & ~(ps - 1)
    n = max(0, (end - start) // ps)
    if n == 0:
        return np.zeros(0, dtype=np.uint64), start
    raw = mc.read(start, n * ps)
    return np.frombuffer(raw, dtype="<u8" if ps == 8 else "<u4").astype(np.uint64), start


def _object_field_namer(mc: Machine, gs: set[int]):
    def name(obj: int, off: int) -> str:
        if obj in gs:
            f = mc.layouts["G"].field_at(off)
            if f:
                return "." + f.path
        return f"+{off:#x}"
    return name


def collect(mc: Machine, gc_sp: int) -> GcReport:
    heap = Heap(mc)
    allocated = heap.allocated()
    sizes = dict(allocated)
    parent: dict[int, tuple[str, int, int, int | None]] = {}   # obj -> (where, word addr, value, parent obj)
    queue: deque[int] = deque()
    root_list = roots(mc, gc_sp)
    words_scanned = 0
    gs = set(goroutines(mc))
    fname = _object_field_namer(mc, gs)
    def scan(lo: int, hi: int, where, holder: int | None) -> int:
        """Mark every object a word of [lo, hi) points into; ``where(addr)`` names the word."""
        words, start = _words(mc, lo, hi)
        b = heap.bases(words)
        for i in np.nonzero(b)[0].tolist():
            base = int(b[i])
            if base not in parent:
                addr = start + i * mc.arch.ptrsize
                parent[base] = (where(addr), addr, int(words[i]), holder)
                queue.append(base)
        return len(words)

    for r in root_list:
        words_scanned += scan(r.start, r.end, r.namer, None)
    while queue:
        obj = queue.popleft()
        words_scanned += scan(obj, obj + sizes[obj], lambda addr, obj=obj: fname(obj, addr - obj), obj)
    freed = [ObjectInfo(a, s) for a, s in allocated if a not in parent]
    retained = []
    for a, s in allocated:
        if a in parent:
            retained.append(_chain(a, s, parent, sizes))
    before = sum(s for _a, s in allocated)
    heap.free([(o.addr, o.size) for o in freed])
    state = mc.__dict__.setdefault("_gc_reports", [])
    rep = GcReport(len(state) + 1, mc.icount, mc.pc, freed, retained, before,
                   before - sum(o.size for o in freed), len(root_list), words_scanned)
    state.append(rep)
    stats = mc.image.symbols["mstats"]
    off = stats + mc.layouts["MStats"].offset("ngc")
    mc.write(off, (mc.read_uint(off, 8) + 1).to_bytes(8, "little"))
    return rep


def _chain(addr: int, size: int, parent, sizes) -> ObjectInfo:
    steps: list[Step] = []
    targets: list[tuple[int, int]] = []
    cur: int | None = addr
    root = root_addr = None
    while cur is not None:
        where, waddr, value, up = parent[cur]
        steps.append(Step(waddr, value, where))
        targets.append((cur, sizes[cur]))
        if up is None:
            root, root_addr = where, waddr
        cur = up
    steps.reverse()
    targets.reverse()
    info = ObjectInfo(addr, size, root, root_addr, steps)
    info._targets = targets   # type: ignore[attr-defined]
    return info


def attach(mc: Machine) -> None:
    """Make runtime.gc run this collector."""
    mc.gc_handler = collect


def reports_of(mc: Machine) -> list[GcReport]:
    return list(mc.__dict__.get("_gc_reports", []))
