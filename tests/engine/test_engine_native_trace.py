"""The trace recorder in C (emu/native/hooks.c goemu_trace_*, emu/trace/record.py
NativeRecorder) against the Python recorder, the reference: the same bytes on
every demo, both variants and architectures, a workload of the suite, windows
(--from/--to/--max-insns), runs of several chunks and debugger sessions with
reverse execution, without cycles and with them (the C cycle account's
per-instruction view against the Python account's insn_start/take_late, with
and without the cache model); and its buffers driven past their ends through
the C entry points themselves."""
import ctypes
import random
from pathlib import Path

import pytest

from emu.cycles.account import CycleAccount
from emu.debugger import Debugger
from emu.engine import EngineError
from emu.errors import GoemuError
from emu.machine import Machine
from emu.native import library
from emu.run import load_program, new_machine
from emu.trace.native import NativeReader, NativeWriter
from emu.trace.record import NativeRecorder, Recorder, record
from emu.workloads import get, repeated_leak

DEMOS = Path(__file__).resolve().parents[2] / "emu" / "demos"


def _demo(arch, name, variant="buggy", engine=None):
    mc = new_machine(arch, variant, load_program(str(DEMOS / name)))
    return mc if engine is None else _on(mc, engine)


def _on(mc, engine):
    from emu.gc import attach
    m2 = Machine(mc.image, engine=engine)
    attach(m2)
    return m2


def _both(tmp_path, make, cycles=None, **kw):
    """Record make() with the Python recorder and with the C recorder; both files' bytes.
    ``cycles``: None (no cycle columns), False or True (a cycle account, with the cache
    model when True): the accounts' results must agree too."""
    out = {}
    for native in (False, True):
        mc = make()
        p = tmp_path / f"{native}.gtr"
        acct = None if cycles is None else CycleAccount(mc, caches=cycles)
        rec = record(mc, str(p), "native", "t.s", native=native, account=acct, **kw)
        assert isinstance(rec, NativeRecorder) is native
        out[native] = (p.read_bytes(), rec.count, rec.done_reason, mc.icount,
                       None if acct is None else _result(acct))
    if cycles is not None:
        with NativeReader(str(tmp_path / "True.gtr")) as rd:
            assert rd.header["cycles"]["dcache_model"] is cycles
    return out


def _result(acct):
    return acct.result().to_json()


def _demos():
    out = []
    for p in sorted(DEMOS.glob("*.s")):
        arch = "arm" if "arm" in p.stem else "amd64"
        for variant in ("buggy", "fixed"):
            out.append(pytest.param(arch, p.name, variant, id=f"{p.stem}-{variant}"))
    return out


@pytest.mark.parametrize("arch,name,variant", _demos())
def test_native_trace_bytes_identical_on_every_demo(tmp_path, arch, name, variant):
    r = _both(tmp_path, lambda: _demo(arch, name, variant))
    assert r[True] == r[False]
    assert r[True][1] == r[True][3] > 1000        # one record per executed instruction


@pytest.mark.parametrize("arch,name,variant", _demos())
def test_native_trace_with_cycles_bytes_identical_on_every_demo(tmp_path, arch, name, variant):
    """Cycle columns from the C account's per-instruction view: the same bytes, and the
    same account results (totals, per phase, per split/unsplit), with and without the
    cache model."""
    for caches in (False, True):
        r = _both(tmp_path, lambda: _demo(arch, name, variant), cycles=caches)
        assert r[True] == r[False], caches
        assert r[True][1] == r[True][3] > 1000
        res = r[True][4]
        assert res["total"] > res["instructions"] // 4 and res["instructions"] == r[True][1]
        with NativeReader(str(tmp_path / "True.gtr")) as rd:
            assert sum(rec.cycles for rec in rd) == res["total"]


