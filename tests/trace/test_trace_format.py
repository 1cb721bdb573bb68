import re

import pytest
from trace_support import make_trace

from emu.trace.native import NativeReader, TraceFormatError


def test_same_run_same_bytes(traces, tmp_path):
    p = tmp_path / "again.gtr"
    make_trace(p, "amd64", "buggy")
    assert p.read_bytes() == traces["amd64", "buggy"].read_bytes()


def test_records_complete(traces):
    with NativeReader(traces["amd64", "buggy"]) as rd:
        recs = list(rd)
    assert [r.index for r in recs] == list(range(len(recs)))
    assert set(recs[0].regs) == set(rd.header["registers"]) - {"rip"}     # all regs, flags incl.
    assert "rflags" in recs[0].regs
    assert all(r.text and r.bytes for r in recs)
    kinds = [k for r in recs for k, _ in r.events]
    assert kinds.count("split") == 2 and kinds.count("unsplit") == 2 and kinds.count("gc") == 2   # the first allocation's, then runtime.gc


@pytest.mark.parametrize("cut", [20, 200, -5, -1])
def test_truncated(traces, tmp_path, cut):
    data = traces["arm", "buggy"].read_bytes()
    p = tmp_path / "cut.gtr"
    p.write_bytes(data[:cut])
    with pytest.raises(TraceFormatError, match=r"record \d+") as e:
        list(NativeReader(p))
    assert e.value.record is not None


def test_corrupted(traces, tmp_path):
    data = bytearray(traces["amd64", "buggy"].read_bytes())
    data[len(data) // 2] ^= 0xFF
    p = tmp_path / "bad.gtr"
    p.write_bytes(bytes(data))
    with pytest.raises(TraceFormatError, match=r"record 0: corrupted chunk"):
        list(NativeReader(p))


# -- Tenet: a reader written from gaasedelen/tenet tracers/README.md ------------------------
TENET_REGS = {"amd64": {"rax", "rbx", "rcx", "rdx", "rbp", "rsp", "rsi", "rdi", "r8", "r9", "r10", "r11",
                        "r12", "r13", "r14", "r15", "rip"},
              "arm": {f"r{i}" for i in range(13)} | {"sp", "lr", "pc"}}
_ENTRY = re.compile(r"^(?:(?P<reg>[a-z0-9]+)=0x(?P<val>[0-9a-f]+)|(?P<acc>mr|mw|mrw)=0x(?P<addr>[0-9a-f]+):(?P<hex>(?:[0-9a-f]{2})+))$")


def read_tenet(lines, arch):
    """Each line: comma-separated REG=0xHEX entries, then mr/mw/mrw=0xADDR:HEXBYTES."""
    pcname = "rip" if arch == "amd64" else "pc"
    state = {}
    for n, line in enumerate(lines):
        regs, mem = {}, []
        for ent in line.split(","):
            m = _ENTRY.match(ent)
            assert m, f"line {n}: bad entry {ent!r}"
            if m["reg"]:
                assert m["reg"] in TENET_REGS[arch], m["reg"]
                assert not mem, "registers come before memory"
                regs[m["reg"]] = int(m["val"], 16)
            else:
                mem.append((m["acc"], int(m["addr"], 16), bytes.fromhex(m["hex"])))
        assert pcname in regs, f"line {n}: no pc"
        if n == 0:
            assert set(regs) == TENET_REGS[arch]
        state.update(regs)
        yield dict(state), mem


@pytest.mark.parametrize("arch", ["amd64", "arm"])
def test_tenet_parses(traces, tmp_path, arch):
    p = tmp_path / "t.log"
    rec = make_trace(p, arch, "buggy", "tenet")
    lines = p.read_text().splitlines()
    assert len(lines) == rec.count
    with NativeReader(traces[arch, "buggy"]) as rd:
        pcname = rd.header["pc"]
        for (state, mem), r in zip(read_tenet(lines, arch), rd):
            assert state[pcname] == r.pc
    # the store of 0 to m0.cret never happens on buggy; lines carry writes
    assert any("mw=" in ln for ln in lines)
