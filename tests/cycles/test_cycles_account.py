"""Cycle accounting on the real machine with a stand-in core (1 cycle per instruction)."""
import json

import pytest
from cycles_fake import FakeCore

from emu import cli
from emu.cycles import account as account_mod
from emu.cycles.account import PHASES, CycleAccount
from emu.run import load_program, new_machine, run_program
from emu.workloads import repeated_leak

ARCHS = ("amd64", "arm")


def _machine(arch, rounds=3):
    return new_machine(arch, "buggy", load_program(None, text=repeated_leak(arch, rounds), name="leak.s"))


def _run(arch, rounds=3, caches=True):
    mc = _machine(arch, rounds)
    acc = CycleAccount(mc, FakeCore(), caches=caches).attach()
    mc.run()
    return mc, acc.result()


@pytest.mark.parametrize("arch", ARCHS)
def test_breakdown_sums_to_total(arch):
    mc, r = _run(arch)
    assert r.total == sum(r.phases.values())
    # 1 cycle per instruction, plus every penalty: nothing lost, nothing counted twice
    assert r.total == r.instructions + sum(r.penalties.values())
    assert r.instructions == mc.icount == sum(r.phase_instructions.values())
    assert set(r.phases) == set(PHASES)
    for p in ("prologue", "morestack", "newstack", "gogocall", "body", "lessstack", "oldstack", "gogo",
              "gc", "other"):
        assert r.phases[p] > 0, p
    assert r.penalties["dcache"] > 0 and r.caches["l1d"]["misses"] > 0


@pytest.mark.parametrize("arch", ARCHS)
def test_same_run_same_numbers(arch):
    assert _run(arch)[1].to_json() == _run(arch)[1].to_json()


@pytest.mark.parametrize("arch", ARCHS)
def test_nothing_attached_costs_nothing(arch):
    mc = _machine(arch)
    before = mc.hooks.handles()
    acc = CycleAccount(mc, FakeCore(), caches=True)
    assert mc.hooks.handles() == before              # constructing attaches nothing
    acc.attach()
    assert len(mc.hooks.handles()) == len(before) + 3
    acc.detach()
    assert mc.hooks.handles() == before
    mc.run()
    assert acc.result().total == 0
    res = run_program(arch, "buggy", load_program(None, text=repeated_leak(arch, 1), name="l.s"))
    assert res.cycles is None and "cycles" not in res.to_json()


@pytest.mark.parametrize("arch", ARCHS)
def test_one_record_per_split_and_unsplit(arch):
    mc, r = _run(arch, rounds=4, caches=False)
    nsplit = sum(e.kind == "split" for e in mc.events)
    nunsplit = sum(e.kind == "unsplit" for e in mc.events)
    assert nsplit >= 4 and nunsplit == nsplit
    assert len(r.splits) == nsplit and len(r.unsplits) == nunsplit
    assert [s.index for s in r.splits] == list(range(nsplit))
    for s in r.splits:
        assert s.complete and s.cycles == sum(s.phases.values()) > 0
        assert set(s.phases) <= {"morestack", "newstack", "gogocall"}
        assert {"morestack", "newstack", "gogocall"} <= set(s.phases)
    for u in r.unsplits:
        assert u.complete and u.cycles == sum(u.phases.values()) > 0
        assert set(u.phases) <= {"lessstack", "oldstack", "gogo"}
        # lessstack's return trick: the return into lessstack is one RAS mispredict per unsplit
        assert u.mispredicts.get("ret") == 1
    assert sum(s.phases.get("newstack", 0) for s in r.splits) <= r.phases["newstack"]
    assert r.mispredicts["ret"] >= nunsplit


@pytest.mark.parametrize("arch", ARCHS)
def test_resuming_mid_block_is_not_a_branch(arch):
    _mc, whole = _run(arch, rounds=2, caches=False)
    mc = _machine(arch, rounds=2)
    acc = CycleAccount(mc, FakeCore()).attach()
    leak = mc.image.functions["leak"]
    stop = leak.lines[2][0]                          # inside the prologue's first block
    mc.run(until=stop)
    assert mc.pc == stop
    mc.run()
    cut = acc.result()
    assert cut.branches == whole.branches
    assert cut.mispredicts == whole.mispredicts
    assert cut.total == sum(cut.phases.values())


def test_cli_run_cycles(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(account_mod, "default_core", lambda arch: FakeCore())
    prog = tmp_path / "leak.s"
    prog.write_text(repeated_leak("arm", 2))
    assert cli.main(["run", str(prog), "--arch", "arm", "--cycles", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    c = data["cycles"]
    assert c["total"] == sum(c["phases"].values()) and len(c["splits"]) == data["splits"]
    assert cli.main(["run", str(prog), "--arch", "arm", "--cache-model"]) == 0
    out = capsys.readouterr().out
    assert "CPI" in out and "per unsplit" in out and "ret (RAS)" in out and "l1d" in out
