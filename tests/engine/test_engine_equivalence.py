"""The native engine and the Python reference engine give the same run:
instruction counts, events, output, collections, cycle totals (per phase and
per split/unsplit, with and without the data-cache model) and trace bytes."""
import random
from pathlib import Path

import pytest

from emu.cycles.account import CycleAccount
from emu.debugger import Debugger
from emu.machine import Machine
from emu.run import finish, load_program, new_machine
from emu.trace.record import record
from emu.workloads import repeated_leak

DEMOS = Path(__file__).resolve().parents[2] / "emu" / "demos"


def _programs():
    out = []
    for p in sorted(DEMOS.glob("*.s")):
        arch = "arm" if "arm" in p.stem else "amd64"
        out.append(pytest.param(arch, p.name, id=p.stem))
    for arch in ("amd64", "arm"):
        out.append(pytest.param(arch, "repeated_leak", id=f"repeated_leak_{arch}"))
    return out


def _unit(name, arch):
    if name == "repeated_leak":
        return load_program(None, text=repeated_leak(arch, 6), name="repeated_leak.s")
    return load_program(str(DEMOS / name))


def _run(engine, arch, variant, name, caches):
    mc = Machine(new_machine(arch, variant, _unit(name, arch)).image, engine=engine)
    from emu.gc import attach
    attach(mc)
    assert mc.engine.kind == engine
    acct = CycleAccount(mc, caches=caches).attach()
    mc.run()
    res = finish(mc, name)
    return res.to_json(), [(e.kind, e.icount, e.pc, repr(e.detail)) for e in res.events], \
        acct.result().to_json()


@pytest.mark.parametrize("arch,name", _programs())
@pytest.mark.parametrize("variant", ["buggy", "fixed"])
def test_engine_runs_identical(arch, name, variant):
    caches = variant == "fixed"          # both cycle models, without doubling the run count
    py = _run("python", arch, variant, name, caches)
    nat = _run("native", arch, variant, name, caches)
    assert py[0]["instructions"] > 1000
    assert nat == py


@pytest.mark.parametrize("arch", ["amd64", "arm"])
@pytest.mark.parametrize("cycles", [False, True])
def test_engine_trace_bytes_identical(tmp_path, arch, cycles):
    files = {}
    for engine in ("python", "native"):
        mc = Machine(new_machine(arch, "buggy", _unit(f"leak_{arch}.s", arch)).image, engine=engine)
        from emu.gc import attach
        attach(mc)
        acct = CycleAccount(mc) if cycles else None
        p = tmp_path / f"{engine}.gtr"
        rec = record(mc, str(p), "native", f"leak_{arch}.s", account=acct)
        assert rec.count == mc.icount
        files[engine] = p.read_bytes()
    assert files["native"] == files["python"]


@pytest.mark.parametrize("arch", ["amd64", "arm"])
def test_engine_positions_agree_at_every_stop(arch):
    """Runs of odd lengths stop mid-block; both engines agree on pc and count
    at every stop, and the count is exactly what was asked."""
    ms = {e: Machine(new_machine(arch, "buggy", _unit(f"leak_{arch}.s", arch)).image, engine=e)
          for e in ("python", "native")}
    for mc in ms.values():
        from emu.gc import attach
        attach(mc)
    rnd = random.Random(7)
    total = 0
    while True:
        k = rnd.choice([1, 2, 3, 5, 7, 11, 64, 333])
        outs = {e: mc.engine.run(k) for e, mc in ms.items()}
        assert outs["python"].why == outs["native"].why
        if outs["python"].why == "exited":
            break
        total += k
        for mc in ms.values():
            assert mc.icount == total
        assert ms["python"].pc == ms["native"].pc
    assert ms["python"].icount == ms["native"].icount
    assert ms["python"].output == ms["native"].output


@pytest.mark.parametrize("engine", ["python", "native"])
@pytest.mark.parametrize("arch", ["amd64", "arm"])
def test_engine_until_stops_before_the_address(engine, arch):
    mc = Machine(new_machine(arch, "buggy", _unit(f"leak_{arch}.s", arch)).image, engine=engine)
    ref = Machine(mc.image, engine="python")
    lessstack = mc.image.symbols["lessstack"]
    mc.run(until=lessstack)
    assert mc.pc == lessstack
    # the reference: one instruction at a time until the pc is lessstack
    n = 0
    while ref.pc != lessstack:
        ref.engine.run(1)
        n += 1
    assert mc.icount == n == ref.icount


def _acct_state(acct):
    """The account's saved state.  A native account's ``starts_seen`` (which
    emu_start charged the last block: only ever compared with a later emu_start's
    number, so any older value means the same) is left out."""
    st = acct.save_state()
    if st[0] == "native":
        head = bytearray(st[1][0])
        off = type(acct._native.state).starts_seen.offset
        head[off:off + 8] = bytes(8)
        st = (st[0], (bytes(head),) + tuple(st[1][1:])) + tuple(st[2:])
    return st


