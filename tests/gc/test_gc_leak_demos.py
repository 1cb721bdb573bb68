"""The built-in leak demos (emu/demos/{leak,interior,list}_{amd64,arm}.s):
`fixed` retains nothing through any M field; `buggy` retains through m0.cret
exactly the objects reachable (computed here, from memory, before the sweep)
from the value m0.cret holds -- one object for leak and interior, the four
list nodes for list.  The demos run as a user runs them (GOGC=100): their
first allocation also starts a collection (next_gc starts at 0), which must
free nothing; the rows are about the program's own runtime.gc."""
from __future__ import annotations

from pathlib import Path

import pytest
from gen_programs import check_paths, watch_cret

from emu.run import finish, load_program, new_machine

DEMOS = Path(__file__).resolve().parents[2] / "emu" / "demos"
EXPECTED = {"leak": 1, "interior": 1, "list": 4}


def run_demo(demo: str, arch: str, variant: str):
    mc = new_machine(arch, variant, load_program(DEMOS / f"{demo}_{arch}.s"))
    crets = watch_cret(mc)
    errs: list[str] = []
    mc.on("gc", lambda ev: errs.extend(check_paths(mc, ev.detail["report"])))
    mc.run()
    res = finish(mc, demo)
    res.mc = mc
    first = res.gcs[0]
    assert first.trigger == "allocation" and first.next_gc == 0 and first.freed == []
    (res.explicit,) = [g for g in res.gcs if g.trigger == "runtime.gc"]
    return res, crets[res.explicit.index - 1:], errs


@pytest.mark.parametrize("arch", ["amd64", "arm"])
@pytest.mark.parametrize("demo", sorted(EXPECTED))
def test_gc_demo_fixed_retains_nothing_through_m(demo, arch):
    res, crets, errs = run_demo(demo, arch, "fixed")
    assert res.exit_status == 0 and not errs
    rep = res.explicit
    assert crets[0][0] == 0, "fixed: m0.cret must be cleared by oldstack"
    assert [o for o in rep.retained if o.root and o.root.startswith("m0.")] == []
    assert len(rep.freed) == EXPECTED[demo]
    # what remains is the main goroutine's G, found through runtime·allg
    assert all(o.root == "data runtime·allg" for o in rep.retained), [o.path_text() for o in rep.retained]


@pytest.mark.parametrize("arch", ["amd64", "arm"])
@pytest.mark.parametrize("demo", sorted(EXPECTED))
def test_gc_demo_buggy_retains_exactly_cret_reachable(demo, arch):
    res, crets, errs = run_demo(demo, arch, "buggy")
    assert res.exit_status == 0 and not errs
    rep = res.explicit
    cret, reach = crets[0]
    assert cret != 0
    via = {o.addr for o in rep.retained_via("m0.cret")}
    assert via == reach
    assert len(via) == EXPECTED[demo]
    assert rep.freed == []
    assert {o.addr for o in rep.retained} - via == {o.addr for o in rep.retained if o.root == "data runtime·allg"}
    mc = res.mc
    cret_addr = mc.m0 + mc.layouts["M"].offset("cret")
    for o in rep.retained_via("m0.cret"):
        assert o.root == "m0.cret"
        assert o.root_addr == cret_addr
        assert o.path[0].value == cret
    first = min(rep.retained_via("m0.cret"), key=lambda o: o.levels)
    if demo == "interior":
        assert cret != first.addr and first.addr < cret < first.addr + first.size
        assert "(interior +" in first.path_text()
    else:
        assert cret == first.addr
    if demo == "list":
        assert sorted(o.levels for o in rep.retained_via("m0.cret")) == [1, 2, 3, 4]
