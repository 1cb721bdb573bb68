"""Set-associative LRU caches and the L1/L2/memory hierarchy."""
import pytest

from emu.cycles.cache import Cache, CacheHierarchy

CFG = {"line": 64, "memory_latency": 100,
       "l1i": {"size": 1024, "ways": 2, "latency": 1},
       "l1d": {"size": 1024, "ways": 2, "latency": 4},
       "l2": {"size": 8192, "ways": 4, "latency": 12}}


def test_line_touched_twice_misses_once():
    h = CacheHierarchy(CFG)
    assert h.access(0x1000, 8, "r") == 100
    assert h.access(0x1008, 8, "w") == 0            # same line
    assert (h.l1d.misses, h.l1d.hits) == (1, 1)
    assert (h.l2.misses, h.l2.hits) == (1, 0)


def test_conflict_misses_with_ways_plus_one_lines():
    c = Cache("c", 1024, 2, 64)                      # 8 sets
    same_set = [k * c.nsets for k in range(3)]       # three lines, one set
    for _ in range(3):
        for n in same_set:
            c.touch(n)
    assert c.misses == 9 and c.hits == 0             # LRU thrashes with ways + 1 lines
    d = Cache("d", 1024, 2, 64)
    for _ in range(3):
        for n in same_set[:2]:
            d.touch(n)
    assert d.misses == 2 and d.hits == 4


def test_straddling_access_touches_both_lines():
    h = CacheHierarchy(CFG)
    assert h.access(64 - 4, 8, "r") == 200
    assert h.l1d.misses == 2
    assert h.access(64 - 4, 8, "r") == 0


def test_l1_miss_l2_hit_costs_the_latency_difference():
    h = CacheHierarchy(CFG)
    lines = [k * h.l1d.nsets * 64 for k in range(3)]   # 3 lines in one L1 set, spread in L2
    for a in lines:
        h.access(a, 4, "r")
    assert h.access(lines[0], 4, "r") == 12 - 4         # evicted from L1, still in L2
    assert h.fetch_lines(range(lines[1] // 64, lines[1] // 64 + 1)) == 12 - 1   # L1I miss, L2 hit


def test_bad_geometry_is_refused():
    with pytest.raises(ValueError):
        Cache("bad", 1000, 3, 64)
