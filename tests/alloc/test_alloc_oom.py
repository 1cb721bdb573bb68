"""A program that exhausts memory gets Go 1.0's "out of memory" throw (a typed
RuntimeThrow with the usual fault report), never a Python MemoryError."""
from __future__ import annotations

import pytest

from emu.errors import RuntimeThrow
from emu.run import load_program, new_machine

ARCHES = ("amd64", "arm")


def _forever(arch: str, size: int) -> str:
    """Allocate `size`-byte objects forever, each linked onto a global list."""
    if arch == "amd64":
        return f"""GLOBL head, $8
TEXT main, $32-0
again:
	mov qword ptr [rsp], {size}
	call runtime.new
	mov rax, qword ptr [rsp + 8]
	mov rcx, $head
	mov rdx, qword ptr [rcx]
	mov qword ptr [rax], rdx
	mov qword ptr [rcx], rax
	jmp again
"""
    return f"""GLOBL head, $4
TEXT main, $32-0
again:
	ldr r0, ={size}
	str r0, [sp, #4]
	bl runtime.new
	ldr r0, [sp, #8]
	ldr r1, =head
	ldr r2, [r1]
	str r2, [r0]
	str r0, [r1]
	b again
"""


@pytest.mark.parametrize("arch", ARCHES)
@pytest.mark.parametrize("size", [1 << 20, 24 << 10], ids=["large", "small"])
def test_out_of_memory_throws(arch, size):
    mc = new_machine(arch, "buggy", load_program(None, text=_forever(arch, size), name="oom.s"), 200_000_000)
    with pytest.raises(RuntimeThrow) as ei:
        mc.run()
    msg = str(ei.value)
    assert "runtime throw: out of memory" in msg
    # the fault report: where it stopped, in runtime terms
    assert "at pc=" in msg and "<throw+" in msg
    printed = "".join(mc.output)
    assert "runtime: out of memory: cannot allocate " in printed and "-byte block (" in printed
    # the arena was really used up: what is allocated is within one growth of its size
    st = mc.struct("MStats", mc.image.symbols["mstats"])
    arena = mc.arch.regions["arena"].size
    assert arena - 2 * max(size, 1 << 20) <= st["heap_sys"] <= arena
    assert st["heap_alloc"] >= arena // 2