@pytest.mark.parametrize("arch", ["amd64", "arm"])
def test_native_trace_bytes_identical_on_a_workload_and_across_chunks(tmp_path, arch):
    """The workload suite's list program (collections: gc events with reports), and
    repeated-leak long enough for several chunks of 8192 records."""
    w = get("list")
    unit = w.program(arch, w.resolve("small"))
    for cycles in (None, True):
        r = _both(tmp_path, lambda: new_machine(arch, "buggy", unit, budget=w.budget(w.resolve("small"))),
                  cycles=cycles)
        assert r[True] == r[False], cycles
    unit = load_program(None, text=repeated_leak(arch, 12), name="rl.s")
    r = _both(tmp_path, lambda: new_machine(arch, "fixed", unit), cycles=False)
    assert r[True] == r[False] and r[True][1] > 3 * 8192
    with NativeReader(str(tmp_path / "True.gtr")) as rd:
        assert {rc.within.split()[0] for rc in rd if rc.within} == {"split", "unsplit"}
    r = _both(tmp_path, lambda: new_machine(arch, "fixed", unit))
    assert r[True] == r[False] and r[True][1] > 3 * 8192
    with NativeReader(str(tmp_path / "True.gtr")) as rd:
        recs = list(rd)
    where = [rc.sym.split("+")[0] for rc in recs for k, _ in rc.events if k == "gc"]
    # 12 explicit collections (at runtime.gc's hypercall), and as many started by the
    # allocator (gc1, called from mallocgc: each iteration's first allocation crosses
    # next_gc, as in Go 1.0)
    assert where.count("runtime.gc") == 12 and where.count("gc1") == 12 and len(where) == 24
    assert {k for rc in recs for k, _ in rc.events} == {"split", "lessstack", "unsplit", "gc", "exit"}


@pytest.mark.parametrize("arch", ["amd64", "arm"])
def test_native_trace_registers_read_in_place_or_batched_agree(tmp_path, arch, monkeypatch):
    """The registers emu/trace/inplace.py proves readable in place (all but the pc
    and the flags on both architectures), and the same run with every register read
    through uc_reg_read_batch: the same bytes as the reference."""
    from emu.trace.inplace import locate
    mc = _demo(arch, f"leak_{arch}.s")
    found = locate(mc)
    assert found is not None
    base, offs, width = found
    assert set(offs) == set(mc.arch.regs) - {mc.arch.pc, mc.arch.flags} and width == mc.arch.ptrsize
    ref = _both(tmp_path, lambda: _demo(arch, f"leak_{arch}.s"))[False][0]
    for in_place in (True, False):
        monkeypatch.setattr(NativeRecorder, "in_place", in_place)
        m = _demo(arch, f"leak_{arch}.s")
        p = tmp_path / f"ip{in_place}.gtr"
        rec = record(m, str(p), "native", "t.s")
        assert bool(rec.in_place) is in_place and rec.state.nbatch == (1 if in_place else len(m.arch.regs) - 1)
        assert p.read_bytes() == ref
    # the located bytes are the registers: after a run, as uc_reg_read gives them
    mc.engine.run(5000)
    a = mc.arch
    for name, off in offs.items():
        assert int.from_bytes(ctypes.string_at(base + off, width), "little") == mc.uc.reg_read(a.regs[name])


@pytest.mark.parametrize("arch", ["amd64", "arm"])
def test_native_trace_table_of_recorded_pcs_full_falls_back_to_the_pc_column(tmp_path, arch):
    """C's table of recorded pcs (which gives each chunk's new code entries) made
    small: it fills in the first chunk, Python finds the new pcs in the pc column
    from then on; the same bytes, and a debugger session rebuilds the table."""
    ref = _both(tmp_path, lambda: _demo(arch, f"list_{arch}.s"))[False][0]
    for cap in (64, 0):                     # 0: the whole table
        mc = _demo(arch, f"list_{arch}.s")
        f = open(tmp_path / "s.gtr", "wb")  # noqa: SIM115 - closed by the recorder
        rec = Recorder(mc, NativeWriter(f), "t.s")
        rec.state.seen_cap = cap
        rec._reset_seen()
        rec.attach()
        d = Debugger(mc, snap_interval=1000)
        d.goto(9000)
        d.reverse_stepi(2500)
        d.cont()
        rec.finish()
        assert rec.state.seen_full == (cap == 64) and (rec.state.nseen == 32 if cap else rec.state.nseen > 500)
        assert (tmp_path / "s.gtr").read_bytes() == ref, cap


@pytest.mark.parametrize("arch", ["amd64", "arm"])
def test_native_trace_python_engine_and_native_engine_agree(tmp_path, arch):
    """The reference engine records with the Python recorder; the native one in C."""
    files = {}
    for engine in ("python", "native"):
        mc = _demo(arch, f"leak_{arch}.s", engine=engine)
        rec = record(mc, str(tmp_path / f"{engine}.gtr"), "native", "t.s")
        assert isinstance(rec, NativeRecorder) is (engine == "native")
        files[engine] = (tmp_path / f"{engine}.gtr").read_bytes()
    assert files["python"] == files["native"]


