"""Failure paths as Go 1.0's: where they fault, what they print, what they throw.

- morestack on g0: amd64 INT $3; ARM calls abort, which faults at address 0.
- reflect.call's crash store is to 0x1103 (morestack's 0x1003, lessstack's 0x1004).
- newstack prints its diagnostic line before it throws (split stack overflow,
  misaligned argsize).
- stackalloc throws "stackalloc not on scheduler stack" when not on g0.
"""
from __future__ import annotations

from pathlib import Path

import pytest
from fidelity_support import ARCHES

from emu.errors import InvalidInstruction, MemoryFault, RuntimeThrow
from emu.run import load_program, new_machine

RUNTIME_PROGRAMS = Path(__file__).resolve().parents[1] / "runtime" / "programs"

# main calls mcall(ong0); ong0, on g0, enters morestack as a prologue would.
G0_GROW = {
    "amd64": """
TEXT main, $16-0
	mov rax, $ong0
	mov qword ptr [rsp], rax
	call mcall
	RET
TEXT ong0, NOSPLIT, $0-8
	call morestack00
	RET
""",
    "arm": """
TEXT main, $16-0
	ldr r0, =ong0
	str r0, [sp, #4]
	bl mcall
	RET
TEXT ong0, NOSPLIT, $-4
	mov r1, #0
	mov r2, #0
	mov r3, lr
	bl morestack
	RET
""",
}


def _machine(arch: str, text: str, name: str):
    return new_machine(arch, "buggy", load_program(None, text=text, name=name), budget=2_000_000)


@pytest.mark.parametrize("arch", ARCHES)
def test_morestack_on_g0(arch: str) -> None:
    mc = _machine(arch, G0_GROW[arch], "g0grow.s")
    if arch == "amd64":
        with pytest.raises(InvalidInstruction) as ei:
            mc.run()
        assert "morestack on g0 (INT $3)" in str(ei.value)
        assert ei.value.symbol.startswith("morestack")
    else:
        with pytest.raises(MemoryFault) as ei:
            mc.run()
        err = ei.value
        assert err.address == 0 and err.symbol.startswith("abort")
        assert "read from unmapped memory at 0x0 (abort: morestack on g0's stack)" in str(err)
    assert mc.g == mc.g0


def test_reflect_call_crash_address_is_named() -> None:
    """A store to 0x1103 is reflect.call's 'newstack returned' crash, not morestack's."""
    text = "TEXT main, $0-0\n\tmov qword ptr [0x1103 + riz*1], 0\n\tRET\n"
    mc = _machine("amd64", text, "crash.s")
    with pytest.raises(MemoryFault) as ei:
        mc.run()
    assert ei.value.address == 0x1103
    assert "(newstack returned into reflect.call)" in str(ei.value)


@pytest.mark.parametrize("arch", ARCHES)
def test_newstack_prints_split_stack_overflow_before_throwing(arch: str) -> None:
    mc = new_machine(arch, "buggy", load_program(RUNTIME_PROGRAMS / f"overflow_{arch}.s"), budget=2_000_000)
    with pytest.raises(RuntimeThrow) as ei:
        mc.run()
    assert "runtime throw: runtime: split stack overflow" in str(ei.value)
    [split] = [e.detail for e in mc.events if e.kind == "split"]
    bottom = mc.field("G", mc.main_g, "stackguard") - 256          # StackGuard
    assert mc.output[-1] == f"runtime: split stack overflow: {split['caller_sp']:#x} < {bottom:#x}"


REFLECT_ODD = {   # reflect.call(fn, arg, argsize) with an argument size that is no multiple of a word
    "amd64": """
GLOBL block, $16
TEXT main, $24-0
	mov rax, $callee
	mov qword ptr [rsp], rax
	mov rax, $block
	mov qword ptr [rsp + 8], rax
	mov qword ptr [rsp + 16], 5
	call reflectcall
	RET
TEXT callee, $0-8
	RET
""",
    "arm": """
GLOBL block, $16
TEXT main, $12-0
	ldr r0, =callee
	str r0, [sp, #4]
	ldr r0, =block
	str r0, [sp, #8]
	mov r0, #6
	str r0, [sp, #12]
	bl reflectcall
	RET
TEXT callee, $0-8
	RET
""",
}


@pytest.mark.parametrize("arch", ARCHES)
def test_newstack_prints_misaligned_argsize_before_throwing(arch: str) -> None:
    mc = _machine(arch, REFLECT_ODD[arch], "odd.s")
    with pytest.raises(RuntimeThrow) as ei:
        mc.run()
    assert "runtime throw: runtime: stack split argsize" in str(ei.value)
    assert mc.output[-1] == f"runtime: stack split with misaligned argsize {5 if arch == 'amd64' else 6}"


STACKALLOC = {   # main calls the C function stackalloc(4096) directly, on its own goroutine
    "amd64": "TEXT main, $1024-0\n\tmov edi, 0x1000\n\tcall stackalloc\n\tRET\n",
    "arm": "TEXT main, $1024-0\n\tmov r0, #0x1000\n\tbl stackalloc\n\tRET\n",
}


@pytest.mark.parametrize("arch", ARCHES)
def test_stackalloc_throws_off_g0(arch: str) -> None:
    mc = _machine(arch, STACKALLOC[arch], "stackalloc.s")
    with pytest.raises(RuntimeThrow) as ei:
        mc.run()
    assert "runtime throw: stackalloc not on scheduler stack" in str(ei.value)
    assert mc.g == mc.main_g != mc.g0
