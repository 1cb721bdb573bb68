"""``goemu leaks`` end to end: the demos side by side, JSON, and bad input."""
from __future__ import annotations

import json

from emu.cli import main


def test_leaks_cli_arm_both(capsys):
    assert main(["leaks", "--arch", "arm", "--variant", "both"]) == 0
    out = capsys.readouterr().out
    for demo in ("leak", "interior", "list"):
        assert f"== demo:{demo} on arm: dead roots, buggy (efacb2a1) vs fixed (89b075cc)" in out
    assert out.count("dead on buggy only (the fix removes it): m0.cret") == 3
    assert "stored by  #" in out and "lessstack  str r0, [r9, #0x20]" in out
    assert "m0.cret       dead at 1 of 1, 128 bytes  -" in out


def test_leaks_cli_json(capsys, tmp_path):
    src = tmp_path / "p.s"
    src.write_text((__import__("pathlib").Path(__file__).resolve().parents[2] / "emu" / "demos" /
                    "list_amd64.s").read_text())
    assert main(["leaks", str(src), "--variant", "both", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    buggy, fixed = doc["runs"]
    assert (buggy["variant"], fixed["variant"]) == ("buggy", "fixed")
    [cret] = [r for r in buggy["collections"][0]["roots"] if r["name"] == "m0.cret"]
    assert cret["status"] == "dead" and cret["freed_bytes"] == 128 and cret["freed_objects"] == 4
    assert cret["origin"]["where"].startswith("lessstack") and cret["next"] is None
    assert doc["comparisons"][0]["buggy_only"] == ["m0.cret"]
    assert all(r["name"] != "m0.cret" for c in fixed["collections"] for r in c["roots"])


def test_leaks_cli_errors(capsys, tmp_path):
    assert main(["leaks", str(tmp_path / "missing.s")]) == 66      # InputError
    err = capsys.readouterr().err
    assert "missing.s" in err and "Traceback" not in err
    bad = tmp_path / "bad.s"
    bad.write_text("TEXT main, $16-0\n\tfrobnicate rax\n\tRET\n")
    assert main(["leaks", str(bad)]) == 1
    err = capsys.readouterr().err
    assert "bad.s:2" in err and "Traceback" not in err
    assert main(["leaks", "--param", "n=3"]) == 64
    loop = tmp_path / "loop.s"
    loop.write_text("TEXT main, $16-0\nl:\n\tjmp l\n")
    assert main(["leaks", str(loop), "--max-insns", "10000"]) == 3
    assert "budget" in capsys.readouterr().err


def test_leaks_cli_no_collection(capsys, tmp_path):
    src = tmp_path / "nogc.s"
    src.write_text("TEXT main, $16-0\n\tRET\n")
    assert main(["leaks", str(src), "--variant", "fixed"]) == 0
    assert "no collection ran" in capsys.readouterr().out