@pytest.mark.parametrize("arch", ["amd64", "arm"])
def test_native_trace_windows_identical(tmp_path, arch):
    mc0 = _demo(arch, f"list_{arch}.s")
    sym = mc0.image.lookup
    for kw, why in (({"start": sym("oldstack"), "stop": sym("gogo")}, "to"),
                    ({"start": sym("newstack")}, "end"),
                    ({"stop": sym("lessstack")}, "to"),
                    ({"max_records": 5000}, "max"),
                    ({"start": sym("newstack"), "max_records": 8192 + 17}, "max")):
        for cycles in (None, True):
            r = _both(tmp_path, lambda: _demo(arch, f"list_{arch}.s"), cycles=cycles, **kw)
            assert r[True] == r[False], (kw, cycles)
            assert r[True][2] == why and r[True][1] > 0, kw


def test_native_recorder_refuses_what_it_cannot_record(tmp_path):
    from emu.trace.tenet import TenetWriter
    mc = _demo("amd64", "leak_amd64.s")
    with open(tmp_path / "t", "wb") as f:
        with pytest.raises(EngineError, match="cycle account has already run"):
            Recorder(mc, NativeWriter(f), account=CycleAccount(mc).attach(), native=True)
        tapped = CycleAccount(mc)
        tapped.tap = True
        with pytest.raises(EngineError, match="Python recorder"):
            Recorder(mc, NativeWriter(f), account=tapped, native=True)
        assert type(Recorder(mc, NativeWriter(f), account=CycleAccount(mc))) is NativeRecorder
        with pytest.raises(EngineError, match="native trace format"):
            Recorder(mc, TenetWriter(f), native=True)
        assert type(Recorder(mc, TenetWriter(f))) is Recorder
    py = _demo("amd64", "leak_amd64.s", engine="python")
    with open(tmp_path / "t", "wb") as f:
        assert type(Recorder(py, NativeWriter(f))) is Recorder


@pytest.mark.parametrize("arch,cycles", [("amd64", None), ("arm", None), ("amd64", True), ("arm", False)])
def test_native_trace_debugger_session_with_reverse_execution(tmp_path, arch, cycles):
    """A debugger session (stops, reverse steps to snapshots and between them,
    running past a collection and back) with the C recorder attached writes
    the same file as one uninterrupted run; positions come back exactly.  With
    cycles: the account rides along in C, its results equal the uninterrupted
    run's too."""
    both = _both(tmp_path, lambda: _demo(arch, f"leak_{arch}.s"), cycles=cycles)
    ref, ref_result = both[True][0], both[True][4]
    mc = _demo(arch, f"leak_{arch}.s")
    f = open(tmp_path / "s.gtr", "wb")  # noqa: SIM115 - closed by the recorder
    acct = None if cycles is None else CycleAccount(mc, caches=cycles)
    rec = Recorder(mc, NativeWriter(f), "t.s", account=acct).attach()
    assert isinstance(rec, NativeRecorder)
    d = Debugger(mc, snap_interval=700)
    rnd = random.Random(3)
    for n in (1, 13, 699, 700, 701, 2000):
        d.goto(2500 + rnd.randrange(0, 9000))
        here, h, count = d.n, d.state_hash(), rec.count
        d.reverse_stepi(n)
        assert rec.count <= count
        d.stepi(n)
        assert d.n == here and d.state_hash() == h and rec.count == count
    d.cont()
    assert mc.exited
    d.reverse_stepi(3000)                   # back over the collection and the exit
    d.cont()
    rec.finish()
    assert (tmp_path / "s.gtr").read_bytes() == ref
    if acct is not None:
        assert _result(acct) == ref_result


# -- the C entry points, driven past the ends of their buffers --------------------------------
_CODE = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_uint64, ctypes.c_uint32, ctypes.c_void_p)
_MEM = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_int, ctypes.c_uint64, ctypes.c_int, ctypes.c_int64,
                        ctypes.c_void_p)
_BATCH = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.POINTER(ctypes.c_int32),
                          ctypes.POINTER(ctypes.c_void_p), ctypes.c_int)
_MEMREAD = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_uint64, ctypes.c_void_p, ctypes.c_uint64)


