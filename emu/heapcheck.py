"""The allocator's invariants, checked over emulated memory (``Heap.check()``).

Checked:
  * spans: in-use and free spans tile [arena_start, arena_used) without
    overlap; an in-use span is mapped at every page, a free one at its first
    and last page; free spans sit on free[npages] (or `large` from
    MaxMHeapList pages) and nowhere else; heap_inuse, heap_idle and heap_sys
    match the spans;
  * small objects: every slot of every in-use small span is exactly one of
    allocated (bitAllocated at its base), on its span's free list, on the
    MCache list of its class, or a FlagNoGC block (boundary bit only, a stack
    segment); no object is on two lists; lists hold only object bases below the
    span's limit, of the right class; span.ref = slots not on the span's list;
    MCentral.nfree = its spans' free objects; a span is on `nonempty` iff its
    free list is non-empty; MCache nlist and size match its lists;
  * mstats: heap_alloc and heap_objects = the allocated objects plus the
    FlagNoGC blocks, alloc = heap_alloc.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .heap import MSPAN_FREE, MSPAN_INUSE, PAGE, PAGE_SHIFT, _Struct

if TYPE_CHECKING:
    from .heap import Heap


def check(h: Heap) -> list[str]:
    mc, ps = h.mc, h.ps
    L = mc.layouts
    errs: list[str] = []
    S = h.S
    ssize = S.size
    span_cache: dict[int, _Struct] = {}

    def span(addr: int) -> _Struct:
        s = span_cache.get(addr)
        if s is None:
            s = span_cache[addr] = _Struct(S, mc.read(addr, ssize))
        return s

    def walk_spans(head: int, what: str) -> list[int]:
        out, s = [], mc.read_ptr(head + S.offset("next"))
        while s != head and s != 0:                       # a nil link: a head never used (empty)
            out.append(s)
            if len(out) > 1 << 20:
                errs.append(f"{what}: list does not come back to its head")
                break
            if mc.read_ptr(s + S.offset("prev")) == 0:
                errs.append(f"{what}: span {s:#x} has a nil prev")
            s = mc.read_ptr(s + S.offset("next"))
        return out

    words = h._arena_words() if h.npages else np.zeros(0, dtype=np.uint64)

    def word(addr: int) -> int:
        return int(words[(addr - h.arena_start) // ps])

    def walk_objs(first: int, what: str, limit: int = 1 << 22) -> list[int]:
        out, v = [], first
        while v:
            if not (h.arena_start <= v < h.arena_used) or v % ps:
                errs.append(f"{what}: link {v:#x} is not a heap address")
                break
            out.append(v)
            if len(out) > limit:
                errs.append(f"{what}: list too long (a cycle?)")
                break
            v = word(v)
        return out

    # -- spans and pages ------------------------------------------------------------------
    base_page = h.arena_start >> PAGE_SHIFT
    inuse, free = [], []
    for i, a in enumerate(h.span_addr.tolist()):
        st = int(h.sp_state[i])
        if st == MSPAN_INUSE:
            inuse.append(i)
        elif st == MSPAN_FREE:
            free.append(i)
    covered = np.zeros(h.npages, dtype=np.int32)
    for i in inuse + free:
        p0 = (int(h.sp_start[i]) >> PAGE_SHIFT) - base_page
        n = int(h.sp_npages[i])
        if p0 < 0 or p0 + n > h.npages:
            errs.append(f"span {int(h.span_addr[i]):#x}: pages [{p0}, {p0 + n}) outside the arena")
            continue
        covered[p0:p0 + n] += 1
        mine = h.span_idx_of_page[p0:p0 + n]
        if int(h.sp_state[i]) == MSPAN_INUSE:
            if (mine != i).any():
                errs.append(f"in-use span {int(h.span_addr[i]):#x}: page map wrong at "
                            f"{int(np.nonzero(mine != i)[0][0]) + p0}")
        elif mine[0] != i or mine[-1] != i:
            errs.append(f"free span {int(h.span_addr[i]):#x}: not mapped at its first and last page")
    if h.npages and (covered != 1).any():
        bad = int(np.nonzero(covered != 1)[0][0])
        errs.append(f"arena page {bad} ({h.arena_start + bad * PAGE:#x}) is covered by "
                    f"{int(covered[bad])} spans")
    heap_off = h.addr
    maxlist = L.constants["MaxMHeapList"]
    on_list: dict[int, str] = {}
    for n in range(maxlist):
        head = heap_off + h.H.offset(f"free[{n}]")
        for s in walk_spans(head, f"mheap.free[{n}]"):
            on_list[s] = f"free[{n}]"
            sp = span(s)
            if sp["state"] != MSPAN_FREE or sp["npages"] != n:
                errs.append(f"mheap.free[{n}]: span {s:#x} state {sp['state']} npages {sp['npages']}")
    for s in walk_spans(heap_off + h.H.offset("large"), "mheap.large"):
        on_list[s] = "large"
        sp = span(s)
        if sp["state"] != MSPAN_FREE or sp["npages"] < maxlist:
            errs.append(f"mheap.large: span {s:#x} state {sp['state']} npages {sp['npages']}")
    for i in free:
        a = int(h.span_addr[i])
        if a not in on_list:
            errs.append(f"free span {a:#x} ({int(h.sp_npages[i])} pages) is on no free list")

    stats = _Struct(L["MStats"], mc.read(mc.image.symbols["mstats"], L["MStats"].size))
    inuse_bytes = sum(int(h.sp_npages[i]) for i in inuse) * PAGE
    idle_bytes = sum(int(h.sp_npages[i]) for i in free) * PAGE
    for name, want in (("heap_inuse", inuse_bytes), ("heap_idle", idle_bytes),
                       ("heap_sys", h.arena_used - h.arena_start)):
        if stats[name] != want:
            errs.append(f"mstats.{name} = {stats[name]}, the spans say {want}")

    # -- small objects -------------------------------------------------------------------------
    where: dict[int, str] = {}

    def claim(v: int, what: str) -> None:
        if v in where:
            errs.append(f"object {v:#x} is on {where[v]} and on {what}")
        where[v] = what

    def slot_ok(v: int, cl: int, what: str) -> int | None:
        page = (v - h.arena_start) >> PAGE_SHIFT
        i = int(h.span_idx_of_page[page]) if 0 <= page < h.npages else -1
        if i < 0 or int(h.sp_state[i]) != MSPAN_INUSE or int(h.sp_class[i]) != cl:
            errs.append(f"{what}: {v:#x} is not in an in-use span of class {cl}")
            return None
        start, size = int(h.sp_start[i]), int(h.sp_size[i])
        if (v - start) % size or v >= int(h.sp_limit[i]):
            errs.append(f"{what}: {v:#x} is not an object base")
            return None
        if int(h._bits(np.array([v], dtype=np.uint64), 0)[0]):
            errs.append(f"{what}: {v:#x} is allocated")
        return i

    nclass = L.constants["NumSizeClasses"]
    mcache = mc.read_ptr(mc.image.symbols["mcache0"])
    C, CL = L["MCache"], L["MCacheList"]
    cached_in_span: dict[int, int] = {}
    csize = 0
    for cl in range(nclass):
        lb = mcache + C.offset(f"list[{cl}]")
        objs = walk_objs(mc.read_ptr(lb + CL.offset("list")), f"mcache.list[{cl}]")
        if len(objs) != mc.read_uint(lb + CL.offset("nlist"), 4):
            errs.append(f"mcache.list[{cl}]: nlist {mc.read_uint(lb + CL.offset('nlist'), 4)}, "
                        f"{len(objs)} objects on the list")
        csize += len(objs) * int(h.class_to_size[cl])
        for v in objs:
            claim(v, f"mcache.list[{cl}]")
            i = slot_ok(v, cl, f"mcache.list[{cl}]")
            if i is not None:
                cached_in_span[i] = cached_in_span.get(i, 0) + 1
    if csize != mc.read_ptr(mcache + C.offset("size")):
        errs.append(f"mcache.size = {mc.read_ptr(mcache + C.offset('size'))}, its lists hold {csize} bytes")

    span_free: dict[int, int] = {}
    for cl in range(1, nclass):
        cbase = heap_off + h.H.offset(f"central[{cl}]")
        Mc = L["MCentral"]
        nfree = 0
        for lst in ("nonempty", "empty"):
            for s in walk_spans(cbase + Mc.offset(lst), f"central[{cl}].{lst}"):
                sp = span(s)
                if sp["state"] != MSPAN_INUSE or sp["sizeclass"] != cl:
                    errs.append(f"central[{cl}].{lst}: span {s:#x} state {sp['state']} class {sp['sizeclass']}")
                    continue
                objs = walk_objs(sp["freelist"], f"span {s:#x} free list")
                if (lst == "nonempty") != bool(objs):
                    errs.append(f"central[{cl}].{lst}: span {s:#x} has {len(objs)} free objects")
                i = int(np.searchsorted(h.span_addr, s))
                if i >= len(h.span_addr) or int(h.span_addr[i]) != s:
                    errs.append(f"central[{cl}].{lst}: span {s:#x} is not in the page map")
                    continue
                for v in objs:
                    claim(v, f"span {s:#x} free list")
                    slot_ok(v, cl, f"span {s:#x} free list")
                span_free[i] = len(objs)
                nfree += len(objs)
        if mc.read_uint(cbase + Mc.offset("nfree"), 4) != nfree:
            errs.append(f"central[{cl}].nfree = {mc.read_uint(cbase + Mc.offset('nfree'), 4)}, "
                        f"its spans hold {nfree}")

    bases, sizes = h.objects()
    alloc_set = set(bases.tolist())
    nogc_n = nogc_bytes = 0
    reclaim = set()
    s = h.hfield("reclaim")
    while s:
        reclaim.add(s)
        s = mc.read_ptr(s + S.offset("next"))
    for i in inuse:
        cl = int(h.sp_class[i])
        start = int(h.sp_start[i])
        if cl == 0:
            if start not in alloc_set and int(h.span_addr[i]) not in reclaim:
                nogc_n += 1                                    # a large stack segment
                nogc_bytes += int(h.sp_size[i])
            continue
        if i not in span_free:
            errs.append(f"span {int(h.span_addr[i]):#x} (class {cl}) is on neither list of its MCentral")
            continue
        size, limit = int(h.sp_size[i]), int(h.sp_limit[i])
        slots = np.arange(start, limit, size, dtype=np.uint64)
        nobj = len(slots)
        if int(h.sp_ref[i]) != nobj - span_free[i]:
            errs.append(f"span {int(h.span_addr[i]):#x}: ref {int(h.sp_ref[i])}, {nobj} objects, "
                        f"{span_free[i]} on its free list")
        alloc = h._bits(slots, 0).astype(bool)
        boundary = h._bits(slots, 1).astype(bool)
        listed = np.array([int(v) in where for v in slots.tolist()], dtype=bool)
        if (alloc & listed).any():
            errs.append(f"span {int(h.span_addr[i]):#x}: allocated object on a free list")
        unaccounted = ~alloc & ~listed
        if (unaccounted & ~boundary).any():
            v = int(slots[unaccounted & ~boundary][0])
            errs.append(f"object {v:#x} is neither allocated nor on a free list nor a block")
        nogc = unaccounted & boundary
        nogc_n += int(nogc.sum())
        nogc_bytes += int(nogc.sum()) * size
    want_alloc = int(sizes.sum()) + nogc_bytes
    want_n = len(bases) + nogc_n
    if stats["heap_alloc"] != want_alloc:
        errs.append(f"mstats.heap_alloc = {stats['heap_alloc']}, objects and blocks hold {want_alloc}")
    if stats["heap_objects"] != want_n:
        errs.append(f"mstats.heap_objects = {stats['heap_objects']}, there are {want_n}")
    if stats["alloc"] != stats["heap_alloc"]:
        errs.append(f"mstats.alloc = {stats['alloc']} != heap_alloc {stats['heap_alloc']}")
    return errs


class HeapInconsistent(AssertionError):
    """The allocator's state broke an invariant (raised by ``checked`` collectors)."""


def checked(collect):
    """Wrap a collector ``collect(mc, sp)`` so that the heap is checked after
    every collection; for tests (``tests/gc/conftest.py``)."""
    def run(mc, sp, *args, **kw):
        from .heap import Heap
        rep = collect(mc, sp, *args, **kw)
        errs = Heap(mc).check()
        if errs:
            raise HeapInconsistent(f"after collection {rep.index}: " + "; ".join(errs[:10]))
        return rep
    return run
