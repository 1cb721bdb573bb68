"""Runaway recursion ends in a typed error, never a hang.

programs/overflow_<arch>.s, sel=0: a NOSPLIT function recurses far below the
bottom of the first segment, then calls a split-checked function; newstack
finds the caller's SP below stackguard - StackGuard and throws "split stack
overflow" (newstack's first check, in Go 1.0's src/pkg/runtime/proc.c).  sel=1: a split-checked
function with a 262144-byte frame calls itself forever; each call takes a new
segment -- a heap block of whole pages, since it is larger than FixedStack --
until the arena runs out and mallocgc throws Go 1.0's "out of memory" (or,
with a small budget, the instruction budget runs out first).
"""
from __future__ import annotations

import pytest
from test_runtime_support import (
    ARCHES,
    STACK_GUARD,
    SpAt,
    call_sites,
    frame_below_entry,
    machine,
    more_sizes,
    morepc_of,
    run,
    segment_bytes,
)

from emu.errors import BudgetExhausted, RuntimeThrow

DEPTH = 100                                   # the program's default dive depth
DIVE_FRAME = {"amd64": 72, "arm": 68}         # dive's TEXT $frame
INF_FRAME = 262144                            # inf's TEXT $frame


@pytest.mark.parametrize("arch", ARCHES)
def test_nosplit_overrun_throws_split_stack_overflow(arch):
    mc = machine(arch, "buggy", "overflow", sel=0)
    [(_c, ret_in_dive)] = call_sites(mc, "dive", "victim")
    [(call_dive, _r)] = call_sites(mc, "main", "dive")
    at_call = SpAt(mc, call_dive)
    with pytest.raises(RuntimeThrow) as ei:
        run(mc)
    err = ei.value
    assert "split stack overflow" in str(err)
    # It is newstack's throw, raised on g0, about the main goroutine.
    assert err.pc is not None and err.symbol and err.symbol.startswith("throw")
    assert mc.g == mc.g0
    ev = [e for e in mc.events if e.kind == "split"]
    assert len(ev) == 1 and ev[0].detail["morepc"] == morepc_of(mc, "victim")
    # The caller's SP really was below the segment: that is the rule that fired.
    g1 = mc.main_g
    stk = mc.field("G", g1, "stackguard") - STACK_GUARD
    assert ev[0].detail["caller_sp"] < stk
    # ... exactly DEPTH + 1 NOSPLIT frames below where main called dive.
    step = (8 if arch == "amd64" else 0) + frame_below_entry(arch, DIVE_FRAME[arch])
    assert ev[0].detail["caller_sp"] == at_call.seen[0][0] - (DEPTH + 1) * step
    assert ev[0].detail["caller_pc"] == ret_in_dive
    # The backtrace: g0 first, then the goroutine from the split point, with segment numbers.
    bt = err.backtrace
    assert bt and bt[0].note == "on g0"
    frames = bt[1:]
    assert frames[0].symbol.startswith("victim")
    names = [f.symbol.split("+")[0] for f in frames]
    assert names[1:10] == ["dive"] * 9
    assert all(f.segment == 1 for f in frames), "one segment: the goroutine's first"


@pytest.mark.parametrize("arch", [
    "amd64",
    "arm",
])
def test_throw_reports_the_hypercall_instruction(arch):
    mc = machine(arch, "buggy", "overflow", sel=0)
    with pytest.raises(RuntimeThrow) as ei:
        run(mc)
    err = ei.value
    assert err.insn == ("syscall" if arch == "amd64" else "svc #0")
    assert err.registers[mc.arch.pc] == err.pc


@pytest.mark.parametrize("arch", ARCHES)
def test_unbounded_split_recursion_exhausts_stack_region(arch):
    mc = machine(arch, "buggy", "overflow", sel=1, budget=50_000_000)
    with pytest.raises(RuntimeThrow) as ei:
        run(mc)
    assert "runtime throw: out of memory" in str(ei.value)
    assert any("runtime: out of memory: cannot allocate" in line for line in mc.output)
    # Every call took a segment of the size the rules give, until none fitted.
    size = segment_bytes(*more_sizes(arch, INF_FRAME, 0))
    pages = -(-size // 4096)
    arena_pages = mc.arch.regions["arena"].size // 4096
    # Go 1.0's MHeap_Grow asks for whole 16-page multiples: the segments that fit
    # are those whose rounded growth still fits in the arena.
    fitted = arena_pages // pages
    rounded = -(-pages // 16) * 16
    splits = [e for e in mc.events if e.kind == "split"]
    assert (arena_pages - rounded) // pages <= len(splits) - 1 <= fitted   # the last split failed
    assert all((e.detail["framesize"], e.detail["argsize"]) == more_sizes(arch, INF_FRAME, 0) for e in splits)
    assert not any(e.kind == "unsplit" for e in mc.events)


@pytest.mark.parametrize("arch", ARCHES)
def test_unbounded_recursion_with_small_budget_is_budget_exhausted(arch):
    budget = 200_000
    mc = machine(arch, "buggy", "overflow", sel=1, budget=budget)
    with pytest.raises(BudgetExhausted) as ei:
        run(mc)
    assert str(budget) in str(ei.value)
    assert mc.icount >= budget
    assert sum(e.kind == "split" for e in mc.events) > 1
