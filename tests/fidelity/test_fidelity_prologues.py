"""Each prologue and return shape, instruction for instruction as 6l's dostkoff
and 5l's noops emitted them (reference section 5), written by hand and
compared with what goemu assembled for a program with one function per shape.
"""
from __future__ import annotations

import pytest
from fidelity_support import disasm, image

# name -> (TEXT line, body, prologue, epilogue)
AMD64 = {
    "small0": ("$0-0", [
        "mov rcx, qword ptr fs:[-16]", "cmp rsp, qword ptr [rcx]", "ja @4", "call morestack00"], ["ret"]),
    "small16": ("$16-16", [
        "mov rcx, qword ptr fs:[-16]", "cmp rsp, qword ptr [rcx]", "ja @4", "call morestack16",
        "sub rsp, 16"], ["add rsp, 16", "ret"]),
    "args12": ("$8-12", [            # args rounded up to 8: morestack16
        "mov rcx, qword ptr fs:[-16]", "cmp rsp, qword ptr [rcx]", "ja @4", "call morestack16",
        "sub rsp, 8"], ["add rsp, 8", "ret"]),
    "args56": ("$8-56", [            # more than 48: morestack01 with AX = args
        "mov rcx, qword ptr fs:[-16]", "cmp rsp, qword ptr [rcx]", "ja @5", "mov eax, 56",
        "call morestack01", "sub rsp, 8"], ["add rsp, 8", "ret"]),
    "large": ("$136-0", [            # > StackSmall: compare SP - (frame - 128)
        "mov rcx, qword ptr fs:[-16]", "lea rax, [rsp - 8]", "cmp rax, qword ptr [rcx]", "ja @5",
        "call morestack00", "sub rsp, 136"], ["add rsp, 136", "ret"]),
    "frame10": ("$3944-0", [         # frame + 160 > 4096: morestack10, AX = (frame + 160) & ~7
        "mov rcx, qword ptr fs:[-16]", "lea rax, [rsp - 3816]", "cmp rax, qword ptr [rcx]", "ja @6",
        "mov eax, 4104", "call morestack10", "sub rsp, 3944"], ["add rsp, 3944", "ret"]),
    "both11": ("$3904-40", [         # both: AX = args << 32 | frame'
        "mov rcx, qword ptr fs:[-16]", "lea rax, [rsp - 3776]", "cmp rax, qword ptr [rcx]", "ja @6",
        f"movabs rax, {(40 << 32) | 4064}", "call morestack11", "sub rsp, 3904"], ["add rsp, 3904", "ret"]),
    # 6l loads a constant that does not fit 32 bits with the 10-byte form Capstone calls movabs.
    "huge": ("$5000-24", [           # >= StackBig: no compare, always morestack
        "mov rcx, qword ptr fs:[-16]", f"movabs rax, {(24 << 32) | 5160}", "call morestack11",
        "sub rsp, 5000"], ["add rsp, 5000", "ret"]),
    "nosplit": ("NOSPLIT, $16-8", ["sub rsp, 16"], ["add rsp, 16", "ret"]),
    "nosplit0": ("NOSPLIT, $0-0", [], ["ret"]),
}

RET0 = "add pc, lr, 0"              # 5l's B (R14)

