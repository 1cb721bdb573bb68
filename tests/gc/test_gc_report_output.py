"""What the collector prints for a deep list: JSON paths are capped at
emu.gc.PATH_SHOWN links with the full length in ``levels``; gc-report rows use
the same cap after a per-root summary; the full chain is still there on demand
and matches memory; a scanstack throw exits 2 with the fault report."""
from __future__ import annotations

import json
import re

import pytest

from emu import cli
from emu.gc import PATH_SHOWN
from emu.gcbench import list_program

# the program's own runtime.gc calls only (GOGC=off; tests/gc/conftest.py)
pytestmark = pytest.mark.usefixtures("gogc_off")

N = 30


@pytest.fixture(params=["amd64", "arm"])
def deep_list(request, tmp_path):
    prog = tmp_path / f"list_{request.param}.s"
    prog.write_text(list_program(request.param, N))
    return request.param, prog


def test_json_paths_capped(deep_list, capsys):
    arch, prog = deep_list
    assert cli.main(["gc-report", str(prog), "--arch", arch, "--variant", "fixed", "--json"]) == 0
    (run,) = json.loads(capsys.readouterr().out)
    first, second = run["gcs"]
    assert first["path_shown_max"] == PATH_SHOWN
    nodes = [o for o in first["retained"] if o["size"] == 16]
    assert len(nodes) == N
    assert sorted(o["levels"] for o in nodes) == list(range(1, N + 1))
    for o in nodes:
        assert o["root"] == "data head"
        shown = o["path"].count("→")
        if o["levels"] <= PATH_SHOWN:
            assert "path_shown" not in o and shown == 2 * o["levels"] - 1
        else:
            assert o["path_shown"] == PATH_SHOWN
            hidden = o["levels"] - PATH_SHOWN
            assert f"… {hidden} level{'s' if hidden != 1 else ''} …" in o["path"]
            assert shown == 2 * PATH_SHOWN       # 8 links (2*8-1 arrows) and one more around the elision
            assert o["path"].endswith(f"{o['addr']:#x} 16")
    # the second collection frees the whole list
    assert sum(1 for o in second["freed"] if o["size"] == 16) == N


def test_gc_report_rows_and_full_path(deep_list, capsys):
    arch, prog = deep_list
    assert cli.main(["gc-report", str(prog), "--arch", arch, "--variant", "fixed"]) == 0
    out = capsys.readouterr().out
    m = re.search(r"retained by root:\n((?:    .*\n)+)", out)
    assert m, out[:2000]
    assert re.search(rf"\s{N * 16}\s+bytes in\s+{N} objects\s+data head", m.group(1)), m.group(1)
    assert "… 22 levels …" in out          # the deepest node: 30 levels, 8 shown

    from emu.run import load_program, run_program
    r = run_program(arch, "fixed", load_program(prog), 50_000_000)
    rep = r.gcs[0]
    deepest = max((o for o in rep.retained if o.size == 16), key=lambda o: o.levels)
    assert deepest.levels == N and len(deepest.path) == N
    assert deepest.path_text().count("→") == 2 * N - 1
    assert rep.find(deepest.addr + 8)[1].addr == deepest.addr


def test_scanstack_throw_exit_status(tmp_path, capsys, monkeypatch):
    """Through the CLI: a corrupted chain is exit status 2 with the fault report."""
    from emu import gc as gcmod
    inner = gcmod.collect

    def corrupting(mc, sp):
        top = mc.field("G", mc.g, "stackbase")
        mc.write(top + mc.layouts["Stktop"].offset("gobuf.sp"), (8).to_bytes(mc.arch.ptrsize, "little"))
        return inner(mc, sp)
    monkeypatch.setattr(gcmod, "collect", corrupting)
    prog = tmp_path / "deep.s"
    prog.write_text("TEXT main, $64-0\n\tcall deep\n\tRET\nTEXT deep, $4096-0\n\tcall runtime.gc\n\tRET\n")
    assert cli.main(["run", str(prog), "--arch", "amd64"]) == 2
    err = capsys.readouterr()
    text = err.out + err.err
    assert "runtime throw: scanstack (after printing: scanstack inconsistent: g1#1 sp=0x8 not in [" in text
    assert "<runtime.gc+" in text and "registers:" in text
