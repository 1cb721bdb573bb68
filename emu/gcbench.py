"""Benchmarks of the collector (registered in emu/bench.py: ``make bench``).

- ``gc list``: an emulated program builds a linked list of N 16-byte nodes
  (runtime.new each), keeps its head in a global and collects (N live), then
  drops the head and collects again (N freed).  Reported: the collection's wall
  time (mark + sweep + report) and its peak RSS growth (VmHWM reset just before
  the collection, Linux), per live object.  Sizes: ``GOEMU_BENCH_GC_LISTS``
  (default 10000,100000,1000000; 10000 with ``--quick``); a size the emulated heap cannot hold (16-byte nodes
  against the arena and, with runtime_c's span table, MaxSpans) is reported as
  skipped, so 10^6 runs by itself once the allocator can hold it.
- ``gc synthetic list``: the same marking code (pointer graph, breadth-first
  walk) over a heap built in host memory through the collector's
  heap interface (``arena_start``/``arena_used``, ``objects()``, ``bases()``):
  a list of 10^5 and 10^6 nodes, one root.
- ``gc scan``: marking bandwidth on a heap of pointer-free words (64-byte
  or 4 KiB objects, every one held by a root word, so every word of the arena is
  scanned) of 16 and 64 MiB: bytes scanned per second.
"""
from __future__ import annotations

import os
import time

import numpy as np

from . import gc as gcmod
from .errors import RuntimeThrow


def _rss_reset() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def _status_kib(field: str) -> int:
    try:
        with open("/proc/self/status") as f:
            for ln in f:
                if ln.startswith(field + ":"):
                    return int(ln.split()[1])
    except OSError:
        pass
    return 0


class PeakRSS:
    """Peak RSS growth (bytes) over a with-block: VmHWM after, minus VmRSS before
    (VmHWM reset first).  0 where /proc does not allow it."""

    def __enter__(self):
        self.ok = _rss_reset()
        self.before = _status_kib("VmRSS")
        return self

    def __exit__(self, *exc):
        self.peak = max(0, _status_kib("VmHWM") - self.before) * 1024 if self.ok else 0
        return False


def list_program(arch: str, n: int) -> str:
    """Build an n-node list (16-byte nodes, next at +0) headed by a global,
    collect, drop the head, collect."""
    from .arch import get_arch
    return get_arch(arch).program("gc_list").format(n=n)