ARM = {
    # (TEXT line, calls something?, prologue, epilogue)
    "leaf0": ("$0-0", False, [], [RET0]),
    "stub": ("$-4-8", True, [], [RET0]),
    "call0": ("$0-0", True, [          # a zero frame that calls: autosize 4, small
        "ldr r1, [r10]", "cmp sp, r1", "movlo r1, 164", "movlo r2, 0", "movlo r3, lr", "bllo morestack",
        "str lr, [sp, -4]!"], ["pop {pc}"]),      # ldr pc, [sp], #4: Capstone's name for it
    "small": ("$8-4", False, [         # autosize 12 < 128: cmp sp, r1
        "ldr r1, [r10]", "cmp sp, r1", "movlo r1, 172", "movlo r2, 4", "movlo r3, lr", "bllo morestack",
        "str lr, [sp, -12]!"], ["ldr pc, [sp], 12"]),
    "large128": ("$124-12", True, [    # autosize 128: -128 from the pool, added to SP
        "ldr r1, [r10]", "ldr r11, =-128", "add r2, sp, r11", "cmp r2, r1", "movlo r1, 288",
        "movlo r2, 12", "movlo r3, lr", "bllo morestack", "str lr, [sp, -128]!"], ["ldr pc, [sp], 128"]),
    "large1028": ("$1024-6", True, [   # 1188 is no immediate: a pool load; args rounded to 8
        "ldr r1, [r10]", "ldr r11, =-1028", "add r2, sp, r11", "cmp r2, r1", "ldrlo r1, =1188",
        "movlo r2, 8", "movlo r3, lr", "bllo morestack", "str lr, [sp, -1028]!"], ["ldr pc, [sp], 1028"]),
    "large4092": ("$4088-4", True, [
        "ldr r1, [r10]", "ldr r11, =-4092", "add r2, sp, r11", "cmp r2, r1", "ldrlo r1, =4252",
        "movlo r2, 4", "movlo r3, lr", "bllo morestack", "str lr, [sp, -4092]!"], ["ldr pc, [sp], 4092"]),
    "huge4096": ("$4092-0", True, [    # autosize 4096: unconditional, R1 = autosize (no +160)
        "mov r1, 4096", "mov r2, 0", "mov r3, lr", "bl morestack",
        "ldr r11, =-4096", "str lr, [sp, r11]!"], ["ldr r11, =4096", "ldr pc, [sp], r11"]),
    "huge70004": ("$70000-16", True, [
        "ldr r1, =70004", "mov r2, 16", "mov r3, lr", "bl morestack",
        "ldr r11, =-70004", "str lr, [sp, r11]!"], ["ldr r11, =70004", "ldr pc, [sp], r11"]),
    "nosplit": ("NOSPLIT, $8-4", True, ["str lr, [sp, -12]!"], ["ldr pc, [sp], 12"]),
}


def _program(arch: str) -> str:
    lines = []
    if arch == "amd64":
        lines += ["TEXT main, $0-0", "\tRET"]
        for name, (decl, _pro, _epi) in AMD64.items():
            lines += [f"TEXT {name}, {decl}", "\tnop", "\tRET"]
    else:
        lines += ["TEXT main, $0-0", "\tRET"]
        for name, (decl, calls, _pro, _epi) in ARM.items():
            lines += [f"TEXT {name}, {decl}", "\tbl main" if calls else "\tnop", "\tRET"]
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("name", list(AMD64))
def test_amd64_prologue_shape(name: str) -> None:
    im = image("amd64", "buggy", f"prologues_{name}", _program("amd64"))
    _decl, pro, epi = AMD64[name]
    assert disasm(im, name, ("prologue",)) == pro
    assert disasm(im, name, ("epilogue",)) == epi


@pytest.mark.parametrize("name", list(ARM))
def test_arm_prologue_shape(name: str) -> None:
    im = image("arm", "buggy", f"prologues_{name}", _program("arm"))
    _decl, _calls, pro, epi = ARM[name]
    assert disasm(im, name, ("prologue",)) == pro
    assert disasm(im, name, ("epilogue",)) == epi
    if epi == ["pop {pc}"]:         # the single-register load 5l emitted (MOVW.P 4(SP), PC), not an ldm
        [(addr, *_r)] = [ln for ln in im.functions[name].lines if ln[3] == "epilogue"]
        [(base, code)] = [(b, c) for n, b, c, _p in im.chunks if n == "text"]
        assert int.from_bytes(code[addr - base:addr - base + 4], "little") == 0xE49DF004


def test_runtime_new_prologue_in_the_runtime_image() -> None:
    """The one runtime entry with a large frame, as 5l built it: r1 from the pool."""
    got = disasm(image("arm"), "runtime.new", ("prologue",))
    assert got[:5] == ["ldr r1, [r10]", "ldr r11, =-1028", "add r2, sp, r11", "cmp r2, r1", "ldrlo r1, =1188"]


@pytest.mark.parametrize("value,want", [
    (0x100, "mov r1, #0x100"),            # a rotated 8-bit immediate
    (0xFF000000, "mov r1, #0xff000000"),
    (0xFFFFFF00, "mvn r1, #0xff"),         # its complement is one
    (0x4A4, "ldr r1, =0x4a4"),             # neither: the literal pool (5l had no movw)
    (0x11174, "ldr r1, =0x11174"),
])
def test_arm_constants_as_5l_loaded_them(value: int, want: str) -> None:
    from emu.arch.arm import ARCH, _imm
    from emu.asm.assemble import assemble_checked
    from emu.asm.source import Statement
    assert _imm("r1", value) == want
    _code, insns = assemble_checked([Statement(want, "t.s", 1), Statement("add pc, lr, #0x0", "t.s", 2)],
                                    0x10000, ARCH)
    assert len(insns) == 2                 # Capstone agrees, pool word included
