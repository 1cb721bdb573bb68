"""emu/heap.py: the Python view of the emulated heap -- object bases for any
word (interior pointers count), stack segments never objects, the sweep
returns objects to the allocator, and the checker catches a corrupt heap."""
from __future__ import annotations

import numpy as np
import pytest

from emu.allocbench import split_program
from emu.heap import Heap
from emu.run import load_program, new_machine

ARCHES = ("amd64", "arm")


def _alloc_prog(arch: str, sizes: list[int]) -> str:
    body = []
    for n in sizes:
        if arch == "amd64":
            body += [f"mov qword ptr [rsp], {n}", "call runtime.new", "mov rax, qword ptr [rsp + 8]",
                     "mov qword ptr [rsp], rax", "call runtime.printhex"]
        else:
            body += [f"ldr r0, ={n}", "str r0, [sp, #4]", "bl runtime.new", "ldr r0, [sp, #8]",
                     "str r0, [sp, #4]", "bl runtime.printhex"]
    return "TEXT main, $32-0\n" + "".join(f"\t{x}\n" for x in body + ["RET"])


def _run(arch, sizes):
    mc = new_machine(arch, "buggy", load_program(None, text=_alloc_prog(arch, sizes), name="h.s"))
    mc.run()
    return mc, [int(x, 16) for x in mc.output]


