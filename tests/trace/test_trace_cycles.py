"""Trace records carry the cycle model's cycles, phase and split/unsplit, and
`goemu diff` reports the cycle difference per unsplit.

Pinned: a trace's cycles sum to the CycleAccount's total of the same run;
every record of an unsplit lies in lessstack/oldstack/gogo; the diff's cycle
section matches sums taken from each trace's records (not from the account)."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

from emu.cycles.account import CycleAccount
from emu.run import load_program, new_machine
from emu.trace.cli import DEMOS
from emu.trace.diff import diff
from emu.trace.native import NativeReader
from emu.trace.record import record

ARCHES = ("amd64", "arm")


def _trace(path, arch, variant, caches=False):
    mc = new_machine(arch, variant, load_program(str(DEMOS / f"leak_{arch}.s")))
    acct = CycleAccount(mc, caches=caches)
    record(mc, str(path), "native", f"leak_{arch}.s", account=acct)
    return acct.result()


@pytest.fixture(scope="module")
def cyc_traces(tmp_path_factory):
    d = tmp_path_factory.mktemp("cyc")
    out = {}
    for arch in ARCHES:
        for v in ("buggy", "fixed"):
            p = d / f"{arch}-{v}.gtr"
            out[arch, v] = (p, _trace(p, arch, v))
    return out


@pytest.mark.parametrize("arch", ARCHES)
@pytest.mark.parametrize("variant", ["buggy", "fixed"])
def test_record_cycles_sum_to_the_account_total(cyc_traces, arch, variant):
    path, res = cyc_traces[arch, variant]
    with NativeReader(str(path)) as R:
        recs = list(R)
    assert R.header["cycles"]["core"] == res.core
    assert all(r.cycles is not None and r.cycles >= 0 for r in recs)
    assert sum(r.cycles for r in recs) == res.total
    assert len(recs) == res.instructions
    by_phase: dict[str, int] = {}
    for r in recs:
        by_phase[r.phase] = by_phase.get(r.phase, 0) + 1
    assert by_phase == {p: n for p, n in res.phase_instructions.items() if n}
    cyc_phase: dict[str, int] = {}
    for r in recs:
        cyc_phase[r.phase] = cyc_phase.get(r.phase, 0) + r.cycles
    assert {p: c for p, c in cyc_phase.items() if c} == {p: c for p, c in res.phases.items() if c}


@pytest.mark.parametrize("arch", ARCHES)
def test_records_know_their_split_and_unsplit(cyc_traces, arch):
    path, res = cyc_traces[arch, "buggy"]
    with NativeReader(str(path)) as R:
        recs = list(R)
    unsplit = [r for r in recs if r.within and r.within.startswith("unsplit")]
    split = [r for r in recs if r.within and r.within.startswith("split")]
    assert {r.phase for r in unsplit} <= {"lessstack", "oldstack", "gogo"}
    assert {r.phase for r in split} <= {"morestack", "newstack", "gogocall"}
    assert {r.within for r in unsplit} == {f"unsplit {i}" for i in range(len(res.unsplits))}
    for i, ev in enumerate(res.unsplits):
        assert sum(r.cycles for r in unsplit if r.within == f"unsplit {i}") == ev.cycles
    # the lessstack store of AX/R0 into m->cret belongs to an unsplit
    m_cret = R.header and next(a for a, _s, n in R.header["data_names"] if n == "m0.cret")
    stores = [r for r in recs if any(a == m_cret for a, _s, _d in r.writes)]
    assert stores and all(r.within and r.within.startswith("unsplit") and r.phase == "lessstack"
                          for r in stores)


def _sums_from_records(path) -> tuple[int, list[int], list[int]]:
    """(total, cycles of each unsplit, cycles of each split), summed from the trace's
    own records -- not from the CycleAccount the diff might share code with."""
    total, per = 0, {"split": {}, "unsplit": {}}
    with NativeReader(str(path)) as R:
        for r in R:
            total += r.cycles
            if r.within:
                kind, n = r.within.split()
                per[kind][int(n)] = per[kind].get(int(n), 0) + r.cycles
    return total, [per["unsplit"][i] for i in sorted(per["unsplit"])], [per["split"][i] for i in sorted(per["split"])]


@pytest.mark.parametrize("arch", ARCHES)
def test_diff_reports_cycles_per_unsplit(cyc_traces, arch):
    (pa, _ra), (pb, _rb) = cyc_traces[arch, "buggy"], cyc_traces[arch, "fixed"]
    res = diff(str(pa), str(pb)).to_json()
    cy = res["cycles"]
    ta, ua, sa = _sums_from_records(pa)
    tb, ub, sb = _sums_from_records(pb)
    assert len(ua) == len(ub) == 2 and len(sa) == len(sb) == 2      # the leak demo: two of each
    assert cy["a"]["total"] == ta and cy["b"]["total"] == tb and cy["delta_total"] == tb - ta
    assert cy["a"]["unsplits"] == ua and cy["b"]["unsplits"] == ub
    assert cy["a"]["splits"] == sa and cy["b"]["splits"] == sb
    assert [(u["a"], u["b"], u["delta"]) for u in cy["per_unsplit"]] == [(x, y, y - x) for x, y in zip(ua, ub)]
    assert [(u["a"], u["b"], u["delta"]) for u in cy["per_split"]] == [(x, y, y - x) for x, y in zip(sa, sb)]


def test_diff_of_traces_without_cycles_has_none(traces):
    res = diff(str(traces["amd64", "buggy"]), str(traces["amd64", "fixed"])).to_json()
    assert res["cycles"] is None


def test_cache_model_penalties_land_on_records(tmp_path):
    p = tmp_path / "c.gtr"
    res = _trace(p, "arm", "buggy", caches=True)
    with NativeReader(str(p)) as R:
        assert R.header["cycles"]["dcache_model"] is True
        assert sum(r.cycles for r in R) == res.total
    assert res.penalties["dcache"] > 0


def test_cli_records_cycles_unless_told_not_to(tmp_path):
    for extra, has in (([], True), (["--no-cycles"], False)):
        out = tmp_path / f"t{len(extra)}.gtr"
        r = subprocess.run([sys.executable, "-m", "emu.cli", "trace", "--arch", "arm", "-o", str(out), *extra],
                           capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
        with NativeReader(str(out)) as R:
            assert ("cycles" in R.header) is has
    r = subprocess.run([sys.executable, "-m", "emu.cli", "diff", str(tmp_path / "t0.gtr"), str(tmp_path / "t0.gtr"),
                        "--json"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    j = json.loads(r.stdout)
    assert j["identical"] and j["cycles"]["delta_total"] == 0
