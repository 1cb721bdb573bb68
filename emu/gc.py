"""A conservative mark-sweep collector over emulated memory, as Go 1.0's.

Roots, as mark() in Go 1.0's src/pkg/runtime/mgc0.c found them:
  1. data and bss, skipping the heap's own metadata (runtime·mheap), which
     is where m0, g0, allm and allg live -- so every word of m0 is a root;
  2. every goroutine on allg (not g0: g0 is not on allg), from its saved SP
     (the current SP for the goroutine that called runtime.gc) through each
     segment, following the Stktop chain; a segment whose bounds are
     inconsistent, or a goroutine in an unexpected state, is mgc0.c's throw;
  3. (Go's finalizer table: the model has no finalizers.)
Every aligned word that falls inside an allocated object marks that object
(interior pointers count) and the object is scanned in turn.  Registers are
not roots: 6g/6c code keeps nothing live in registers across the call into
the collector, and neither did Go 1.0's collector look at them.

Marking is done in bulk: the heap arena is read once per collection and every
word is tested at once (numpy), giving the heap's pointer graph; a
breadth-first walk from all roots at once (compiled, emu/gcnative.py, or the
same walk in Python) keeps ONE parent link per marked object -- the object or
root word that first reached it, so the chain it gives is a shortest one.
Paths are built from those links only when asked for (``why``, report rows,
JSON).

The sweep is real: unmarked objects are freed in the emulated heap's own
metadata, so the next allocation of that size class reuses the slot.
"""
from __future__ import annotations

import os
from bisect import bisect_right
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
from unicorn import UcError

from .errors import MemoryFault, RuntimeThrow, UsageError
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


class ObjectInfo:
    """One heap object in a report.  For a retained object, ``root``/``root_addr``
    name the root word its shortest chain starts from and ``path`` is that chain
    (built from the collector's parent links on first use)."""

    __slots__ = ("_index", "_marking", "_path", "_targets_", "addr", "root", "root_addr", "size")

    def __init__(self, addr: int, size: int, root: str | None = None, root_addr: int | None = None,
                 path: list[Step] | None = None, *, marking: Marking | None = None, index: int = -1):
        self.addr, self.size, self.root, self.root_addr = addr, size, root, root_addr
        self._path, self._targets_ = path, None
        self._marking, self._index = marking, index

    def __repr__(self) -> str:
        return f"ObjectInfo({self.addr:#x}, {self.size}, root={self.root!r})"

    def __eq__(self, other) -> bool:
        return isinstance(other, ObjectInfo) and (self.addr, self.size, self.root, self.root_addr) == \
            (other.addr, other.size, other.root, other.root_addr)

    __hash__ = None  # type: ignore[assignment]

    @property
    def path(self) -> list[Step]:
        if self._path is None:
            if self._marking is not None:
                self._path, self._targets_ = self._marking.chain(self._index)
            else:
                self._path = []
        return self._path

    @property
    def _targets(self) -> list[tuple[int, int]]:
        """The object each step's value points into (root side first)."""
        if self._targets_ is None:
            self._targets_ = [(self.addr, self.size)] * len(self.path) if self._marking is None else None
            if self._targets_ is None:
                self._path, self._targets_ = self._marking.chain(self._index)
        return self._targets_

    @property
    def levels(self) -> int:
        if self._marking is not None:
            return self._marking.levels(self._index)
        return len(self.path)

    def path_text(self, max_steps: int | None = None) -> str:
        """``m0.cret → 0xf840000000 48 → +0x8 → 0xf840000040 48``.  With
        ``max_steps`` and a longer chain: the first link, ``… N levels …``, and
        the last max_steps - 1 links (built without walking the whole chain)."""
        if self.root is None:
            return ""
        n = self.levels
        if max_steps is None or n <= max_steps:
            return _chain_text(self.root, self.path, self._targets)
        if self._marking is not None:
            m = self._marking
            head, htg = m.chain(int(m._first[self._index]))
            tail, ttg = m.chain(self._index, last=max(max_steps - 1, 1))
        else:
            head, htg = self.path[:1], self._targets[:1]
            tail, ttg = self.path[n - max(max_steps - 1, 1):], self._targets[n - max(max_steps - 1, 1):]
        hidden = n - len(head) - len(tail)
        return (_chain_text(self.root, head, htg) + f" → … {hidden} level{'s' if hidden != 1 else ''} … → "
                + _chain_text(None, tail, ttg))

    def to_json(self) -> dict:
        d = {"addr": self.addr, "size": self.size}
        if self.root is not None:
            n = self.levels
            d.update(root=self.root, root_addr=self.root_addr, levels=n, path=self.path_text(PATH_SHOWN))
            if n > PATH_SHOWN:
                d["path_shown"] = PATH_SHOWN
        return d


