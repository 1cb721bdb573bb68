"""Recording windows (--from/--to), what each record carries, and trace-show lookups."""
import pytest

from emu.run import load_program, new_machine
from emu.trace.cli import DEMOS, main
from emu.trace.native import NativeReader
from emu.trace.record import record
from emu.trace.show import show


def _machine(arch, variant="buggy"):
    return new_machine(arch, variant, load_program(str(DEMOS / f"leak_{arch}.s")))


def _recs(path):
    with NativeReader(path) as rd:
        return rd.header, list(rd)


@pytest.mark.parametrize("arch", ["amd64", "arm"])
def test_from_to(tmp_path, arch):
    mc = _machine(arch)
    start, stop = mc.image.lookup("oldstack"), mc.image.lookup("gogo")
    rec = record(mc, str(tmp_path / "w.gtr"), "native", start=start, stop=stop)
    assert rec.done_reason == "to"
    header, recs = _recs(tmp_path / "w.gtr")
    # starts at the first entry to oldstack; record 0 lists every register, flags included
    assert recs[0].pc == start and recs[0].sym == "oldstack"
    assert set(recs[0].regs) == set(header["registers"]) - {header["pc"]}
    assert header["flags"] in recs[0].regs
    assert recs[0].events and recs[0].events[0][0] == "unsplit"
    # stops at the first entry to gogo: gogo itself is not recorded, the last record jumps to it
    assert not any(r.pc == stop or r.sym.startswith("gogo") for r in recs)
    assert recs[-1].sym.startswith("oldstack") and hex(stop) in recs[-1].text     # call gogo / b gogo
    # the whole run stopped there: the recording holds one unsplit, not the second one
    assert sum(k == "unsplit" for r in recs for k, _ in r.events) == 1
    full = record(_machine(arch), str(tmp_path / "full.gtr"), "native")
    assert rec.count < full.count


def test_from_same_symbol_as_to(tmp_path):
    # --from f --to f: from the first entry to f up to (not including) its next entry
    mc = _machine("amd64")
    f = mc.image.lookup("oldstack")
    record(mc, str(tmp_path / "w.gtr"), "native", start=f, stop=f)
    _, recs = _recs(tmp_path / "w.gtr")
    assert recs[0].pc == f and [r.index for r in recs if r.pc == f] == [0]
    assert sum(k == "unsplit" for r in recs for k, _ in r.events) == 1
    assert len(recs) > 50      # the first unsplit, its return to main, up to the second unsplit


def test_from_without_to_runs_to_the_end(tmp_path):
    mc = _machine("arm")
    rec = record(mc, str(tmp_path / "w.gtr"), "native", start=mc.image.lookup("newstack"))
    _, recs = _recs(tmp_path / "w.gtr")
    assert rec.done_reason == "end" and recs[0].sym == "newstack"
    assert [k for k, _ in recs[-1].events] == ["exit"]
    assert [k for r in recs for k, _ in r.events].count("split") == 2


def test_cli_from_to(tmp_path, capsys):
    out = tmp_path / "t.log"
    assert main(["trace", "--arch", "arm", "--from", "oldstack", "--to", "gogo", "--format", "tenet",
                 "-o", str(out)]) == 0
    assert "stopped at gogo" in capsys.readouterr().err
    lines = out.read_text().splitlines()
    mc = _machine("arm")
    start = mc.image.lookup("oldstack")
    record(mc, str(tmp_path / "n.gtr"), "native", start=start, stop=mc.image.lookup("gogo"))
    _, recs = _recs(tmp_path / "n.gtr")
    assert len(lines) == len(recs)
    # Tenet's first line: every register as it was before oldstack's first instruction (not at boot);
    # that instruction is `sub sp, sp, #0x30`, so only sp differs from the native record 0 (state after)
    assert recs[0].text == "sub sp, sp, #0x30"
    first = {k: int(v, 16) for k, v in (e.split("=") for e in lines[0].split(","))}
    assert first["pc"] == start
    assert first["sp"] == recs[0].regs["sp"] + 0x30
    assert all(first[k] == v for k, v in recs[0].regs.items() if k not in ("sp", "cpsr"))
    assert main(["trace", "--arch", "arm", "--from", "nosuch", "-o", str(out)]) == 64


