"""Block descriptions shared between cycle accounts (emu/cycles/account.py _Describer).

Accounts whose core has the same data describe each block (Capstone, the
core's classification, ``ops_of``) once per process.  The cycles must be the
ones an account describing its own blocks computes, on both engines, with
and without the data-cache model, and the core's count of instructions that
fell into the default class must be what describing them itself would count.
"""
import os
from pathlib import Path

import pytest

from emu.cycles import account as account_mod
from emu.cycles.account import CycleAccount
from emu.cycles.model import CoreModel
from emu.machine import Machine
from emu.run import load_program, new_machine

DEMOS = Path(__file__).resolve().parents[2] / "emu" / "demos"


class _OwnCore(CoreModel):
    """A CoreModel the describer does not share: the account describes its blocks itself."""


def _run(arch, engine, core=None, caches=False, program="leak"):
    unit = load_program(str(DEMOS / f"{program}_{arch}.s"))
    mc = Machine(new_machine(arch, "buggy", unit).image, engine=engine)
    from emu.gc import attach
    attach(mc)
    acct = CycleAccount(mc, core, caches=caches).attach()
    mc.run()
    return acct


@pytest.fixture
def fresh(monkeypatch, tmp_path):
    """No descriptions from earlier tests or files; counts the blocks actually described."""
    monkeypatch.setattr(account_mod, "_DESCRIBERS", {})
    monkeypatch.setenv("GOEMU_CYCLES_DESCRIBE_CACHE", str(tmp_path / "describe"))
    described = []
    real = account_mod._Describer.describe

    def describe(self, addr, code, insns, classify):
        described.append(addr)
        return real(self, addr, code, insns, classify)
    monkeypatch.setattr(account_mod._Describer, "describe", describe)
    return described


@pytest.mark.parametrize("arch", ["amd64", "arm"])
@pytest.mark.parametrize("engine", ["native", "python"])
def test_second_account_describes_nothing_and_counts_the_same(fresh, arch, engine):
    first = _run(arch, engine, caches=True)
    n = len(fresh)
    assert n == len(first._blocks) > 20          # every block described once
    second = _run(arch, engine, caches=True)
    assert len(fresh) == n                       # ... and not again for the second account
    assert second.result().to_json() == first.result().to_json()
    assert second.result().splits                # the records are there, not only the sums


@pytest.mark.parametrize("arch", ["amd64", "arm"])
@pytest.mark.parametrize("caches", [False, True])
def test_shared_descriptions_give_the_own_description_cycles(fresh, arch, caches):
    """An account on a core that describes its own blocks (other register
    numbering, no sharing) and one on shared descriptions: the same result,
    and the same default-class counts on each account's core."""
    _run(arch, "native", program="list")            # the describer has numbered another program's registers first
    own_core, shared_core = _OwnCore.for_arch(arch), CoreModel.for_arch(arch)
    described = len(fresh)
    own = _run(arch, "native", own_core, caches)
    assert len(fresh) == described                  # the own core never asks the describer
    shared = _run(arch, "native", shared_core, caches)
    assert own._describer is None and shared._describer is not None
    assert shared.result().to_json() == own.result().to_json()
    assert dict(shared_core.unknown) == dict(own_core.unknown)


def test_default_class_counts_reach_the_accounts_core(fresh):
    """amd64's leak demo has an instruction without a timing class (``mul``):
    each account's own core counts it, also when the block was described for
    an earlier account."""
    cores = [CoreModel.for_arch("amd64") for _ in range(2)]
    for core in cores:
        _run("amd64", "native", core)
    assert cores[0].unknown and dict(cores[0].unknown) == dict(cores[1].unknown)


def test_describer_starts_over_when_full(fresh, monkeypatch):
    monkeypatch.setattr(account_mod._Describer, "MAX_INSNS", 50)
    a = _run("arm", "native")
    d = a._describer
    assert 0 < d.ninsns <= 50 and len(d.blocks) < len(a._blocks)
    assert _run("arm", "native").result().to_json() == a.result().to_json()


def test_cycle_account_bench_child_counts_the_same_run():
    """make bench's cycle-account rows time one workload per layer: every layer runs it whole."""
    from emu.native.cyclesbench import LAYERS, _child
    got = {layer: _child("arm", 200, layer) for layer in LAYERS}
    assert len({g["insns"] for g in got.values()}) == 1 and got["plain"]["insns"] > 10_000
    assert all(g["seconds"] > 0 for g in got.values())


@pytest.mark.parametrize("entry", ["bht_entries", "btb_entries", "ras_entries"])
def test_empty_predictor_table_keeps_the_python_account(entry):
    """C indexes its tables modulo the configured size: a core with an empty
    one does not go native (fits says no), it is never indexed modulo 0."""
    from emu.cycles.cache import CacheHierarchy
    from emu.native.cycles import fits
    core = CoreModel.for_arch("amd64")
    assert fits(core.branch, CacheHierarchy(core.caches))
    assert not fits({**core.branch, entry: 0}, CacheHierarchy(core.caches))


def test_descriptions_survive_the_process(fresh):
    """The descriptions are written under the build cache at exit and a new
    process (here: an empty describer table) reads them: it describes
    nothing, numbers the registers as the file says, and counts the same."""
    first = _run("amd64", "native", caches=True)
    n = len(fresh)
    account_mod._save_describers()
    files = list(Path(os.environ["GOEMU_CYCLES_DESCRIBE_CACHE"]).glob("describe-amd64-*.pickle"))
    assert len(files) == 1
    account_mod._DESCRIBERS.clear()
    core = CoreModel.for_arch("amd64")
    second = _run("amd64", "native", core, caches=True)
    assert len(fresh) == n and second._describer.saved == len(second._describer.blocks) >= n
    assert second.result().to_json() == first.result().to_json()
    assert core.unknown["mul"] == 1                   # counted from the file's record of it
    # a damaged file is a cold start, not an error
    files[0].write_bytes(b"not a pickle")
    account_mod._DESCRIBERS.clear()
    third = _run("amd64", "native", caches=True)
    assert len(fresh) == 2 * n and third.result().to_json() == first.result().to_json()


def test_descriptions_file_off(fresh, monkeypatch, tmp_path):
    monkeypatch.setenv("GOEMU_CYCLES_DESCRIBE_CACHE", "0")
    a = _run("arm", "native")
    assert a._describer.path is None and a._describer.blocks
    account_mod._save_describers()
    assert not (tmp_path / "describe").exists()


def test_goemu_run_cycles_twice_reads_the_file(tmp_path):
    """Two ``goemu run --cycles`` processes: the second reads the first's
    descriptions and prints the same cycles."""
    import subprocess
    import sys
    env = {**os.environ, "GOEMU_CYCLES_DESCRIBE_CACHE": str(tmp_path / "describe")}
    cmd = [sys.executable, "-m", "emu.cli", "run", "--arch", "arm", "--cycles", str(DEMOS / "list_arm.s")]
    outs = [subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300, check=False)
            for _ in range(2)]
    assert [o.returncode for o in outs] == [0, 0], outs[0].stderr
    assert outs[0].stdout == outs[1].stdout and "cycles" in outs[0].stdout
    assert list((tmp_path / "describe").glob("describe-arm-*.pickle"))
