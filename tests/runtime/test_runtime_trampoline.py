"""The split-check prologues 6l and 5l insert, run: which frames split, through
which morestack entry, with which sizes, and how big a segment newstack makes.

programs/tramp_<arch>.s lists callees fNNN_AA (TEXT $NNN-AA) in `fns`; the
test picks one with `sel`.  With low=1 main calls it with SP lowered to the
segment's stackguard, so even the smallest frame must split; with low=0 main
calls from where it stands, with most of the first segment free.  Each
callee prints the sum of its argument words and adds 100 to each; main prints
the sum of the eight words it passed afterwards.
"""
from __future__ import annotations

import pytest
from test_runtime_support import (
    PTR,
    SIZEOF_STKTOP,
    STACK_BIG,
    STACK_GUARD,
    STACK_SMALL,
    SpAt,
    SplitProbe,
    amd64_entry,
    arm_autosize,
    branch_target,
    frame_below_entry,
    machine,
    more_sizes,
    mstats,
    prologue,
    prologue_splits,
    run,
    segment_bytes,
    segment_home_ok,
    sp_after_split,
)

CALLEES = {
    "amd64": [(8, 0), (8, 8), (8, 24), (8, 48), (8, 56), (200, 24), (3936, 0), (3936, 8), (4000, 0),
              (4096, 24)],
    "arm": [(8, 0), (8, 4), (8, 24), (200, 24), (4000, 16), (4088, 8), (4092, 8)],
}
PARAMS = [pytest.param(arch, i, low, id=f"{arch}-f{fr}_{ar}-{'low' if low else 'room'}")
          for arch in CALLEES for i, (fr, ar) in enumerate(CALLEES[arch]) for low in (1, 0)]
# What the callee itself calls after its body starts: runtime.printint, $0-8 on
# amd64 (split-checked) and $0-4 on ARM (a frameless leaf: no check).
PRINTINT = {"amd64": (0, 8, False), "arm": (0, 4, True)}


def expected_splits(arch: str, frame: int, args: int, sp_call: int, guard: int) -> list[tuple[int, int]]:
    """The (moreframesize, moreargsize) of every split the call makes, from the rules."""
    out = []
    if prologue_splits(arch, frame, sp_call, guard):
        sizes = more_sizes(arch, frame, args)
        out.append(sizes)
        free = segment_bytes(*sizes)
        stk = 0                                      # positions relative to the new segment
        top = stk + free - SIZEOF_STKTOP[arch]
        sp = sp_after_split(arch, top, args) - frame_below_entry(arch, frame)
        guard = stk + STACK_GUARD
    else:
        sp = sp_call - (8 if arch == "amd64" else 0) - frame_below_entry(arch, frame)
    pf, pa, leaf = PRINTINT[arch]
    if prologue_splits(arch, pf, sp, guard, leaf=leaf):
        out.append(more_sizes(arch, pf, pa) if arch == "amd64" else (arm_autosize(pf) + 160, pa))
    return out


