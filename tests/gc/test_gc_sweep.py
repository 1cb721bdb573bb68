"""The sweep is real: a freed slot is handed out again by the emulated
allocator, MStats follow the sweep, and objects reachable from a global survive
several collections with their contents intact."""
from __future__ import annotations

import numpy as np
import pytest
from test_gc_roots import alloc, call, clear_slot, func, run, slot_to_field, slot_to_global, slots

from emu.heap import Heap

# the program's own runtime.gc calls only (GOGC=off; tests/gc/conftest.py)
pytestmark = pytest.mark.usefixtures("gogc_off")

ARCHES = ("amd64", "arm")
VARIANTS = ("buggy", "fixed")


def mstats(mc) -> dict:
    return mc.struct("MStats", mc.image.symbols["mstats"])


@pytest.mark.parametrize("arch", ARCHES)
@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("size", [16, 48, 200, 1000])
def test_gc_sweep_reuses_freed_slot(arch, variant, size):
    _s0, s1, s2 = slots(arch)
    body = (alloc(arch, size, s1) + clear_slot(arch, s1) + [call(arch, "runtime.gc")]
            + alloc(arch, size, s2) + [call(arch, "runtime.gc")])
    seen = []
    res, mc, _ = run(arch, variant, func("main", "$64-0", body), before_gc=lambda m: seen.append(mstats(m)))
    assert res.splits == 0
    first, second = (int(x, 16) for x in res.output)
    rep1, rep2 = res.gcs
    assert [o.addr for o in rep1.freed] == [first]
    assert second == first, "the next new() of the same size must land in the freed slot"
    assert second in {o.addr for o in rep2.retained}
    freed_size = rep1.freed[0].size
    assert freed_size >= size
    # MStats: before gc 2 (after gc 1 and one more allocation) vs before gc 1
    b1, b2, end = seen[0], seen[1], mstats(mc)
    assert b1["heap_alloc"] == rep1.heap_before
    assert b2["nfree"] == b1["nfree"] + 1
    assert b2["nmalloc"] == b1["nmalloc"] + 1
    assert b2["heap_alloc"] == b1["heap_alloc"]          # one freed, one allocated, same class
    assert end["nfree"] == b2["nfree"]                    # gc 2 frees nothing
    assert end["ngc"] == 2
    assert rep1.heap_after == rep1.heap_before - freed_size


@pytest.mark.parametrize("arch", ARCHES)
@pytest.mark.parametrize("variant", VARIANTS)
def test_gc_sweep_mstats_exact(arch, variant):
    """Several objects freed in one collection: nfree and heap_alloc move by exactly that."""
    _s0, s1, s2 = slots(arch)
    body = []
    for size in (8, 24, 64, 128, 512):
        body += alloc(arch, size, s1)
    body += alloc(arch, 32, s2) + clear_slot(arch, s1) + [call(arch, "runtime.gc")]
    res, mc, _ = run(arch, variant, func("main", "$64-0", body))
    rep = res.gcs[0]
    *dead, kept = (int(x, 16) for x in res.output)
    # the last of the five is in slot s1 until cleared; all five are garbage, `kept` is in s2
    assert sorted(o.addr for o in rep.freed) == sorted(dead)
    assert kept in {o.addr for o in rep.retained}
    st = mstats(mc)
    assert st["nfree"] == 5
    assert st["heap_alloc"] == rep.heap_after == rep.heap_before - sum(o.size for o in rep.freed)


@pytest.mark.parametrize("arch", ARCHES)
@pytest.mark.parametrize("variant", VARIANTS)
def test_gc_sweep_reachable_survive_intact(arch, variant):
    """A 3-node list hangs off a global; garbage of the same size class is made and
    collected between three collections; the list's nodes are never freed, never
    handed out again, and their words (next pointers and values) are intact."""
    ps = 8 if arch == "amd64" else 4
    a, b, c = slots(arch)
    body = alloc(arch, 32, a) + alloc(arch, 32, b) + alloc(arch, 32, c)
    body += slot_to_field(arch, a, 0, b) + slot_to_field(arch, b, 0, c) + slot_to_global(arch, a, "head", 0)
    # values: node.+ps = its own address (a recognisable word)
    for s in (a, b, c):
        body += slot_to_field(arch, s, ps, s)
    body += clear_slot(arch, a) + clear_slot(arch, b) + clear_slot(arch, c)
    for _ in range(3):
        body += alloc(arch, 32, a) + alloc(arch, 32, b) + clear_slot(arch, a) + clear_slot(arch, b)
        body += [call(arch, "runtime.gc")]
    snaps = []

    def snap(m):
        snaps.append({n: (m.read_ptr(n), m.read_ptr(n + ps)) for n in nodes})

    nodes: list[int] = []

    def before(m):
        if not nodes:
            nodes.extend(int(x, 16) for x in m.output[:3])
        snap(m)

    res, mc, _ = run(arch, variant, "GLOBL head, $16\n" + func("main", "$64-0", body), before_gc=before)
    assert res.splits == 0
    out = [int(x, 16) for x in res.output]
    A, B, C = out[:3]
    garbage = out[3:]
    assert not {A, B, C} & set(garbage), "a live node was handed out again"
    assert len(res.gcs) == 3
    for i, rep in enumerate(res.gcs):
        assert not {A, B, C} & {o.addr for o in rep.freed}
        assert {A, B, C} <= {o.addr for o in rep.retained}
        # the garbage of this round is freed
        assert set(garbage[2 * i:2 * i + 2]) <= {o.addr for o in rep.freed}
    expect = {A: (B, A), B: (C, B), C: (0, C)}
    for s in snaps:
        assert s == expect
    assert {n: (mc.read_ptr(n), mc.read_ptr(n + ps)) for n in (A, B, C)} == expect
    # every round's garbage was swept back to the allocator (Go 1.0's MCache and span
    # free lists are LIFO, so the next round need not get the same two slots back)
    heap = Heap(mc)
    assert not heap.bases(np.array(garbage, dtype=np.uint64)).any()
    assert heap.check() == []
