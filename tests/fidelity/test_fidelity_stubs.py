"""Every stub, instruction for instruction as Go 1.0's asm_amd64.s / asm_arm.s
assembled by 6l / 5l (reference section 4; offsets from section 2).

Each sequence below is written by hand from the reference, in Capstone's
spelling (see fidelity_support), and compared with the disassembly of what
goemu assembled.  Register choices are part of the sequence: they are what Go
left in the registers on the way out (tests/fidelity/test_fidelity_registers.py
checks the values).
"""
from __future__ import annotations

import pytest
from fidelity_support import disasm, fill, image

AMD64 = {
    "gosave": [
        "mov rax, qword ptr [rsp + 8]",                 # buf, 8(SP) as 6c passed it
        "lea rbx, [rsp + 8]",
        "mov qword ptr [rax + {gobuf_sp}], rbx",
        "mov rbx, qword ptr [rsp]",
        "mov qword ptr [rax + {gobuf_pc}], rbx",
        "mov rbx, qword ptr fs:[-16]",
        "mov qword ptr [rax + {gobuf_g}], rbx",
        "ret",
    ],
    "gogo": [
        "mov rax, qword ptr [rsp + 16]",                # the apparent return value
        "mov rbx, qword ptr [rsp + 8]",                 # buf
        "mov rdx, qword ptr [rbx + {gobuf_g}]",
        "mov rcx, qword ptr [rdx]",                     # nil check of g
        "mov qword ptr fs:[-16], rdx",
        "mov rsp, qword ptr [rbx + {gobuf_sp}]",
        "mov rbx, qword ptr [rbx + {gobuf_pc}]",
        "jmp rbx",
    ],
    "gogocall": [
        "mov rax, qword ptr [rsp + 16]",                # fn
        "mov rbx, qword ptr [rsp + 8]",                 # buf
        "mov rdx, qword ptr [rbx + {gobuf_g}]",
        "mov qword ptr fs:[-16], rdx",                  # g stored before ...
        "mov rcx, qword ptr [rdx]",                     # ... its nil check
        "mov rsp, qword ptr [rbx + {gobuf_sp}]",
        "mov rbx, qword ptr [rbx + {gobuf_pc}]",
        "push rbx",
        "jmp rax",
        "pop rbx",                                      # not reached, but in Go's file
    ],
    "mcall": [
        "mov rdi, qword ptr [rsp + 8]",
        "mov rax, qword ptr fs:[-16]",
        "mov rbx, qword ptr [rsp]",
        "mov qword ptr [rax + {sched_pc}], rbx",
        "lea rbx, [rsp + 8]",
        "mov qword ptr [rax + {sched_sp}], rbx",
        "mov qword ptr [rax + {sched_g}], rax",
        "mov rbx, qword ptr fs:[-8]",
        "mov rsi, qword ptr [rbx + {m_g0}]",
        "cmp rsi, rax",
        "jne @12",
        "call badmcall",
        "mov qword ptr fs:[-16], rsi",
        "mov rsp, qword ptr [rsi + {sched_sp}]",
        "push rax",
        "call rdi",
        "pop rax",
        "call badmcall2",
        "ret",
    ],
    "morestack": [
        "mov rsi, qword ptr [rbx + {m_g0}]",            # BX = m, from the trampoline
        "cmp qword ptr fs:[-16], rsi",
        "jne @4",
        "int3",
        "mov rax, qword ptr [rsp + 8]",
        "mov qword ptr [rbx + {morebuf_pc}], rax",
        "lea rax, [rsp + 16]",
        "mov qword ptr [rbx + {morebuf_sp}], rax",
        "mov qword ptr [rbx + {m_moreargp}], rax",
        "mov rsi, qword ptr fs:[-16]",
        "mov qword ptr [rbx + {morebuf_g}], rsi",
        "mov rax, qword ptr [rsp]",
        "mov qword ptr [rbx + {m_morepc}], rax",
        "mov rbp, qword ptr [rbx + {m_g0}]",
        "mov qword ptr fs:[-16], rbp",
        "mov rsp, qword ptr [rbp + {sched_sp}]",
        "call newstack",
        "mov qword ptr [4099], 0",                      # 0x1003
        "ret",
    ],
    "morestack00": ["mov rbx, qword ptr fs:[-8]", "mov rax, 0",
                    "mov qword ptr [rbx + {m_moreframesize}], rax", "mov rax, morestack", "jmp rax"],
    "morestack01": ["mov rbx, qword ptr fs:[-8]", "shl rax, 32",
                    "mov qword ptr [rbx + {m_moreframesize}], rax", "mov rax, morestack", "jmp rax"],
    "morestack10": ["mov rbx, qword ptr fs:[-8]", "mov eax, eax",
                    "mov qword ptr [rbx + {m_moreframesize}], rax", "mov rax, morestack", "jmp rax"],
    "morestack11": ["mov rbx, qword ptr fs:[-8]",
                    "mov qword ptr [rbx + {m_moreframesize}], rax", "mov rax, morestack", "jmp rax"],
    **{f"morestack{8 * n}": [f"push {n}", "mov rax, morestack_n", "jmp rax"] for n in range(1, 7)},
    "morestack_n": ["mov rbx, qword ptr fs:[-8]", "pop rax", "shl rax, 35",
                    "mov qword ptr [rbx + {m_moreframesize}], rax", "mov rax, morestack", "jmp rax"],
    "reflectcall": [
        "mov rbx, qword ptr fs:[-8]",
        "mov rax, qword ptr [rsp]",
        "mov qword ptr [rbx + {morebuf_pc}], rax",
        "lea rax, [rsp + 8]",
        "mov qword ptr [rbx + {morebuf_sp}], rax",
        "mov rax, qword ptr fs:[-16]",
        "mov qword ptr [rbx + {morebuf_g}], rax",
        "mov rax, qword ptr [rsp + 8]",
        "mov rdx, qword ptr [rsp + 16]",
        "mov ecx, dword ptr [rsp + 24]",
        "mov qword ptr [rbx + {m_morepc}], rax",
        "mov qword ptr [rbx + {m_moreargp}], rdx",
        "mov dword ptr [rbx + {m_moreargsize}], ecx",
        "mov dword ptr [rbx + {m_moreframesize}], 1",
        "mov rbp, qword ptr [rbx + {m_g0}]",
        "mov qword ptr fs:[-16], rbp",
        "mov rsp, qword ptr [rbp + {sched_sp}]",
        "call newstack",
        "mov qword ptr [4355], 0",                      # 0x1103
        "ret",
    ],
    "lessstack": [
        "mov rbx, qword ptr fs:[-8]",
        "mov qword ptr [rbx + {m_cret}], rax",
        "mov rbp, qword ptr [rbx + {m_g0}]",
        "mov qword ptr fs:[-16], rbp",
        "mov rsp, qword ptr [rbp + {sched_sp}]",
        "call oldstack",
        "mov qword ptr [4100], 0",                      # 0x1004
        "ret",
    ],
}

