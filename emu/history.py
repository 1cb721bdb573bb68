"""Execution history at scale: incremental snapshots with thinning.

The debugger goes back in time by restoring a snapshot at or before the
target position and re-executing forward (execution is deterministic).  This
module keeps those snapshots for runs of 10^9 instructions and more, within a
memory bound.

What a snapshot holds.  The engine's snapshot (emu/engine.py: CPU context,
CPU only, and every registered Python part) plus a *delta*: the contents of
the guest pages that changed since the previous snapshot (in position
order).  The first snapshot (the origin) holds every page that is not zero.
The memory at snapshot S is, for every page, its version in the latest delta
at or before S (zero if there is none); ``_versions`` indexes, per page, the
positions of the deltas that hold it.

Finding the pages that changed.  A C memory-write hook (below) marks the page
of every store in a byte map per mapped region; writes made from Python
(``uc.mem_write``: the collector's hypercall, ``set var``) are marked by a
wrapper around the engine handle's ``mem_write``.  At a snapshot only the
marked pages are read, and a page equal to its previous version is not kept.
Unicorn's own copy-on-write memory contexts are not used: their layers form a
stack (one cannot drop a middle one), restoring one discards all newer ones,
and after ~4,000 of them Unicorn answers UC_ERR_NOMEM (docs/debugger.md).

Thinning.  When the history holds more than ``max_bytes`` (pages, contexts
and parts, estimated) or more than ``max_snapshots``, snapshots are removed
as rr does: dense near the current position, sparser with distance (a
snapshot is kept when it is at least ``distance / K`` from the previous kept
one, K halving until the history fits).  Removing a snapshot merges its delta
into the next one, so every position stays reachable: one far from a
snapshot just costs more re-execution.  The origin and the newest snapshot are
never removed.  ``info()`` says what is kept.
"""
from __future__ import annotations

import bisect
import ctypes
import itertools
import pickle
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np
from unicorn import unicorn_const as UC

from .errors import UsageError

PAGE = 4096
MAX_REGIONS = 16
DEFAULT_MAX_BYTES = 1 << 30          # 1 GiB of history: RSS stays under 2 GiB for 10^9 instructions
DEFAULT_MAX_SNAPSHOTS = 8192

SOURCE = r"""
#include <stdint.h>
/* Dirty-page marking for goemu's execution history (emu/history.py).  One byte
 * map over the pages of every mapped region (region i's pages start at index
 * r[i].idx0); a page marked for the first time since the last take is also
 * appended to list[] (its map index), so a take reads the pages written, not
 * the whole map (count > cap: the map is scanned instead). */
typedef struct { uint64_t base, end, idx0; } goemu_region;
typedef struct {
	uint32_t n, cap; uint64_t count; uint8_t *bits; uint32_t *list; goemu_region r[16];
} goemu_dirty;

static inline void mark_page(goemu_dirty *d, uint64_t idx)
{
	if (!d->bits[idx]) {
		d->bits[idx] = 1;
		if (d->count < d->cap)
			d->list[d->count] = (uint32_t)idx;
		d->count++;
	}
}

void goemu_dirty_mark(goemu_dirty *d, uint64_t addr, uint64_t last)
{
	uint32_t i;
	for (i = 0; i < d->n; i++) {
		goemu_region *r = &d->r[i];
		uint64_t a, b, p;
		if (last < r->base || addr >= r->end)
			continue;
		a = addr < r->base ? r->base : addr;
		b = last >= r->end ? r->end - 1 : last;
		for (p = (a - r->base) >> 12; p <= (b - r->base) >> 12; p++)
			mark_page(d, r->idx0 + p);
	}
}

void goemu_dirty_write(void *uc, int type, uint64_t addr, int size, int64_t value, void *user)
{
	goemu_dirty *d = (goemu_dirty *)user;
	uint64_t last = addr + (uint64_t)(size > 0 ? size - 1 : 0);
	uint32_t i;
	(void)uc; (void)type; (void)value;
	for (i = 0; i < d->n; i++) {
		goemu_region *r = &d->r[i];
		if (addr >= r->base && last < r->end) {
			mark_page(d, r->idx0 + ((addr - r->base) >> 12));
			mark_page(d, r->idx0 + ((last - r->base) >> 12));
			return;
		}
	}
	goemu_dirty_mark(d, addr, last);
}
"""
FLAGS = ["-shared", "-fPIC", "-O2"]


class HistoryError(UsageError):
    """The history cannot do what was asked (a position before the origin)."""