def _chain_text(root: str | None, steps: list[Step], targets: list[tuple[int, int]]) -> str:
    parts = [root or "?"] if root is not None else []
    for i, (st, obj) in enumerate(zip(steps, targets)):
        if i or root is None:
            parts.append(st.where)
        interior = st.value - obj[0]
        parts.append(f"{obj[0]:#x} {obj[1]}" + (f" (interior +{interior:#x})" if interior else ""))
    return " → ".join(parts)


class FreedList(Sequence):
    """The objects a sweep freed, as ObjectInfo made on access."""

    def __init__(self, bases: np.ndarray, sizes: np.ndarray):
        self.bases, self.sizes = bases, sizes

    def __len__(self) -> int:
        return len(self.bases)

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        return ObjectInfo(int(self.bases[i]), int(self.sizes[i]))

    def __iter__(self):
        return (ObjectInfo(a, s) for a, s in zip(self.bases.tolist(), self.sizes.tolist()))

    def __eq__(self, other) -> bool:
        return isinstance(other, Sequence) and list(self) == list(other)

    def __repr__(self) -> str:
        return f"[{len(self)} objects]"


class RetainedList(FreedList):
    """The marked objects, address order, each an ObjectInfo with its root named
    and its path built on first use."""

    def __init__(self, marking: Marking):
        super().__init__(marking.bases, marking.sizes)
        self.marking = marking

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        return self.marking.info(int(self.marking.marked_index[i]))

    def __iter__(self):
        info = self.marking.info
        return (info(i) for i in self.marking.marked_index.tolist())

    def find(self, addr: int) -> ObjectInfo | None:
        i = self.marking.index(addr)
        return self.marking.info(i) if i >= 0 and self.marking.marked[i] else None

    def by_root(self) -> list[tuple[str, int, int]]:
        """(root name, objects, bytes) per root word that holds something, largest first."""
        m = self.marking
        k = m.root_words()
        uk, inv = np.unique(k, return_inverse=True)
        counts = np.bincount(inv, minlength=len(uk))
        nbytes = np.bincount(inv, weights=m.sizes.astype(np.float64), minlength=len(uk))
        rows: dict[str, list[int]] = {}
        for j, kk in enumerate(uk.tolist()):
            r = rows.setdefault(m._root_name(kk), [0, 0])
            r[0] += int(counts[j])
            r[1] += int(nbytes[j])
        return sorted(((n, c, b) for n, (c, b) in rows.items()), key=lambda t: (-t[2], t[0]))


@dataclass
class GcReport:
    index: int
    icount: int
    pc: int
    freed: Sequence[ObjectInfo]
    retained: Sequence[ObjectInfo]
    heap_before: int
    heap_after: int
    roots_scanned: int = 0
    words_scanned: int = 0
    marking: Marking | None = field(default=None, repr=False, compare=False)
    #: what started it: "allocation" (mallocgc found heap_alloc >= next_gc),
    #: "runtime.gc" (the program called it) or "request" (collect() called
    #: directly: the debugger's gc command, tests)
    trigger: str = "request"
    heap_alloc: int = 0         # mstats.heap_alloc when the collection started
    next_gc: int = 0            # mstats.next_gc when the collection started
    gogc: int = 100             # the program's GOGC (gcpercent; -1: off)
    next_gc_after: int = 0      # next_gc once the collection is over (unchanged with GOGC=off)

    def trigger_text(self) -> str:
        """``allocation: heap_alloc 8192 >= next_gc 8192 (GOGC=100)``."""
        op = ">=" if self.heap_alloc >= self.next_gc else "<"
        gogc = "off" if self.gogc < 0 else str(self.gogc)
        return (f"{self.trigger}: heap_alloc {self.heap_alloc} {op} next_gc {self.next_gc} (GOGC={gogc}); "
                f"next_gc after: {self.next_gc_after}")

    def to_json(self) -> dict:
        """Paths are capped at PATH_SHOWN links (``levels`` gives the full length)."""
        return {"index": self.index, "instructions": self.icount, "trigger": self.trigger,
                "heap_alloc": self.heap_alloc, "next_gc": self.next_gc, "gogc": self.gogc,
                "next_gc_after": self.next_gc_after, "heap_before": self.heap_before,
                "heap_after": self.heap_after, "path_shown_max": PATH_SHOWN,
                "freed": [o.to_json() for o in self.freed],
                "retained": [o.to_json() for o in self.retained]}

    def retained_via(self, root_prefix: str) -> list[ObjectInfo]:
        m = self.marking
        if m is None:
            return [o for o in self.retained if o.root and o.root.startswith(root_prefix)]
        k = m.root_words()
        ks = [kk for kk in np.unique(k).tolist() if m._root_name(kk).startswith(root_prefix)]
        return [m.info(int(i)) for i in m.marked_index[np.isin(k, ks)]]

    def find(self, addr: int) -> tuple[str, ObjectInfo] | None:
        """("retained" | "freed", object) for the object containing addr."""
        if isinstance(self.retained, RetainedList):
            o = self.retained.find(addr)
            if o is not None:
                return "retained", o
        else:
            for o in self.retained:
                if o.addr <= addr < o.addr + o.size:
                    return "retained", o
        fr = self.freed
        if isinstance(fr, FreedList) and len(fr):
            i = int(np.searchsorted(fr.bases, np.uint64(addr), side="right")) - 1
            if i >= 0 and addr < int(fr.bases[i] + fr.sizes[i]):
                return "freed", fr[i]
            return None
        for o in fr:
            if o.addr <= addr < o.addr + o.size:
                return "freed", o
        return None


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


