"""Time travel: exact positions, watch + reverse-continue, and bit-identical
state after going back and forth."""
import random
from pathlib import Path

import pytest
from repl_helpers import STORE, values

from emu.debugger import DebuggerError, new_debugger
from emu.run import load_program

DEMOS = Path(__file__).resolve().parents[2] / "emu" / "demos"


def _dbg(arch, variant="buggy", snap=500, text=None):
    unit = load_program(None, text=text, name="t.s") if text else load_program(DEMOS / f"leak_{arch}.s")
    return new_debugger(arch, variant, unit, snap_interval=snap)


def _trace(arch):
    d = _dbg(arch)
    pcs = []
    d.mc.hooks.code(lambda a, s: pcs.append(a))
    st = d.cont()
    assert st.reason == "exited"
    return pcs, st.icount


@pytest.mark.parametrize("arch", ["amd64", "arm"])
def test_repl_exact_positions(arch):
    """Every stop's position is the exact number of instructions executed
    (checked against a per-instruction trace)."""
    pcs, total = _trace(arch)
    assert total == len(pcs)
    d = _dbg(arch)
    d.add_break("lessstack")
    d.add_break("oldstack")
    while True:
        st = d.cont()
        if st.reason == "exited":
            break
        assert pcs[st.icount] == st.pc
    rnd = random.Random(7)
    for _ in range(6):
        k = rnd.randrange(1, total)
        d.goto(k)
        assert d.mc.pc == pcs[k]
        d.stepi(3)
        assert d.mc.pc == pcs[k + 3]


@pytest.mark.parametrize("arch", ["amd64", "arm"])
def test_repl_watch_reverse_continue_lands_on_store(run_batch, arch):
    out = run_batch(arch, "buggy", """
watch m.cret
c
p m.cret
p $pc
c
p $pc
rc
p $pc
x/1i $pc
""")
    assert "error:" not in out, out
    assert "Hardware watchpoint 1: m.cret" in out
    assert "Old value = 0x0" in out
    vals = values(out)
    cret = vals[0]
    assert cret != 0
    # reverse-continue lands on lessstack's store of AX/R0 into m->cret
    rc_part = out.split("(goemu) rc")[1]
    assert "<lessstack" in rc_part.splitlines()[5] or "lessstack" in rc_part
    assert STORE[arch] in rc_part.split("x/1i")[1]
    # the watchpoint stops just after the store; rc lands on the store itself
    assert vals[-1] < vals[2]
    assert rc_part.split("x/1i")[1].splitlines()[1].split()[1] == hex(vals[-1])


@pytest.mark.parametrize("arch", ["amd64", "arm"])
def test_repl_rc_from_the_end_finds_last_cret_store(arch):
    d = _dbg(arch, "buggy")
    store = None
    less = d.mc.image.symbols["lessstack"]
    for a, text, _ in d.mc.disasm(less, 3):
        if text == STORE[arch]:
            store = a
    assert d.cont().reason == "exited"
    d.add_watch("m.cret")
    st = d.reverse_continue()
    assert st.reason == "watchpoint"
    assert st.pc == store
    assert d.mc.disasm(st.pc, 1)[0][1] == STORE[arch]


@pytest.mark.parametrize("arch", ["amd64", "arm"])
def test_repl_rsi_then_si_is_identical(arch):
    d = _dbg(arch, snap=300)
    d.add_break("oldstack")
    d.cont()
    rnd = random.Random(3)
    for n in (1, 17, 299, 300, 301, 1500):
        d.goto(1600 + rnd.randrange(0, 200))
        here, h = d.n, d.state_hash()
        d.reverse_stepi(n)
        assert d.n == here - n
        d.stepi(n)
        assert d.n == here
        assert d.state_hash() == h
    # and from the exit
    d.delete()
    st = d.cont()
    assert st.reason == "exited"
    end, h = d.n, d.state_hash()
    out = list(d.mc.output)
    d.reverse_stepi(1000)
    assert not d.mc.exited
    d.stepi(1000)
    assert d.mc.exited and d.n == end and d.state_hash() == h and d.mc.output == out


def test_repl_rsi_si_batch_hash(run_batch):
    """The same through the REPL: state hashes via `info`-free printing of
    registers and memory words."""
    out = run_batch("arm", "buggy", """
b oldstack
c
info registers
x/16xw $sp
rsi 40
si 40
info registers
x/16xw $sp
""")
    assert "error:" not in out, out
    parts = out.split("(goemu) info registers")
    assert parts[1].split("(goemu) rsi")[0].replace("*", " ") == parts[2].replace("*", " ")


def test_repl_reverse_finish_and_history_start():
    d = _dbg("amd64")
    d.add_break("runtime.new")
    d.cont()
    st = d.reverse_finish()
    assert d.mc.disasm(st.pc, 1)[0][1].startswith("call")
    assert d.mc.symbolize(st.pc).startswith("leak")
    st = d.reverse_stepi(10**9)
    assert st.reason == "history-start" and d.n == 0
    with pytest.raises(DebuggerError):
        d.reverse_stepi(1)


LOOP = """
TEXT main, $16-0
	mov rcx, 500000
loop:
	dec rcx
	jnz loop
	RET
"""


def test_repl_reverse_cost_deep_in_a_long_run():
    """Stepping back one instruction at the end of a million-instruction run
    re-executes at most one snapshot interval, not the history (counted in
    instructions; wall-clock cost belongs to benchmarks)."""
    d = _dbg("amd64", snap=10_000, text=LOOP)
    st = d.cont()
    assert st.reason == "exited" and d.n > 1_000_000
    end = d.n
    executed = []
    h = d.mc.hooks.code(lambda a, s: executed.append(a))
    for k in (1, 2, 3):
        executed.clear()
        d.reverse_stepi(1)
        assert d.n == end - k
        assert 0 < len(executed) <= d.snap_interval
    d.mc.hooks.remove(h)
