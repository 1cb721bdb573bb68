"""goemu bench hot-split: a call that splits every iteration vs the same call far from the boundary."""
import json

import pytest
from cycles_fake import FakeCore

from emu import cli
from emu.cycles import account as account_mod
from emu.cycles.hotsplit import measure
from emu.errors import UsageError


@pytest.mark.parametrize("arch", ("amd64", "arm"))
def test_hot_loop_splits_every_iteration_cold_never(arch):
    r = measure(arch, 12, FakeCore())
    assert r.hot.splits == r.hot.unsplits == 12
    assert r.cold.splits == r.cold.unsplits == 0
    assert r.ratio > 1
    assert r.hot.mispredicts["ret"] >= 12               # every return into lessstack
    assert r.hot.phases["newstack"] > 0 and r.cold.phases["newstack"] == 0
    assert r.hot.cycles == sum(r.hot.phases.values())


def test_cli_bench_hot_split(monkeypatch, capsys):
    monkeypatch.setattr(account_mod, "default_core", lambda arch: FakeCore())
    assert cli.main(["bench", "hot-split", "--arch", "arm", "--iterations", "4", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["hot"]["splits"] == 4 and data["cold"]["splits"] == 0 and data["ratio"] > 1
    assert cli.main(["bench", "hot-split", "--arch", "amd64", "--iterations", "4"]) == 0
    assert "ratio hot/cold" in capsys.readouterr().out
    assert cli.main(["bench", "hot-split", "--iterations", "0"]) == UsageError.exit_code


@pytest.mark.slow
@pytest.mark.parametrize("arch", ["amd64", "arm"])
def test_hot_split_per_piece_with_stream_figures(arch):
    """Cycles per split, per unsplit and the rest add up to a hot call; beside
    each, goemu's pipeline and llvm-mca on the executed stream (penalties aside)."""
    from emu.cycles.calibrate import find_llvm_mca
    from emu.cycles.dynamic import SPLIT_PHASES, UNSPLIT_PHASES
    from emu.cycles.hotsplit import measure as real_measure
    find_llvm_mca()
    r = real_measure(arch, 20, streams=True)
    split, unsplit = r.per_event(SPLIT_PHASES), r.per_event(UNSPLIT_PHASES)
    assert split > 0 and unsplit > 0 and split + unsplit < r.hot.per_call
    assert set(r.streams) == {"split", "unsplit", "hot call", "cold call"}
    assert all(g > 0 and m > 0 for g, m in r.streams.values())
    # the model's costs include mispredicts and the window fill the stream figures set aside
    assert split >= r.streams["split"][0] and r.cold.per_call >= r.streams["cold call"][0]
    j = r.to_json()
    assert j["cycles_per_split"] == round(split, 3) and "streams_penalties_aside" in j
