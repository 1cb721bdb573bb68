"""m->cret across an unsplit: the word the February 2012 fix clears.

programs/cret_<arch>.s: seed has a 4096-byte frame (it always splits) and
returns with 0x5eed in AX/R0.  lessstack saves that register in m->cret; oldstack
passes it to gogo, so the caller resumes with AX/R0 = 0x5eed on both variants.
On `buggy` (parent of 89b075cc) m->cret keeps the value afterwards; on `fixed`
oldstack stores 0 into m->cret before gogo (89b075cc's change to Go 1.0's src/pkg/runtime/proc.c).
"""
from __future__ import annotations

import pytest
from test_runtime_support import ARCHES, VARIANTS, call_sites, machine, run

SEED = 0x5EED


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("arch", ARCHES)
def test_cret_after_lessstack(arch, variant):
    mc = machine(arch, variant, "cret")
    [(_call, resume)] = call_sites(mc, "main", "seed")
    at_resume: list[tuple[int, int, int]] = []
    mc.hooks.at(resume, lambda _a: at_resume.append(
        (mc.reg(mc.arch.ret), mc.field("M", mc.m0, "cret"), mc.g)))
    before_ret: list[int] = []
    seed_ret = [a for a, _f, _l, o, _t in mc.image.functions["seed"].lines if o == "epilogue"][-1]
    mc.hooks.at(seed_ret, lambda _a: before_ret.append(mc.reg(mc.arch.ret)))
    res = run(mc)

    assert res.exit_status == 0
    assert (res.splits, res.unsplits) == (1, 1)
    assert before_ret == [SEED]
    kinds = [e.kind for e in res.events]
    assert kinds.index("split") < kinds.index("lessstack") < kinds.index("unsplit")
    [less] = [e for e in res.events if e.kind == "lessstack"]
    [unsplit] = [e for e in res.events if e.kind == "unsplit"]
    assert less.detail["ret"] == SEED                  # lessstack saw the returning function's AX/R0
    assert unsplit.detail["cret"] == SEED              # m->cret as oldstack starts, on both variants
    # Where main resumes: gogo passed cret on; m->cret kept or cleared by variant.
    [(reg, cret, g)] = at_resume
    assert reg == SEED
    assert g == mc.main_g
    want_cret = SEED if variant == "buggy" else 0
    assert cret == want_cret
    assert res.cret == want_cret
    assert res.output == [hex(SEED)]
