"""Calibration against llvm-mca.  These tests need llvm-mca (.ci/run installs
llvm); without it they fail and say how to install it - they do not skip."""
from __future__ import annotations

import json

import pytest

from emu.cli import main
from emu.cycles.calibrate import MAPE_TARGET, calibrate, find_llvm_mca
from emu.errors import ToolMissing


def _require_mca() -> None:
    try:
        find_llvm_mca()
    except ToolMissing as e:
        pytest.fail(f"the calibration test needs llvm-mca: {e}")


@pytest.mark.parametrize("arch", ["amd64", "arm"])
def test_mape_within_bound(arch):
    _require_mca()
    c = calibrate(arch, "buggy")
    assert len(c.blocks) >= 50
    funcs = {b.func for b in c.blocks}
    assert "newstack" in funcs and "mallocgc" in funcs          # runtime_c
    assert {"morestack", "reflectcall", "gogocall"} & funcs    # the stubs
    assert all(b.model > 0 and b.mca > 0 for b in c.blocks)
    assert c.mape <= MAPE_TARGET, f"{arch}: MAPE {c.mape:.1f}% > {MAPE_TARGET}%; worst: " + \
        "; ".join(f"{b.func}@{b.addr:#x} {b.error_pct:+.0f}%" for b in c.worst(3))


def test_calibrate_cli_json(capsys):
    _require_mca()
    assert main(["calibrate", "--arch", "arm", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    arm = out["arches"][0]
    assert out["ok"] and arm["arch"] == "arm" and arm["core"] == "cortex_a9"
    assert arm["mape_pct"] <= MAPE_TARGET and arm["blocks_measured"] == len(arm["blocks"])
    # llvm-mca cannot schedule LDM/STM/PUSH on Cortex-A9: dropped and reported
    assert arm["dropped_unsupported"]


def test_calibrate_cli_table(capsys):
    _require_mca()
    assert main(["calibrate", "--arch", "amd64"]) == 0
    out = capsys.readouterr().out
    assert "llvm-mca" in out and "error %" in out
    assert out.strip().splitlines()[-1].startswith("MAPE amd64")


def test_missing_llvm_mca_env_override(monkeypatch, capsys):
    monkeypatch.setenv("GOEMU_LLVM_MCA", "/nonexistent/llvm-mca")
    assert main(["calibrate", "--arch", "arm"]) == ToolMissing.exit_code != 0
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "apt-get install llvm" in err


def test_missing_llvm_mca_on_path(monkeypatch, capsys, tmp_path):
    monkeypatch.delenv("GOEMU_LLVM_MCA", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    assert main(["calibrate"]) == ToolMissing.exit_code
    err = capsys.readouterr().err
    assert "llvm-mca not found" in err and "apt-get install llvm" in err
    with pytest.raises(ToolMissing):
        calibrate("amd64")
