"""Calls that cross a segment boundary copy arguments in and results out.

programs/args_<arch>.s: every callee has a 4096-byte frame (StackBig), so its
prologue always calls morestack; `sel` picks the argument size: none, one
word, 24 bytes, 1000 bytes.  For each we check what the program prints, the
bytes on both sides of the boundary, the split/unsplit bookkeeping, which
morestack entry the prologue used, and the sizes newstack was handed.
"""
from __future__ import annotations

import pytest
from test_runtime_support import (
    ARCHES,
    PTR,
    VARIANTS,
    SplitProbe,
    amd64_entry,
    branch_target,
    call_sites,
    fp_at_body,
    machine,
    more_sizes,
    mstats,
    pattern,
    prologue,
    run,
    segment_bytes,
    signed,
    words,
)

FRAME = 4096
# sel -> (callee, argsize)
CASES = {
    "amd64": {0: ("f0", 0), 1: ("f8", 8), 2: ("f24", 24), 3: ("f1000", 1000)},
    "arm": {0: ("f0", 0), 1: ("f4", 4), 2: ("f24", 24), 3: ("f1000", 1000)},
}


def arg_words_in(arch: str, sel: int) -> list[int] | None:
    """The argument words main stores before the call (None: no arguments)."""
    p = PTR[arch]
    if sel == 0:
        return None
    if sel == 1:
        return [0x123456789 if arch == "amd64" else 0x12345678]
    if sel == 2:
        ins = [7, 11] if arch == "amd64" else [7, 11, 13, 17, 19]
        return ins + [(1 << 8 * p) - 1]                       # the result slot starts as -1
    return [pattern(arch, i) for i in range(1000 // p)]


def arg_words_out(arch: str, sel: int) -> list[int] | None:
    """The same words once the call has returned to main."""
    mask = (1 << 8 * PTR[arch]) - 1
    ins = arg_words_in(arch, sel)
    if ins is None:
        return None
    if sel == 1:
        return [(ins[0] * 3 + 1) & mask]
    if sel == 2:
        return ins[:-1] + [sum((i + 1) * w for i, w in enumerate(ins[:-1])) & mask]
    return [(w + 0x100000) & mask for w in ins]


def expected_output(arch: str, sel: int) -> list[str]:
    if sel == 0:
        return [str(0x0F0F)]
    ins, outs = arg_words_in(arch, sel), arg_words_out(arch, sel)
    if sel == 1:
        return [str(signed(ins[0], arch)), str(signed(outs[0], arch))]
    if sel == 2:
        return [str(signed(w, arch)) for w in outs]
    n = len(ins)
    return [str(n), "0", str(n), "0"]


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("sel", [0, 1, 2, 3], ids=["args0", "args1word", "args24", "args1000"])
@pytest.mark.parametrize("arch", ARCHES)
def test_call_across_segment(arch, sel, variant):
    callee, argsize = CASES[arch][sel]
    nwords = argsize // PTR[arch]
    mc = machine(arch, variant, "args", sel=sel)
    probe = SplitProbe(mc)
    [(call_at, ret_at)] = call_sites(mc, "main", callee)
    argoff = 0 if arch == "amd64" else 4            # the caller's argument area: 0(SP) / 4(SP)
    seen: dict[str, object] = {}

    def at_call(_a):
        seen["caller_sp"] = mc.sp
        seen["before"] = words(mc, mc.sp + argoff, nwords)

    def at_body(_a):
        g = mc.g
        top = mc.field("G", g, "stackbase")
        f = mc.image.functions[callee]
        seen["fp"] = mc.sp + f.fp_offset            # 0(FP) as the callee addresses it
        seen["top"] = top
        seen["inside"] = words(mc, top - argsize, nwords)
        seen["stktop"] = mc.struct("Stktop", top)

    def at_return(_a):
        seen["after_sp"] = mc.sp
        seen["after"] = words(mc, mc.sp + argoff, nwords)

    mc.hooks.at(call_at, at_call)
    mc.hooks.at(mc.image.functions[callee].body_start, at_body)
    mc.hooks.at(ret_at, at_return)
    entries: dict[str, int] = {}
    if arch == "amd64":
        for name in ("morestack00", "morestack01", "morestack10", "morestack11",
                     *(f"morestack{8 * n}" for n in range(1, 7))):
            mc.hooks.at(mc.image.symbols[name], lambda _a, name=name: entries.__setitem__(
                name, entries.get(name, 0) + 1))
    res = run(mc)

    # What the program printed, and a clean exit.
    assert res.output == expected_output(arch, sel)
    assert res.exit_status == 0
    # One split, one unsplit, and the segment handed back.
    assert (res.splits, res.unsplits) == (1, 1)
    assert (res.segments_allocated, res.segments_freed) == (2, 1)
    assert mstats(mc)["stacks_inuse"] == 4096
    # newstack got the sizes the prologue is defined to pass ...
    ev = probe.splits[0]["event"]
    assert (ev["framesize"], ev["argsize"]) == more_sizes(arch, FRAME, argsize)
    # ... and the callee's arguments sit just below its segment's Stktop, as copies.
    assert seen["fp"] == fp_at_body(arch, seen["top"], argsize)
    assert seen["top"] != probe.splits[0]["stackbase"]
    want_in, want_out = arg_words_in(arch, sel), arg_words_out(arch, sel)
    if want_in is not None:
        assert seen["before"] == want_in
        assert seen["inside"] == want_in
        assert seen["after"] == want_out
    # Resumed with the SP it called from.
    assert seen["after_sp"] == seen["caller_sp"]

    if arch == "amd64":
        name, ax = amd64_entry(FRAME, argsize)
        pro = prologue(mc, callee)
        calls = [branch_target(t) for _a, t in pro if t.startswith("call")]
        assert calls == [mc.image.symbols[name]]
        assert not any(t.startswith("cmp") for _a, t in pro), "a huge frame has no compare"
        loads = [t for _a, t in pro if t.startswith(("mov eax", "movabs rax", "mov rax"))]
        if ax is None:
            assert loads == []
        else:
            assert len(loads) == 1 and int(loads[0].split(",")[1], 0) == ax
        assert entries == {name: 1}
    else:
        pro = [t for _a, t in prologue(mc, callee)]
        assert any(t.startswith("bl ") for t in pro), "a huge frame calls morestack unconditionally"
        assert not any(t.startswith("cmp") for t in pro)
    # The split's record of the caller: the SP it called from and where it resumes.
    rec = probe.splits[0]
    assert rec["morebuf.sp"] == seen["caller_sp"]
    assert rec["morebuf.pc"] == ret_at
    assert rec["moreargp"] == seen["caller_sp"] + argoff
    assert seen["stktop"]["free"] == segment_bytes(*more_sizes(arch, FRAME, argsize))
    assert seen["stktop"]["argsize"] == argsize
