"""Go 1.0's allocator works in constant time: the emulated instructions per
runtime.new do not grow with the heap, nor those per split with the depth of
the stack (two sizes 10x apart, equal within 50%)."""
from __future__ import annotations

import pytest

from emu.allocbench import measure_alloc, measure_split

ARCHES = ("amd64", "arm")


@pytest.mark.parametrize("arch", ARCHES)
@pytest.mark.parametrize("size", [16, 200])
def test_allocation_cost_does_not_grow_with_the_heap(arch, size):
    small = measure_alloc(arch, 1000, 500, size)      # heap of 500..1000 live objects
    big = measure_alloc(arch, 10_000, 500, size)      # heap of 9,500..10,000
    assert small.per_op > 50                          # the window really ran allocations
    assert 2 / 3 <= big.per_op / small.per_op <= 1.5, (small.per_op, big.per_op)


@pytest.mark.parametrize("arch", ARCHES)
@pytest.mark.parametrize("leaf_frame", [16, 6000], ids=["fixedstack", "heapsegment"])
def test_split_cost_does_not_grow_with_stack_depth(arch, leaf_frame):
    top = measure_split(arch, 150, 100, leaf_frame)       # 150 frames of 512 bytes
    deep = measure_split(arch, 1500, 100, leaf_frame)     # 1,500 frames of 512 bytes
    assert top.per_op > 100                               # every call split (morestack..gogo)
    assert 2 / 3 <= deep.per_op / top.per_op <= 1.5, (top.per_op, deep.per_op)
