"""goemu's native hook library: typed build/load errors, and its tables
driven past their ends through the C entry points themselves."""
import ctypes
from pathlib import Path

import pytest

from emu.engine import EngineError, NativeCounter
from emu.errors import BuildError
from emu.machine import Machine
from emu.native import NativeBuildError, build, library, load_library
from emu.run import load_program, new_machine

DEMOS = Path(__file__).resolve().parents[2] / "emu" / "demos"


def test_native_compile_error_is_typed_and_names_the_compiler_message(tmp_path):
    bad = tmp_path / "broken.c"
    bad.write_text("int goemu_abi(void) { return undefined_thing; }\n")
    with pytest.raises(NativeBuildError) as ei:
        build([bad], tmp_path / "out.so")
    assert isinstance(ei.value, BuildError)
    msg = str(ei.value)
    assert "broken.c" in msg and "undefined_thing" in msg and "error" in msg


def test_native_load_error_is_typed(tmp_path):
    junk = tmp_path / "junk.so"
    junk.write_bytes(b"not an ELF file")
    with pytest.raises(NativeBuildError, match="cannot load"):
        load_library(junk)


def test_native_library_is_cached_by_content():
    p1 = build()
    mtime = p1.stat().st_mtime_ns
    assert build() == p1 and p1.stat().st_mtime_ns == mtime


def test_unknown_engine_is_a_usage_error():
    mc = new_machine("amd64", "buggy", None)
    with pytest.raises(EngineError, match="unknown engine"):
        Machine(mc.image, engine="jit")


def test_native_count_table_past_its_end():
    """More distinct blocks than the table has slots: every count stays exact
    (evicted entries are asked again), nothing is written outside the table."""
    lib = library()
    counter = NativeCounter(mc=None)
    nbytes = ctypes.sizeof(counter.state)
    buf = ctypes.create_string_buffer(b"\xaa" * (nbytes + 4096))    # canary after the state
    st = type(counter.state).from_buffer(buf)
    ctypes.memset(ctypes.addressof(st), 0, nbytes)
    asked = []

    def miss(addr, size):
        asked.append((addr, size))
        return size // 4
    cb = ctypes.CFUNCTYPE(ctypes.c_int32, ctypes.c_uint64, ctypes.c_uint32)(miss)
    st.miss = ctypes.cast(cb, ctypes.c_void_p)
    st.stop = None
    slots = lib.goemu_counter_slots()
    fn = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_uint64, ctypes.c_uint32, ctypes.c_void_p)(
        ctypes.cast(lib.goemu_count_block, ctypes.c_void_p).value)
    blocks = [(0x400000 + 0x40 * i, 4 * (1 + i % 7)) for i in range(3 * slots)]
    want = 0
    for rnd in range(2):
        for addr, size in blocks:
            fn(None, addr, size, ctypes.addressof(st))
            want += size // 4
            assert st.blk_addr == addr and st.blk_size == size and st.icount == want
    assert st.blocks == 2 * len(blocks)
    assert len(asked) == st.misses >= len(blocks)      # evictions are asked again, never miscounted
    assert buf.raw[nbytes:nbytes + 4096] == b"\xaa" * 4096


def test_native_miss_failure_stops_without_counting():
    lib = library()
    st = NativeCounter(mc=None).state
    cb = ctypes.CFUNCTYPE(ctypes.c_int32, ctypes.c_uint64, ctypes.c_uint32)(lambda a, s: -1)
    st.miss = ctypes.cast(cb, ctypes.c_void_p)
    stops = []
    stop = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p)(lambda uc: stops.append(uc) or 0)
    st.stop = ctypes.cast(stop, ctypes.c_void_p)
    fn = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_uint64, ctypes.c_uint32, ctypes.c_void_p)(
        ctypes.cast(lib.goemu_count_block, ctypes.c_void_p).value)
    fn(ctypes.c_void_p(1234), 0x1000, 8, ctypes.addressof(st))
    assert st.icount == 0 and len(stops) == 1


@pytest.mark.parametrize("arch", ["amd64", "arm"])
def test_native_miss_callback_error_surfaces(arch):
    """An exception while analysing a new block (here: Capstone replaced by a
    failing function) stops the run and is raised by run(), not lost in C."""
    mc = Machine(new_machine(arch, "buggy", load_program(str(DEMOS / f"leak_{arch}.s"))).image, engine="native")

    def boom(addr, size):
        raise RuntimeError(f"cannot analyse block {addr:#x}")
    mc.insn_spans = boom
    with pytest.raises(RuntimeError, match="cannot analyse block"):
        mc.run()


@pytest.mark.parametrize("arch", ["amd64", "arm"])
def test_native_events_past_the_ring(arch):
    """Hot-split makes three events per call: one call more than the ring has
    slots fills it three times; the events are those of the Python engine, in order."""
    from emu.cycles.hotsplit import program
    text = program(arch, True, library().goemu_events_slots() + 10)
    evs = {}
    for engine in ("python", "native"):
        mc = Machine(new_machine(arch, "buggy", load_program(None, text=text, name="hs.s")).image, engine=engine)
        mc.run()
        evs[engine] = [(e.kind, e.icount, e.pc, e.detail) for e in mc.events]
    slots = library().goemu_events_slots()
    assert len(evs["native"]) > 3 * slots
    assert evs["native"] == evs["python"]


def test_native_event_ring_full_without_drain_drops_inside_bounds():
    mc = Machine(new_machine("amd64", "buggy", None).image, engine="native")
    ne = mc._native_events
    st = ne.state
    lib = library()
    st.drain = None
    slots = lib.goemu_events_slots()
    fn = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_uint64, ctypes.c_uint32, ctypes.c_void_p)(
        ctypes.cast(lib.goemu_event_hook, ctypes.c_void_p).value)
    end = ctypes.addressof(st) + ctypes.sizeof(st)
    after = ctypes.string_at(end, 64)      # whatever follows the state must stay as it is
    lessstack = mc.image.symbols["lessstack"]
    for _ in range(slots + 50):
        fn(mc.uc._uch, lessstack, 1, ctypes.addressof(st))
    assert st.n == slots
    assert ctypes.string_at(end, 64) == after
    st.n = 0
