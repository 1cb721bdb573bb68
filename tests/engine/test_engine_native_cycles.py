"""The cycle account's C tables (emu/native/hooks.c goemu_cycles_*) driven
past their ends: the block table and its segment pool (evictions and
flushes are asked again, never mischarged), the closed-record ring (drained
many times in a run, same records as the Python account), an over-long
block refused inside bounds."""
import ctypes

import pytest

from emu.cycles.account import PHASES, CycleAccount
from emu.cycles.cache import CacheHierarchy
from emu.cycles.model import CoreModel
from emu.engine import NativeCounter
from emu.machine import Machine
from emu.native.cycles import NativeCycles, limits
from emu.run import load_program, new_machine

HOOK = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_uint64, ctypes.c_uint32, ctypes.c_void_p)


def _hooks(nat):
    """The counter's block hook then the account's, as Unicorn calls them."""
    from emu.native import library
    count, acct = HOOK(ctypes.cast(library().goemu_count_block, ctypes.c_void_p).value), HOOK(nat.after_hook)

    def block(addr, size):
        count(None, addr, size, nat.state.counter)
        acct(None, addr, size, nat.address)
    return block


def _op(cyc):
    """An instruction that adds exactly ``cyc`` cycles to the pipeline below
    (its one port busy for ``cyc`` cycles, its result ``cyc`` cycles after issue)."""
    from emu.cycles.pipeline import Op
    return Op(slots=1, flags=0, reads=0, addr=0, writes=0, base=0, latency=cyc, ops=((1, cyc),))


def _standalone(nsegs_of):
    """A C account over a C counter, no machine: blocks (addr, size) whose
    stage is made up here; each block's segments alternate body / gc, segment
    i one instruction of 1 + i % 5 cycles."""
    counter = NativeCounter(mc=None)
    cst = counter.state
    n_of = lambda size: size // 4
    cnt_cb = ctypes.CFUNCTYPE(ctypes.c_int32, ctypes.c_uint64, ctypes.c_uint32)(lambda a, s: n_of(s))
    cst.miss = ctypes.cast(cnt_cb, ctypes.c_void_p)
    stops = []
    stop_cb = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p)(lambda uc: stops.append(1) or 0)
    cst.stop = ctypes.cast(stop_cb, ctypes.c_void_p)
    asked = []
    holder = {}

    def on_miss(addr, size):
        asked.append((addr, size))
        st = holder["nat"].state
        stage, nseg = st.stage, nsegs_of(addr, size)
        if nseg > len(st.stage_n):
            stage.nseg = nseg              # the C side must refuse it
            return 0
        stage.n, stage.nseg, stage.first, stage.kind = n_of(size), nseg, PHASES.index("body"), 0
        stage.flow_pc, stage.end, stage.line0, stage.nlines = addr, addr + size, addr // 64, 1
        for i in range(nseg):
            st.stage_phase[i] = PHASES.index("body" if i % 2 == 0 else "gc")
            st.stage_n[i] = 1
        holder["nat"].stage_ops([_op(1 + i % 5) for i in range(nseg)])
        return 0
    nat = NativeCycles(on_miss, lambda recs: None)
    # the state in a buffer with a canary after it (nothing may be written past the struct)
    size = ctypes.sizeof(nat.state)
    buf = ctypes.create_string_buffer(b"\xaa" * (size + 4096))
    nat.state = nat.State.from_buffer(buf)
    ctypes.memset(ctypes.addressof(nat.state), 0, size)
    nat.state.cmiss = ctypes.cast(nat._miss, ctypes.c_void_p)
    nat.state.drain = ctypes.cast(nat._drain, ctypes.c_void_p)
    holder["nat"] = nat
    core = CoreModel.for_arch("amd64")
    from emu.cycles.pipeline import Config
    nat.configure(15, 0, 4096, 4096, 16, CacheHierarchy(core.caches), 0, Config(8, 16, 1, 0, 0))
    starts = ctypes.c_uint64(1)
    nat.state.counter = ctypes.addressof(cst)
    nat.state.starts = ctypes.addressof(starts)
    nat.state.mode = PHASES.index("body")
    keep = (cnt_cb, stop_cb, starts, counter, buf)
    return nat, asked, stops, keep


