"""mcall, gogo, and the ways a program ends.

programs/mcall_<arch>.s: main calls mcall(ong0); ong0 (NOSPLIT asm) must run
on g0's stack with the old g as its argument, and resumes main with
gogo(&g->sched, 7) -- gogo takes its arguments on the stack, as from 6c/5c -- so main
sees mcall "return" with AX/R0 = 7.
programs/exit_<arch>.s: returning from main goes through goexit (status 0);
runtime.exit(3) two segments deep ends the run with status 3 at once.
"""
from __future__ import annotations

import pytest
from test_runtime_support import ARCHES, call_sites, machine, run


@pytest.mark.parametrize("arch", ARCHES)
def test_mcall_runs_fn_on_g0_and_gogo_resumes(arch):
    mc = machine(arch, "buggy", "mcall")
    [(call_mcall, resume)] = call_sites(mc, "main", "mcall")
    inside: list[dict] = []
    caller: list[int] = []
    f = mc.image.functions["ong0"]

    def at_ong0(_a):
        argp = mc.sp + f.fp_offset                 # 0(FP): mcall's argument to fn
        inside.append({"g": mc.g, "sp": mc.sp, "arg": mc.read_ptr(argp),
                       "fnreg": mc.reg("rdi" if arch == "amd64" else "r0")})
    mc.hooks.at(f.body_start, at_ong0)
    mc.hooks.at(call_mcall, lambda _a: caller.append(mc.sp))
    back: list[tuple[int, int, int]] = []
    mc.hooks.at(resume, lambda _a: back.append((mc.g, mc.sp, mc.reg(mc.arch.ret))))
    res = run(mc)

    assert res.output == ["1", "7", "3"]
    assert res.exit_status == 0
    assert res.splits == 0
    [seen] = inside
    g1 = mc.main_g
    assert seen["g"] == mc.g0                       # on the scheduler goroutine ...
    assert mc.arch.regions["g0stack"].contains(seen["sp"])   # ... and its stack
    assert seen["arg"] == g1                        # fn received the old g (on the stack, as in Go)
    assert seen["fnreg"] == f.addr                  # called through DI/R0 as Go's mcall did
    # The old g's sched is where mcall was called from.
    sched = mc.struct("G", g1)
    assert sched["sched.pc"] == resume
    assert sched["sched.sp"] == caller[0]
    assert sched["sched.g"] == g1
    assert mc.read_ptr(mc.image.data["seen"][0]) == g1
    # gogo resumed main on its own goroutine and stack, with its second argument in AX/R0.
    [(g, sp, ret)] = back
    assert g == g1 and sp == caller[0] and ret == 7


@pytest.mark.parametrize("arch", ARCHES)
def test_return_from_main_exits_zero_through_goexit(arch):
    mc = machine(arch, "fixed", "exit", sel=0)
    goexit: list[int] = []
    mc.hooks.at(mc.image.symbols["goexit"], lambda _a: goexit.append(mc.sp))
    res = run(mc)
    assert res.exit_status == 0
    assert res.output == ["0", "1", "2"]
    assert len(goexit) == 1
    assert (res.splits, res.unsplits) == (2, 2)
    assert [e.kind for e in res.events][-1] == "exit"
    assert res.events[-1].detail["status"] == 0


@pytest.mark.parametrize("arch", ARCHES)
def test_runtime_exit_status_from_two_segments_deep(arch):
    mc = machine(arch, "fixed", "exit", sel=1)
    goexit: list[int] = []
    mc.hooks.at(mc.image.symbols["goexit"], lambda _a: goexit.append(mc.sp))
    res = run(mc)
    assert res.exit_status == 3
    assert res.output == ["0"]                     # nothing after the exit runs
    assert goexit == []
    assert (res.splits, res.unsplits) == (2, 0)
    assert mc.exited
    assert res.events[-1].kind == "exit" and res.events[-1].detail["status"] == 3
