"""make bench's list measurement (emu/gcbench.py gc_lists) under the default GOGC.

The measurement times the list program's two explicit collections; with the
allocation trigger on (GOGC=100, the default) the allocator starts more of its
own while the list is built, which once broke the bench.  It must still report
exactly the two explicit ones."""
from emu import gcbench


def test_gc_lists_times_the_two_explicit_collections(monkeypatch):
    monkeypatch.setenv("GOEMU_BENCH_GC_LISTS", "3000")
    monkeypatch.delenv("GOGC", raising=False)
    rows = gcbench.gc_lists(None)
    assert [r.measurement for r in rows] == ["gc list 3e+03 nodes: collect", "gc list 3e+03 nodes: paths"]
    collect = rows[0].detail
    assert collect.startswith(("3000 live", "3001 live")), collect
    assert "sweep of all 300" in collect, collect