@pytest.mark.parametrize("arch,sel,low", PARAMS)
def test_prologue_split_and_segment(arch, sel, low):
    frame, args = CALLEES[arch][sel]
    callee = f"f{frame}_{args}"
    mc = machine(arch, "buggy", "tramp", sel=sel, low=low, lowoff=0 if arch == "amd64" else -4)
    # The table entry the program will call is this callee.
    fns = mc.image.data["fns"][0]
    assert mc.read_ptr(fns + sel * PTR[arch]) == mc.image.symbols[callee]
    indirect = [a for a, _f, _l, o, t in mc.image.functions["main"].lines
                if o == "source" and t in ("call rbx", "blx r5")]
    assert len(indirect) == 1
    at_call = SpAt(mc, indirect[0])
    probe = SplitProbe(mc, callee)
    entries: dict[str, int] = {}
    if arch == "amd64":
        for name in [s for s in mc.image.symbols if s.startswith("morestack") and s != "morestack"]:
            mc.hooks.at(mc.image.symbols[name], lambda _a, name=name: entries.__setitem__(
                name, entries.get(name, 0) + 1))
    res = run(mc)

    n = args // PTR[arch]
    assert res.output == [str(n * (n + 1) // 2), str(36 + 100 * n)]
    assert res.exit_status == 0

    [(sp_call, guard)] = at_call.seen
    want = expected_splits(arch, frame, args, sp_call, guard)
    if low:
        assert want, "the test set-up must force the first split"
    assert [(e.detail["framesize"], e.detail["argsize"]) for e in res.events if e.kind == "split"] == want
    assert res.unsplits == res.splits == len(want)
    st = mstats(mc)
    assert (st["nstackalloc"], st["nstackfree"]) == (1 + len(want), len(want))

    [body] = probe.bodies
    first_split = bool(want) and want[0] == more_sizes(arch, frame, args)
    if first_split:
        free = segment_bytes(*want[0])
        top = body["stackbase"]
        stk = top + SIZEOF_STKTOP[arch] - free
        assert body["stktop"]["free"] == free
        assert body["stackguard"] == stk + STACK_GUARD
        assert segment_home_ok(mc, stk, free)
        assert body["sp"] == sp_after_split(arch, top, args) - frame_below_entry(arch, frame)
    else:
        assert body["nsplits"] == 0 and body["nstackalloc"] == 1

    # The prologue itself, instruction by instruction where it matters.
    pro = [t for _a, t in prologue(mc, callee)]
    if arch == "amd64":
        name, ax = amd64_entry(frame, args)
        assert [branch_target(t) for t in pro if t.startswith("call")] == [mc.image.symbols[name]]
        loads = [t for t in pro if t.startswith(("mov eax", "movabs rax", "mov rax"))]
        assert [int(t.split(",")[1], 0) for t in loads] == ([] if ax is None else [ax])
        if frame >= STACK_BIG:
            assert not any(t.startswith(("cmp", "lea")) for t in pro)
        elif frame <= STACK_SMALL:
            assert "cmp rsp, qword ptr [rcx]" in pro and not any(t.startswith("lea") for t in pro)
        else:
            assert f"lea rax, [rsp - {frame - STACK_SMALL:#x}]" in pro
        if first_split:
            assert entries.get(name) == 1
    else:
        autosize = arm_autosize(frame)
        bls = [t for t in pro if t.startswith("bl")]
        assert [branch_target(t) for t in bls] == [mc.image.symbols["morestack"]]
        if autosize >= STACK_BIG:
            assert bls[0].startswith("bl ") and not any(t.startswith("cmp") for t in pro)
        else:
            assert bls[0].startswith("bllo ")
            assert ("cmp sp, r1" in pro) == (autosize < STACK_SMALL)
            assert ("cmp r2, r1" in pro) == (autosize >= STACK_SMALL)


def edge_offsets(arch: str, frame: int) -> tuple[int, int]:
    """Two SPs (as offsets from stackguard) one word apart, on either side of
    the prologue's compare: (just splits, just does not)."""
    if arch == "amd64":
        # JHI skips the call when SP (after the CALL's push), less frame-128 for a
        # large frame, is strictly above stackguard.
        below = 8 + (frame - STACK_SMALL if frame > STACK_SMALL else 0)
        return below, below + 8
    autosize = arm_autosize(frame)
    # BL.LO calls when SP (less autosize for a large frame) is strictly below stackguard.
    at = autosize if autosize >= STACK_SMALL else 0
    return at - 4, at


EDGE_CALLEES = {"amd64": [(8, 24), (200, 24)], "arm": [(8, 24), (200, 24)]}


@pytest.mark.parametrize("side", [0, 1], ids=["splits", "fits"])
@pytest.mark.parametrize("arch,frame,args", [(a, f, x) for a in EDGE_CALLEES for f, x in EDGE_CALLEES[a]])
def test_split_check_edge(arch, frame, args, side):
    """The compare's exact edge: one word lower splits, one word higher does not."""
    sel = CALLEES[arch].index((frame, args))
    lowoff = edge_offsets(arch, frame)[side]
    mc = machine(arch, "buggy", "tramp", sel=sel, low=1, lowoff=lowoff)
    indirect = [a for a, _f, _l, o, t in mc.image.functions["main"].lines
                if o == "source" and t in ("call rbx", "blx r5")]
    at_call = SpAt(mc, indirect[0])
    res = run(mc)
    [(sp_call, guard)] = at_call.seen
    assert sp_call == guard + lowoff
    assert prologue_splits(arch, frame, sp_call, guard) == (side == 0)
    splits = [(e.detail["framesize"], e.detail["argsize"]) for e in res.events if e.kind == "split"]
    assert splits == expected_splits(arch, frame, args, sp_call, guard)
    assert (splits[:1] == [more_sizes(arch, frame, args)]) == (side == 0)
    n = args // PTR[arch]
    assert res.output == [str(n * (n + 1) // 2), str(36 + 100 * n)]