def _throw(mc: Machine, printed: str | None, msg: str) -> None:
    """A runtime throw from inside the collector, as mgc0.c's runtime·printf +
    runtime·throw: the printed line goes to the program's output, the throw is
    a RuntimeThrow with the usual fault report (registers, backtrace), whose
    message also carries the printed line."""
    if printed:
        mc.output.append(printed)
    pc = mc.__dict__.get("_gc_throw_pc")
    # the program's output is not shown with a fault report: repeat the printed line in it
    raise mc.error(RuntimeThrow, f"runtime throw: {msg}" + (f" (after printing: {printed})" if printed else ""),
                   pc=pc)


def _stack_roots(mc: Machine, g: int, sp: int, running: bool) -> list[RootRange]:
    """One root range per segment of g, from sp (then each Stktop's gobuf.sp) up to
    the Stktop.  A segment whose bounds are inconsistent -- sp below the segment's
    bottom (guard - StackGuard) or the Stktop below sp -- is mgc0.c's
    "scanstack inconsistent" throw."""
    goid = mc.field("G", g, "goid")
    tops = segment_chain(mc, g)
    guard = mc.field("G", g, "stackguard")
    stack_guard = mc.layouts.constants["StackGuard"]
    sp_list: list[tuple[int, int, str]] = []
    sp_keys: list[int] = []
    nseg = len(tops)
    out = []
    cur_sp = sp
    for k, top in enumerate(tops):
        seg_no = nseg - k
        seg_base = guard - stack_guard
        if cur_sp < seg_base or top < cur_sp:
            _throw(mc, f"scanstack inconsistent: g{goid}#{k} sp={cur_sp:#x} not in [{seg_base:#x},{top:#x}]",
                   "scanstack")

        def namer(addr: int, seg_no=seg_no, seg_base=seg_base) -> str:
            j = bisect_right(sp_keys, addr) - 1
            owner = sp_list[j][2] if j >= 0 else None
            frame = f" (frame of {owner})" if owner else ""
            return f"g{goid} stack seg {seg_no} +{addr - seg_base:#x}{frame}"
        out.append(RootRange(cur_sp, top, "stack", namer))
        cur_sp = mc.field("Stktop", top, "gobuf.sp")
        guard = mc.field("Stktop", top, "stackguard")
    # frames name the root words; walked now, while the stack holds what it held (after the
    # checks: a chain that failed them could send the walk anywhere)
    try:
        if running and mc.g == g:
            lr = mc.reg(mc.arch.link_register) if mc.arch.link_register else None
            frames = walk(mc, mc.pc, mc.sp, lr, tops, 100000, innermost=True)
        else:
            frames = walk(mc, mc.field("G", g, "sched.pc"), mc.field("G", g, "sched.sp"), None, tops,
                          100000, innermost=False)
    except UcError:
        frames = []
    # frames are innermost first; at an equal sp (an ARM leaf with autosize 0 owns no
    # words) the caller must come last so that it owns the words from that sp up
    sp_list[:] = sorted((f.sp, i, f.symbol.split("+")[0]) for i, f in enumerate(frames))
    sp_keys[:] = [t[0] for t in sp_list]
    return out