@pytest.mark.parametrize("engine", ["python", "native"])
@pytest.mark.parametrize("arch", ["amd64", "arm"])
def test_engine_reverse_exact_with_recorder_and_account(tmp_path, engine, arch):
    """reverse-stepi N then stepi N is bit-identical (registers and memory)
    with a trace recorder and a cycle account attached the whole session; the
    account and the recorder come back to exactly the state they had."""
    mc = Machine(new_machine(arch, "buggy", _unit(f"leak_{arch}.s", arch)).image, engine=engine)
    from emu.gc import attach
    attach(mc)
    acct = CycleAccount(mc, caches=True)
    from emu.trace.native import NativeWriter
    from emu.trace.record import Recorder
    f = open(tmp_path / "t.gtr", "wb")  # noqa: SIM115 - closed by the recorder
    rec = Recorder(mc, NativeWriter(f), "t", account=acct).attach()
    d = Debugger(mc, snap_interval=250)
    assert {p.split("@")[0] for p in mc.engine.parts()} == {"machine", "cycles", "trace"}
    rnd = random.Random(5)
    for n in (1, 13, 249, 250, 251, 900):
        d.goto(1200 + rnd.randrange(0, 300))
        here, h = d.n, d.state_hash()
        acct_state, rec_count = _acct_state(acct), rec.count
        d.reverse_stepi(n)
        assert d.n == here - n
        assert rec.count < rec_count or rec_count == 0
        d.stepi(n)
        assert d.n == here and d.state_hash() == h
        # back to a stop that was a snapshot: the parts are restored exactly
        d.stepi(37)
        d.reverse_stepi(37)
        assert d.n == here and d.state_hash() == h
        assert _acct_state(acct) == acct_state and rec.count == rec_count
    st = d.cont()
    assert st.reason == "exited"
    end, h, gcs = d.n, d.state_hash(), len(mc.gc_reports)
    assert gcs == 2          # the first allocation's collection (GOGC=100), then runtime.gc
    d.reverse_stepi(300)
    assert not mc.exited
    assert len(mc.gc_reports) == sum(e.kind == "gc" for e in mc.events) == \
        (1 if mc.events and any(e.kind == "gc" for e in mc.events) else 0)
    d.goto(10)
    assert mc.gc_reports == [] and mc.output == []
    d.goto(end)
    assert mc.exited and d.state_hash() == h and len(mc.gc_reports) == gcs
    rec.finish()


@pytest.mark.parametrize("engine", ["python", "native"])
@pytest.mark.parametrize("arch", ["amd64", "arm"])
def test_engine_cycles_do_not_depend_on_stops(engine, arch):
    """A debugger session that stops mid-block, goes back and forth, then runs
    to the end gives the cycle account of one uninterrupted run."""
    def account(debug):
        mc = Machine(new_machine(arch, "buggy", _unit(f"leak_{arch}.s", arch)).image, engine=engine)
        from emu.gc import attach
        attach(mc)
        acct = CycleAccount(mc, caches=True).attach()
        if not debug:
            mc.run()
            return acct.result().to_json(), mc.icount
        d = Debugger(mc, snap_interval=97)
        rnd = random.Random(11)
        for _ in range(25):
            d.stepi(rnd.choice([1, 2, 3, 5, 8, 13, 40]))
            if rnd.random() < 0.3:
                d.reverse_stepi(rnd.choice([1, 4, 30]))
        assert d.cont().reason == "exited"
        return acct.result().to_json(), mc.icount
    straight, n = account(False)
    stepped, m = account(True)
    assert straight["instructions"] == n == m
    assert stepped == straight


@pytest.mark.parametrize("engine", ["python", "native"])
def test_engine_hook_stops_are_exact(engine):
    """A hook that stops the run (request_stop, or uc.emu_stop with a
    ``stopped`` predicate) leaves the machine before that instruction, at the
    position run(until=...) reaches."""
    arch = "amd64"
    img = new_machine(arch, "buggy", _unit(f"leak_{arch}.s", arch)).image
    ref = Machine(img, engine=engine)
    target = img.symbols["oldstack"]
    ref.run(until=target)
    for direct in (False, True):
        mc = Machine(img, engine=engine)
        flag = []

        def hit(_addr, mc=mc, flag=flag, direct=direct):
            flag.append(1)
            mc.uc.emu_stop() if direct else mc.engine.request_stop()
        h = mc.hooks.at(target, hit)
        out = mc.engine.run(10**7, stopped=lambda flag=flag: bool(flag))
        mc.hooks.remove(h)
        assert out.why == "hit" and mc.pc == target and mc.icount == ref.icount
