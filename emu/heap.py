"""The emulated heap as the collector sees it: runtime_c's Go 1.0 allocator,
read from emulated memory in bulk.

What is allocated comes from Go 1.0's GC bitmap (4 bits per heap word, below
arena_start): a word starts an allocated object iff its bitAllocated bit is set.
Which span a word lies in comes from the page->span map; the span gives the
object size (its class size, or all its pages for a large object).  Stack
segments that come from the heap are allocated with FlagNoGC, so they carry no
allocated bit and are never objects here (FixedStack segments are not in the
arena at all).

``free()`` is Go 1.0's sweep: each freed small object gets boundary-only bits,
its "needs zeroing" mark and is pushed on this M's MCache list for its class
(as sweep's MCache_Free did); each freed large object's span is queued for
MHeap_Free.  The rest of the end of runtime·gc -- stealcache's
MCache_ReleaseAll, which returns cached objects to their spans' free lists and
empty spans to MHeap, coalescing -- runs as emulated C at the allocator's next
entry (runtime_c/malloc.c: stealcache), so the span and page-run algorithms
exist once, in C.  ``check()`` verifies the whole structure at any point.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from .machine import Machine

PAGE_SHIFT = 12
PAGE = 1 << PAGE_SHIFT
MSPAN_INUSE, MSPAN_FREE, MSPAN_LISTHEAD, MSPAN_DEAD = 0, 1, 2, 3


class _Struct:
    """Fields of one struct read from a bytes buffer, by dotted path."""

    def __init__(self, layout, raw: bytes, base: int = 0):
        self.L, self.raw, self.base = layout, raw, base
        self._sizes = {f.path: f.size for f in layout.leaves}

    def __getitem__(self, path: str) -> int:
        off = self.L.offset(path)
        size = self._sizes.get(path)
        if size is None:
            raise KeyError(path)
        return int.from_bytes(self.raw[self.base + off:self.base + off + size], "little")


class Heap:
    """A read (and sweep) view of runtime_c's MHeap in emulated memory.

    Build one per collection: it snapshots the metadata it reads."""

    def __init__(self, mc: Machine):
        self.mc = mc
        L = mc.layouts
        self.ps = ps = mc.arch.ptrsize
        self.udt = np.dtype("<u8" if ps == 8 else "<u4")
        self.wpbw = L.constants["WordsPerBitmapWord"]
        self.addr = mc.image.symbols["mheap"]
        self.H, self.S = L["MHeap"], L["MSpan"]
        map_off = self.H.offset("map")
        head = mc.read(self.addr, map_off)           # everything before the map
        tail_off = map_off + L.constants["MaxArenaPages"] * ps
        tail = mc.read(self.addr + tail_off, self.H.size - tail_off)
        self._head, self._tail, self._tail_off = head, tail, tail_off
        self.arena_start = self.hfield("arena_start")
        self.arena_used = self.hfield("arena_used")
        self.npages = (self.arena_used - self.arena_start) >> PAGE_SHIFT
        self.map = np.frombuffer(mc.read(self.addr + map_off, self.npages * ps), dtype=self.udt).astype(np.uint64)
        sym = mc.image.symbols
        self.class_to_size = np.frombuffer(mc.read(sym["class_to_size"], 4 * L.constants["NumSizeClasses"]),
                                           dtype="<i4").astype(np.uint64)
        self._read_spans()
        self._read_bitmap()

    # -- reading -------------------------------------------------------------------------------
    def hfield(self, path: str) -> int:
        """One field of mheap (not inside the map)."""
        off = self.H.offset(path)
        f = next(x for x in self.H.leaves if x.path == path)
        if off < len(self._head):
            raw = self._head[off:off + f.size]
        else:
            raw = self._tail[off - self._tail_off:off - self._tail_off + f.size]
        return int.from_bytes(raw, "little")

    def _read_spans(self) -> None:
        """Every span the page map names, as arrays indexed like ``self.span_addr``."""
        ptrs = np.unique(self.map[self.map != 0])
        self.span_addr = ptrs
        n = len(ptrs)
        S, ps = self.S, self.ps
        if n == 0:
            self.span_idx_of_page = np.full(self.npages, -1, dtype=np.int64)
            z = np.zeros(0, dtype=np.uint64)
            self.sp_start = self.sp_npages = self.sp_class = self.sp_state = self.sp_limit = z
            self.sp_ref = self.sp_freelist = z
            return
        lo, hi = int(ptrs[0]), int(ptrs[-1]) + S.size
        buf = np.frombuffer(self.mc.read(lo, hi - lo), dtype=np.uint8)
        rel = (ptrs - np.uint64(lo)).astype(np.int64)

        def col(path: str, size: int) -> np.ndarray:
            o = rel + S.offset(path)
            b = buf[o[:, None] + np.arange(size)]
            return b.copy().view("<u8" if size == 8 else "<u4").reshape(n).astype(np.uint64)
        self.sp_start = col("start", ps) << np.uint64(PAGE_SHIFT)
        self.sp_npages = col("npages", ps)
        self.sp_class = col("sizeclass", 4)
        self.sp_state = col("state", 4)
        self.sp_limit = col("limit", ps)
        self.sp_ref = col("ref", 4)
        self.sp_freelist = col("freelist", ps)
        idx = np.searchsorted(ptrs, self.map)
        idx[self.map == 0] = -1
        self.span_idx_of_page = idx.astype(np.int64)
        self.sp_size = np.where(self.sp_class == 0, self.sp_npages << np.uint64(PAGE_SHIFT),
                                self.class_to_size[self.sp_class.astype(np.int64)])

    def _read_bitmap(self) -> None:
        nwords = (self.arena_used - self.arena_start) // self.ps
        nbw = -(-nwords // self.wpbw)
        self.nbw = nbw
        raw = self.mc.read(self.arena_start - nbw * self.ps, nbw * self.ps) if nbw else b""
        # bitword k (0 = the word just below arena_start) covers heap words [k*wpbw, (k+1)*wpbw)
        self.bitmap = np.frombuffer(raw, dtype=self.udt)[::-1].astype(np.uint64)

    def _bits(self, addrs: np.ndarray, shift_group: int) -> np.ndarray:
        off = (addrs - np.uint64(self.arena_start)) // np.uint64(self.ps)
        k = (off // np.uint64(self.wpbw)).astype(np.int64)
        sh = off % np.uint64(self.wpbw) + np.uint64(shift_group * self.wpbw)
        return (self.bitmap[k] >> sh) & np.uint64(1)

    # -- the interface ---------------------------------------------------------------------------
    def bases(self, words: np.ndarray) -> np.ndarray:
        """For each word, the base of the allocated object containing it (interior
        pointers count), or 0."""
        w = np.asarray(words).astype(np.uint64)
        out = np.zeros(len(w), dtype=np.uint64)
        inside = (w >= np.uint64(self.arena_start)) & (w < np.uint64(self.arena_used))
        idx = np.nonzero(inside)[0]
        if len(idx) == 0 or len(self.span_addr) == 0:
            return out
        ww = w[idx]
        page = ((ww - np.uint64(self.arena_start)) >> np.uint64(PAGE_SHIFT)).astype(np.int64)
        sp = self.span_idx_of_page[page]
        ok = sp >= 0
        idx, ww, sp = idx[ok], ww[ok], sp[ok]
        start, size = self.sp_start[sp], self.sp_size[sp]
        # an in-use span maps every page; a free span's stale interior entries fail these tests
        ok = (self.sp_state[sp] == MSPAN_INUSE) & (ww >= start) & (ww < start + (self.sp_npages[sp] << np.uint64(12)))
        small = self.sp_class[sp] != 0
        ok &= ~small | (ww < self.sp_limit[sp])
        idx, ww, start, size = idx[ok], ww[ok], start[ok], size[ok]
        base = start + (ww - start) // size * size
        alloc = self._bits(base, 0).astype(bool)
        out[idx[alloc]] = base[alloc]
        return out

    def objects(self) -> tuple[np.ndarray, np.ndarray]:
        """(bases, sizes) of every allocated object, ascending."""
        if self.nbw == 0:
            z = np.zeros(0, dtype=np.uint64)
            return z, z
        lowbits = self.bitmap & np.uint64((1 << self.wpbw) - 1)
        k = np.nonzero(lowbits)[0]
        bits = (lowbits[k][:, None] >> np.arange(self.wpbw, dtype=np.uint64)) & np.uint64(1)
        kk, sh = np.nonzero(bits)
        off = k[kk].astype(np.uint64) * np.uint64(self.wpbw) + sh.astype(np.uint64)
        bases = np.sort(np.uint64(self.arena_start) + off * np.uint64(self.ps))
        page = ((bases - np.uint64(self.arena_start)) >> np.uint64(PAGE_SHIFT)).astype(np.int64)
        sizes = self.sp_size[self.span_idx_of_page[page]] if len(bases) else np.zeros(0, dtype=np.uint64)
        return bases, sizes.astype(np.uint64)

    def allocated(self) -> list[tuple[int, int]]:
        b, s = self.objects()
        return list(zip(b.tolist(), s.tolist()))

    def free(self, objs, gcpercent: int | None = 100) -> None:
        """The sweep of the objects ``objs`` (an array of bases, or (addr, size) pairs)
        and the end of a collection: mstats (nfree, alloc, heap_alloc,
        heap_objects, by_size, numgc) follow at once, and next_gc =
        heap_alloc*(1+gcpercent/100) unless gcpercent is None (the runtime sets
        it) or negative (GOGC=off: runtime·gc never got this far)."""
        mc, ps = self.mc, self.ps
        if isinstance(objs, np.ndarray):
            bases = objs.astype(np.uint64)
        else:
            bases = np.array([a for a, _s in objs], dtype=np.uint64)
        bases = np.unique(bases)
        stats = mc.image.symbols["mstats"]
        SL = mc.layouts["MStats"]
        st = _Struct(SL, mc.read(stats, SL.size))
        upd: dict[str, int] = {}
        if len(bases):
            page = ((bases - np.uint64(self.arena_start)) >> np.uint64(PAGE_SHIFT)).astype(np.int64)
            sp = self.span_idx_of_page[page]
            if (sp < 0).any() or not self._bits(bases, 0).all():
                bad = bases[(sp < 0) | ~self._bits(bases, 0).astype(bool)][0]
                raise ValueError(f"sweep: {int(bad):#x} is not an allocated object")
            cls = self.sp_class[sp].astype(np.int64)
            sizes = self.sp_size[sp]
            self._sweep_bitmap(bases, cls)
            words = self._arena_words()
            small = cls != 0
            self._push_mcache(words, bases[small], cls[small])
            large_spans = self.span_addr[sp[~small]]
            for b in self.sp_start[sp[~small]].tolist():
                words[(b - self.arena_start) // ps] = 1            # the span needs zeroing
            self._write_arena(words)
            head = self.hfield("reclaim")
            nxt = self.S.offset("next")
            for s in large_spans.tolist():
                mc.write_ptr(s + nxt, head)
                head = s
            mc.write_ptr(self.addr + self.H.offset("reclaim"), head)
            total = int(sizes.sum())
            upd.update(nfree=st["nfree"] + len(bases), alloc=st["alloc"] - total,
                       heap_alloc=st["heap_alloc"] - total, heap_objects=st["heap_objects"] - len(bases))
            for c, k in zip(*np.unique(cls[small], return_counts=True)):
                upd[f"by_size[{int(c)}].nfree"] = st[f"by_size[{int(c)}].nfree"] + int(k)
            mc.write(self.addr + self.H.offset("stealpending"), b"\x01")
        # the end of runtime·gc: next_gc = heap_alloc + heap_alloc*gcpercent/100
        heap_alloc = upd.get("heap_alloc", st["heap_alloc"])
        upd.update(numgc=st["numgc"] + 1)
        if gcpercent is not None and gcpercent >= 0:
            upd.update(next_gc=heap_alloc + heap_alloc * gcpercent // 100)
        sizes_of = {f.path: f.size for f in SL.leaves}
        for path, v in upd.items():
            mc.write(stats + SL.offset(path), (v & ((1 << 8 * sizes_of[path]) - 1)).to_bytes(sizes_of[path], "little"))

    # -- sweep helpers -----------------------------------------------------------------------------
    def _sweep_bitmap(self, bases: np.ndarray, cls: np.ndarray) -> None:
        """Freed small objects: boundary bit only.  Freed large objects: the first
        page's bitmap words zeroed (Go's markfreed then unmarkspan)."""
        wp = np.uint64(self.wpbw)
        off = (bases - np.uint64(self.arena_start)) // np.uint64(self.ps)
        k = (off // wp).astype(np.int64)
        sh = off % wp
        bm = self.bitmap.copy()
        one = np.uint64(1)
        clear = np.uint64(0)
        for g in range(4):
            clear_g = one << (sh + np.uint64(g) * wp)
            np.bitwise_and.at(bm, k, ~clear_g)
        small = cls != 0
        np.bitwise_or.at(bm, k[small], one << (sh[small] + wp))
        per_page = PAGE // self.ps // self.wpbw
        for kk in k[~small].tolist():
            bm[kk:kk + per_page] = clear
        self.bitmap = bm
        raw = bm[::-1].astype(self.udt).tobytes()
        self.mc.write(self.arena_start - self.nbw * self.ps, raw)

    def _arena_words(self) -> np.ndarray:
        n = (self.arena_used - self.arena_start) // self.ps
        return np.frombuffer(self.mc.read(self.arena_start, n * self.ps), dtype=self.udt).astype(np.uint64)

    def _write_arena(self, words: np.ndarray) -> None:
        self.mc.write(self.arena_start, words.astype(self.udt).tobytes())

    def _push_mcache(self, words: np.ndarray, bases: np.ndarray, cls: np.ndarray) -> None:
        """Push each freed small object on the MCache list of its class, ascending
        (the lowest address ends up first), with its "needs zeroing" word set."""
        if len(bases) == 0:
            return
        mc, ps = self.mc, self.ps
        mcache = mc.read_ptr(mc.image.symbols["mcache0"])
        C = mc.layouts["MCache"]
        CL = mc.layouts["MCacheList"]
        order = np.lexsort((bases, cls))
        bases, cls = bases[order], cls[order]
        wi = ((bases - np.uint64(self.arena_start)) // np.uint64(ps)).astype(np.int64)
        sizes = self.class_to_size[cls]
        big = sizes > np.uint64(ps)
        words[wi[big] + 1] = 1
        nxt = np.empty(len(bases), dtype=np.uint64)
        nxt[:-1] = bases[1:]
        last = np.ones(len(bases), dtype=bool)
        last[:-1] = cls[1:] != cls[:-1]
        csize = 0
        for c in np.unique(cls).tolist():
            lbase = mcache + C.offset(f"list[{c}]")
            head = mc.read_ptr(lbase + CL.offset("list"))
            nlist = mc.read_uint(lbase + CL.offset("nlist"), 4)
            sel = np.nonzero(cls == c)[0]
            nxt[sel[-1]] = head
            mc.write_ptr(lbase + CL.offset("list"), int(bases[sel[0]]))
            mc.write(lbase + CL.offset("nlist"), (nlist + len(sel)).to_bytes(4, "little"))
            csize += len(sel) * int(self.class_to_size[c])
        words[wi] = nxt
        del last
        off = mcache + C.offset("size")
        mc.write_ptr(off, mc.read_ptr(off) + csize)

    # -- invariants ----------------------------------------------------------------------------
    def check(self) -> list[str]:
        """Every inconsistency found in the allocator's state (empty: consistent).
        Walks the free lists, so its cost grows with the free objects; for tests."""
        from .heapcheck import check
        try:
            return check(self)
        except Exception as e:  # noqa: BLE001 - a corrupt heap must be reported, not crash the caller
            return [f"checker failed: {type(e).__name__}: {e}"]
