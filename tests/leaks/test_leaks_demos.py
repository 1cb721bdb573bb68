"""The leak demos: on buggy, m0.cret is a dead root at the collection, pinning
the demo's object(s) alone, stored by lessstack and not accessed again before
exit; on fixed, m0.cret holds nothing."""
from __future__ import annotations

from pathlib import Path

import pytest

from emu.leaks import leaks
from emu.run import load_program

DEMOS = Path(__file__).resolve().parents[2] / "emu" / "demos"
PINNED = {"leak": (48, 1), "interior": (48, 1), "list": (128, 4)}


def run(demo: str, arch: str, variant: str):
    return leaks(arch, variant, load_program(DEMOS / f"{demo}_{arch}.s"), f"demo:{demo}")


@pytest.mark.parametrize("arch", ["amd64", "arm"])
@pytest.mark.parametrize("demo", sorted(PINNED))
def test_leaks_demo_buggy_cret_dead(demo, arch):
    res = run(demo, arch, "buggy")
    assert res.exit_status == 0 and len(res.collections) == 1
    col = res.collections[0]
    [cret] = [r for r in col.roots if r.name == "m0.cret"]
    assert not cret.live and cret.how == "untouched" and cret.next is None
    assert (cret.freed_bytes, cret.freed_objects) == PINNED[demo]
    assert cret.origin.where.split("+")[0] == "lessstack"
    assert cret.origin.value == cret.value and cret.origin.index < col.position
    text = cret.origin.text
    assert text.startswith("mov qword ptr [rbx + 0x38]" if arch == "amd64" else "str r0, [r9, #0x20]"), text
    if demo == "interior":
        assert cret.value - cret.base == 0x18
    # zeroing every dead root frees at least what m0.cret alone pins
    assert col.dead_freed_bytes >= PINNED[demo][0]
    [s] = [s for s in res.summary() if s.name == "m0.cret"]
    assert s.dead_at == [1] and s.bytes_pinned == [PINNED[demo][0]] and s.origins == [cret.origin.where]


@pytest.mark.parametrize("arch", ["amd64", "arm"])
@pytest.mark.parametrize("demo", sorted(PINNED))
def test_leaks_demo_fixed_nothing_through_cret(demo, arch):
    res = run(demo, arch, "fixed")
    assert res.exit_status == 0 and len(res.collections) == 1
    assert [r for r in res.collections[0].roots if r.name == "m0.cret"] == []
    # nothing is pinned by a dead root alone: the demo's objects were freed
    assert all(r.freed_bytes == 0 for r in res.collections[0].dead)
    assert "m0.cret" not in {s.name for s in res.summary()}


def test_leaks_demo_allg_is_live():
    """runtime·allg is followed by the collector itself: live even though no
    instruction reads it."""
    res = run("leak", "amd64", "buggy")
    [allg] = [r for r in res.collections[0].roots if r.name == "data runtime·allg"]
    assert allg.live and allg.how == "collector"