LIST_CAP = 1 << 16


class _Region(ctypes.Structure):
    _fields_ = [("base", ctypes.c_uint64), ("end", ctypes.c_uint64), ("idx0", ctypes.c_uint64)]


class _Dirty(ctypes.Structure):
    _fields_ = [("n", ctypes.c_uint32), ("cap", ctypes.c_uint32), ("count", ctypes.c_uint64),
                ("bits", ctypes.c_void_p), ("list", ctypes.c_void_p), ("r", _Region * MAX_REGIONS)]


@lru_cache(maxsize=1)
def _lib():
    """The dirty-page hook, compiled on first use (same compiler and cache as
    goemu's other host libraries)."""
    from .native import build_source
    lib = build_source("history", SOURCE, FLAGS, "history's dirty-page hook")
    lib.goemu_dirty_mark.argtypes = [ctypes.c_void_p, ctypes.c_uint64, ctypes.c_uint64]
    lib.goemu_dirty_mark.restype = None
    return lib


class DirtyPages:
    """Which guest pages were written since the last ``take()``: a C write
    hook for the CPU's stores, a wrapper of ``uc.mem_write`` for Python's."""

    def __init__(self, mc):
        self.mc = mc
        self.lib = _lib()
        regions = sorted((a, b + 1) for a, b, _p in mc.uc.mem_regions())
        if len(regions) > MAX_REGIONS:
            raise HistoryError(f"{len(regions)} mapped regions: the history tracks at most {MAX_REGIONS}")
        self.regions = regions
        counts = [(e - b + PAGE - 1) // PAGE for b, e in regions]
        self.map = np.zeros(sum(counts), dtype=np.uint8)
        self.addr_of = np.concatenate([b + PAGE * np.arange(c, dtype=np.uint64)
                                       for (b, _e), c in zip(regions, counts)])
        self.list = np.zeros(LIST_CAP, dtype=np.uint32)
        self.state = st = _Dirty()
        st.n, st.cap = len(regions), LIST_CAP
        st.bits, st.list = self.map.ctypes.data, self.list.ctypes.data
        idx0 = 0
        for i, ((b, e), c) in enumerate(zip(regions, counts)):
            st.r[i].base, st.r[i].end, st.r[i].idx0 = b, e, idx0
            idx0 += c
        fn = ctypes.cast(self.lib.goemu_dirty_write, ctypes.c_void_p).value
        self.handle = mc.hooks.native(UC.UC_HOOK_MEM_WRITE, fn, ctypes.addressof(st), 1, 0, label="history")
        uc = mc.uc
        self._raw_write = raw = uc.mem_write
        mark, addr_of = self.lib.goemu_dirty_mark, ctypes.addressof(st)

        def mem_write(address: int, data, *a, **k):
            if len(data):
                mark(addr_of, address, address + len(data) - 1)
            return raw(address, data, *a, **k)
        uc.mem_write = mem_write         # Python's writes (hypercalls, set var) are marked too

    def raw_write(self, addr: int, data: bytes) -> None:
        """Write without marking (a restore puts back a known version)."""
        self._raw_write(addr, data)

    def take(self) -> list[int]:
        """The addresses of the pages written since the last call, sorted; clears the marks."""
        st = self.state
        n = st.count
        if not n:
            return []
        idx = self.list[:n].copy() if n <= st.cap else np.flatnonzero(self.map)
        self.map[idx] = 0
        st.count = 0
        return np.sort(self.addr_of[idx]).tolist()

    def clear(self) -> None:
        if self.state.count:
            self.take()

    def close(self) -> None:
        self.mc.hooks.remove(self.handle)
        try:
            del self.mc.uc.mem_write
        except AttributeError:
            pass


@dataclass
class HistSnap:
    n: int
    snap: Any                           # the engine's Snapshot (CPU context + parts)
    delta: dict[int, bytes] = field(default_factory=dict)   # page address -> contents at n
    overhead: int = 0                   # bytes of the context and parts (estimated)


@dataclass
class HistoryInfo:
    count: int
    first: int
    last: int
    bytes: int
    max_bytes: int
    max_snapshots: int
    pages: int
    thinned: int
    largest_gap: int
    interval: int


def _runs(pages: list[int]) -> list[tuple[int, int]]:
    """Contiguous runs of sorted page addresses: (address, page count)."""
    out: list[tuple[int, int]] = []
    for p in pages:
        if out and out[-1][0] + out[-1][1] * PAGE == p:
            out[-1] = (out[-1][0], out[-1][1] + 1)
        else:
            out.append((p, 1))
    return out


class History:
    """The snapshots of one machine's execution (see the module docstring)."""

    density = 256       # thinning keeps a snapshot every distance/density (then halves it while too big)

    def __init__(self, mc, interval: int, max_bytes: int = DEFAULT_MAX_BYTES,
                 max_snapshots: int = DEFAULT_MAX_SNAPSHOTS):
        self.mc = mc
        self.engine = mc.engine
        self.interval = interval
        self.max_bytes = max_bytes
        self.max_snapshots = max_snapshots
        self.dirty = DirtyPages(mc)
        self.ns: list[int] = []                    # snapshot positions, sorted
        self.snaps: dict[int, HistSnap] = {}
        self._versions: dict[int, list[int]] = {}  # page -> positions of the deltas holding it
        self._pending: set[int] = set()            # pages changed since ``base`` besides the dirty maps
        self.base: int | None = None               # memory = snapshot ``base`` + pending + dirty
        self.page_bytes = 0
        self.overhead_bytes = 0
        self.thinned = 0
        self._parts_est: int | None = None
        self._taken = 0
        from unicorn.unicorn_py3.unicorn import uclib
        self._ctx_size = int(uclib.uc_context_size(mc.uc._uch)) + 200   # the context and its Python object
        self._origin()

    # -- the origin: every page that is not zero --------------------------------------------
    def _origin(self) -> None:
        mc = self.mc
        delta: dict[int, bytes] = {}
        step = 1 << 22                   # read in 4 MiB pieces: 140 MiB are mapped, most of it zero
        for b, e in self.dirty.regions:
            for lo in range(b, e, step):
                n = min(step, e - lo)
                pages = np.frombuffer(mc.uc.mem_read(lo, n), dtype=np.uint8).reshape(-1, PAGE)
                for i in np.flatnonzero(pages.any(axis=1)).tolist():
                    delta[lo + i * PAGE] = pages[i].tobytes()
        self.dirty.clear()
        self._add(self.mc.engine.n, delta)

    # -- taking ------------------------------------------------------------------------------
    def _version_at(self, page: int, n: int) -> bytes | None:
        """The contents of ``page`` at snapshot position ``n`` (None: zero)."""
        vs = self._versions.get(page)
        if not vs:
            return None
        i = bisect.bisect_right(vs, n) - 1
        return self.snaps[vs[i]].delta[page] if i >= 0 else None

    def _changed(self) -> set[int]:
        ch = set(self.dirty.take())
        if self._pending:
            ch |= self._pending
            self._pending = set()
        return ch

    def take(self) -> None:
        """Snapshot the present position (a no-op if one is there: the memory
        is then known to be that snapshot's)."""
        n = self.engine.n
        if n in self.snaps:
            self._sync(n)
            return
        changed = sorted(self._changed())
        i = bisect.bisect_left(self.ns, n)
        prev = self.ns[i - 1] if i else None
        delta: dict[int, bytes] = {}
        raw = self.mc.uc.mem_read
        zero = bytes(PAGE)
        for addr, cnt in _runs(changed):
            data = bytes(raw(addr, cnt * PAGE))
            for j in range(cnt):
                page = addr + j * PAGE
                cur = data[j * PAGE:(j + 1) * PAGE]
                old = self._version_at(page, prev) if prev is not None else None
                if cur == (old if old is not None else zero):
                    continue
                delta[page] = cur
        self._add(n, delta)
        self._enforce()

    def _add(self, n: int, delta: dict[int, bytes]) -> None:
        snap = self.engine.snapshot()
        hs = HistSnap(n, snap, delta)
        if self._parts_est is None or self._taken % 256 == 0:
            try:
                self._parts_est = len(pickle.dumps(snap.parts, protocol=pickle.HIGHEST_PROTOCOL)) + 500
            except Exception:  # noqa: BLE001 - an estimate only
                self._parts_est = 4096
        self._taken += 1
        hs.overhead = self._parts_est + self._ctx_size
        bisect.insort(self.ns, n)
        self.snaps[n] = hs
        for page in delta:
            bisect.insort(self._versions.setdefault(page, []), n)
        self.page_bytes += PAGE * len(delta)
        self.overhead_bytes += hs.overhead
        self.base = n

    def _sync(self, n: int) -> None:
        """The memory is exactly snapshot ``n``'s (reached by re-execution)."""
        self.dirty.clear()
        self._pending = set()
        self.base = n

    # -- restoring ----------------------------------------------------------------------------
    def before(self, target: int) -> int:
        """The position of the latest snapshot at or before ``target``."""
        i = bisect.bisect_right(self.ns, target) - 1
        if i < 0:
            raise HistoryError(f"no snapshot at or before instruction {target}")
        return self.ns[i]

    def restore(self, n: int) -> None:
        hs = self.snaps[n]
        pages = self._changed()
        base = self.base
        if base is not None and base != n:
            lo, hi = min(base, n), max(base, n)
            for p in self.ns[bisect.bisect_right(self.ns, lo):bisect.bisect_right(self.ns, hi)]:
                pages.update(self.snaps[p].delta)
        zero = bytes(PAGE)
        write = self.dirty.raw_write
        for page in sorted(pages):
            v = self._version_at(page, n)
            write(page, v if v is not None else zero)
        self.dirty.clear()
        self.engine.restore(hs.snap)
        self.base = n

    # -- forgetting -----------------------------------------------------------------------------
    def truncate(self, n: int) -> None:
        """Forget every snapshot at or after ``n`` (the state was changed
        there outside execution: later history no longer holds)."""
        if self.ns and n <= self.ns[0]:
            self.rebase()
            return
        for p in [p for p in self.ns if p >= n]:
            self._remove(p, merge=False)

    def rebase(self) -> None:
        """Forget everything: the present becomes the origin (nothing before
        it can be reached any more)."""
        self.ns, self.snaps, self._versions, self._pending = [], {}, {}, set()
        self.base = None
        self.page_bytes = self.overhead_bytes = 0
        self._origin()

    def _remove(self, n: int, merge: bool) -> None:
        i = bisect.bisect_left(self.ns, n)
        hs = self.snaps.pop(n)
        del self.ns[i]
        nxt = self.snaps.get(self.ns[i]) if merge and i < len(self.ns) else None
        if self.base == n:
            # the memory was this snapshot's: it is now the previous one's plus this delta
            self._pending |= set(hs.delta)
            self.base = self.ns[i - 1] if i else None
        for page, data in hs.delta.items():
            vs = self._versions[page]
            k = bisect.bisect_left(vs, n)
            if nxt is not None and page not in nxt.delta:
                nxt.delta[page] = data
                vs[k] = nxt.n             # still sorted: the page had no version at nxt
            else:
                del vs[k]
                self.page_bytes -= PAGE
                if not vs:
                    del self._versions[page]
        self.overhead_bytes -= hs.overhead
        if merge:
            self.thinned += 1

    @property
    def bytes(self) -> int:
        return self.page_bytes + self.overhead_bytes

    def _over(self, frac: float = 1.0) -> bool:
        return self.bytes > self.max_bytes * frac or len(self.ns) > self.max_snapshots * frac

    def _enforce(self) -> None:
        if self._over():
            self.thin(self.engine.n)

    def thin(self, around: int, frac: float = 0.75) -> int:
        """Remove snapshots until the history is under ``frac`` of its bounds:
        dense near ``around``, sparser with distance.  Returns how many were removed."""
        removed = 0
        k = self.density
        while self._over(frac) and len(self.ns) > 2:
            keep = self._plan(around, k)
            for p in list(self.ns):
                if p not in keep:
                    self._remove(p, merge=True)
                    removed += 1
            if k == 1:
                break
            k //= 2
        return removed

    def _plan(self, around: int, k: int) -> set[int]:
        """The positions kept with density ``k``: walking away from ``around``
        both ways, a snapshot is kept when it is at least max(interval,
        distance / k) from the last one kept."""
        ns = self.ns
        keep = {ns[0], ns[-1]}
        i = bisect.bisect_right(ns, around)
        last = around
        for p in reversed(ns[:i]):
            if last - p >= max(self.interval, (around - p) // k) or p == ns[0]:
                keep.add(p)
                last = p
        last = around
        for p in ns[i:]:
            if p - last >= max(self.interval, (p - around) // k) or p == ns[-1]:
                keep.add(p)
                last = p
        return keep

    # -- what is kept ---------------------------------------------------------------------------
    def positions(self) -> list[int]:
        return list(self.ns)

    def info(self) -> HistoryInfo:
        ns = self.ns
        gap = max((b - a for a, b in itertools.pairwise(ns)), default=0)
        return HistoryInfo(len(ns), ns[0] if ns else 0, ns[-1] if ns else 0, self.bytes, self.max_bytes,
                           self.max_snapshots, len(self._versions), self.thinned, gap, self.interval)

    def close(self) -> None:
        self.dirty.close()
