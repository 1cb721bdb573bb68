"""The Stktop newstack writes at the top of each new segment, field by field,
and the goroutine's bounds as segments come and go.

programs/exit_<arch>.s (sel=0): main -> outer -> inner, both with 4096-byte
frames, so the program runs on three segments at its deepest.  The Stktop is
read at the first instruction of each callee's body, right after newstack
wrote it and gogocall jumped to morepc; the expected values come from the
split's own inputs (m->morebuf, m->moreargp, g's bounds before the split) and
from the rules (newstack in Go 1.0's src/pkg/runtime/proc.c).
"""
from __future__ import annotations

import pytest
from test_runtime_support import (
    ARCHES,
    SIZEOF_STKTOP,
    STACK_GUARD,
    SpAt,
    SplitProbe,
    call_sites,
    frame_below_entry,
    machine,
    more_sizes,
    run,
    segment_bytes,
    segment_home_ok,
    sp_after_split,
)


@pytest.mark.parametrize("arch", ARCHES)
def test_stktop_fields_and_chain(arch):
    mc = machine(arch, "buggy", "exit", sel=0)
    outer = SplitProbe(mc, "outer")
    inner = SplitProbe(mc, "inner")
    splits = outer.splits                    # both probes see every split; use one list
    [(call_outer, ret_outer)] = call_sites(mc, "main", "outer")
    [(call_inner, ret_inner)] = call_sites(mc, "outer", "inner")
    sp_main = SpAt(mc, call_outer)
    sp_outer = SpAt(mc, call_inner)
    back_in_outer = SpAt(mc, ret_inner)
    back_in_main = SpAt(mc, ret_outer)
    bounds: dict[str, tuple[int, int]] = {}

    def remember(which):
        def hook(_a):
            g = mc.g
            bounds[which] = (mc.field("G", g, "stackbase"), mc.field("G", g, "stackguard"))
        return hook
    mc.hooks.at(ret_inner, remember("after_inner"))
    mc.hooks.at(ret_outer, remember("after_outer"))
    res = run(mc)
    assert res.output == ["0", "1", "2"] and res.exit_status == 0
    assert res.splits == 2 and len(splits) == 2

    g1 = mc.main_g
    argoff = 0 if arch == "amd64" else 4
    free = segment_bytes(*more_sizes(arch, 4096, 0))
    levels = [("outer", outer.bodies[0], splits[0], sp_main.seen[0][0], ret_outer),
              ("inner", inner.bodies[0], splits[1], sp_outer.seen[0][0], ret_inner)]
    for name, body, split, caller_sp, ret_pc in levels:
        top = body["stackbase"]
        stk = top + SIZEOF_STKTOP[arch] - free
        st = body["stktop"]
        # The link to the older segment: g's bounds just before the split.
        assert (st["stackbase"], st["stackguard"]) == (split["stackbase"], split["stackguard"]), name
        # The caller's gobuf is m->morebuf, and m->morebuf is what the rules say.
        assert (st["gobuf.sp"], st["gobuf.pc"], st["gobuf.g"]) == \
            (split["morebuf.sp"], split["morebuf.pc"], split["morebuf.g"]), name
        assert (st["gobuf.sp"], st["gobuf.pc"], st["gobuf.g"]) == (caller_sp, ret_pc, g1), name
        assert st["argp"] == split["moreargp"] == caller_sp + argoff, name
        assert st["argsize"] == 0 and st["free"] == free and st["panic"] == 0, name
        # g now describes the new segment.
        assert body["g"] == g1
        assert body["stackguard"] == stk + STACK_GUARD, name
        assert segment_home_ok(mc, stk, free), name
        # The callee runs just below the Stktop with lessstack as its return address.
        sp = body["sp"]
        assert sp == sp_after_split(arch, top, 0) - frame_below_entry(arch, 4096), name
    # The chain: inner's Stktop links to outer's segment, outer's to the first one.
    assert inner.bodies[0]["stktop"]["stackbase"] == outer.bodies[0]["stackbase"]
    assert inner.bodies[0]["stktop"]["stackguard"] == outer.bodies[0]["stackguard"]
    first = (splits[0]["stackbase"], splits[0]["stackguard"])
    assert first[0] == mc.field("G", g1, "stack0") + 4096 - SIZEOF_STKTOP[arch]
    # Returning unwinds the bounds one segment at a time, to the same SPs.
    assert bounds["after_inner"] == (outer.bodies[0]["stackbase"], outer.bodies[0]["stackguard"])
    assert bounds["after_outer"] == first
    assert back_in_outer.seen[0][0] == sp_outer.seen[0][0]
    assert back_in_main.seen[0][0] == sp_main.seen[0][0]
    assert (mc.field("G", g1, "stackbase"), mc.field("G", g1, "stackguard")) == first


@pytest.mark.parametrize("arch", ARCHES)
def test_new_segment_return_slot_is_lessstack(arch):
    """newstack step 10: the callee resumes with lessstack as its return address,
    pushed by gogocall on amd64, in LR (saved by the callee's prologue) on ARM,
    which also has the nil stand-in for a caller's saved-LR slot (step 9)."""
    mc = machine(arch, "buggy", "args", sel=2)
    slots: dict[str, int] = {}
    f = mc.image.functions["f24"]

    def at_body(_a):
        top = mc.field("G", mc.g, "stackbase")
        if arch == "amd64":
            slots["ret"] = mc.read_ptr(top - 24 - 8)
        else:
            slots["nil"] = mc.read_ptr(top - 24 - 4)
            slots["ret"] = mc.read_ptr(mc.sp)          # the prologue's MOVW.W R14, -autosize(SP)
    mc.hooks.at(f.body_start, at_body)
    run(mc)
    assert slots["ret"] == mc.image.symbols["lessstack"]
    if arch == "arm":
        assert slots["nil"] == 0