def roots(mc: Machine, gc_sp: int) -> list[RootRange]:
    """All root ranges.  Ms are scanned last, after the other globals and
    every goroutine stack, so that an object also reachable from, say,
    runtime·allg or a live frame is attributed to that (the breadth-first
    marking keeps the first root to reach it); an object attributed to an M
    field such as m0.cret is one that nothing else holds, which is what a
    leak hunter needs to know.  (Go 1.0 marked in another order; the set of
    marked objects does not depend on the order, only the names do.)

    Goroutines are checked as mgc0.c's mark() did: Gdead is skipped; Grunning
    must be the goroutine the collector runs for (else "mark - world not
    stopped"); Grunnable, Gsyscall and Gwaiting are scanned; any other status
    prints "unexpected G.status N" and throws "mark - bad status"."""
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
    C = mc.layouts.constants
    cur = mc.g
    curg = mc.field("M", mc.m, "curg") if mc.m else 0
    for g in goroutines(mc):
        status = mc.field("G", g, "status")
        if status == C["Gdead"]:
            continue
        if status == C["Grunning"]:
            if g not in (cur, curg):
                _throw(mc, None, "mark - world not stopped")
        elif status not in (C["Grunnable"], C["Gsyscall"], C["Gwaiting"]):
            _throw(mc, f"unexpected G.status {status}", "mark - bad status")
        running = g == cur
        out += _stack_roots(mc, g, gc_sp if running else mc.field("G", g, "sched.sp"), running)
    return out + ms