@pytest.mark.parametrize("arch", ["amd64", "arm"])
def test_events_attached(traces, arch):
    _, recs = _recs(traces[arch, "fixed"])
    where = {}
    for r in recs:
        for k, _ in r.events:
            where.setdefault(k, []).append(r)
    assert [r.sym for r in where["split"]] == ["newstack", "newstack"]
    assert [r.sym for r in where["unsplit"]] == ["oldstack", "oldstack"]
    alloc_gc, gc = where["gc"]                 # the first allocation's collection, then runtime.gc
    assert alloc_gc.sym.startswith("gc1") and alloc_gc.text.split()[0] in ("syscall", "svc")
    assert gc.sym.startswith("runtime.gc") and gc.text.split()[0] in ("syscall", "svc")
    (exit_,) = where["exit"]
    assert exit_ is recs[-1]


@pytest.mark.parametrize("arch", ["amd64", "arm"])
def test_write_value_from_hook_args(traces, arch):
    """The fixed oldstack stores 0 over m0.cret, which still holds the list pointer:
    the recorded bytes are the value stored, not the memory before the store."""
    header, recs = _recs(traces[arch, "fixed"])
    cret = next(a for a, _, n in header["data_names"] if n == "m0.cret")
    ptr = header["ptrsize"]
    stores = [(r, d) for r in recs for a, s, d in r.writes if a == cret]
    # lessstack saves the pointer, oldstack clears it (fixed), once per unsplit
    vals = [int.from_bytes(d, "little") for _, d in stores]
    assert len(vals) == 4 and vals[1] == vals[3] == 0 and vals[0] != 0 and vals[2] != 0
    # before the clearing store, memory held the pointer: a read of m0.cret in between saw it
    r_clear = stores[1][0]
    reads = [d for r in recs[stores[0][0].index + 1:r_clear.index + 1] for a, s, d in r.reads if a == cret]
    assert reads and int.from_bytes(reads[-1], "little") == vals[0]
    assert all(len(d) == ptr for _, d in stores)


def test_show_from_index_grep_first_write(traces, capsys):
    p = traces["amd64", "fixed"]
    header, recs = _recs(p)
    lines = list(show(str(p), start=100, limit=3))
    assert [ln.split()[0] for ln in lines] == ["#100", "#101", "#102"]
    assert main(["trace-show", str(p), "--index", "1234"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("#1234 ") and recs[1234].text in out and out.count("\n#") == 0
    assert main(["trace-show", str(p), "--index", str(len(recs))]) == 1
    capsys.readouterr()
    # --grep over symbol+offset, text and events; combined with --from
    got = [ln.split()[0] for ln in show(str(p), grep=r"^oldstack\+0x8a ")]
    want = [f"#{r.index}" for r in recs if r.sym == "oldstack+0x8a"]
    assert got == want and len(want) == 2
    assert [ln.split()[0] for ln in show(str(p), start=recs[-1].index - 5, grep="<exit>")] == [f"#{recs[-1].index}"]
    # first write to an address, by number or by name, from --from on
    cret = next(a for a, _, n in header["data_names"] if n == "m0.cret")
    firsts = [r.index for r in recs if any(a <= cret < a + s for a, s, _ in r.writes)]
    assert [ln.split()[0] for ln in show(str(p), first_write=hex(cret))] == [f"#{firsts[0]}"]
    assert [ln.split()[0] for ln in show(str(p), first_write="m0.cret", start=firsts[0] + 1)] == [f"#{firsts[1]}"]
    assert main(["trace-show", str(p), "--grep", "("]) == 64
    assert main(["trace-show", str(p), "--first-write", "no.such"]) == 64
