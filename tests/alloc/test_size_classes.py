"""The size classes are Go 1.0's: runtime_c's table equals what msize.c's
InitSizes algorithm computes (re-derived here independently), and the
emulated SizeToClass gives every request the smallest class that holds it."""
from __future__ import annotations

import numpy as np
import pytest

from emu.heap import Heap
from emu.run import load_program, new_machine


def init_sizes() -> tuple[list[int], list[int]]:
    """InitSizes of Go 1.0's src/pkg/runtime/msize.c, restated."""
    sizes, npages = [0], [0]
    align, size = 8, 8
    while size <= 32768:
        if size & (size - 1) == 0:
            align = 256 if size >= 2048 else size // 8 if size >= 128 else 16 if size >= 16 else 8
        alloc = 4096
        while alloc % size > alloc // 8:
            alloc += 4096
        cl = len(sizes)
        if cl > 1 and alloc // 4096 == npages[-1] and alloc // size == (npages[-1] * 4096) // sizes[-1]:
            sizes[-1] = size
        else:
            sizes.append(size)
            npages.append(alloc // 4096)
        size += align
    return sizes, npages


def table(mc, name: str) -> list[int]:
    n = mc.layouts.constants["NumSizeClasses"]
    return list(np.frombuffer(mc.read(mc.image.symbols[name], 4 * n), dtype="<i4"))


@pytest.mark.parametrize("arch", ["amd64", "arm"])
def test_class_table_is_go1s(arch):
    mc = new_machine(arch, "buggy", load_program(None, text="TEXT main, $0-0\n\tRET\n", name="nop.s"))
    mc.run()                                  # mallocinit has run
    sizes, npages = init_sizes()
    assert mc.layouts.constants["NumSizeClasses"] == len(sizes) == 61
    assert table(mc, "class_to_size") == sizes
    assert table(mc, "class_to_allocnpages") == npages
    # a few rows of the class table, worked out by hand
    assert (sizes[1], sizes[26], npages[26], sizes[40], sizes[60], npages[60]) == (8, 704, 2, 4096, 32768, 8)
    # the lookup tables: Go's single cursor over the classes
    t8, t128 = [0] * 129, [0] * 249
    nxt = 0
    for i in range(1, 61):
        while nxt < 1024 and nxt <= sizes[i]:
            t8[nxt >> 3] = i
            nxt += 8
        if nxt >= 1024:
            while nxt <= sizes[i]:
                t128[(nxt - 1024) >> 7] = i
                nxt += 128
    assert list(mc.read(mc.image.symbols["size_to_class8"], 129)) == t8
    assert list(mc.read(mc.image.symbols["size_to_class128"], 249)) == t128
    # the mstats copy (InitSizes fills by_size[i].size)
    st = mc.struct("MStats", mc.image.symbols["mstats"])
    assert [st[f"by_size[{i}].size"] for i in range(61)] == sizes


REQUESTS = [1, 8, 9, 16, 17, 33, 100, 216, 656, 1016, 1017, 1024, 1025, 2049, 3073, 8193, 32767, 32768,
            32769, 40000]


def _program(arch: str) -> str:
    body = []
    for n in REQUESTS:
        if arch == "amd64":
            body += [f"mov qword ptr [rsp], {n}", "call runtime.new", "mov rax, qword ptr [rsp + 8]",
                     "mov qword ptr [rsp], rax", "call runtime.printhex"]
        else:
            body += [f"ldr r0, ={n}", "str r0, [sp, #4]", "bl runtime.new", "ldr r0, [sp, #8]",
                     "str r0, [sp, #4]", "bl runtime.printhex"]
    return "TEXT main, $32-0\n" + "".join(f"\t{x}\n" for x in body + ["RET"])


@pytest.mark.parametrize("arch", ["amd64", "arm"])
def test_size_to_class_in_emulated_code(arch):
    text = _program(arch)
    mc = new_machine(arch, "buggy", load_program(None, text=text, name="sizes.s"))
    mc.run()
    addrs = [int(x, 16) for x in mc.output]
    heap = Heap(mc)
    bases, sizes = heap.objects()
    got = dict(zip(bases.tolist(), sizes.tolist()))
    classes, _ = init_sizes()
    for n, a in zip(REQUESTS, addrs):
        want = min(c for c in classes[1:] if c >= n) if n <= 32768 else -(-n // 4096) * 4096
        assert got[a] == want, (n, got[a], want)
        assert heap.bases(np.array([a + want - 1, a + want // 2], dtype=np.uint64)).tolist() == [a, a]
    assert heap.check() == []