# -- marking ----------------------------------------------------------------------------------
def _words(mc: Machine, start: int, end: int) -> tuple[np.ndarray, int]:
    ps = mc.arch.ptrsize
    start = (start + ps - 1) & ~(ps - 1)
    n = max(0, (end - start) // ps)
    if n == 0:
        return np.zeros(0, dtype=np.uint64), start
    raw = mc.read(start, n * ps)
    return np.frombuffer(raw, dtype="<u8" if ps == 8 else "<u4").astype(np.uint64), start


def _readable(mc: Machine, start: int, end: int) -> bool:
    try:
        mc.read(start, max(0, end - start))
        return True
    except UcError:
        return False


#: a path in JSON and in gc-report rows shows at most this many links: the first
#: (from the root) and the last PATH_SHOWN - 1; ``levels`` always gives the full length.
PATH_SHOWN = 8


@dataclass
class RootHit:
    """A root word that points into an allocated object."""
    addr: int
    value: int
    base: int
    range_index: int
    _namer: object = field(repr=False, compare=False, default=None)

    @property
    def name(self) -> str:
        return self._namer(self.addr) if self._namer else f"{self.addr:#x}"


class Marking:
    """The result of marking: which objects are reachable, and for each one its
    parent link (the object or root word that first reached it, breadth-first
    from all roots at once).  Paths are built only when asked (``path``)."""

    def __init__(self, mc: Machine, heap: Heap, root_ranges: list[RootRange], all_bases: np.ndarray,
                 all_sizes: np.ndarray, rw_addr: np.ndarray, rw_val: np.ndarray, rw_range: np.ndarray,
                 rw_obj: np.ndarray, marked: np.ndarray, par: np.ndarray, waddr: np.ndarray,
                 wval: np.ndarray, lvl: np.ndarray, first: np.ndarray, words_scanned: int):
        self.mc, self.heap, self.root_ranges = mc, heap, root_ranges
        self.all_bases, self.all_sizes = all_bases, all_sizes
        self._rw_addr, self._rw_val, self._rw_range, self._rw_obj = rw_addr, rw_val, rw_range, rw_obj
        self.marked = marked                          # bool per allocated object
        self._par, self._waddr, self._wval, self._lvl, self._first = par, waddr, wval, lvl, first
        self.words_scanned = words_scanned
        self.marked_index = np.flatnonzero(marked)
        self.bases = all_bases[self.marked_index]
        self.sizes = all_sizes[self.marked_index]
        self.total_bytes = int(self.sizes.sum())
        self._names: dict[int, str] = {}
        self._gs: set[int] | None = None

    # -- roots
    @property
    def root_hits(self) -> list[RootHit]:
        """Every root word pointing into an allocated object, in root order."""
        hit = np.flatnonzero(self._rw_obj >= 0)
        return [RootHit(a, v, b, r, self.root_ranges[r].namer) for a, v, b, r in zip(
            self._rw_addr[hit].tolist(), self._rw_val[hit].tolist(),
            self.all_bases[self._rw_obj[hit]].tolist(), self._rw_range[hit].tolist())]

    def _root_name(self, k: int) -> str:
        """Name of root word k (index into the root words), cached."""
        name = self._names.get(k)
        if name is None:
            name = self._names[k] = self.root_ranges[int(self._rw_range[k])].namer(int(self._rw_addr[k]))
        return name

    # -- objects
    def index(self, addr: int) -> int:
        """Index (into all_bases) of the allocated object containing addr, or -1."""
        i = int(np.searchsorted(self.all_bases, np.uint64(addr), side="right")) - 1
        if i >= 0 and addr < int(self.all_bases[i] + self.all_sizes[i]):
            return i
        return -1

    def is_marked(self, addr: int) -> bool:
        i = self.index(addr)
        return i >= 0 and bool(self.marked[i])

    def levels(self, i: int) -> int:
        return int(self._lvl[i])

    def _field_namer(self):
        if self._gs is None:
            self._gs = set(goroutines(self.mc))
        gs, G = self._gs, self.mc.layouts["G"]

        def name(obj: int, off: int) -> str:
            if obj in gs:
                f = G.field_at(off)
                if f:
                    return "." + f.path
            return f"+{off:#x}"
        return name

    def _step(self, i: int, fname) -> tuple[Step, tuple[int, int]]:
        p = int(self._par[i])
        waddr, wval = int(self._waddr[i]), int(self._wval[i])
        if p < 0:
            where = self._root_name(-1 - p)
        else:
            pb = int(self.all_bases[p])
            where = fname(pb, waddr - pb)
        return Step(waddr, wval, where), (int(self.all_bases[i]), int(self.all_sizes[i]))

    def chain(self, i: int, last: int | None = None) -> tuple[list[Step], list[tuple[int, int]]]:
        """Steps (root first) reaching marked object i; with ``last``, only the last
        ``last`` steps (walking up that many links only)."""
        fname = self._field_namer()
        steps, targets = [], []
        cur = i
        while cur >= 0 and (last is None or len(steps) < last):
            st, tg = self._step(cur, fname)
            steps.append(st)
            targets.append(tg)
            cur = int(self._par[cur])
        steps.reverse()
        targets.reverse()
        return steps, targets

    def path(self, obj: int) -> list[Step]:
        """The shortest chain of words from a root to the object containing
        address ``obj``: step 0 is the root word, the last step points into obj."""
        i = self.index(obj)
        if i < 0 or not self.marked[i]:
            raise ValueError(f"{obj:#x} is not a marked heap object")
        return self.chain(i)[0]

    def info(self, i: int) -> ObjectInfo:
        """ObjectInfo of object i (marked or not); the path is built on first use."""
        addr, size = int(self.all_bases[i]), int(self.all_sizes[i])
        if not self.marked[i]:
            return ObjectInfo(addr, size)
        k = -1 - int(self._par[self._first[i]])
        return ObjectInfo(addr, size, self._root_name(k), int(self._rw_addr[k]), marking=self, index=i)

    def root_words(self) -> np.ndarray:
        """Per marked object (in ``bases`` order), the index of its root word."""
        return -1 - self._par[self._first[self.marked_index]]


def _bfs_python(n: int, estart: np.ndarray, tgt: np.ndarray, rw_obj: np.ndarray):
    """Breadth-first marking from all root words at once (FIFO: the first word to
    reach an object is its parent link).  Returns (marked, par, via, lvl, first):
    par = parent object index, or -1 - k for root word k; via = edge index."""
    es = estart.tolist()
    tg = tgt.tolist()
    marked = bytearray(n)
    par = [0] * n
    via = [0] * n
    lvl = [0] * n
    first = [0] * n
    queue: list[int] = []
    for k, t in enumerate(rw_obj.tolist()):
        if t >= 0 and not marked[t]:
            marked[t] = 1
            par[t], via[t], lvl[t], first[t] = -1 - k, -1, 1, t
            queue.append(t)
    qi = 0
    while qi < len(queue):
        h = queue[qi]
        qi += 1
        lh, fh = lvl[h] + 1, first[h]
        for e in range(es[h], es[h + 1]):
            t = tg[e]
            if not marked[t]:
                marked[t] = 1
                par[t], via[t], lvl[t], first[t] = h, e, lh, fh
                queue.append(t)
    return (np.frombuffer(bytes(marked), dtype=np.uint8).astype(bool), np.array(par, dtype=np.int64),
            np.array(via, dtype=np.int64), np.array(lvl, dtype=np.int32), np.array(first, dtype=np.int64))


def pointer_graph(read, heap, all_bases: np.ndarray, all_sizes: np.ndarray, ps: int):
    """The heap's pointer graph from one read of the arena, every word tested at
    once: (word address, word value, target object index) per word of an
    allocated object that points into an allocated object, in address order,
    and estart (n+1): object i's words are [estart[i], estart[i+1])."""
    n = len(all_bases)
    lo, hi = heap.arena_start, heap.arena_used
    if not n or hi <= lo:
        z = np.zeros(0, dtype=np.uint64)
        return z, z, np.zeros(0, dtype=np.int64), np.zeros(n + 1, dtype=np.int64)
    from . import gcnative
    A = np.frombuffer(read(lo, hi - lo), dtype="<u8" if ps == 8 else "<u4")
    cand = gcnative.scan(A, lo, hi)
    if cand is None:
        cand = np.flatnonzero((A >= lo) & (A < hi))
    cval = A[cand].astype(np.uint64)
    del A
    tb = np.asarray(heap.bases(cval), dtype=np.uint64)
    keep = tb != 0
    cand, cval, tb = cand[keep], cval[keep], tb[keep]
    # object index per granule of the arena: every lookup below is one gather
    gshift = 3 if not (all_bases & np.uint64(7)).any() else 2
    ng = ((hi - lo) >> gshift) + 1
    gidx = gcnative.granule_index(all_bases, lo, gshift, ng) if len(cand) else np.zeros(1, dtype=np.int32)
    if gidx is None:
        gidx = np.zeros(ng, dtype=np.int32)
        gidx[((all_bases - np.uint64(lo)) >> np.uint64(gshift)).astype(np.int64)] = 1
        np.cumsum(gidx, out=gidx)
        gidx -= 1
    holder = gidx[(cand * ps) >> gshift].astype(np.int64)
    caddr = np.uint64(lo) + cand.astype(np.uint64) * np.uint64(ps)
    hc = np.maximum(holder, 0)
    keep = (holder >= 0) & (caddr < all_bases[hc] + all_sizes[hc])
    caddr, cval, holder, tb = caddr[keep], cval[keep], holder[keep], tb[keep]
    tgt = gidx[((tb - np.uint64(lo)) >> np.uint64(gshift)).astype(np.int64)].astype(np.int64)
    del gidx
    estart = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(holder, minlength=n), out=estart[1:])
    return caddr, cval, tgt, estart


