"""Recursion 10,000 frames deep over many segments, and every segment given back.

programs/sum_<arch>.s: sum(n) = n + sum(n-1) with a small frame, so it splits
only when a segment is full.  The number of splits is predicted by replaying
the prologue check and newstack's placement rules from the SP main calls from;
at the deepest point the Stktop chain must hold one segment per split plus the
first; on the way back every segment is freed and g's bounds return to the
first segment.
"""
from __future__ import annotations

import pytest
from test_runtime_support import (
    ARCHES,
    SIZEOF_STKTOP,
    STACK_GUARD,
    VARIANTS,
    SpAt,
    call_sites,
    frame_below_entry,
    machine,
    more_sizes,
    mstats,
    prologue_splits,
    run,
    segment_bytes,
    sp_after_split,
    stack_freelist,
)

N = 10_000
SUM = {"amd64": (16, 16), "arm": (8, 8)}      # sum's TEXT $frame-args


def predicted_splits(arch: str, sp_call: int, guard: int, calls: int) -> int:
    """Replay `calls` nested calls to sum from SP sp_call with g->stackguard guard."""
    frame, args = SUM[arch]
    free = segment_bytes(*more_sizes(arch, frame, args))
    splits = 0
    sp = sp_call
    for _ in range(calls):
        if prologue_splits(arch, frame, sp, guard):
            splits += 1
            stk = 0                                   # relative to the new segment
            top = stk + free - SIZEOF_STKTOP[arch]
            guard = stk + STACK_GUARD
            sp = sp_after_split(arch, top, args) - frame_below_entry(arch, frame)
        else:
            sp = sp - (8 if arch == "amd64" else 0) - frame_below_entry(arch, frame)
    return splits


def chain(mc, g: int) -> list[tuple[int, int]]:
    """(stackbase, stackguard) of every segment of g, newest first, by the Stktop links."""
    out = []
    base, guard = mc.field("G", g, "stackbase"), mc.field("G", g, "stackguard")
    while base:
        out.append((base, guard))
        st = mc.struct("Stktop", base)
        base, guard = st["stackbase"], st["stackguard"]
    return out


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("arch", ARCHES)
def test_deep_recursion_frees_every_segment(arch, variant):
    mc = machine(arch, variant, "sum")
    [(call_at, _ret)] = call_sites(mc, "main", "sum")
    at_call = SpAt(mc, call_at)
    deepest: dict[str, object] = {}

    def at_sum(_a):
        # sum's body with n == 0: the deepest frame.
        n = mc.read_ptr(mc.sp + mc.image.functions["sum"].fp_offset)
        if n == 0:
            deepest["chain"] = chain(mc, mc.g)
            deepest["inuse"] = mstats(mc)["stacks_inuse"]
    mc.hooks.at(mc.image.functions["sum"].body_start, at_sum)
    res = run(mc)

    assert res.output == [str(N * (N + 1) // 2)]
    assert res.exit_status == 0
    [(sp_call, guard)] = at_call.seen
    want = predicted_splits(arch, sp_call, guard, N + 1)
    assert want > 20, "10,000 frames must span many segments"
    assert res.splits == want and res.unsplits == want
    # At the bottom: one segment per split plus the first, linked in order.
    segs = deepest["chain"]
    assert len(segs) == want + 1
    assert len({b for b, _ in segs}) == len(segs)
    free = segment_bytes(*more_sizes(arch, *SUM[arch]))
    assert deepest["inuse"] == 4096 + want * free
    # Everything but the goroutine's first segment came back.
    st = mstats(mc)
    assert st["nstackalloc"] == want + 1 == res.segments_allocated
    assert st["nstackfree"] == st["nstackalloc"] - 1 == res.segments_freed
    assert st["stacks_inuse"] == 4096
    g1 = mc.main_g
    stk0 = mc.field("G", g1, "stack0")
    # ... onto m0's FixAlloc free list (the first segment stays in use)
    freed = stack_freelist(mc)
    assert sorted(freed) == sorted(guard - STACK_GUARD for _base, guard in segs[:-1])
    assert stk0 not in freed and mc.field("FixAlloc", mc.image.symbols["stackfixalloc"], "inuse") == 4096
    # g's bounds are the first segment's again.
    assert mc.field("G", g1, "stackbase") == stk0 + 4096 - SIZEOF_STKTOP[arch]
    assert mc.field("G", g1, "stackguard") == stk0 + STACK_GUARD
    assert segs[-1] == (mc.field("G", g1, "stackbase"), mc.field("G", g1, "stackguard"))
