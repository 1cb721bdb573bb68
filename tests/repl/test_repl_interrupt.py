"""Ctrl-C (Debugger.interrupt) stops a search backwards as well as a forward
run; the session goes on from a consistent state.  The interrupt is raised
from inside the emulation (a hook counting blocks), so the test does not
depend on timing."""
import pytest

from emu.debugger import new_debugger
from emu.run import load_program

LOOP = """
GLOBL never, $8
TEXT main, $16-0
	mov rcx, 400000
loop:
	dec rcx
	jnz loop
	RET
"""


class InterruptAfter:
    """Calls dbg.interrupt() once, after ``blocks`` translated-block entries
    counted from arm()."""

    def __init__(self, dbg, blocks):
        self.dbg, self.blocks, self.count, self.armed, self.fired = dbg, blocks, 0, False, False
        dbg.mc.hooks.block(self._on_block, label="test-interrupt")

    def arm(self):
        self.count, self.armed, self.fired = 0, True, False

    def _on_block(self, addr, size):
        if self.armed:
            self.count += 1
            if self.count == self.blocks:
                self.armed, self.fired = False, True
                self.dbg.interrupt()


@pytest.fixture(scope="module")
def at_exit():
    d = new_debugger("amd64", "buggy", load_program(None, text=LOOP, name="loop.s"), snap_interval=10_000)
    st = d.cont()
    assert st.reason == "exited" and st.icount > 800_000
    return d


def test_repl_interrupt_reverse_continue(at_exit):
    d = at_exit
    end = d.n
    w = d.add_watch("never")          # never written: without Ctrl-C the search goes back to the start
    intr = InterruptAfter(d, 20_000)  # ~4 of the 10,000-instruction intervals (2-instruction blocks)
    intr.arm()
    st = d.reverse_continue()
    assert intr.fired
    assert st.reason == "interrupted" and st.reverse
    # stopped where the search had got to: back in the history, neither at the end nor at the start
    assert 0 < d.n <= end - 2 * d.snap_interval
    assert st.icount == d.n and st.pc == d.mc.pc
    # the state there is the one re-execution gives
    here, h = d.n, d.state_hash()
    d.goto(here + 7)
    d.goto(here)
    assert d.state_hash() == h
    # the next reverse-continue, uninterrupted, searches the rest
    st = d.reverse_continue()
    assert st.reason == "history-start" and d.n == 0
    d.delete(w.num)
    # and forward again to the exit, same end
    assert d.cont().reason == "exited" and d.n == end


def test_repl_interrupt_forward_run(at_exit):
    d = at_exit
    d.goto(0)
    intr = InterruptAfter(d, 30_000)
    intr.arm()
    st = d.cont()
    assert intr.fired and st.reason == "interrupted"
    assert 0 < st.icount < 800_000 and st.pc == d.mc.pc
    # a stale request does not leak into the next command: clear_interrupt is
    # what the REPL calls before each command
    d.interrupt()
    d.clear_interrupt()
    assert d.cont().reason == "exited"


def test_repl_interrupt_goto():
    """Ctrl-C during `goto N` stops where the replay got to; the session goes
    on from that exact, consistent position."""
    import io

    from emu.repl import Session
    d = new_debugger("amd64", "buggy", load_program(None, text=LOOP, name="loop.s"), snap_interval=10_000)
    intr = InterruptAfter(d, 20_000)
    intr.arm()
    out = io.StringIO()
    s = Session(d, out)
    s.execute("goto 700000")
    assert intr.fired
    text = out.getvalue()
    assert "Program interrupted at" in text, text
    assert 0 < d.n < 700_000
    here = d.n
    # the state there is the one re-execution gives
    h = d.state_hash()
    d.goto(0)
    d.goto(here)
    assert d.state_hash() == h
    s.execute("goto 700000")           # not interrupted this time
    assert d.n == 700_000
