"""Runs without Unicorn's instruction count (emu/engine.py ``Engine._free``).

A long run on the native engine goes without Unicorn's count: the C block
hook stops it before the block that would end past the count, and the rest
of that block runs with Unicorn's count.  Unicorn 2.1.4 adds its count hook
without dropping blocks translated before, so a counted run after a count-free
one used to run those blocks uncounted, past its count (a 200,000-instruction
budget ran on to the runtime's out-of-memory throw).  Every run must stop at
exactly its count, on both engines, whatever came before it."""
import random
from pathlib import Path

import pytest

from emu.cycles.hotsplit import program
from emu.engine import Engine
from emu.errors import BudgetExhausted
from emu.machine import Machine
from emu.run import load_program, new_machine

ROOT = Path(__file__).resolve().parents[2]
FREE = Engine.FREE_RUN

# a one-block loop of three instructions: Unicorn chains its translation to itself
LOOP = {
    "amd64": "TEXT main, $16-0\nloop:\n\tadd rax, 1\n\tcmp rax, 0\n\tjne loop\n\tRET\n",
    "arm": "TEXT main, $16-0\nloop:\n\tadd r0, r0, #1\n\tcmp r0, #0\n\tbne loop\n\tRET\n",
}


def _machines(arch, text, name, budget=10**9, collector=True):
    img = new_machine(arch, "buggy", load_program(None, text=text, name=name)).image
    out = {}
    for engine in ("python", "native"):
        mc = Machine(img, budget, engine=engine)
        if collector:
            from emu.gc import attach
            attach(mc)
        out[engine] = mc
    return out


@pytest.mark.parametrize("arch", ["amd64", "arm"])
@pytest.mark.parametrize("budget", [1000, FREE, FREE + 1, FREE + 2, 100_003, 200_000])
def test_budget_in_a_tight_loop_stops_at_exactly_the_budget(arch, budget):
    ms = _machines(arch, LOOP[arch], "loop.s", budget)
    regs = {}
    for engine, mc in ms.items():
        with pytest.raises(BudgetExhausted, match=str(budget)):
            mc.run()
        assert mc.icount == budget
        regs[engine] = mc.regs()
    assert regs["native"] == regs["python"]
    if budget >= FREE:
        assert ms["native"].engine._uncounted_tbs        # the native run did go without Unicorn's count


@pytest.mark.parametrize("arch", ["amd64", "arm"])
def test_small_budget_unbounded_recursion_stops_at_the_budget(arch):
    """The case that failed: each call takes a new segment; the arena would run
    out (an out-of-memory throw) long after the budget."""
    text = (ROOT / "tests" / "runtime" / "programs" / f"overflow_{arch}.s").read_text()
    ms = _machines(arch, text, "overflow.s", 200_000)
    regs = {}
    for engine, mc in ms.items():
        addr, size = mc.image.data["sel"]
        mc.write(addr, (1).to_bytes(size, "little"))
        with pytest.raises(BudgetExhausted, match="200000"):
            mc.run()
        assert mc.icount == 200_000
        regs[engine] = mc.regs()
    assert regs["native"] == regs["python"]
    assert ms["native"].events == ms["python"].events


@pytest.mark.parametrize("arch", ["amd64", "arm"])
def test_counted_and_count_free_runs_mixed_stop_exactly(arch):
    """Short (counted) and long (count-free) runs in any order: the count is
    exactly what was asked and both engines agree on pc, registers and events."""
    ms = _machines(arch, program(arch, True, 1500), "hs.s")
    rnd = random.Random(5)
    sizes = [1, 7, 333, FREE, FREE + 1, 70_001, 100_000]
    total = 0
    while True:
        k = rnd.choice(sizes)
        outs = {e: mc.engine.run(k) for e, mc in ms.items()}
        assert outs["python"].why == outs["native"].why
        if outs["python"].why == "exited":
            break
        assert outs["native"].why == "count"
        total += k
        for mc in ms.values():
            assert mc.icount == total
        assert ms["python"].regs() == ms["native"].regs()
        evs = {e: mc.events for e, mc in ms.items()}       # drains the native ring at every stop
        assert len(evs["python"]) == len(evs["native"]) and evs["python"][-1:] == evs["native"][-1:]
    assert ms["python"].icount == ms["native"].icount > 400_000
    assert ms["python"].events == ms["native"].events
    assert ms["python"].output == ms["native"].output


@pytest.mark.parametrize("arch", ["amd64", "arm"])
def test_count_free_run_stops_at_hooks_and_until_exactly(arch):
    """A long run stopped by the ``until`` address or by a hook's stop request
    ends where the reference's counted run ends."""
    ms = _machines(arch, program(arch, True, 400), "hs.s")
    target = ms["python"].image.symbols["oldstack"]
    for mc in ms.values():
        mc.engine.run(FREE + 11)                 # somewhere in the middle
        out = mc.engine.run(10**7, until=target)
        assert out.why == "until" and mc.pc == target
    assert ms["python"].icount == ms["native"].icount
    for mc in ms.values():
        seen = []

        def stop(_addr, mc=mc, seen=seen):
            seen.append(mc.position())
            mc.engine.request_stop()
        h = mc.hooks.at(mc.image.symbols["lessstack"], stop)
        out = mc.engine.run(10**7)
        mc.hooks.remove(h)
        assert out.why == "hit" and seen == [mc.icount]
    assert ms["python"].icount == ms["native"].icount
    assert ms["python"].regs() == ms["native"].regs()


def test_debugger_goto_far_and_back_is_exact():
    """The debugger with a long snapshot interval runs count-free between
    snapshots; positions stay exact (goto, stepi, reverse-stepi)."""
    from emu.debugger import Debugger
    arch = "amd64"
    ms = _machines(arch, program(arch, True, 600), "hs.s")
    seen = {}
    for engine, mc in ms.items():
        d = Debugger(mc, snap_interval=FREE * 2)
        got = []
        for n in (150_005, 17, FREE + 1, 200_002):
            d.goto(n)
            assert d.n == mc.icount == n
            got.append((n, mc.regs()))
        d.stepi(3)
        d.reverse_stepi(2)
        got.append((d.n, mc.regs()))
        seen[engine] = got
    assert seen["native"] == seen["python"]