def test_native_cycle_tables_past_their_ends():
    lim = limits()
    nblocks = 2 * lim["blocks"] + 7
    nseg = 9                                   # nblocks * nseg is several segment pools
    assert nblocks * nseg > 3 * lim["segments"]
    nat, asked, stops, _keep = _standalone(lambda a, s: nseg)
    st = nat.state
    end = ctypes.addressof(st) + ctypes.sizeof(st)
    after = ctypes.string_at(end, 4096)
    assert after == b"\xaa" * 4096
    fn = _hooks(nat)
    blocks = [(0x400000 + 0x40 * i, 4 * (nseg + i % 5)) for i in range(nblocks)]
    want = dict.fromkeys(PHASES, 0)
    insns = 0
    for _ in range(2):
        for addr, size in blocks:
            fn(addr, size)
            for i in range(nseg):
                want["body" if i % 2 == 0 else "gc"] += 1 + i % 5
            insns += size // 4
    assert not stops and st.errors == 0
    want["body"] += st.pen_icache              # fetch misses land in the block's first phase
    assert st.pen_icache > 0 and st.pen_mis == 0 and st.pen_dcache == 0
    assert dict(zip(PHASES, st.phase_cycles)) == want and st.total == sum(want.values())
    assert st.phase_insns[PHASES.index("body")] + st.phase_insns[PHASES.index("gc")] == 2 * nblocks * nseg
    assert st.instructions == insns
    assert st.flushes >= 2 and len(asked) == st.table_misses > nblocks     # evicted blocks asked again
    assert ctypes.string_at(end, 4096) == after


def test_native_cycle_block_longer_than_the_stage_is_refused():
    lim = limits()
    nat, _asked, stops, _keep = _standalone(lambda a, s: lim["stage"] + 1)
    st = nat.state
    _hooks(nat)(0x400000, 64)
    assert stops == [1] and st.errors == 1 and st.total == 0 and st.instructions == 0


@pytest.mark.parametrize("arch", ["amd64", "arm"])
def test_native_cycle_records_past_the_ring(arch):
    """Hot-split splits and unsplits on every call: 150 calls fill the C ring
    of closed records several times; the records are the Python account's."""
    from emu.cycles.hotsplit import program
    text = program(arch, True, 150)
    out = {}
    for engine in ("python", "native"):
        mc = Machine(new_machine(arch, "buggy", load_program(None, text=text, name="hs.s")).image, engine=engine)
        acct = CycleAccount(mc, caches=True).attach()
        assert (acct._native is not None) == (engine == "native")
        mc.run()
        out[engine] = acct.result().to_json()
    assert len(out["native"]["splits"]) + len(out["native"]["unsplits"]) > 3 * limits()["records"]
    assert out["native"] == out["python"]


@pytest.mark.parametrize("arch", ["amd64", "arm"])
def test_native_cycle_analysis_error_surfaces(arch):
    """An exception while the account analyses a new block (called from C)
    stops the run and is raised by run(), not lost in C and not a hang."""
    from pathlib import Path
    demos = Path(__file__).resolve().parents[2] / "emu" / "demos"
    mc = Machine(new_machine(arch, "buggy", load_program(str(demos / f"leak_{arch}.s"))).image, engine="native")
    acct = CycleAccount(mc).attach()
    assert acct._native is not None

    def boom(addr, size):
        raise RuntimeError(f"cannot cost block {addr:#x}")
    acct._analyze = boom
    with pytest.raises(RuntimeError, match="cannot cost block"):
        mc.run()
