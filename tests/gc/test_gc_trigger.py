"""Collections started by allocation, as Go 1.0's mallocgc started them.

mallocgc calls runtime_gc(0) after every allocation with dogc set; runtime_gc
collects when mstats.heap_alloc >= mstats.next_gc (next_gc starts at 0), and
after the collection sets next_gc = heap_alloc + heap_alloc*GOGC/100.  GOGC
comes from the program's environment ($GOGC, or --gogc); "off" never collects
implicitly (a program's runtime.gc still does).

The tests hook runtime_gc's entry, read mstats there, and apply Go's rule
themselves -- the collections the emulator ran must be exactly those.  The
heap invariant checker runs after every collection (tests/gc/conftest.py).
"""
from __future__ import annotations

import pytest
from gen_programs import reachable_from

from emu import gc as gcmod
from emu.errors import EmulationError, UsageError
from emu.heap import Heap
from emu.run import finish, new_machine
from emu.workloads import get

ARCHES = ("amd64", "arm")


def _stats(mc, *names):
    return [mc.field("MStats", mc.image.symbols["mstats"], n) for n in names]


def run_list(arch: str, variant: str = "fixed", gogc: str | None = None, nodes: int = 2500):
    """The list workload (every node live through build's frame, then a global),
    with runtime_gc's entries recorded: (heap_alloc, next_gc, collections so far,
    enablegc).  The first entry is rt0's, for g1's G, before enablegc is set."""
    w = get("list")
    params = w.resolve("small", {"nodes": nodes})
    mc = new_machine(arch, variant, w.program(arch, params), w.budget(params))
    if gogc is not None:
        gcmod.write_gogc(mc, gogc)
    entries, at = [], []
    mc.hooks.at(mc.image.symbols["runtime_gc"],
                lambda _a: entries.append((*_stats(mc, "heap_alloc", "next_gc"), len(mc.gc_reports),
                                           *_stats(mc, "enablegc"))))
    inner = mc.gc_handler

    def handler(m, sp):
        if gcmod.trigger_of(m) == "allocation":
            at.append(len(entries) - 1)          # the runtime_gc entry this collection runs in
        return inner(m, sp)
    mc.gc_handler = handler
    mc.run()
    res = finish(mc, "list")
    assert res.exit_status == 0
    assert res.output == w.expected(arch, params)       # no live node was freed and handed out again
    mc.collected_at = at
    return mc, res, entries


def predicted(entries, percent: int, reports) -> list[int]:
    """Go 1.0's rule applied by the test: the indexes of the runtime_gc entries
    that must collect, given heap_alloc at each entry and the bytes each
    collection freed (from its report); next_gc starts at 0."""
    out, next_gc, k = [], 0, 0
    implicit = [r for r in reports if r.trigger == "allocation"]
    for i, (heap_alloc, _ng, _n, enablegc) in enumerate(entries):
        if not enablegc or percent < 0 or heap_alloc < next_gc:
            continue
        out.append(i)
        freed = sum(o.size for o in implicit[k].freed) if k < len(implicit) else 0
        k += 1
        after = heap_alloc - freed
        next_gc = after + after * percent // 100
    return out


@pytest.mark.parametrize("arch", ARCHES)
def test_trigger_fires_exactly_when_heap_alloc_reaches_next_gc(arch):
    mc, res, entries = run_list(arch)
    implicit = [g for g in res.gcs if g.trigger == "allocation"]
    explicit = [g for g in res.gcs if g.trigger == "runtime.gc"]
    assert len(explicit) == 2 and len(implicit) >= 3           # the list collects by itself
    want = predicted(entries, 100, res.gcs)
    assert mc.collected_at == want               # exactly the entries Go's rule picks
    for i, rep in zip(want, implicit):
        heap_alloc, next_gc, _n, _e = entries[i]
        assert (rep.heap_alloc, rep.next_gc) == (heap_alloc, next_gc)
        assert heap_alloc >= next_gc
        if entries[i - 1][3] and i - 1 not in want:
            assert entries[i - 1][0] < entries[i - 1][1], "the allocation before did not reach next_gc"
        # next_gc after it: Go's formula over heap_alloc once swept, stored by runtime_gc
        after = rep.heap_alloc - sum(o.size for o in rep.freed)
        assert rep.next_gc_after == 2 * after
        if i + 1 < len(entries):
            assert entries[i + 1][1] == 2 * after
    assert _stats(mc, "ngc", "numgc") == [len(res.gcs), len(res.gcs)]


@pytest.mark.parametrize("arch", ARCHES)
def test_gogc_off_never_collects_implicitly(arch):
    _mc, res, entries = run_list(arch, gogc="off")
    assert [g.trigger for g in res.gcs] == ["runtime.gc", "runtime.gc"]   # the program's own still run
    assert len(entries) == 1 + 2500              # g1's G, then every node's allocation asked, as Go 1.0's did
    assert all(g.gogc == -1 for g in res.gcs)
    assert all(e[1] == 0 for e in entries)       # next_gc never set: runtime·gc returned early


@pytest.mark.parametrize("arch", ARCHES)
def test_gogc_changes_the_number_of_collections(arch):
    counts = {}
    for gogc in ("50", "100", "200"):
        _mc, res, entries = run_list(arch, gogc=gogc)
        implicit = [g for g in res.gcs if g.trigger == "allocation"]
        assert len(implicit) == len(predicted(entries, int(gogc), res.gcs)), gogc
        assert all(g.gogc == int(gogc) for g in res.gcs)
        counts[gogc] = len(implicit)
    assert counts["50"] > counts["100"] > counts["200"] >= 1, counts


