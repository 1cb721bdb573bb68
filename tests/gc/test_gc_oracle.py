"""The precise oracle over generated programs (tests/gc/gen_programs.py).

For each seeded program and both variants: no object the model says is live is
ever freed (and every live object is reported retained, with a chain that
matches memory).  Comparing the variants: every object that `fixed` frees but
`buggy` keeps is attributed, in buggy's report, to a chain rooted at m0.cret.
Every object either variant keeps through an M field is listed (stdout,
record_property "m_field_roots", and the JSON lines file $GOEMU_GC_MFIELDS,
by default m-fields.jsonl in the test's own temporary directory); M fields other than cret are also raised as
warnings -- they are findings, not something the tests patch away.
"""
from __future__ import annotations

import collections
import json
import os
import warnings

import pytest
from gen_programs import generate, run_checked

# the program's own runtime.gc calls only (GOGC=off; tests/gc/conftest.py)
pytestmark = pytest.mark.usefixtures("gogc_off")

ARCHES = ("amd64", "arm")
NPROGRAMS = 200
CHUNK = 25


def check_program(seed: int, arch: str, stats: collections.Counter | None = None) -> list[dict]:
    stats = collections.Counter() if stats is None else stats
    prog = generate(seed, arch)
    stats["gcs"] += len(prog.gc_live)
    stats["live only through an interior pointer"] += sum(len(x) for x in prog.gc_interior_only)
    runs = {}
    for variant in ("buggy", "fixed"):
        res, errs, _mc = run_checked(arch, variant, prog.text, name=f"gen{seed}_{arch}.s")
        ctx = f"seed {seed} {arch} {variant}"
        assert res.exit_status == 0, ctx
        assert not errs, f"{ctx}: paths do not match memory: {errs[:5]}\n{prog.text}"
        assert len(res.output) == prog.nallocs, ctx
        addrs = [int(x, 16) for x in res.output]
        assert len(res.gcs) == len(prog.gc_live), ctx
        for j, (rep, live) in enumerate(zip(res.gcs, prog.gc_live)):
            live_addrs = {addrs[k]: k for k in live}
            for o in rep.freed:
                assert o.addr not in live_addrs, (
                    f"{ctx}: gc #{j + 1} freed live allocation #{live_addrs[o.addr]} at {o.addr:#x}"
                    f"\n{prog.text}")
            retained = {o.addr: o for o in rep.retained}
            for k in live:
                o = retained.get(addrs[k])
                assert o is not None, f"{ctx}: gc #{j + 1}: live allocation #{k} {addrs[k]:#x} not retained"
                assert o.size >= prog.sizes[k], ctx
        runs[variant] = (res, addrs)
        stats["splits"] += res.splits
        stats[f"{variant} freed"] += sum(len(r.freed) for r in res.gcs)
        stats[f"{variant} cret"] += sum(len(r.retained_via("m0.cret")) for r in res.gcs)

    # fixed frees, buggy keeps  =>  buggy keeps it through m0.cret.  Compared while the two
    # runs are still identical (same addresses, same earlier sweeps); after the first
    # collection where they differ, stale words can name different objects in each run.
    (bres, baddrs), (fres, faddrs) = runs["buggy"], runs["fixed"]
    for j, (brep, frep) in enumerate(zip(bres.gcs, fres.gcs)):
        n = prog.gc_nallocs[j]
        if baddrs[:n] != faddrs[:n]:
            break
        bkept = {o.addr: o for o in brep.retained}
        for o in frep.freed:
            b = bkept.get(o.addr)
            if b is not None:
                stats["freed by fixed, kept by buggy"] += 1
                assert b.root and b.root.startswith("m0.cret"), (
                    f"seed {seed} {arch}: gc #{j + 1}: {o.addr:#x} freed by fixed, kept by buggy via "
                    f"{b.path_text()}\n{prog.text}")
        if {o.addr for o in brep.freed} != {o.addr for o in frep.freed}:
            break

    found = []
    for variant, (res, _a) in runs.items():
        for j, rep in enumerate(res.gcs):
            for o in rep.retained:
                if o.root and o.root.startswith("m0."):
                    found.append({"seed": seed, "arch": arch, "variant": variant, "gc": j + 1,
                                  "field": o.root, "addr": o.addr, "size": o.size, "path": o.path_text()})
    for f in found:
        assert not (f["variant"] == "fixed" and f["field"].startswith("m0.cret")), f
    return found


