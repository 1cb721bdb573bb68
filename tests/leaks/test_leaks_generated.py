"""The detector against a model that knows the future: generated programs
(gen_roots.py) on both architectures and variants.  At every collection:
- every slot and global the model says holds an object is a root hit, with
  that object's address, live exactly when the model says the program reads
  it again, and, when dead, stored by the function the model says wrote it;
- no other stack slot or program global is reported (frames are zeroed on
  entry, so nothing stale can hide there): every other hit is a runtime word
  (M or G fields, runtime·allg);
- m0.cret: never live; on buggy its value was stored by lessstack; on fixed
  it never holds an object;
- the objects a dead word alone pins are those the model's object graph loses
  when that word is removed from the roots."""
from __future__ import annotations

import pytest
from gen_roots import NGLOBALS, NSLOTS, PTR, generate, model, reachable

from emu.image import build_image
from emu.leaks import leaks
from emu.run import load_program

SEEDS = range(8)


def check(seed: int, arch: str, variant: str) -> int:
    prog = generate(seed, arch)
    m = model(prog)
    unit = load_program(None, text=prog.text, name=f"gen{seed}_{arch}.s")
    res = leaks(arch, variant, unit, f"gen{seed}")
    ps = PTR[arch]
    assert res.exit_status == 0
    assert len(res.output) == len(m.prints), prog.text
    sp, addr_of = {}, {}
    for (kind, x), text in zip(m.prints, res.output):
        (sp if kind == "sp" else addr_of)[x] = int(text, 16)
    gptrs = build_image(arch, variant, unit).symbols["gptrs"]
    slot0 = 16 if arch == "amd64" else 12

    def addr(loc) -> int:
        return gptrs + ps * loc[1] if loc[0] == "g" else sp[loc[1]] + slot0 + ps * loc[2]
    program_words = {gptrs + ps * i for i in range(NGLOBALS)} | \
        {s + slot0 + ps * j for s in sp.values() for j in range(NSLOTS)}
    assert len(res.collections) == len(m.gcs)
    checked = 0
    for col, expected, graph, nalloc in zip(res.collections, m.gcs, m.graphs, m.nallocs):
        det = {r.addr: r for r in col.roots}
        exp = {addr(e.loc): e for e in expected}
        where = f"seed {seed} {arch}/{variant} collection {col.index}"
        for a, e in exp.items():
            r = det.get(a)
            assert r is not None, f"{where}: {e.loc} at {a:#x} holds object {e.obj} but is not a root hit"
            assert r.value == addr_of[e.obj], where
            assert r.live == e.live, f"{where}: {r.name} ({e.loc}) is {'live' if e.live else 'dead'}, " \
                                     f"reported {r.how} {r.next}"
            if not r.live:
                assert r.origin is not None and r.origin.where.split("+")[0] == e.writer, (where, r.origin)
                assert r.origin.value == r.value
            checked += 1
        # conservative extras the model cannot see (m0.cret on buggy) are roots too
        by_addr: dict[int, int] = {}
        for k in range(nalloc):
            by_addr[addr_of[k]] = k
        extra = [by_addr[r.base] for a, r in det.items() if a not in exp and r.base in by_addr]
        all_roots = [e.obj for e in exp.values()] + extra
        full = reachable(all_roots, graph)
        for a, r in det.items():
            if a in exp:
                if not r.live:
                    others = [e.obj for b, e in exp.items() if b != a] + extra
                    gone = full - reachable(others, graph)
                    assert r.freed_objects == len(gone), f"{where}: {r.name} pins {gone}, reported " \
                                                         f"{r.freed_objects} objects"
                continue
            assert a not in program_words, f"{where}: {r.name} at {a:#x} reported but the model has it empty"
            assert r.kind in ("M", "G") or r.name == "data runtime·allg", f"{where}: unexpected root {r.name}"
            if r.name == "m0.cret":
                assert variant == "buggy", f"{where}: m0.cret holds an object on fixed"
                assert not r.live and r.origin.where.startswith("lessstack"), (where, r)
    return checked


@pytest.mark.parametrize("arch", ["amd64", "arm"])
@pytest.mark.parametrize("seed", SEEDS)
def test_leaks_generated_buggy(seed, arch):
    check(seed, arch, "buggy")


@pytest.mark.parametrize("arch", ["amd64", "arm"])
@pytest.mark.parametrize("seed", SEEDS[:4])
def test_leaks_generated_fixed(seed, arch):
    check(seed, arch, "fixed")


def test_leaks_generated_cover_both_outcomes():
    """The generated programs exercise live and dead slots and globals."""
    seen = set()
    for seed in SEEDS:
        for gcs in model(generate(seed, "amd64")).gcs:
            seen |= {(e.loc[0], e.live) for e in gcs}
    assert seen == {("g", True), ("g", False), ("s", True), ("s", False)}
