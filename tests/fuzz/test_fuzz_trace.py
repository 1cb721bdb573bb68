"""Fuzzing the trace reader: a real trace damaged at random (bytes flipped,
cut, inserted, chunks spliced) and arbitrary bytes are either read or refused
with TraceFormatError -- never KeyError, struct.error, a hang or a crash."""
from __future__ import annotations

import pytest
from fuzz_support import FUZZ, Tally
from hypothesis import given
from hypothesis import strategies as st

from emu.run import load_program, new_machine
from emu.trace import native
from emu.trace.cli import DEMOS
from emu.trace.record import record


@pytest.fixture(scope="module")
def trace_bytes(tmp_path_factory) -> bytes:
    p = tmp_path_factory.mktemp("fz") / "t.gtr"
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(native, "CHUNK", 128)
        mc = new_machine("amd64", "buggy", load_program(str(DEMOS / "leak_amd64.s")))
        record(mc, str(p), "native", "leak_amd64.s", max_records=600)
    return p.read_bytes()


def _read(raw: bytes, path, tally: Tally) -> None:
    path.write_bytes(raw)
    try:
        with native.NativeReader(str(path)) as rd:
            n = sum(1 for _ in rd)
        tally("read")
        assert n >= 0
    except native.TraceFormatError as e:
        assert e.path == str(path) and e.record is not None and e.record >= 0
        tally("TraceFormatError")


EDIT = st.one_of(
    st.tuples(st.just("flip"), st.integers(0, 10**6), st.integers(1, 255)),
    st.tuples(st.just("cut"), st.integers(0, 10**6), st.just(0)),
    st.tuples(st.just("insert"), st.integers(0, 10**6), st.integers(0, 255)),
    st.tuples(st.just("delete"), st.integers(0, 10**6), st.integers(1, 64)),
    st.tuples(st.just("splice"), st.integers(0, 10**6), st.integers(0, 10**6)),
)


def apply(raw: bytes, edits) -> bytes:
    b = bytearray(raw)
    for kind, at, v in edits:
        if not b:
            break
        at %= len(b)
        if kind == "flip":
            b[at] ^= v
        elif kind == "cut":
            del b[at:]
        elif kind == "insert":
            b[at:at] = bytes([v])
        elif kind == "delete":
            del b[at:at + v]
        else:                      # a piece of the file copied elsewhere (a chunk repeated)
            src = v % len(b)
            b[at:at] = b[src:src + 200]
    return bytes(b)


def test_fuzz_damaged_trace(trace_bytes, tmp_path):
    tally = Tally("trace reader (damaged real trace)")

    @FUZZ
    @given(st.lists(EDIT, min_size=1, max_size=4))
    def prop(edits):
        _read(apply(trace_bytes, edits), tmp_path / "t.gtr", tally)
    prop()
    tally.write()
    assert tally.outcomes["TraceFormatError"] > 0


def test_fuzz_arbitrary_bytes(trace_bytes, tmp_path):
    tally = Tally("trace reader (arbitrary bytes after a valid magic)")

    @FUZZ
    @given(st.binary(max_size=512), st.booleans())
    def prop(tail, magic):
        _read((native.MAGIC if magic else b"") + tail, tmp_path / "t.gtr", tally)
    prop()
    tally.write()
