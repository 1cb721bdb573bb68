"""gdb's Python API steps through a whole unsplit (lessstack, oldstack, gogo,
back into the caller on the old segment) and every instruction's registers
equal goemu's own trace of the same run."""
from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from gdbstub_helpers import DEMOS, gdb_binary, gdbserver

from emu.gdbstub.target import TargetDescription
from emu.run import load_program, new_machine
from emu.trace.native import NativeReader
from emu.trace.record import record

HERE = Path(__file__).resolve().parent


def _trace_states(arch: str, variant: str, tmp: Path, limit: int = 600):
    """[(pc, registers after the instruction)] from lessstack's first entry,
    cut after the first instruction back in the program (the caller)."""
    mc = new_machine(arch, variant, load_program(DEMOS / f"leak_{arch}.s"))
    path = tmp / "unsplit.gtr"
    record(mc, str(path), start=mc.image.symbols["lessstack"], max_records=limit)
    out, regs = [], {}
    for r in NativeReader(str(path)):
        regs = {**regs, **r.regs}
        out.append((r.pc, dict(regs)))
        f = mc.image.func_at(r.pc)
        if len(out) > 1 and f is not None and not f.runtime:
            break
    else:
        raise AssertionError("the unsplit did not return to the program within the trace")
    return out


@pytest.mark.parametrize("arch", ["amd64", "arm"])
def test_python_api_steps_a_whole_unsplit(arch, tmp_path):
    states = _trace_states(arch, "buggy", tmp_path)
    td = TargetDescription(arch)
    by_source = {r.source: r for r in td.regs if r.source}
    steps = len(states) - 1
    assert steps > 20                       # lessstack + oldstack + gogo: a real unsplit
    with gdbserver("--arch", arch, "--variant", "buggy", elf=str(tmp_path / "g.elf")) as srv:
        env = dict(os.environ, GS_PORT=str(srv.port), GS_ELF=srv.elf, GS_OUT=str(tmp_path / "gdb.jsonl"),
                   GS_STEPS=str(steps),
                   GS_REGS=",".join(f"{r.name}:{r.bits}" for r in by_source.values()))
        p = subprocess.run([gdb_binary(), "-nx", "-batch", "-x", str(HERE / "gdb_step_unsplit.py")],
                           env=env, capture_output=True, text=True, timeout=600)
        assert srv.wait() == 0, p.stdout + p.stderr
    seen = [json.loads(line) for line in (tmp_path / "gdb.jsonl").read_text().splitlines()]
    assert len(seen) == steps + 1, p.stdout + p.stderr
    pc = td.regs[[r.source for r in td.regs].index(arch_pc := {"amd64": "rip", "arm": "pc"}[arch])].name
    for k in range(1, steps + 1):
        # gdb's stop k: the instruction of record k not yet executed, the state after record k-1
        assert seen[k][pc] == states[k][0], (k, hex(seen[k][pc]), hex(states[k][0]))
        want = states[k - 1][1]
        for src, reg in by_source.items():
            if src == arch_pc:
                continue
            assert seen[k][reg.name] == want[src], (k, reg.name, hex(seen[k][reg.name]), hex(want[src]))
