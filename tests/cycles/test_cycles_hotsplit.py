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