def _report(found: list[dict], record_property, tmp_path) -> None:
    if not found:
        return
    with open(os.environ.get("GOEMU_GC_MFIELDS") or tmp_path / "m-fields.jsonl", "a") as fh:
        fh.writelines(json.dumps(f) + "\n" for f in found)
    fields = sorted({(f["arch"], f["variant"], f["field"]) for f in found})
    record_property("m_field_roots", json.dumps(fields))
    print("objects kept through an M field:")
    for f in found:
        print(f"  seed {f['seed']} {f['arch']} {f['variant']} gc#{f['gc']}: {f['field']} -> {f['path']}")
    other = [f for f in found if not f["field"].startswith("m0.cret")]
    if other:
        warnings.warn("M field other than cret pins memory: " + "; ".join(
            f"seed {f['seed']} {f['arch']} {f['variant']} {f['field']}" for f in other))


@pytest.mark.parametrize("arch", ARCHES)
def test_gc_oracle_smoke(arch, record_property, tmp_path):
    """20 programs per arch; also checks that the generator produces the interesting
    cases: splits, frees, objects kept through m0.cret on buggy that fixed frees."""
    found, stats = [], collections.Counter()
    for seed in range(20):
        found += check_program(seed, arch, stats)
    _report(found, record_property, tmp_path)
    print(arch, dict(stats))
    record_property("stats", json.dumps(dict(stats)))
    assert stats["splits"] > 40
    assert stats["fixed freed"] > 40
    assert stats["buggy cret"] > 0 and stats["fixed cret"] == 0
    assert stats["freed by fixed, kept by buggy"] > 0
    # a collector that ignored interior pointers would free these, and fail the oracle
    assert stats["live only through an interior pointer"] > 10


@pytest.mark.slow
@pytest.mark.parametrize("arch", ARCHES)
@pytest.mark.parametrize("chunk", range(NPROGRAMS // CHUNK))
def test_gc_oracle_generated(arch, chunk, record_property, tmp_path):
    """200+ programs per arch (seeds 20..219 here, 0..19 in the smoke case)."""
    found = []
    for seed in range(20 + chunk * CHUNK, 20 + (chunk + 1) * CHUNK):
        found += check_program(seed, arch)
    _report(found, record_property, tmp_path)


@pytest.mark.parametrize("arch", ARCHES)
def test_independent_walker_interior_one_past_and_freed(arch):
    """The oracle's own heap walk (gen_programs.reachable_from, no emu.gc code): an
    interior pointer reaches its object, a pointer one past the end does not (it is
    the next object's base, or nothing), and a pointer into a freed slot reaches nothing."""
    from gen_programs import allocated_objects, reachable_from

    from emu.run import load_program, new_machine
    ps = {"amd64": 8, "arm": 4}[arch]
    if arch == "amd64":
        body = ["mov qword ptr [rsp], 48", "call runtime.new", "mov rax, qword ptr [rsp + 8]",
                "mov rcx, $keep", "mov qword ptr [rcx], rax", "mov qword ptr [rsp], 48", "call runtime.new",
                "mov qword ptr [rsp + 8], 0", "call runtime.gc"]
    else:
        body = ["mov r0, #48", "str r0, [sp, #4]", "bl runtime.new", "ldr r0, [sp, #8]", "ldr r1, =keep",
                "str r0, [r1]", "mov r0, #48", "str r0, [sp, #4]", "bl runtime.new", "mov r0, #0",
                "str r0, [sp, #8]", "bl runtime.gc"]
    text = "GLOBL keep, $8\nTEXT main, $32-0\n" + "".join(f"\t{x}\n" for x in body) + "\tRET\n"
    mc = new_machine(arch, "buggy", load_program(None, text=text, name="walk.s"))
    seen = {}

    def before_gc(m, sp, inner=mc.gc_handler):
        objs = [o for o in allocated_objects(m) if o[1] == 48]       # ours (the runtime has its G too)
        a, size = objs[0]
        seen["objs"] = objs
        seen["interior"] = reachable_from(m, a + 24)
        seen["last byte"] = reachable_from(m, a + size - 1)
        seen["one past"] = reachable_from(m, a + size)
        seen["below"] = reachable_from(m, a - ps)
        return inner(m, sp)
    mc.gc_handler = before_gc
    mc.run()
    objs = seen["objs"]
    assert len(objs) == 2 and objs[0][1] == 48 and objs[1][0] == objs[0][0] + 48   # two adjacent 48-byte objects
    a, b = objs[0][0], objs[1][0]
    assert seen["interior"] == {a} and seen["last byte"] == {a}
    assert seen["one past"] == {b}                      # the next object, not a
    assert seen["below"] == set()
    # after the collection the second object (no root) is freed: its slot reaches nothing
    assert reachable_from(mc, b + 8) == set() and (a, 48) in allocated_objects(mc)