def heap_capacity(mc, size: int = 16) -> int | None:
    """Objects of ``size`` bytes the emulated heap can hold at most, from the
    runtime's constants (None when they do not say)."""
    C = mc.layouts.constants
    page = C.get("PageSize", 4096)
    caps = []
    if C.get("MaxArenaPages"):
        caps.append(C["MaxArenaPages"] * (page // size))
    if C.get("MaxSpans"):
        caps.append(C["MaxSpans"] * (page // size))
    return min(caps) if caps else None


def list_sizes(quick: bool = False) -> list[int]:
    raw = os.environ.get("GOEMU_BENCH_GC_LISTS") or ("10000" if quick else "10000,100000,1000000")
    return [int(x) for x in raw.split(",") if x.strip()]


def gc_lists(cfg, arches=("amd64",)) -> list:
    from .bench import Row
    from .run import load_program, new_machine
    rows = []
    for arch in arches:
        for n in list_sizes(quick=bool(cfg and cfg.insns < 1_000_000)):
            mc = new_machine(arch, "fixed", load_program(None, text=list_program(arch, n), name="gclist.s"),
                             10**12)
            # the two timings are the program's explicit collections (list live, list dropped);
            # collections the allocator would start on the way (GOGC=100) are not what this measures
            gcmod.write_gogc(mc, "off")
            cap = heap_capacity(mc)
            if cap is not None and n > cap * 0.95:
                rows.append(Row(f"gc list {n:.0e} nodes", arch, "skipped",
                                f"the emulated heap holds at most {cap} 16-byte objects"))
                continue
            inner, times = mc.gc_handler, []

            def timed(m, sp, inner=inner, times=times):
                with PeakRSS() as p:
                    t = time.perf_counter()
                    rep = inner(m, sp)
                    dt = time.perf_counter() - t
                times.append((dt, p.peak))
                return rep
            mc.gc_handler = timed
            t0 = time.perf_counter()
            try:
                mc.run()
            except RuntimeThrow as e:
                rows.append(Row(f"gc list {n:.0e} nodes", arch, "skipped", f"the program threw: {e.reason}"))
                continue
            wall = time.perf_counter() - t0
            reps = gcmod.reports_of(mc)
            (t_live, rss_live), (t_free, _r) = times
            live = len(reps[0].retained)
            m = reps[0].marking
            deepest = m.info(int(np.argmax(np.where(m.marked, m._lvl, 0))))
            t = time.perf_counter()
            shown = deepest.path_text(gcmod.PATH_SHOWN)
            t_row = time.perf_counter() - t
            t = time.perf_counter()
            full = len(deepest.path)
            t_why = time.perf_counter() - t
            t = time.perf_counter()
            nrows = sum(1 for _o in reps[0].retained)
            t_rows = time.perf_counter() - t
            rows.append(Row(f"gc list {n:.0e} nodes: collect", arch, f"{t_live * 1e3:.0f} ms",
                            f"{live} live; peak RSS +{rss_live / 2**20:.1f} MiB = {rss_live / live:.0f} B/live "
                            f"object; sweep of all {len(reps[1].freed)}: {t_free * 1e3:.0f} ms; "
                            f"building the list: {mc.icount / n:.0f} insns/node, {wall:.0f} s"))
            rows.append(Row(f"gc list {n:.0e} nodes: paths", arch, f"{t_row * 1e3:.2f} ms",
                            f"deepest node's capped row ({len(shown)} chars); its whole chain ({full} links, "
                            f"as why prints it): {t_why * 1e3:.0f} ms; all {nrows} retained rows (ObjectInfo, "
                            f"root named, no path): {t_rows * 1e3:.0f} ms"))
    return rows


class SyntheticHeap:
    """A heap in host memory with the collector's heap interface: fixed-size
    objects filling [arena_start, arena_used)."""

    def __init__(self, words: np.ndarray, objsize: int, arena_start: int = 0xc000000000):
        self.words, self.objsize = words, objsize
        self.arena_start = arena_start
        self.arena_used = arena_start + words.nbytes
        self.raw = words.tobytes()

    def read(self, addr: int, n: int) -> bytes:
        o = addr - self.arena_start
        return self.raw[o:o + n]

    def objects(self):
        b = np.arange(self.arena_start, self.arena_used, self.objsize, dtype=np.uint64)
        return b, np.full(len(b), self.objsize, dtype=np.uint64)

    def bases(self, words: np.ndarray) -> np.ndarray:
        w = np.asarray(words, dtype=np.uint64)
        inside = (w >= np.uint64(self.arena_start)) & (w < np.uint64(self.arena_used))
        lo, sz = np.uint64(self.arena_start), np.uint64(self.objsize)
        return np.where(inside, lo + (w - lo) // sz * sz, np.uint64(0))


def _mark_synthetic(h: SyntheticHeap, roots: np.ndarray):
    bases, sizes = h.objects()
    rb = h.bases(roots)
    rw_obj = np.where(rb != 0, np.searchsorted(bases, rb), -1).astype(np.int64)
    _caddr, _cval, tgt, estart = gcmod.pointer_graph(h.read, h, bases, sizes, 8)
    return gcmod.walk_graph(len(bases), estart, tgt, rw_obj)


def synthetic_list(n: int, shuffled: bool = False) -> tuple[float, int, int]:
    """Mark a synthetic n-node list of 16-byte nodes, one root: each node points
    to the one allocated before it (as a list built by prepending), or, shuffled,
    to a node anywhere in the arena (every link a cache miss).
    (seconds, peak RSS growth, levels of the last node)."""
    lo = 0xc000000000
    # order[k]: slot of the k-th node from the head
    order = np.random.default_rng(1).permutation(n) if shuffled else np.arange(n)[::-1].copy()
    words = np.zeros(2 * n, dtype=np.uint64)
    words[2 * order[:-1]] = lo + 16 * order[1:].astype(np.uint64)
    words[2 * order + 1] = np.arange(n, dtype=np.uint64)     # a pointer-free payload word
    h = SyntheticHeap(words, 16, lo)
    root = np.array([lo + 16 * int(order[0])], dtype=np.uint64)
    with PeakRSS() as p:
        t = time.perf_counter()
        marked, _par, _via, lvl, _first = _mark_synthetic(h, root)
        dt = time.perf_counter() - t
    assert marked.all()
    return dt, p.peak, int(lvl[order[-1]])


def synthetic_scan(mib: int, objsize: int = 64) -> tuple[float, int]:
    """Mark a heap of ``mib`` MiB of pointer-free words in objects of ``objsize``
    bytes, each held by one root word: (seconds, bytes scanned)."""
    lo = 0xc000000000
    nwords = mib * 2**20 // 8
    words = (np.arange(nwords, dtype=np.uint64) * np.uint64(2654435761)) & np.uint64(0xFFFFFFFF)
    h = SyntheticHeap(words, objsize, lo)
    roots = np.arange(lo, h.arena_used, objsize, dtype=np.uint64)
    t = time.perf_counter()
    marked, *_ = _mark_synthetic(h, roots)
    dt = time.perf_counter() - t
    assert marked.all()
    return dt, words.nbytes


def gc_synthetic(cfg) -> list:
    from .bench import Row
    rows = []
    for shuffled in (False, True):
        for n in (100_000, 1_000_000):
            dt, peak, levels = synthetic_list(n, shuffled)
            rows.append(Row(f"gc synthetic list {n:.0e} nodes{', shuffled' if shuffled else ''}", "host",
                            f"{dt * 1e3:.0f} ms", f"mark (graph + walk), {levels} levels; peak RSS "
                            f"+{peak / 2**20:.1f} MiB = {peak / n:.0f} B/object"))
    for objsize in (4096, 64):
        for mib in (16, 64):
            dt, nbytes = synthetic_scan(mib, objsize)
            rows.append(Row(f"gc scan {mib} MiB pointer-free, {objsize} B objects", "host",
                            f"{nbytes / dt / 1e9:.2f} GB/s",
                            f"{dt * 1e3:.0f} ms to mark {nbytes // objsize} objects"))
    return rows


def gc_bench(cfg) -> list:
    """The collector's measurements (emu/gcbench.py)."""
    return gc_synthetic(cfg) + gc_lists(cfg)