def walk_graph(n: int, estart: np.ndarray, tgt: np.ndarray, rw_obj: np.ndarray, native: bool | None = None):
    """Breadth-first from the root words (rw_obj: object index per root word, or
    -1): the compiled walk when available (or ``native=True``), else Python."""
    res = None
    if native is not False:
        from .gcnative import bfs
        res = bfs(n, estart, tgt, rw_obj)
        if res is None and native:
            raise RuntimeError("the native marking helper is not available")
    return res if res is not None else _bfs_python(n, estart, tgt, rw_obj)


def mark(mc: Machine, gc_sp: int, exclude: Collection[int] = (), *, native: bool | None = None) -> Marking:
    """Mark only (no sweep, no report): every object reachable from the roots,
    with one parent link each.  Root words whose address is in ``exclude`` are
    treated as if they held 0.  ``native``: use the compiled breadth-first
    walk (None: when it is available, False: the pure-Python one)."""
    heap = Heap(mc)
    all_bases, all_sizes = (np.asarray(a, dtype=np.uint64) for a in heap.objects())
    n = len(all_bases)
    try:
        root_list = roots(mc, gc_sp)
    except UcError:
        raise mc.error(MemoryFault, "the collector read unmapped memory following allg or a Stktop chain",
                       pc=mc.__dict__.get("_gc_throw_pc")) from None
    ps = mc.arch.ptrsize
    # 1. root words, in root order
    try:
        parts = [_words(mc, r.start, r.end) for r in root_list]
    except UcError:
        bad = next(r for r in root_list if not _readable(mc, r.start, r.end))
        raise mc.error(MemoryFault, f"the collector read unmapped memory in the {bad.kind} root range "
                                    f"[{bad.start:#x}, {bad.end:#x})", pc=mc.__dict__.get("_gc_throw_pc")) from None
    rw_val = np.concatenate([w for w, _ in parts]) if parts else np.zeros(0, dtype=np.uint64)
    rw_addr = np.concatenate([s + ps * np.arange(len(w), dtype=np.uint64) for w, s in parts]) if parts \
        else np.zeros(0, dtype=np.uint64)
    rw_range = np.repeat(np.arange(len(parts), dtype=np.int32), [len(w) for w, _ in parts])
    vals = rw_val
    if len(exclude):
        vals = np.where(np.isin(rw_addr, np.fromiter(exclude, dtype=np.uint64)), np.uint64(0), rw_val)
    rb = np.asarray(heap.bases(vals), dtype=np.uint64)
    rw_obj = np.where(rb != 0, np.searchsorted(all_bases, rb), -1).astype(np.int64)
    # 2. the heap's pointer graph, 3. breadth-first from all roots at once
    caddr, cval, tgt, estart = pointer_graph(mc.read, heap, all_bases, all_sizes, ps)
    marked, par, via, lvl, first = walk_graph(n, estart, tgt, rw_obj, native)
    waddr = np.zeros(n, dtype=np.uint64)
    wval = np.zeros(n, dtype=np.uint64)
    isobj = marked & (par >= 0)
    waddr[isobj], wval[isobj] = caddr[via[isobj]], cval[via[isobj]]
    isroot = marked & (par < 0)
    k = -1 - par[isroot]
    waddr[isroot], wval[isroot] = rw_addr[k], rw_val[k]
    words_scanned = len(rw_val) + int(all_sizes[marked].sum()) // ps
    m = Marking(mc, heap, root_list, all_bases, all_sizes, rw_addr, rw_val, rw_range, rw_obj, marked,
                par, waddr, wval, lvl, first, words_scanned)
    m._gs = set(goroutines(mc))      # G objects get field names in paths (.alllink), as of now
    return m