@pytest.mark.parametrize("arch", ARCHES)
def test_bases_objects_and_interior_pointers(arch):
    sizes = [16] * 40 + [100, 5000, 70000]
    mc, addrs = _run(arch, sizes)
    heap = Heap(mc)
    bases, osizes = heap.objects()
    assert set(addrs) <= set(bases.tolist())
    assert list(bases) == sorted(bases.tolist())
    g1 = mc.main_g                                   # the G of the main goroutine is an object too
    assert g1 in set(bases.tolist())
    assert dict(heap.allocated()) == dict(zip(bases.tolist(), osizes.tolist()))
    size_of = dict(zip(bases.tolist(), osizes.tolist()))
    words = []
    for a in addrs:
        words += [a, a + 1, a + size_of[a] - 1, a + size_of[a] // 2]
    got = heap.bases(np.array(words, dtype=np.uint64)).tolist()
    assert got == [a for a in addrs for _ in range(4)]
    # outside the arena, past arena_used, in the unused tail of a span: 0
    other = [0, 8, mc.image.symbols["mheap"], heap.arena_used, heap.arena_used + 4096]
    assert heap.bases(np.array(other, dtype=np.uint64)).tolist() == [0] * len(other)
    # a free slot (the 41st 16-byte slot was never handed out) is not an object
    assert heap.bases(np.array([max(a for a, n in zip(addrs, sizes) if n == 16) + 16],
                               dtype=np.uint64)).tolist() == [0]
    assert heap.check() == []


@pytest.mark.parametrize("arch", ARCHES)
def test_stack_segments_are_never_objects(arch):
    """During a hot split with 6000-byte frames the segment is a heap block
    (FlagNoGC); with 16-byte frames it is a FixedStack from the FixAlloc."""
    for leaf in (16, 6000):
        text = split_program(arch, 2, 5, leaf)
        mc = new_machine(arch, "buggy", load_program(None, text=text, name="s.s"))
        seen = []

        def at_leaf(_a, mc=mc, seen=seen):
            heap = Heap(mc)
            g = mc.g
            guard = mc.field("G", g, "stackguard")
            stk = guard - mc.layouts.constants["StackGuard"]
            seen.append((stk, heap.bases(np.array([stk, stk + 64, mc.sp], dtype=np.uint64)).tolist(),
                         heap.check()))
        mc.hooks.at(mc.image.functions["leaf"].body_start, at_leaf)
        mc.run()
        assert len(seen) == 5
        for stk, b, errs in seen:
            assert b == [0, 0, 0] and errs == []
            region = "arena" if leaf == 6000 else "stacks"
            assert mc.arch.regions[region].contains(stk), (leaf, hex(stk))


@pytest.mark.parametrize("arch", ARCHES)
@pytest.mark.parametrize("as_array", [False, True])
def test_free_returns_objects_and_updates_mstats(arch, as_array):
    sizes = [16] * 20 + [48] * 3 + [70000]
    mc, addrs = _run(arch, sizes)
    heap = Heap(mc)
    before = mc.struct("MStats", mc.image.symbols["mstats"])
    doomed = addrs[::2]                               # every other one, the large one included
    size_of = dict(heap.allocated())
    if as_array:
        heap.free(np.array(doomed, dtype=np.uint64))
    else:
        heap.free([(a, size_of[a]) for a in doomed])
    after = mc.struct("MStats", mc.image.symbols["mstats"])
    freed = sum(size_of[a] for a in doomed)
    assert after["heap_alloc"] == before["heap_alloc"] - freed
    assert after["nfree"] == before["nfree"] + len(doomed)
    assert after["heap_objects"] == before["heap_objects"] - len(doomed)
    assert after["numgc"] == before["numgc"] + 1 and after["next_gc"] == 2 * after["heap_alloc"]
    h2 = Heap(mc)
    assert not h2.bases(np.array(doomed, dtype=np.uint64)).any()
    kept = [a for a in addrs if a not in doomed]
    assert h2.bases(np.array(kept, dtype=np.uint64)).tolist() == kept
    assert h2.check() == []


_REUSE = {
    "amd64": """TEXT main, $32-0
	mov qword ptr [rsp + 16], 600
fill:
	cmp qword ptr [rsp + 16], 0
	je collect
	mov qword ptr [rsp], 16
	call runtime.new
	mov rax, qword ptr [rsp + 8]
	mov qword ptr [rax + 8], 0x5a5a
	mov qword ptr [rsp], rax
	call runtime.printhex
	mov qword ptr [rsp], 0
	mov qword ptr [rsp + 8], 0
	dec qword ptr [rsp + 16]
	jmp fill
collect:
	call runtime.gc
	mov qword ptr [rsp + 16], 600
	mov qword ptr [rsp + 24], 0
again:
	cmp qword ptr [rsp + 16], 0
	je done
	mov qword ptr [rsp], 16
	call runtime.new
	mov rax, qword ptr [rsp + 8]
	mov rcx, qword ptr [rax + 8]
	add qword ptr [rsp + 24], rcx
	mov qword ptr [rsp], rax
	call runtime.printhex
	mov qword ptr [rsp], 0
	mov qword ptr [rsp + 8], 0
	dec qword ptr [rsp + 16]
	jmp again
done:
	mov rax, qword ptr [rsp + 24]
	mov qword ptr [rsp], rax
	call runtime.printint
	RET
""",
    "arm": """TEXT main, $32-0
	mov r0, #600
	str r0, [sp, #16]
fill:
	ldr r0, [sp, #16]
	cmp r0, #0
	beq collect
	mov r0, #16
	str r0, [sp, #4]
	bl runtime.new
	ldr r0, [sp, #8]
	ldr r1, =0x5a5a
	str r1, [r0, #4]
	str r0, [sp, #4]
	bl runtime.printhex
	mov r1, #0
	str r1, [sp, #4]
	str r1, [sp, #8]
	ldr r0, [sp, #16]
	sub r0, r0, #1
	str r0, [sp, #16]
	b fill
collect:
	bl runtime.gc
	mov r0, #600
	str r0, [sp, #16]
	mov r0, #0
	str r0, [sp, #20]
again:
	ldr r0, [sp, #16]
	cmp r0, #0
	beq done
	mov r0, #16
	str r0, [sp, #4]
	bl runtime.new
	ldr r0, [sp, #8]
	ldr r1, [r0, #4]
	ldr r2, [sp, #20]
	add r2, r2, r1
	str r2, [sp, #20]
	str r0, [sp, #4]
	bl runtime.printhex
	mov r1, #0
	str r1, [sp, #4]
	str r1, [sp, #8]
	ldr r0, [sp, #16]
	sub r0, r0, #1
	str r0, [sp, #16]
	b again
done:
	ldr r0, [sp, #20]
	str r0, [sp, #4]
	bl runtime.printint
	RET
""",
}


@pytest.mark.parametrize("arch", ARCHES)
def test_swept_objects_are_reused_zeroed_and_spans_go_back_to_the_heap(arch):
    """600 dirty 16-byte objects become garbage; after the collection the
    allocator's next entry runs stealcache: the objects return to their spans,
    the emptied spans to MHeap (coalesced with the free rest of the arena), and
    the next 600 allocations get the same memory back, zeroed."""
    mc = new_machine(arch, "buggy", load_program(None, text=_REUSE[arch], name="reuse.s"))
    seen = {}

    def after_gc(ev):
        heap = Heap(mc)
        seen["errs"] = heap.check()
        seen["stats"] = mc.struct("MStats", mc.image.symbols["mstats"])
    mc.on("gc", after_gc)
    mc.run()
    assert mc.exited and mc.exit_status == 0
    out = mc.output
    first, second, total = out[:600], out[600:1200], out[1200]
    assert total == "0"                               # every reused object came back zeroed
    assert sorted(first) == sorted(second)            # the same memory, reused
    assert seen["errs"] == []
    st = mc.struct("MStats", mc.image.symbols["mstats"])
    assert st["nfree"] >= 600 and st["numgc"] == 1
    # the 16-byte spans went back to MHeap before being taken again: after the run,
    # every page in use is accounted for and the checker agrees
    assert Heap(mc).check() == []
    assert st["heap_inuse"] <= seen["stats"]["heap_inuse"]


@pytest.mark.parametrize("arch", ARCHES)
def test_check_reports_corruption(arch):
    mc, addrs = _run(arch, [16] * 10)
    heap = Heap(mc)
    assert heap.check() == []
    # 1: an allocated object put on a free list
    cache = mc.read_ptr(mc.image.symbols["mcache0"])
    C, CL = mc.layouts["MCache"], mc.layouts["MCacheList"]
    lst = cache + C.offset("list[2]") + CL.offset("list")
    head = mc.read_ptr(lst)
    mc.write_ptr(addrs[0], head)
    mc.write_ptr(lst, addrs[0])
    errs = Heap(mc).check()
    assert any("is allocated" in e for e in errs) and any("nlist" in e for e in errs), errs
    mc.write_ptr(lst, head)
    assert Heap(mc).check() == []
    # 2: mstats out of step
    off = mc.image.symbols["mstats"] + mc.layouts["MStats"].offset("heap_alloc")
    mc.write(off, (mc.read_uint(off, 8) + 16).to_bytes(8, "little"))
    assert any("heap_alloc" in e for e in Heap(mc).check())