@pytest.mark.parametrize("arch", ARCHES)
def test_gogc_from_the_environment_and_zero(arch, monkeypatch):
    monkeypatch.setenv("GOGC", "0")
    _mc, res, entries = run_list(arch, nodes=40)
    implicit = [g for g in res.gcs if g.trigger == "allocation"]
    # GOGC=0: next_gc = heap_alloc after each collection, so every allocation collects
    assert len(implicit) == len(entries) - 1 == len(predicted(entries, 0, res.gcs))
    monkeypatch.setenv("GOGC", "fifty")
    with pytest.raises(UsageError, match=r"\$GOGC: 'fifty' is not a GOGC value"):
        new_machine(arch, "fixed", get("list").program(arch, get("list").resolve("small")))


@pytest.mark.parametrize("arch", ARCHES)
@pytest.mark.parametrize("variant", ["buggy", "fixed"])
def test_object_held_only_by_the_allocation_survives_its_own_collection(arch, variant):
    """The first collection runs inside the first node's allocation: the list is
    still empty and nothing but the allocating frames (mallocgc's registers,
    saved in the collector's frame, runtime.new's) holds the node."""
    w = get("list")
    params = w.resolve("small")
    mc = new_machine(arch, variant, w.program(arch, params), w.budget(params))
    seen = []
    inner = mc.gc_handler

    def handler(m, sp):
        if gcmod.trigger_of(m) == "allocation" and not seen:
            seen.append(Heap(m).allocated())
        return inner(m, sp)
    mc.gc_handler = handler
    mc.run()
    res = finish(mc, "list")
    first = res.gcs[0]
    assert first.trigger == "allocation" and first.next_gc == 0
    nodes = [a for a, s in seen[0] if s == 2 * mc.arch.ptrsize]   # {next, value}
    assert len(nodes) == 1                       # the node just allocated, referenced by nothing yet
    kind, o = first.find(nodes[0])
    assert kind == "retained" and not first.freed
    assert o.root.startswith("g1 stack"), o.root  # a word of the running goroutine's stack
    assert res.output == w.expected(arch, params)


@pytest.mark.parametrize("arch", ARCHES)
def test_binary_trees_collects_by_itself_and_keeps_every_live_node(arch):
    """binary-trees' small size under GOGC=100: collections start inside
    allocations, in the middle of building trees (live nodes held only by
    frames).  Every object reachable from the globals and the G is retained at
    each of them, the heap checker holds after each, and the node counts the
    program prints are right (a live node freed and reused would change them)."""
    w = get("binary-trees")
    params = w.resolve("small")
    unit = w.program(arch, params)
    mc = new_machine(arch, "fixed", unit, w.budget(params))
    checks = []
    inner = mc.gc_handler

    def handler(m, sp):
        live = set()
        for d in unit.data:
            if not d.name.startswith("param_"):
                live |= reachable_from(m, m.read_ptr(m.image.symbols[d.name]))
        for g in gcmod.goroutines(m):
            live |= reachable_from(m, g)
        rep = inner(m, sp)
        checks.append((live, rep))
        return rep
    mc.gc_handler = handler
    mc.run()
    res = finish(mc, "binary-trees")
    assert res.output == w.expected(arch, params)
    implicit = [r for _l, r in checks if r.trigger == "allocation"]
    assert len(implicit) >= 3
    assert len([r for _l, r in checks if r.trigger == "runtime.gc"]) == w.collections(params)
    for live, rep in checks:
        assert not live & {o.addr for o in rep.freed}, f"gc #{rep.index} freed a live object"
        assert live <= {o.addr for o in rep.retained}
    assert sum(len(r.freed) for r in implicit) > 0          # the implicit ones reclaim garbage too


def test_no_collector_attached_ignores_the_trigger():
    w = get("list")
    params = w.resolve("small")
    mc = new_machine("amd64", "fixed", w.program("amd64", params), w.budget(params), collector=False)
    with pytest.raises(EmulationError, match="no collector is attached"):
        mc.run()                                 # the program's own runtime.gc still needs one
    assert not mc.gc_reports and mc.output == []


def test_parse_gogc():
    assert gcmod.parse_gogc("off") == "off" and gcmod.parse_gogc(" 50 ") == "50"
    assert gcmod.percent_of("") == 100 and gcmod.percent_of("off") == -1 and gcmod.percent_of("7") == 7
    for bad in ("-1", "5x", "OFF", "1" * 10):
        with pytest.raises(UsageError):
            gcmod.parse_gogc(bad)
    assert gcmod.next_gc_for(1000, 100) == 2000 and gcmod.next_gc_for(1000, 50) == 1500


def test_cli_gogc_option_and_report_lines(capsys):
    from emu.cli import main
    assert main(["gc-report", "--arch", "amd64", "--variant", "buggy"]) == 0
    out = capsys.readouterr().out
    assert "2 collection(s)" in out
    assert "triggered by allocation: heap_alloc " in out and " >= next_gc 0 (GOGC=100)" in out
    assert "triggered by runtime.gc: heap_alloc " in out
    assert main(["gc-report", "--arch", "arm", "--variant", "buggy", "--gogc", "off"]) == 0
    out = capsys.readouterr().out
    assert "1 collection(s)" in out and "(GOGC=off)" in out and "triggered by allocation" not in out
    assert main(["run", "--arch", "arm", "--gogc", "x50"]) == 64
    assert "--gogc: 'x50' is not a GOGC value" in capsys.readouterr().err