# -- the collector ----------------------------------------------------------------------------
def collect(mc: Machine, gc_sp: int, trigger: str | None = None) -> GcReport:
    """Mark, sweep (free every unmarked object in the emulated heap), and append
    the report to the machine's list.  ``trigger``: see GcReport.trigger; by
    default, inside the HcGC hypercall the caller it came from (trigger_of),
    else "request".  The
    end of runtime·gc's bookkeeping (numgc, next_gc = heap_alloc*(1+GOGC/100))
    is done here, except after an allocation: there the runtime's own
    runtime_gc sets next_gc once the hypercall returns, as Go's did."""
    if trigger is None:
        trigger = trigger_of(mc) if "_gc_throw_pc" in mc.__dict__ else "request"
    stats = mc.image.symbols["mstats"]
    SL = mc.layouts["MStats"]
    heap_alloc = mc.read_uint(stats + SL.offset("heap_alloc"), 8)
    next_gc = mc.read_uint(stats + SL.offset("next_gc"), 8)
    percent = gcpercent(mc)
    m = mark(mc, gc_sp)
    unmarked = np.flatnonzero(~m.marked)
    freed_b, freed_s = m.all_bases[unmarked], m.all_sizes[unmarked]
    before = int(m.all_sizes.sum())
    m.heap.free(freed_b, gcpercent=percent if trigger != "allocation" else None)
    after_alloc = mc.read_uint(stats + SL.offset("heap_alloc"), 8)
    state = mc.gc_reports
    rep = GcReport(len(state) + 1, mc.icount, mc.pc, FreedList(freed_b, freed_s), RetainedList(m),
                   before, before - int(freed_s.sum()), len(m.root_ranges), m.words_scanned, marking=m,
                   trigger=trigger, heap_alloc=heap_alloc, next_gc=next_gc, gogc=percent,
                   next_gc_after=next_gc_for(after_alloc, percent) if percent >= 0 else next_gc)
    state.append(rep)
    off = stats + SL.offset("ngc")
    mc.write(off, (mc.read_uint(off, 8) + 1).to_bytes(8, "little"))
    return rep


def attach(mc: Machine) -> None:
    """Make runtime.gc, and the allocator's trigger, run this collector."""
    mc.gc_handler = _from_runtime


#: the runtime's collector entry (runtime_c/mgc0.c): runtime_gc and the out-of-line gc1
_TRIGGER_FUNCS = frozenset({"runtime_gc", "gc1"})


