"""Watchpoints with gdb's semantics: `watch` stops only on a write that
changes the value, `rwatch` on a read, `awatch` on either; going back,
reverse-continue stops on the instruction that made the change, with Old and
New in the direction of travel."""
from pathlib import Path

import pytest
from repl_helpers import STORE

from emu.debugger import new_debugger
from emu.run import load_program

DEMOS = Path(__file__).resolve().parents[2] / "emu" / "demos"


def _dbg(arch, variant):
    return new_debugger(arch, variant, load_program(DEMOS / f"leak_{arch}.s"), snap_interval=500)


def _accesses(arch, variant):
    """Every write to m0.cret as (position, old, new), and every read's
    position, from a plain run with raw hooks (the oracle)."""
    d = _dbg(arch, variant)
    mc = d.mc
    addr, size = d.lvalue("m.cret")
    writes, reads = [], []
    mc.hooks.mem_write(lambda a, s, v: writes.append((d._count_at(mc.pc), mc.read_uint(addr, size),
                                                      v & ((1 << 8 * size) - 1))), addr, addr + size - 1)
    mc.hooks.mem_read(lambda a, s: reads.append(d._count_at(mc.pc)), addr, addr + size - 1)
    assert d.cont().reason == "exited"
    return writes, reads


@pytest.mark.parametrize("arch", ["amd64", "arm"])
@pytest.mark.parametrize("variant", ["buggy", "fixed"])
def test_repl_watch_stops_only_on_change(arch, variant):
    writes, _ = _accesses(arch, variant)
    changes = [w for w in writes if w[1] != w[2]]
    if variant == "buggy":
        # the second unsplit stores the same pointer again: a write that is no change
        assert len(changes) < len(writes)
    d = _dbg(arch, variant)
    d.add_watch("m.cret")
    stops = []
    while True:
        st = d.cont()
        if st.reason == "exited":
            break
        assert st.reason == "watchpoint" and st.access == "write"
        # stopped just after the store, which is the instruction before
        assert d.mc.read_uint(*d.lvalue("m.cret")) == st.new
        stops.append((st.icount - 1, st.old, st.new))
    assert stops == changes
    if variant == "fixed":
        assert stops[-1][2] == 0          # oldstack's clearing store is the last change


@pytest.mark.parametrize("arch", ["amd64", "arm"])
def test_repl_awatch_and_rwatch(arch):
    writes, reads = _accesses(arch, "buggy")
    assert reads, "oldstack reads m->cret"
    d = _dbg(arch, "buggy")
    d.add_watch("m.cret", kind="awatch")
    seen = []
    while (st := d.cont()).reason != "exited":
        seen.append((st.icount - 1, st.access))
    assert seen == sorted([(n, "write") for n, _o, _v in writes] + [(n, "read") for n in reads])
    d = _dbg(arch, "buggy")
    d.add_watch("m.cret", kind="rwatch")
    got = []
    while (st := d.cont()).reason != "exited":
        assert st.new == st.old == d.mc.read_uint(*d.lvalue("m.cret"))
        got.append(st.icount - 1)
    assert got == reads
    # going back, a read watchpoint stops on the reading instruction
    st = d.reverse_continue()
    assert st.reason == "watchpoint" and st.icount == reads[-1]


@pytest.mark.parametrize("arch", ["amd64", "arm"])
@pytest.mark.parametrize("variant", ["buggy", "fixed"])
def test_repl_reverse_continue_walks_the_changes_back(arch, variant):
    """From the exit, each rc lands on the store that made the previous
    change, Old = the value it wrote, New = the value before it; the store is
    not executed yet (memory holds New), one stepi executes it (Old)."""
    writes, _ = _accesses(arch, variant)
    changes = [w for w in writes if w[1] != w[2]]
    d = _dbg(arch, variant)
    addr, size = d.lvalue("m.cret")
    assert d.cont().reason == "exited"
    d.add_watch("m.cret")
    for n, before, after in reversed(changes):
        st = d.reverse_continue()
        assert st.reason == "watchpoint" and st.reverse
        assert (st.icount, st.old, st.new) == (n, after, before)
        assert d.mc.read_uint(addr, size) == before
        d.stepi(1)
        assert d.mc.read_uint(addr, size) == after
        d.reverse_stepi(1)
    first = changes[0][0]
    assert d.mc.disasm(d.mc.pc, 1)[0][1] == STORE[arch] and d.n == first
    assert d.reverse_continue().reason == "history-start"


@pytest.mark.parametrize("arch", ["amd64", "arm"])
def test_repl_watch_session_output_is_gdb_shaped(run_batch, arch):
    out = run_batch(arch, "buggy", "watch m.cret\nc\nc\nrc\n")
    assert "error:" not in out, out
    fwd, back = out.split("(goemu) rc")
    # forward: the change 0 -> object, then no stop on the same-value store: the exit
    assert "Hardware watchpoint 1: m.cret\n\nOld value = 0x0\nNew value = 0x" in fwd
    assert "program exited with status 0" in fwd
    obj = fwd.split("New value = ")[1].split()[0]
    # backwards: Old is the later value, New the earlier one, on the store itself
    assert f"Hardware watchpoint 1: m.cret\n\nOld value = {obj}\nNew value = 0x0\n" in back
    assert STORE[arch] in back.splitlines()[-1]


def test_repl_watch_refuses_unmapped(run_batch):
    out = run_batch("amd64", "buggy", "watch *0x10\ninfo breakpoints\n")
    assert out.count("error: Cannot access memory at address 0x10") == 1
    assert "No breakpoints" in out
