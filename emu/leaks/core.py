"""Dead roots: root words that keep objects alive although the program never
reads them again.

A conservative collector cannot tell a live word from a stale one; goemu can,
because a run is deterministic and the future is one more run away.  For each
collection:

1. **Root hits.**  After the collector has run, every root word (data and
   bss -- so every word of every M and of g0 --, every stack slot from each
   goroutine's SP through its segments, and every word of every G on allg)
   that points into an allocated object.  Found from the whole root set; no
   list of fields is given.
2. **Their future, in the same run.**  Each hit word gets a read hook and a
   write hook limited to that word (Unicorn checks the range natively, so
   the rest of the program's memory traffic never reaches Python).  The first
   read of any byte still holding the collection-time value makes the root
   *live*; once every byte has been overwritten before any read it is *dead*
   (``overwritten``); a word still untouched when the program exits is dead
   too (``untouched``: "none until exit").  A word is watched once however
   many collections find it; its hooks go away when no collection waits on it.
3. **Their cost and origin, in a replay.**  Only when something was dead, the
   program runs again from the start (same image, same instructions: the
   replay checks that every collection happens at the same instruction and
   finds the same value) with a write hook on each dead word only: the last
   store before the collection is the instruction that stored the value.  At
   each collection with dead roots the heap is re-marked with each dead word
   treated as 0 (and once with all of them): the objects and bytes that word
   alone pins.  The replay stops after the last collection it needs.

The core returns data (``LeaksResult``); emu/leaks/present.py formats it.
"""
from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field

import numpy as np

from .. import gc as gcmod
from ..errors import EmulationError
from ..machine import DEFAULT_BUDGET, Machine

KINDS = ("M", "G", "data", "stack")


# -- what the program did with a word ------------------------------------------------------
@dataclass
class Access:
    """One instruction of the run: its index (``Machine.position()``), pc and text,
    and what it did to the watched word (``read`` or ``write``, with the value stored)."""
    index: int
    pc: int
    where: str
    text: str
    kind: str
    size: int
    value: int | None = None

    def to_json(self) -> dict:
        d = {"index": self.index, "pc": self.pc, "where": self.where, "text": self.text, "access": self.kind,
             "size": self.size}
        if self.value is not None:
            d["value"] = self.value
        return d


def _access(mc: Machine, kind: str, index: int, pc: int, size: int, value: int | None = None) -> Access:
    insn = mc.disasm(pc, 1)
    return Access(index, pc, mc.symbolize(pc), insn[0][1] if insn else "?", kind, size, value)


# -- root hits: the adapter over the collector ----------------------------------------------
@dataclass
class RootHit:
    """A root word pointing into an allocated object at one collection."""
    addr: int
    value: int
    base: int              # the object it points into
    name: str              # m0.cret, g1 stack seg 2 +0x40 (frame of f), data mylist+0x8, g1.param
    kind: str              # M, G, data, stack
    followed: bool = False  # a word the collector itself follows (runtime·allg, G.alllink): live