class _Harness:
    """A recorder state inside a buffer with a canary after it, fed by hand."""

    def __init__(self, consume: bool):
        lib = library()
        State = type(NativeRecorder(_demo("amd64", "leak_amd64.s"), NativeWriter(None)).state)
        self.lib, self.size = lib, ctypes.sizeof(State)
        self.buf = ctypes.create_string_buffer(b"\xaa" * (self.size + 4096))
        st = self.st = State.from_buffer(self.buf)
        ctypes.memset(ctypes.addressof(st), 0, self.size)
        self.tick = 0
        self.stops = 0
        self.drained = []          # (pcs, masks, nmem, nvals, naccesses, data bytes)

        def batch(_uc, ids, ptrs, n):
            self.tick += 1
            for i in range(n):
                ctypes.c_uint64.from_address(ptrs[i]).value = self.tick if i == 0 else 7
            return 0

        def memread(_uc, addr, buf, size):
            ctypes.memset(buf, addr & 0xFF, size)
            return 0

        def drain():
            if consume:
                n = st.nrec
                self.drained.append((list(st.pcs[:n]), list(st.masks[:n]), list(st.nmem[:n]), st.nvals,
                                     st.pend_meta, st.pend_data,
                                     list(zip(st.cyc[:n], st.phase[:n], st.within[:n]))))
                lib.goemu_trace_consumed(ctypes.addressof(st))

        def stop(_uc):
            self.stops += 1
            return 0
        self.cbs = [_BATCH(batch), _MEMREAD(memread), ctypes.CFUNCTYPE(None)(drain),
                    ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p)(stop)]
        st.reg_batch, st.mem_read, st.drain, st.stop = (ctypes.cast(c, ctypes.c_void_p) for c in self.cbs)
        st.nregs, st.pc_idx, st.active = 3, 2, 1
        lib.goemu_trace_init(ctypes.addressof(st))
        self.code = _CODE(ctypes.cast(lib.goemu_trace_code, ctypes.c_void_p).value)
        self.mem = _MEM(ctypes.cast(lib.goemu_trace_mem, ctypes.c_void_p).value)

    def insn(self, pc, accesses=()):
        a = ctypes.addressof(self.st)
        self.code(None, pc, 4, a)
        for kind, addr, size in accesses:
            self.mem(None, kind, addr, size, 0x1122334455667788, a)

    def canary_intact(self):
        return self.buf.raw[self.size:self.size + 4096] == b"\xaa" * 4096


def test_native_trace_buffers_past_their_ends_drain_and_lose_nothing():
    """More records than the record buffer, more accesses than the access
    buffer (one instruction's accesses straddling a drain): every record is
    drained exactly once, in order, and nothing is written past the state."""
    lim = [library().goemu_trace_limits(i) for i in range(5)]
    recs, meta = lim[1], lim[3]
    h = _Harness(consume=True)
    n = 2 * recs + 5
    want_mem = 0
    for i in range(n):
        acc = [(25 if j % 2 else 17, 0x1000 + 8 * j, 8) for j in range(i % 9)]
        want_mem += len(acc)
        h.insn(0x400000 + 4 * i, acc)
    h.insn(0x500000)                       # completes the last one
    h.drained.append((list(h.st.pcs[:h.st.nrec]), list(h.st.masks[:h.st.nrec]), list(h.st.nmem[:h.st.nrec]),
                      h.st.nvals, h.st.pend_meta, h.st.pend_data))
    pcs = [p for d in h.drained for p in d[0]]
    assert pcs == [0x400000 + 4 * i for i in range(n)]
    assert sum(sum(d[2]) for d in h.drained) == want_mem > meta      # the access buffer was filled
    assert all(sum(d[2]) == d[4] and d[5] == 8 * d[4] for d in h.drained)
    assert h.st.errors == 0 and h.stops == 0
    masks = [m for d in h.drained for m in d[1]]
    assert masks[0] == 0b011 and set(masks[1:]) == {0b001}          # pc excluded; r1 never changes
    assert h.canary_intact()


def test_native_trace_drain_that_takes_nothing_stops_without_overflow():
    lim = [library().goemu_trace_limits(i) for i in range(5)]
    h = _Harness(consume=False)
    for i in range(lim[1] + 50):
        h.insn(0x400000 + 4 * i, [(17, 0x2000, 8)])
    assert h.st.errors & 1 and h.stops >= 1 and h.st.nrec <= lim[1]
    assert h.canary_intact()


def test_native_trace_one_instruction_larger_than_the_buffers_stops():
    lim = [library().goemu_trace_limits(i) for i in range(5)]
    h = _Harness(consume=True)
    h.insn(0x400000)
    a = ctypes.addressof(h.st)
    for j in range(lim[3] + 100):          # one instruction, more accesses than the buffer holds
        h.mem(None, 16, 0x3000 + j, 8, 0, a)
    assert h.st.errors & 2 and h.stops >= 1 and h.st.nmeta <= lim[3]
    h2 = _Harness(consume=True)
    h2.insn(0x400000)
    h2.mem(None, 17, 0x3000, 4096, 0, ctypes.addressof(h2.st))      # a size the format cannot hold
    assert h2.st.errors & 2 and h2.st.nmeta == 0
    assert h.canary_intact() and h2.canary_intact()