RET = "add pc, lr, 0"           # 5l's B (R14) in a frameless function

ARM = {
    "gosave": ["ldr r0, [sp, 4]", "str sp, [r0]", "str lr, [r0, {gobuf_pc}]", "str r10, [r0, {gobuf_g}]", RET],
    "gogo": [
        "ldr r1, [sp, 4]",                              # buf, 0(FP)
        "ldr r0, [sp, 8]",                              # the apparent return value
        "ldr r10, [r1, {gobuf_g}]",
        "ldr r2, [r10]",                                # nil check of g
        "ldr sp, [r1]",
        "ldr pc, [r1, {gobuf_pc}]",
    ],
    "gogocall": [
        "ldr r0, [sp, 4]",
        "ldr r1, [sp, 8]",
        "ldr r2, [sp, 12]",                             # the unused third word
        "ldr r10, [r0, {gobuf_g}]",
        "ldr r3, [r10]",
        "ldr sp, [r0]",
        "ldr lr, [r0, {gobuf_pc}]",
        "mov pc, r1",
    ],
    "mcall": [
        "ldr r0, [sp, 4]",
        "str sp, [r10, {sched_sp}]",
        "str lr, [r10, {sched_pc}]",
        "str r10, [r10, {sched_g}]",
        "mov r1, r10",
        "ldr r10, [r9]",
        "cmp r1, r10",
        "bleq badmcall",
        "ldr sp, [r10, {sched_sp}]",
        "sub sp, sp, 8",
        "str r1, [sp, 4]",
        "add lr, pc, 0",         # 5l's BL (R0): mov PC to LR, then add $0, R0, PC
        "add pc, r0, 0",
        "bl badmcall2",
        RET,
    ],
    "morestack": [
        "ldr r4, [r9]",
        "cmp r4, r10",
        "bleq abort",
        "str r1, [r9, {m_moreframesize}]",
        "str r2, [r9, {m_moreargsize}]",
        "str r3, [r9, {morebuf_pc}]",
        "str sp, [r9, {morebuf_sp}]",
        "add r3, sp, 4",
        "str r3, [r9, {m_moreargp}]",
        "str r10, [r9, {morebuf_g}]",
        "str lr, [r9, {m_morepc}]",
        "ldr r10, [r9]",
        "ldr sp, [r10, {sched_sp}]",
        "b newstack",
    ],
    "reflectcall": [
        "str lr, [r9, {morebuf_pc}]",
        "str sp, [r9, {morebuf_sp}]",
        "str r10, [r9, {morebuf_g}]",
        "ldr r0, [sp, 4]",
        "ldr r1, [sp, 8]",
        "ldr r2, [sp, 12]",
        "str r0, [r9, {m_morepc}]",
        "str r1, [r9, {m_moreargp}]",
        "str r2, [r9, {m_moreargsize}]",
        "mov r3, 1",
        "str r3, [r9, {m_moreframesize}]",
        "ldr r10, [r9]",
        "ldr sp, [r10, {sched_sp}]",
        "b newstack",
    ],
    "lessstack": ["str r0, [r9, {m_cret}]", "ldr r10, [r9]", "ldr sp, [r10, {sched_sp}]", "b oldstack"],
    "abort": ["mov r0, 0", "ldr r1, [r0]"],                # a fault at address 0
}

CASES = [("amd64", n) for n in AMD64] + [("arm", n) for n in ARM]


@pytest.mark.parametrize("variant", ["buggy", "fixed"])
@pytest.mark.parametrize("arch,name", CASES)
def test_stub_is_gos_sequence(arch: str, name: str, variant: str) -> None:
    want = fill((AMD64 if arch == "amd64" else ARM)[name], arch)
    assert disasm(image(arch, variant), name) == want


def test_every_stack_stub_is_covered() -> None:
    """No stub of asm/<arch>/stack.s escapes the comparison (goexit is goemu's own exit)."""
    for arch, table in (("amd64", AMD64), ("arm", ARM)):
        im = image(arch)
        stubs = {n for n, f in im.functions.items() if f.file.endswith("stack.s")}
        assert stubs - {"goexit"} == set(table), arch


def test_trampolines_jump_indirectly_through_ax() -> None:
    """On entry to morestack AX holds &morestack, as after Go's trampolines."""
    im = image("amd64")
    for name in [n for n in AMD64 if n.startswith("morestack") and n != "morestack"]:
        seq = disasm(im, name)
        assert seq[-1] == "jmp rax" and seq[-2] in ("mov rax, morestack", "mov rax, morestack_n"), name
