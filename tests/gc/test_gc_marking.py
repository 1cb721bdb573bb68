"""The marking API (emu.gc.mark) other tools code against, the compiled
breadth-first walk against the Python one, and capped paths."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from emu import gc as gcmod
from emu import gcnative
from emu.run import load_program, new_machine

# the program's own runtime.gc calls only (GOGC=off; tests/gc/conftest.py)
pytestmark = pytest.mark.usefixtures("gogc_off")

DEMOS = Path(__file__).resolve().parents[2] / "emu" / "demos"
ARCHES = ("amd64", "arm")


def at_collection(demo: str, arch: str, variant: str, fn):
    """Run a demo; fn(mc, sp) runs in place of its (first) collection's marking,
    then the collection proceeds."""
    mc = new_machine(arch, variant, load_program(DEMOS / f"{demo}_{arch}.s"))
    inner = mc.gc_handler
    out = []

    def handler(m, sp):
        out.append(fn(m, sp))
        return inner(m, sp)
    mc.gc_handler = handler
    mc.run()
    return mc, out[0]


@pytest.mark.parametrize("arch", ARCHES)
def test_mark_exclude_and_root_hits(arch):
    """buggy list demo: m0.cret holds the first node; excluding that word unmarks
    exactly the four nodes; mark() neither sweeps nor reports."""
    def fn(mc, sp):
        cret_addr = mc.m0 + mc.layouts["M"].offset("cret")
        heap_before = mc.read(mc.image.symbols["mheap"], mc.layouts["MHeap"].size)
        full = gcmod.mark(mc, sp)
        less = gcmod.mark(mc, sp, exclude=[cret_addr])
        assert mc.read(mc.image.symbols["mheap"], mc.layouts["MHeap"].size) == heap_before
        assert not mc.gc_reports
        return cret_addr, mc.field("M", mc.m0, "cret"), full, less
    mc, (cret_addr, cret, full, less) = at_collection("list", arch, "buggy", fn)
    hits = {h.addr: h for h in full.root_hits}
    assert cret_addr in hits and hits[cret_addr].name == "m0.cret" and hits[cret_addr].value == cret
    assert hits[cret_addr].base <= cret < hits[cret_addr].base + 64
    assert cret_addr not in {h.addr for h in less.root_hits}
    gone = set(full.bases.tolist()) - set(less.bases.tolist())
    assert len(gone) == 4 and hits[cret_addr].base in gone
    assert full.total_bytes - less.total_bytes == sum(int(s) for b, s in zip(full.bases, full.sizes)
                                                      if int(b) in gone)
    assert sorted(len(full.path(b)) for b in gone) == [1, 2, 3, 4]
    deepest = max(gone, key=lambda b: len(full.path(b)))
    p = full.path(deepest)
    assert p[0].addr == cret_addr and p[0].value == cret
    assert full.root_ranges and full.root_ranges[-1].start == mc.m0   # Ms last
    with pytest.raises(ValueError):
        less.path(deepest)


def random_graph(seed: int, n: int, nedge: int, nroot: int):
    rng = np.random.default_rng(seed)
    holder = np.sort(rng.integers(0, n, nedge))
    tgt = rng.integers(0, n, nedge).astype(np.int64)
    estart = np.searchsorted(holder, np.arange(n + 1)).astype(np.int64)
    rw = rng.integers(-1, n, nroot).astype(np.int64)
    return estart, tgt, rw


@pytest.mark.skipif(not gcnative.available(), reason="no host compiler for the native walk")
@pytest.mark.parametrize("seed", range(5))
def test_native_walk_equals_python(seed):
    n = 3000
    estart, tgt, rw = random_graph(seed, n, 4000 + 1000 * seed, 40)
    a = gcnative.bfs(n, estart, tgt, rw)
    b = gcmod._bfs_python(n, estart, tgt, rw)
    assert a[0].any() and not a[0].all()
    for x, y in zip(a, b):
        m = a[0]
        assert np.array_equal(x[m], y[m]) if x.dtype != bool else np.array_equal(x, y)


@pytest.mark.parametrize("arch", ARCHES)
def test_python_walk_gives_the_same_report(arch):
    """Marking with the pure-Python walk names the same roots and chains."""
    def fn(mc, sp):
        a = gcmod.mark(mc, sp, native=False)
        b = gcmod.mark(mc, sp)
        return [(int(x), a.path(int(x))) for x in a.bases], [(int(x), b.path(int(x))) for x in b.bases]
    _mc, (pa, pb) = at_collection("list", arch, "buggy", fn)
    assert pa == pb and len(pa) >= 5


def test_path_text_capped():
    """A chain longer than the cap shows the root link, the elided count and the
    last links; levels keeps the full length."""
    steps = [gcmod.Step(0x100 + 8 * i, 0x1000 + 16 * i, "+0x8" if i else "m0.cret") for i in range(20)]
    o = gcmod.ObjectInfo(0x1000 + 16 * 19, 16, "m0.cret", 0x100, steps)
    o._targets_ = [(0x1000 + 16 * i, 16) for i in range(20)]
    full = o.path_text()
    assert full.count("→") == 2 * 20 - 1
    capped = o.path_text(8)
    assert capped.startswith("m0.cret → 0x1000 16 → … 12 levels … → +0x8 → ")
    assert capped.endswith(f"{0x1000 + 16 * 19:#x} 16")
    assert capped.count("+0x8") == 7
    d = o.to_json()
    assert d["levels"] == 20 and d["path_shown"] == gcmod.PATH_SHOWN and d["path"] == o.path_text(gcmod.PATH_SHOWN)