def trigger_of(mc: Machine) -> str:
    """Who made the HcGC hypercall being served: the runtime's trigger
    (runtime_gc, called by mallocgc, makes it from gc1) is "allocation", a
    program's runtime.gc is "runtime.gc"."""
    pc = mc.pc - (mc.arch.hypercall_pc_advance or 0)
    sym = mc.image.symbolize(pc)
    return "allocation" if sym and sym.split("+")[0] in _TRIGGER_FUNCS else "runtime.gc"


def _from_runtime(mc: Machine, gc_sp: int) -> GcReport:
    """The HcGC hypercall (runtime.gc or the allocator's trigger): a throw
    inside the collector is reported at the hypercall instruction, as the
    machine reports runtime·throw's."""
    pc = mc.pc - (mc.arch.hypercall_pc_advance or 0)
    mc.__dict__["_gc_throw_pc"] = pc
    try:
        return collect(mc, gc_sp)
    except RuntimeThrow:
        if mc.arch.hypercall_pc_advance:
            mc.reg_write(mc.arch.pc, pc)
        raise
    finally:
        mc.__dict__.pop("_gc_throw_pc", None)


# -- GOGC ---------------------------------------------------------------------------------------
#: the longest GOGC value the runtime's buffer (runtime_c/mgc0.c: gcenv) holds
GOGC_DIGITS = 9
_GOGC: str | None = None


def parse_gogc(text: str, where: str = "GOGC") -> str:
    """A GOGC value as goemu accepts it: "off" or a percentage (decimal digits,
    at most GOGC_DIGITS of them); "" means unset.  Anything else is a
    UsageError naming ``where``.  (Go 1.0 read any other text with atoi: "50x"
    as 50, "x" as 0; goemu refuses it instead of guessing.)"""
    t = text.strip()
    if t == "" or t == "off" or (t.isascii() and t.isdigit() and len(t) <= GOGC_DIGITS):
        return t
    raise UsageError(f"{where}: {text!r} is not a GOGC value: give a percentage (0 to {'9' * GOGC_DIGITS}) "
                     "or off")


def percent_of(text: str) -> int:
    """gcpercent for a GOGC value, as runtime·gc read it: unset 100, off -1."""
    return 100 if text == "" else -1 if text == "off" else int(text)


def next_gc_for(heap_alloc: int, percent: int) -> int:
    """runtime·gc's next_gc = heap_alloc + heap_alloc*gcpercent/100 (uint64)."""
    return (heap_alloc + heap_alloc * percent // 100) & ((1 << 64) - 1)


def set_default_gogc(value: str | None) -> None:
    """The GOGC of every machine booted from now on (``--gogc``); None: $GOGC."""
    global _GOGC
    _GOGC = None if value is None else parse_gogc(value, "--gogc")


def default_gogc() -> str:
    """``--gogc`` (set_default_gogc), else $GOGC, else "" (unset: 100)."""
    if _GOGC is not None:
        return _GOGC
    return parse_gogc(os.environ.get("GOGC", ""), "$GOGC")


def write_gogc(mc: Machine, value: str | None = None) -> None:
    """Give the program GOGC=value (None: default_gogc()) in the runtime's
    environment buffer, read by runtime_gc at its first call.  Call before the
    program runs (Machine boot does, with the default)."""
    text = default_gogc() if value is None else parse_gogc(str(value))
    addr = mc.image.symbols.get("gcenv")
    if addr is None:
        return
    mc.write(addr, text.encode().ljust(GOGC_DIGITS + 1, b"\0"))
    pct = mc.image.symbols["gcpercent"]
    mc.write(pct, (-2 & 0xffffffff).to_bytes(4, "little"))     # not read yet


def gcpercent(mc: Machine) -> int:
    """The program's gcpercent.  Before runtime_gc has read GOGC (-2), read it
    now and store it, as runtime·gc's first call did (a program's runtime.gc
    reaches the collector without passing through runtime_gc)."""
    addr = mc.image.symbols.get("gcpercent")
    if addr is None:
        return 100
    v = int.from_bytes(mc.read(addr, 4), "little", signed=True)
    if v == -2:
        v = percent_of(mc.read_cstring(mc.image.symbols["gcenv"], GOGC_DIGITS + 1))
        mc.write(addr, (v & 0xffffffff).to_bytes(4, "little"))
    return v


def reports_of(mc: Machine) -> list[GcReport]:
    return list(mc.gc_reports)
