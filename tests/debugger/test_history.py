"""History at scale (emu/history.py): incremental snapshots, thinning under a
bound, and every position still reachable bit-identically."""
import random
from pathlib import Path

import pytest

from emu.debugger import new_debugger
from emu.run import load_program
from emu.workloads.registry import get

DEMOS = Path(__file__).resolve().parents[2] / "emu" / "demos"


def _leak(arch, **kw):
    return new_debugger(arch, "buggy", load_program(DEMOS / f"leak_{arch}.s"), **kw)


def _hot(arch, calls, **kw):
    w = get("hot-split")
    return new_debugger(arch, "buggy", w.program(arch, w.resolve("small", {"calls": calls})), **kw)


def _reference(make, positions):
    """State hashes (and output) at ``positions``, reached by running forward only."""
    ref = make()
    out = {}
    for p in sorted(positions):
        ref.goto(p)
        out[p] = (ref.state_hash(), list(ref.mc.output))
    return out


@pytest.mark.parametrize("arch", ["amd64", "arm"])
def test_thinned_history_reaches_every_position(arch):
    """With room for 12 snapshots, a run of the leak demo (and its collection)
    thins its history, and any position is still reached with the very state
    a forward run has there, in any order."""
    d = _leak(arch, snap_interval=50, history={"max_snapshots": 12})
    st = d.cont()
    assert st.reason == "exited"
    end = d.n
    h = d.history
    assert h.thinned > 0 and len(h.ns) <= 12
    assert h.ns[0] == 0 and h.ns[-1] == end
    rnd = random.Random(7)
    positions = [rnd.randrange(0, end) for _ in range(12)] + [0, 1, end - 1, end]
    ref = _reference(lambda: _leak(arch, snap_interval=50), positions)
    rnd.shuffle(positions)
    for p in positions:
        d.goto(p)
        assert d.n == p
        assert (d.state_hash(), list(d.mc.output)) == ref[p], p
        assert len(d.history.ns) <= 12
    # reverse-stepi N then stepi N, with the history thinned
    d.goto(end // 2)
    here, hh = d.n, d.state_hash()
    d.reverse_stepi(333)
    d.stepi(333)
    assert d.n == here and d.state_hash() == hh


@pytest.mark.parametrize("arch", ["amd64", "arm"])
def test_memory_bound_is_kept(arch):
    """A bound on the history's bytes is never exceeded after a snapshot:
    older snapshots are thinned (dense near the present), none lost: the
    first and last stay, and far-back positions are reached exactly."""
    bound = 600_000
    d = _hot(arch, 600, snap_interval=1000, history={"max_bytes": bound})
    sizes = []
    d.engine  # noqa: B018
    orig_take = d.history.take

    def take():
        orig_take()
        sizes.append(d.history.bytes)
    d.history.take = take
    st = d.cont()
    assert st.reason == "exited"
    end = d.n
    h = d.history
    assert h.thinned > 0 and max(sizes) <= bound
    gaps = [b - a for a, b in zip(h.ns, h.ns[1:])]
    # denser near the present (the end) than far back
    assert gaps[-1] < max(gaps)
    positions = [3, end // 10, end // 3, end - 5]
    ref = _reference(lambda: _hot(arch, 600, snap_interval=1000), positions)
    for p in reversed(positions):
        d.goto(p)
        assert d.state_hash() == ref[p][0], p
    assert d.history.bytes <= bound


@pytest.mark.parametrize("arch", ["amd64", "arm"])
def test_reverse_continue_far_back_onto_cret_watch(arch):
    """From the end of a thinned history, reverse-continue on a watch of
    m->cret lands on the latest store that changed it, found by a forward
    run with a store hook; then again on the one before."""
    calls = 400
    ref = _hot(arch, calls)
    addr, size = ref.lvalue("m->cret")
    changes = []

    def on_store(a, s, v):
        old = ref.mc.read_uint(addr, size)
        if (v & ((1 << 8 * size) - 1)) != old:
            changes.append((ref.engine.position(), ref.mc.pc))
    ref.mc.hooks.mem_write(on_store, addr, addr + size - 1)
    assert ref.cont().reason == "exited"
    assert len(changes) >= 2
    d = _hot(arch, calls, snap_interval=2000, history={"max_snapshots": 10})
    d.cont()
    assert d.history.thinned > 0
    d.add_watch("m->cret")
    for pos, pc in reversed(changes[-2:]):
        st = d.reverse_continue()
        assert st.reason == "watchpoint" and st.reverse
        assert (d.n, st.pc) == (pos, pc)


@pytest.mark.parametrize("arch", ["amd64", "arm"])
def test_python_writes_are_in_the_history(arch):
    """Memory written from Python (set var) is tracked: going back before
    the write gives the old contents back, going forward replays without it."""
    d = _leak(arch, snap_interval=100)
    d.stepi(700)
    addr, size = d.lvalue("m->cret")
    d.stepi(50)
    before = d.mc.read_uint(addr, size)
    d.set_var("m->cret = 0x5a5a")
    assert d.mc.read_uint(addr, size) == 0x5a5a
    d.reverse_stepi(1)
    assert d.mc.read_uint(addr, size) == before
    d.stepi(1)
    assert d.mc.read_uint(addr, size) == before     # the replay does not redo a write made by hand


@pytest.mark.parametrize("arch", ["amd64", "arm"])
def test_collection_written_from_python_is_undone(arch):
    """The collector runs in Python and writes the heap's bitmap and stats;
    going back before it restores them exactly."""
    d = _leak(arch, snap_interval=200)
    assert d.cont().reason == "exited"
    end = d.n
    assert d.mc.gc_reports
    ref = _reference(lambda: _leak(arch, snap_interval=200), [end // 2, end])
    d.goto(end // 2)
    assert d.state_hash() == ref[end // 2][0]
    d.goto(end)
    assert d.state_hash() == ref[end][0]


def test_info_snapshots_and_workload_in_the_repl(tmp_path):
    """`goemu repl --workload hot-split --param calls=N` and `info snapshots`
    (count, span, memory and its bound, largest gap)."""
    import subprocess
    import sys
    script = tmp_path / "s.gdb"
    script.write_text("goto 200000\ninfo snapshots\nreverse-stepi\ninfo snapshots\n")
    res = subprocess.run([sys.executable, "-m", "emu.cli", "repl", "--workload", "hot-split", "--param",
                          "calls=1000", "-x", str(script)], capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stdout + res.stderr
    out = res.stdout
    assert "workload hot-split" in out or "[insn 200000]" in out
    assert "21 snapshots, instructions 0 to 200000" in out
    assert "MiB bound" in out and "largest gap: 10000 instructions" in out
    assert "now at instruction 199999; nearest snapshot at or before it: 199999" in out


@pytest.mark.parametrize("arch", ["amd64", "arm"])
def test_finish_and_reverse_finish_act_on_the_selected_frame(arch):
    """As gdb after `up`: finish runs until the selected frame returns,
    reverse-finish goes back to the call that entered it."""
    d = _leak(arch)
    d.add_break("runtime.new")
    d.cont()
    d.delete()
    here, h = d.n, d.state_hash()
    bt = d.backtrace()
    assert bt[1].symbol.startswith("leak") and bt[2].symbol.startswith("main")
    st = d.reverse_finish(1)
    assert d.mc.symbolize(st.pc).startswith("main") and d.mc.disasm(st.pc, 1)[0][1].split()[0] in ("call", "bl")
    call_at = d.n
    d.goto(here)
    assert d.state_hash() == h
    st = d.finish(1)
    assert st.reason == "finish" and d.mc.pc == bt[2].pc and d.mc.sp == bt[2].sp and d.n > call_at
    # frame 0 is still the default
    d.goto(here)
    st = d.reverse_finish()
    assert d.mc.symbolize(st.pc).startswith("leak")


def test_finish_after_up_in_the_repl(tmp_path):
    import io

    from emu.repl import run_repl
    script = tmp_path / "s.gdb"
    script.write_text("b runtime.new\nc\nup\nfinish\ninfo frame\n")
    out = io.StringIO()
    assert run_repl("amd64", "buggy", batch_file=str(script), out=out) == 0
    text = out.getvalue()
    after = text.split("(goemu) finish")[1]
    assert "main" in after.split("(goemu) info frame")[0], after
