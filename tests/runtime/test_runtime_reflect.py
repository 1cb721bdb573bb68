"""reflectcall(fn, arg, argsize): newstack's reflect path (moreframesize = 1).

With room on the current segment (morebuf.sp - sizeof(Stktop) - argsize - 32 >
stackguard) no segment is allocated: the Stktop goes just below the caller's
SP with free = 0.  Otherwise a segment of max(argsize + 1024, 4096) bytes.
Either way fn runs with the arguments copied below the Stktop, and its results
go back to the argument block (a GLOBL here) when it returns through lessstack.

programs/reflect_<arch>.s, by `sel`: 0 room, 1 a 4000-byte block (no room),
2 SP placed so that the room test is exactly false, 3 the same plus one word.
"""
from __future__ import annotations

import pytest
from test_runtime_support import (
    ARCHES,
    PTR,
    SIZEOF_STKTOP,
    STACK_GUARD,
    SpAt,
    SplitProbe,
    call_sites,
    machine,
    mstats,
    pattern,
    run,
    segment_bytes,
    signed,
    words,
)

CASES = {0: ("radd", None), 1: ("rbig", 4000), 2: ("radd", None), 3: ("radd", None)}
EXPECT_FAST = {0: True, 1: False, 2: False, 3: True}   # what the program set out to provoke


@pytest.mark.parametrize("sel", [0, 1, 2, 3], ids=["room", "big-args", "exactly-no-room", "one-word-of-room"])
@pytest.mark.parametrize("arch", ARCHES)
def test_reflectcall(arch, sel):
    fn, argsize = CASES[sel]
    p = PTR[arch]
    argsize = argsize or 3 * p
    mc = machine(arch, "buggy", "reflect", sel=sel)
    sites = call_sites(mc, "main", "reflectcall")
    at_call = [SpAt(mc, a) for a, _r in sites]
    probe = SplitProbe(mc, fn)
    blk = mc.image.data["blk"][0]
    res = run(mc)

    [(sp_call, guard)] = [s for h in at_call for s in h.seen]
    [ret_pc] = [r for (a, r), h in zip(sites, at_call) if h.seen]
    # The rule, applied to where the call was made.
    fast = sp_call - SIZEOF_STKTOP[arch] - argsize - 32 > guard
    assert fast == EXPECT_FAST[sel]

    assert res.exit_status == 0
    assert res.splits == 1 and res.unsplits == 1
    [split] = probe.splits
    assert (split["event"]["framesize"], split["event"]["argsize"]) == (1, argsize)
    assert split["morebuf.sp"] == sp_call and split["morebuf.pc"] == ret_pc
    assert split["moreargp"] == blk and split["morepc"] == mc.image.symbols[fn]
    [body] = probe.bodies
    st = body["stktop"]
    top = body["stackbase"]
    assert (st["stackbase"], st["stackguard"]) == (split["stackbase"], split["stackguard"])
    assert (st["gobuf.sp"], st["gobuf.pc"], st["gobuf.g"]) == (sp_call, ret_pc, mc.main_g)
    assert st["argp"] == blk and st["argsize"] == argsize
    stats = mstats(mc)
    if fast:
        # No new segment: the Stktop sits just below the caller's SP, bounds unchanged.
        assert st["free"] == 0
        assert top == sp_call - SIZEOF_STKTOP[arch]
        assert body["stackguard"] == guard
        assert body["nstackalloc"] == split["nstackalloc"] == 1
        assert (stats["nstackalloc"], stats["nstackfree"]) == (1, 0)
    else:
        free = segment_bytes(0, argsize)
        stk = top + SIZEOF_STKTOP[arch] - free
        assert st["free"] == free
        assert body["stackguard"] == stk + STACK_GUARD and stk % 4096 == 0
        assert body["nstackalloc"] == split["nstackalloc"] + 1 == 2
        assert (stats["nstackalloc"], stats["nstackfree"]) == (2, 1)
    assert stats["stacks_inuse"] == 4096
    # The arguments fn sees are copies just below the Stktop ...
    assert body["sp"] + mc.image.functions[fn].fp_offset == top - argsize
    # ... and its results came back to the block.
    g1 = mc.main_g
    assert mc.field("G", g1, "stackbase") == split["stackbase"]
    assert mc.field("G", g1, "stackguard") == split["stackguard"]
    if fn == "radd":
        assert words(mc, blk, 3) == [6, 5, 7 * 6 + 5]
        assert res.output == [str(7 * 6 + 5)]
    else:
        n = argsize // p
        mask = (1 << 8 * p) - 1
        assert words(mc, blk, n) == [(pattern(arch, i) + 0x100000) & mask for i in range(n)]
        assert signed(words(mc, mc.image.data["rbad"][0], 1)[0], arch) == 0
        assert res.output == []