def _words(mc: Machine, lo: int, hi: int) -> tuple[np.ndarray, int]:
    ps = mc.arch.ptrsize
    lo = (lo + ps - 1) & ~(ps - 1)
    n = max(0, (hi - lo) // ps)
    if not n:
        return np.zeros(0, dtype=np.uint64), lo
    return np.frombuffer(mc.read(lo, n * ps), dtype="<u8" if ps == 8 else "<u4").astype(np.uint64), lo


class _Objects:
    """The allocated objects after a collection (sorted bases and sizes), with
    the vectorised lookup ``bases(words)`` of ``gc.Heap``.  Taken from the
    collector's report (after the sweep the retained objects are exactly the
    allocated ones), so the detector never rebuilds the heap view itself."""

    def __init__(self, bases, sizes):
        order = np.argsort(np.asarray(bases, dtype=np.uint64), kind="stable")
        self.b = np.asarray(bases, dtype=np.uint64)[order]
        self.s = np.asarray(sizes, dtype=np.uint64)[order]

    @classmethod
    def of(cls, mc: Machine, report) -> _Objects:
        marking = getattr(report, "marking", None)
        if marking is not None and hasattr(marking, "bases"):
            return cls(marking.bases, marking.sizes)
        kept = getattr(report, "retained", None)
        if kept is not None:
            return cls([o.addr for o in kept], [o.size for o in kept])
        alloc = gcmod.Heap(mc).allocated()
        return cls([a for a, _ in alloc], [n for _, n in alloc])

    def allocated(self) -> list[tuple[int, int]]:
        return list(zip(self.b.tolist(), self.s.tolist()))

    def bases(self, words: np.ndarray) -> np.ndarray:
        w = np.asarray(words, dtype=np.uint64)
        if not len(self.b):
            return np.zeros(len(w), dtype=np.uint64)
        i = np.searchsorted(self.b, w, side="right").astype(np.int64) - 1
        j = np.maximum(i, 0)
        inside = (i >= 0) & (w < self.b[j] + self.s[j])
        return np.where(inside, self.b[j], np.uint64(0))


class _Namer:
    """Names and kinds of root words, as the collector names them, plus the words of heap Gs."""

    def __init__(self, mc: Machine):
        self.mc = mc
        L = mc.layouts
        self.m0, self.msize = mc.m0, L["M"].size
        self.g0, self.gsize = mc.g0, L["G"].size
        self.heap_gs: dict[int, int] = {}       # G base -> goid, for the Gs on allg

    def kind(self, addr: int, range_kind: str) -> str:
        if self.m0 <= addr < self.m0 + self.msize:
            return "M"
        if self.g0 <= addr < self.g0 + self.gsize:
            return "G"
        return "stack" if range_kind == "stack" else "data"

    def g_field(self, g: int, addr: int) -> str:
        f = self.mc.layouts["G"].field_at(addr - g)
        goid = self.heap_gs.get(g, 0)
        return f"g{goid}.{f.path}" if f else f"g{goid}+{addr - g:#x}"


def root_hits(mc: Machine, gc_sp: int, report=None) -> list[RootHit]:
    """Every root word pointing into an allocated object, plus every word of
    every G on allg that does.  Valid before or after the sweep (an object a
    root points into is marked, so the sweep keeps it).  Uses the collector's
    own marking when its report carries one (``report.marking.root_hits``),
    else scans ``gc.roots()`` itself."""
    nm = _Namer(mc)
    heap = _Objects.of(mc, report) if report is not None else gcmod.Heap(mc)
    out: list[RootHit] = []
    # the words the collector follows to find the goroutines it scans: needed by
    # the next collection whatever the program does, so never dead
    followed = {mc.image.symbols["allg"]}
    alllink = mc.layouts["G"].offset("alllink")
    marking = getattr(report, "marking", None)
    if marking is not None and hasattr(marking, "root_hits"):
        ranges = marking.root_ranges
        for h in marking.root_hits:
            rk = ranges[h.range_index].kind if hasattr(h, "range_index") else "data"
            out.append(RootHit(h.addr, h.value, h.base, h.name, nm.kind(h.addr, rk)))
    else:
        for r in gcmod.roots(mc, gc_sp):
            words, start = _words(mc, r.start, r.end)
            b = heap.bases(words)
            for i in np.flatnonzero(b).tolist():
                addr = start + i * mc.arch.ptrsize
                out.append(RootHit(addr, int(words[i]), int(b[i]), r.namer(addr), nm.kind(addr, r.kind)))
    # the heap Gs: scanned as objects (reached through runtime·allg), but their
    # fields are runtime state like an M's, so each word is a candidate here
    for g in gcmod.goroutines(mc):
        if nm.g0 <= g < nm.g0 + nm.gsize:
            continue
        nm.heap_gs[g] = mc.field("G", g, "goid")
        words, start = _words(mc, g, g + nm.gsize)
        b = heap.bases(words)
        for i in np.flatnonzero(b).tolist():
            addr = start + i * mc.arch.ptrsize
            if int(b[i]) == g:
                continue            # a G pointing at itself (sched.g) pins nothing
            out.append(RootHit(addr, int(words[i]), int(b[i]), nm.g_field(g, addr), "G"))
        followed.add(g + alllink)
    for h in out:
        h.followed = h.addr in followed
    return out


# -- marking with words treated as 0 ----------------------------------------------------------
def retained(mc: Machine, gc_sp: int, exclude: frozenset[int] = frozenset(),
             object_words: bool | None = None, heap=None) -> dict[int, int]:
    """Objects (base -> size) reachable from the roots with every word whose
    address is in ``exclude`` read as 0 -- a root word or a word of any object
    (a G's field; ``object_words``: whether any is, None: find out).  Marking
    only: nothing is swept.  Uses ``gc.mark`` when the collector offers it and
    every excluded word is a root word.  ``heap``: a ``gc.Heap`` of the current
    state, to save reading it again."""
    mark = getattr(gcmod, "mark", None)
    if mark is not None and not object_words and \
            (object_words is False or not _object_words(mc, heap or gcmod.Heap(mc), exclude)):
        m = mark(mc, gc_sp, exclude=exclude)
        return dict(zip(np.asarray(m.bases).tolist(), np.asarray(m.sizes).tolist()))
    heap = heap or gcmod.Heap(mc)
    sizes = dict(heap.allocated())
    ps = mc.arch.ptrsize
    marked: dict[int, int] = {}
    queue: deque[int] = deque()

    def scan(lo: int, hi: int) -> None:
        words, start = _words(mc, lo, hi)
        for a in exclude:
            if start <= a < start + ps * len(words):
                words[(a - start) // ps] = 0
        b = heap.bases(words)
        for base in np.unique(b[b != 0]).tolist():
            if base not in marked:
                marked[base] = sizes[base]
                queue.append(base)
    for r in gcmod.roots(mc, gc_sp):
        scan(r.start, r.end)
    while queue:
        obj = queue.popleft()
        scan(obj, obj + sizes[obj])
    return marked


def _object_words(mc: Machine, heap, exclude) -> bool:
    if not exclude:
        return False
    b = heap.bases(np.array(sorted(exclude), dtype=np.uint64))
    return bool(b.any())


# -- watching the future --------------------------------------------------------------------
@dataclass
class Outcome:
    live: bool
    how: str                 # read, overwritten, untouched; collector (a word it follows)
    access: Access | None    # the first read, or the write that completed the overwrite


class _Entry:
    __slots__ = ("gc", "mask")

    def __init__(self, gc: int, mask: int):
        self.gc, self.mask = gc, mask


class _Watch:
    __slots__ = ("addr", "entries", "handles", "idle", "removals")

    def __init__(self, addr: int):
        self.addr, self.entries, self.handles = addr, [], []
        self.idle = 0            # callbacks since no collection waits on the word
        self.removals = 0        # times its hooks were removed


#: an idle word's hooks are removed after this many callbacks (a hot word that no
#: collection waits on), at most REMOVALS times per word: Unicorn keeps a removed
#: hook in its lists until emu_start returns, and every memory access walks them,
#: so removals must stay bounded; a word re-watched after that keeps its hooks
IDLE_CALLS = 64
REMOVALS = 2


class Watcher:
    """Range-limited read and write hooks on root words.  A word's hooks stay
    while it is idle (re-watching it then costs nothing) unless it turns hot.
    ``outcomes[(gc, addr)]``."""

    def __init__(self, mc: Machine):
        self.mc = mc
        self.ps = mc.arch.ptrsize
        self.full = (1 << self.ps) - 1
        self.watches: dict[int, _Watch] = {}
        self.pending = 0                   # words some collection waits on
        self.outcomes: dict[tuple[int, int], Outcome] = {}
        self.callbacks = 0
        self.peak = 0

    def watch(self, gc: int, addr: int) -> None:
        w = self.watches.get(addr)
        if w is None:
            w = self.watches[addr] = _Watch(addr)
        if not w.handles:
            # an access overlaps the word when it starts up to ps-1 bytes before it
            lo, hi = addr - self.ps + 1, addr + self.ps - 1
            h = self.mc.hooks
            w.handles = [h.mem_read(lambda a, s, w=w: self._read(w, a, s), lo, hi, "leaks"),
                         h.mem_write(lambda a, s, v, w=w: self._write(w, a, s, v), lo, hi, "leaks")]
        if not w.entries:
            self.pending += 1
            self.peak = max(self.peak, self.pending)
            w.idle = 0
        w.entries.append(_Entry(gc, self.full))

    def _bytes(self, w: _Watch, a: int, s: int) -> int:
        lo, hi = max(a, w.addr), min(a + s, w.addr + self.ps)
        return ((1 << (hi - lo)) - 1) << (lo - w.addr) if lo < hi else 0

    def _idle(self, w: _Watch) -> None:
        w.idle += 1
        if w.idle > IDLE_CALLS and w.removals < REMOVALS:
            for hd in w.handles:
                self.mc.hooks.remove(hd)
            w.handles = []
            w.removals += 1

    def _hit(self, w: _Watch, a: int, s: int) -> int:
        """The watched word's bytes an access of [a, a+s) touches (0: none, or
        nothing left to watch there: the hook idles)."""
        self.callbacks += 1
        if not w.entries:
            self._idle(w)
            return 0
        return self._bytes(w, a, s)

    def _read(self, w: _Watch, a: int, s: int) -> None:
        m = self._hit(w, a, s)
        if not m:
            return
        acc = None
        keep = []
        for e in w.entries:
            if e.mask & m:
                acc = acc or _access(self.mc, "read", self.mc.position(), self.mc.pc, s)
                self.outcomes[(e.gc, w.addr)] = Outcome(True, "read", acc)
            else:
                keep.append(e)
        w.entries = keep
        if not keep:
            self.pending -= 1

    def _write(self, w: _Watch, a: int, s: int, v: int) -> None:
        m = self._hit(w, a, s)
        if not m:
            return
        acc = None
        keep = []
        for e in w.entries:
            e.mask &= ~m
            if e.mask:
                keep.append(e)
            else:
                acc = acc or _access(self.mc, "write", self.mc.position(), self.mc.pc, s, v)
                self.outcomes[(e.gc, w.addr)] = Outcome(False, "overwritten", acc)
        w.entries = keep
        if not keep:
            self.pending -= 1

    def finish(self) -> None:
        """The program exited: whatever is still waiting was never touched again."""
        for w in self.watches.values():
            for e in w.entries:
                self.outcomes[(e.gc, w.addr)] = Outcome(False, "untouched", None)
            w.entries = []
        self.pending = 0


# -- results --------------------------------------------------------------------------------
@dataclass
class RootVerdict:
    """One root hit at one collection, and what the program did with it next."""
    gc: int
    addr: int
    name: str
    kind: str
    value: int
    base: int
    live: bool
    how: str                          # read, overwritten, untouched; collector (live: it follows the word)
    next: Access | None               # the first read, or the overwriting store; None: none until exit
    origin: Access | None = None      # dead roots: the store that put the value there (None: initial data)
    object_size: int = 0
    freed_bytes: int = 0              # dead roots: freed if this word alone were 0
    freed_objects: int = 0

    def to_json(self) -> dict:
        d = {"addr": self.addr, "name": self.name, "kind": self.kind, "value": self.value, "object": self.base,
             "status": "live" if self.live else "dead", "reason": self.how,
             "next": self.next.to_json() if self.next else None}
        if not self.live:
            d.update(object_size=self.object_size, freed_bytes=self.freed_bytes, freed_objects=self.freed_objects,
                     origin=self.origin.to_json() if self.origin else None)
        return d


@dataclass
class CollectionResult:
    index: int
    position: int                 # instructions before the collector's hypercall
    pc: int
    where: str
    roots: list[RootVerdict]
    dead_freed_bytes: int = 0     # freed if every dead root of this collection were 0
    dead_freed_objects: int = 0

    @property
    def dead(self) -> list[RootVerdict]:
        return [r for r in self.roots if not r.live]

    @property
    def live(self) -> list[RootVerdict]:
        return [r for r in self.roots if r.live]

    def to_json(self, all_roots: bool = False) -> dict:
        return {"index": self.index, "instructions": self.position, "pc": self.pc, "where": self.where,
                "root_hits": len(self.roots), "live": len(self.live), "dead": len(self.dead),
                "dead_freed_bytes": self.dead_freed_bytes, "dead_freed_objects": self.dead_freed_objects,
                "roots": [r.to_json() for r in (self.roots if all_roots else self.dead)]}


@dataclass
class LocationSummary:
    """One root location (name and address) over the whole run."""
    name: str
    addr: int
    kind: str
    hits: int                      # collections at which it pointed into an object
    dead_at: list[int]             # the collections at which it was dead
    bytes_pinned: list[int]        # per dead collection, the bytes it alone pinned
    origins: list[str]             # distinct symbol+offset of the storing instructions

    def to_json(self, collections: int) -> dict:
        return {"name": self.name, "addr": self.addr, "kind": self.kind, "collections": collections,
                "hits": self.hits, "dead": len(self.dead_at), "dead_at": self.dead_at,
                "bytes_pinned": self.bytes_pinned, "max_bytes": max(self.bytes_pinned, default=0),
                "origins": self.origins}


@dataclass
class LeaksResult:
    arch: str
    variant: str
    program: str
    instructions: int
    exit_status: int | None
    collections: list[CollectionResult]
    output: list[str] = field(default_factory=list)     # what the program printed
    replayed: int = 0                 # instructions run again to find origins and bytes (0: no replay)
    watch_callbacks: int = 0          # Python calls the watch hooks made
    watched_peak: int = 0             # most words watched at once
    seconds: dict = field(default_factory=dict)   # run, replay (not in JSON: runs must compare equal)

    def summary(self) -> list[LocationSummary]:
        locs: dict[tuple[str, int], LocationSummary] = {}
        for c in self.collections:
            for r in c.roots:
                key = (r.name, r.addr)
                s = locs.get(key)
                if s is None:
                    s = locs[key] = LocationSummary(r.name, r.addr, r.kind, 0, [], [], [])
                s.hits += 1
                if not r.live:
                    s.dead_at.append(c.index)
                    s.bytes_pinned.append(r.freed_bytes)
                    o = r.origin.where if r.origin else "initial data"
                    if o not in s.origins:
                        s.origins.append(o)
        out = [s for s in locs.values() if s.dead_at]
        out.sort(key=lambda s: (-max(s.bytes_pinned), -len(s.dead_at), s.addr))
        return out

    def runtime_findings(self) -> list[LocationSummary]:
        """Dead roots in the runtime's own M and G fields."""
        return [s for s in self.summary() if s.kind in ("M", "G")]

    def to_json(self, all_roots: bool = False) -> dict:
        n = len(self.collections)
        return {"arch": self.arch, "variant": self.variant, "program": self.program,
                "instructions": self.instructions, "exit_status": self.exit_status, "output": self.output,
                "replayed_instructions": self.replayed, "watch_callbacks": self.watch_callbacks,
                "watched_peak": self.watched_peak,
                "collections": [c.to_json(all_roots) for c in self.collections if all_roots or c.dead],
                "collections_total": n,
                "summary": [s.to_json(n) for s in self.summary()]}


# -- the two runs ---------------------------------------------------------------------------
@dataclass
class _Gc:
    index: int
    position: int
    pc: int
    hits: list[RootHit]


class _ReplayDone(Exception):
    pass


class ReplayDiverged(EmulationError):
    """The replay did not repeat the first run (a bug: runs are deterministic)."""


def _first_run(mc: Machine) -> tuple[list[_Gc], Watcher]:
    watcher = Watcher(mc)
    gcs: list[_Gc] = []
    collector = mc.gc_handler

    def handler(m: Machine, gc_sp: int):
        pos, pc = m.position(), m.pc
        report = collector(m, gc_sp)
        rec = _Gc(len(gcs) + 1, pos, pc, root_hits(m, gc_sp, report))
        gcs.append(rec)
        for h in rec.hits:
            if h.followed:
                watcher.outcomes[(rec.index, h.addr)] = Outcome(True, "collector", None)
            else:
                watcher.watch(rec.index, h.addr)
        return report
    mc.gc_handler = handler
    mc.on("exit", lambda _ev: watcher.finish())
    mc.run()
    return gcs, watcher


def _replay(mc: Machine, gcs: list[_Gc], dead: dict[int, list[RootHit]]):
    """Run ``mc`` (a fresh machine of the same program) up to the last collection in
    ``dead``; returns (origins {(gc, addr): Access | None}, costs {(gc, addr): (bytes,
    objects, size)}, joint {gc: (bytes, objects)})."""
    ps = mc.arch.ptrsize
    last_write: dict[int, tuple[int, int, int, int]] = {}    # addr -> (index, pc, size, value)
    for addr in sorted({h.addr for hs in dead.values() for h in hs}):
        def wr(a, s, v, addr=addr):
            if a < addr + ps and a + s > addr:
                last_write[addr] = (mc.position(), mc.pc, s, v)
        mc.hooks.mem_write(wr, addr - ps + 1, addr + ps - 1, "leaks-origin")
    origins: dict[tuple[int, int], Access | None] = {}
    costs: dict[tuple[int, int], tuple[int, int, int]] = {}
    joint: dict[int, tuple[int, int]] = {}
    last = max(dead)
    collector = mc.gc_handler
    seen = [0]

    def handler(m: Machine, gc_sp: int):
        seen[0] += 1
        n = seen[0]
        want = gcs[n - 1] if n <= len(gcs) else None
        if want is None or m.position() != want.position:
            raise m.error(ReplayDiverged, f"replay diverged: collection {n} at instruction {m.position()}, "
                          f"the first run had it at {want.position if want else 'none'}")
        report = collector(m, gc_sp)
        if n in dead:
            # after the sweep the heap holds exactly the marked objects, and
            # re-marking it with some words read as 0 gives what they alone pin
            heap = _Objects.of(m, report)
            full = dict(heap.allocated())
            total = sum(full.values())
            others: dict[int, int] = {}         # object -> how many root words point at it
            for h in gcs[n - 1].hits:
                if h.kind != "G":
                    others[h.base] = others.get(h.base, 0) + 1
            for h in dead[n]:
                if m.read_ptr(h.addr) != h.value:
                    raise m.error(ReplayDiverged, f"replay diverged: {h.name} holds {m.read_ptr(h.addr):#x} at "
                                  f"collection {n}, the first run saw {h.value:#x}")
                lw = last_write.get(h.addr)
                origins[(n, h.addr)] = _access(m, "write", lw[0], lw[1], lw[2], lw[3]) if lw else None
                if h.kind != "G" and others.get(h.base, 0) > 1:
                    # another root word holds the same object: zeroing this one frees nothing
                    costs[(n, h.addr)] = (0, 0, full.get(h.base, 0))
                    continue
                kept = retained(m, gc_sp, frozenset([h.addr]), h.kind == "G", heap)
                gone = set(full) - set(kept)
                costs[(n, h.addr)] = (total - sum(kept.values()), len(gone), full.get(h.base, 0))
            # a dead word whose object a live root word also holds adds nothing even
            # together with the others; only the rest need a joint re-mark
            dead_addrs = {h.addr for h in dead[n]}
            held = {h.base for h in gcs[n - 1].hits if h.kind != "G" and h.addr not in dead_addrs}
            rest = [h for h in dead[n] if h.kind == "G" or h.base not in held]
            if len(rest) > 1:
                kept = retained(m, gc_sp, frozenset(h.addr for h in rest), any(h.kind == "G" for h in rest), heap)
                joint[n] = (total - sum(kept.values()), len(set(full) - set(kept)))
            else:
                joint[n] = costs[(n, rest[0].addr)][:2] if rest else (0, 0)
        if n == last:
            raise _ReplayDone()
        return report
    mc.gc_handler = handler
    try:
        mc.run()
    except _ReplayDone:
        pass
    return origins, costs, joint


def find_dead_roots(make_machine, program: str = "<program>") -> LeaksResult:
    """Run the program that ``make_machine()`` builds (a fresh, booted machine with
    the collector attached, called once or twice), watch every root hit of every
    collection, and replay when something was dead.  Raises what the run raises
    (faults, throws, an exhausted budget)."""
    t0 = time.perf_counter()
    mc = make_machine()
    gcs, watcher = _first_run(mc)
    t1 = time.perf_counter()
    if not mc.exited:
        raise mc.error(EmulationError, "the program stopped without exiting")
    dead: dict[int, list[RootHit]] = {}
    for g in gcs:
        for h in g.hits:
            o = watcher.outcomes.get((g.index, h.addr))
            if o is not None and not o.live:
                dead.setdefault(g.index, []).append(h)
    origins, costs, joint = {}, {}, {}
    replayed = 0
    if dead:
        mc2 = make_machine()
        origins, costs, joint = _replay(mc2, gcs, dead)
        replayed = mc2.position()
    t2 = time.perf_counter()
    cols = []
    for g in gcs:
        verdicts = []
        for h in g.hits:
            o = watcher.outcomes[(g.index, h.addr)]
            v = RootVerdict(g.index, h.addr, h.name, h.kind, h.value, h.base, o.live, o.how, o.access)
            if not o.live:
                v.origin = origins.get((g.index, h.addr))
                v.freed_bytes, v.freed_objects, v.object_size = costs[(g.index, h.addr)]
            verdicts.append(v)
        jb, jo = joint.get(g.index, (0, 0))
        cols.append(CollectionResult(g.index, g.position, g.pc, mc.symbolize(g.pc), verdicts, jb, jo))
    return LeaksResult(mc.arch.name, mc.image.variant, program, mc.icount, mc.exit_status, cols,
                       list(mc.output), replayed,
                       watcher.callbacks, watcher.peak, {"run": t1 - t0, "replay": t2 - t1})


def leaks(arch: str, variant: str, unit, name: str = "<program>", budget: int = DEFAULT_BUDGET) -> LeaksResult:
    """``goemu leaks`` for one program (a parsed Unit, or None for none) on one arch and variant."""
    from ..image import build_image
    image = build_image(arch, variant, unit)

    def make() -> Machine:
        m = Machine(image, budget)
        gcmod.attach(m)
        return m
    return find_dead_roots(make, name)