def test_native_trace_error_is_typed(tmp_path):
    """A recorder whose C side reports an error raises a GoemuError at the end of the run."""
    mc = _demo("amd64", "leak_amd64.s")
    with open(tmp_path / "t.gtr", "wb") as f:
        rec = Recorder(mc, NativeWriter(f), "t.s").attach()
        mc.engine.run(500)
        rec.state.errors = 8
        with pytest.raises(GoemuError, match="memory could not be read"):
            rec.finish()


def test_native_trace_undrained_buffer_ends_the_run_with_a_typed_error(tmp_path):
    """A drain that takes nothing in a real run: C stops at the full buffer
    (no overflow) and the run ends with the recorder's GoemuError."""
    mc = _demo("arm", "leak_arm.s")
    with open(tmp_path / "t.gtr", "wb") as f:
        rec = Recorder(mc, NativeWriter(f), "t.s").attach()
        rec._drain = lambda: None
        with pytest.raises(GoemuError, match="not drained"):
            rec.run()
    assert rec.state.count == library().goemu_trace_limits(1) and not mc.exited


def test_native_trace_cycle_view_out_of_its_range_is_clamped():
    """The account's per-instruction view with counts past its arrays' ends (as a
    corrupted state would have): the recorder reads only inside them; positions past
    the block give (0 cycles, the account's mode), as the reference's insn_start does."""
    from emu.native.cycles import NativeCycles, limits
    h = _Harness(consume=True)
    nat = NativeCycles(lambda a, s: -1, lambda raw: None)
    nat.state.mode = 4
    h.st.acct = nat.address
    tap = h.st.tap
    nops, nseg = limits()["stage_ops"], limits()["stage"]
    tap.valid, tap.base, tap.n, tap.nseg, tap.pen = 1, 0, 2**32 - 1, 2**32 - 1, 1000
    for i in range(nops):
        tap.per[i] = i + 1
    tap.seg_end[0], tap.seg_phase[0], tap.seg_within[0] = 5, 3, 2
    n = nops + 50
    for i in range(n):
        tap.late = 7 if i == 10 else 0               # owed by record 9, read when it completes
        h.insn(0x400000 + 4 * i)
    h.insn(0x500000)
    st = h.st
    got = [c for d in h.drained for c in d[6]] + list(zip(st.cyc[:st.nrec], st.phase[:st.nrec], st.within[:st.nrec]))
    assert len(got) >= nops + 40
    assert got[0] == (1 + 1000, 3, 2) and got[4] == (5, 3, 2) and got[5] == (6, 4, 0)
    assert got[9] == (10 + 7, 4, 0)
    assert got[nops - 1] == (nops, 4, 0) and set(got[nops:]) == {(0, 4, 0)}
    assert h.st.errors == 0 and h.canary_intact() and nseg > 1


def test_native_trace_table_of_recorded_pcs_past_its_end():
    """More distinct pcs than the table takes: it stops at half its slots, says so
    (Python then reads the pc column), logs each pc once and writes nothing past it."""
    h = _Harness(consume=True)
    h.st.seen_cap = 16
    library().goemu_trace_seen_reset(ctypes.addressof(h.st), None, 0)
    for i in range(100):
        h.insn(0x400000 + 4 * (i % 60))
    assert h.st.seen_full == 1 and h.st.nseen == 8 and h.st.nnew == 8
    assert list(h.st.newpcs[:8]) == [0x400000 + 4 * i for i in range(8)]
    assert h.canary_intact()


def test_native_trace_registers_read_in_place_from_the_given_bytes():
    """Registers read in place come from ``env + offset`` (the width given), the
    others from the batch read; out-of-range slots and offsets are clamped."""
    h = _Harness(consume=False)
    env = (ctypes.c_uint8 * 64)(*range(64))
    st = h.st
    st.env, st.width, st.ndirect, st.nbatch = ctypes.addressof(env), 4, 1, 1
    st.dslot[0], st.doff[0], st.bslot[0] = 1, 8, 0
    library().goemu_trace_init(ctypes.addressof(st))
    h.insn(0x400000)
    h.insn(0x400004)
    assert st.nrec == 1 and st.masks[0] == 0b011
    assert list(st.vals[:2]) == [1, int.from_bytes(bytes(range(8, 12)), "little")]
    st.width, st.dslot[0], st.doff[0] = 3, 99, 1 << 30          # a bad width: nothing read in place
    library().goemu_trace_init(ctypes.addressof(st))
    assert st.env is None and st.ndirect == 0 and h.canary_intact()
