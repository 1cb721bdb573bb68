"""amd64: Go 1.0 on ELF/x86-64, as 6l and the runtime's asm_amd64.s shaped it.

g is at -16(FS) and m at -8(FS); Go functions take arguments on the stack
(0(FP) = the first argument, just above the return PC); 6l inserts the split
check (small / large / huge frames) and picks a morestack trampoline.
"""
from __future__ import annotations

import capstone
import keystone
import unicorn
from unicorn import x86_const as X

from ..base import Arch, Expansion, FuncDecl, Region

_REG_NAMES = ["rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp", "rsp", "r8", "r9", "r10", "r11",
              "r12", "r13", "r14", "r15", "rip", "rflags", "fs_base"]
REGS = {n: getattr(X, f"UC_X86_REG_{n.upper()}") for n in _REG_NAMES}

TLS_PAGE = 0x7FFFF7FF0000
FS_BASE = TLS_PAGE + 0x800          # g at FS_BASE-16, m at FS_BASE-8

REGIONS = {
    "tls": Region("tls", TLS_PAGE, 0x1000, "rw-"),
    "text": Region("text", 0x400000, 0x100000, "r-x"),       # asm/ stubs, runtime entries, the program
    "runtime": Region("runtime", 0x600000, 0x100000, "rwx"),  # runtime_c image: text, rodata, data, bss
    "data": Region("data", 0x800000, 0x100000, "rw-"),        # the program's GLOBL/DATA
    "g0stack": Region("g0stack", 0x7FFFFFFD0000, 0x20000, "rw-"),
    # SysAlloc's memory: MSpans, the MCache, FixedStack stack segments (runtime_c/mfixalloc.c)
    "stacks": Region("stacks", 0xC000000000, 0x4000000, "rw-"),
    # the heap arena at Go 1.0's amd64 address, and its GC bitmap (arena/16) just below it
    "bitmap": Region("bitmap", 0xF840000000 - 0x400000, 0x400000, "rw-"),
    "arena": Region("arena", 0xF840000000, 0x4000000, "rw-"),
}

StackSmall, StackBig = 128, 4096


def _trampoline(frame: int, args: int) -> list[str]:
    """6l's choice of morestack entry and the sizes it passes (reference §5)."""
    const1 = (frame + 160) & ~7 if frame + 160 + args > 4096 else 0
    const2 = args
    if const1 == 0 and const2 == 0:
        return ["call morestack00"]
    if const2 == 0:
        return [f"mov eax, {const1:#x}", "call morestack10"]
    if const1 == 0 and const2 % 8 == 0 and const2 <= 48:
        return [f"call morestack{const2}"]
    if const1 == 0:
        return [f"mov eax, {const2:#x}", "call morestack01"]
    return [f"mov rax, {(const2 << 32) | const1:#x}", "call morestack11"]


def expand(decl: FuncDecl, consts: dict[str, int]) -> Expansion:
    """Prologue and epilogue as 6l emitted them for one TEXT function."""
    frame = max(decl.frame, 0)
    args = (decl.args + 7) & ~7          # parsetextconst rounds the argument size up to 8
    pro: list[str] = []
    if not decl.nosplit:
        pro.append("mov rcx, qword ptr fs:[-0x10]")          # g
        if frame <= StackSmall:
            pro += ["cmp rsp, qword ptr [rcx]", "ja .Lgoemu_split_ok"]
        elif frame < StackBig:
            pro += [f"lea rax, [rsp - {frame - StackSmall:#x}]", "cmp rax, qword ptr [rcx]",
                    "ja .Lgoemu_split_ok"]
        pro += _trampoline(frame, args)
        pro.append(".Lgoemu_split_ok:")
    end = len(pro)
    if frame:
        pro.append(f"sub rsp, {frame:#x}")
    epi = ([f"add rsp, {frame:#x}"] if frame else []) + ["ret"]
    return Expansion(pro, epi, frame, frame + 8, "rsp", end)


def unwind(fn_frame: int, allocated: bool, sp: int, lr: int | None, read_ptr) -> tuple[int, int]:
    """(return pc, caller's SP) of a frame: the return PC sits just above the frame."""
    if not allocated:
        return read_ptr(sp), sp + 8
    return read_ptr(sp + fn_frame), sp + fn_frame + 8


ARCH = Arch(
    name="amd64", ptrsize=8,
    uc_arch=unicorn.UC_ARCH_X86, uc_mode=unicorn.UC_MODE_64,
    cs_arch=capstone.CS_ARCH_X86, cs_mode=capstone.CS_MODE_64,
    ks_arch=keystone.KS_ARCH_X86, ks_mode=keystone.KS_MODE_64,
    elf_machine="EM_X86_64",
    regs=REGS, pc="rip", sp="rsp", ret="rax", flags="rflags",
    tenet_regs=("rax", "rbx", "rcx", "rdx", "rbp", "rsp", "rsi", "rdi", "r8", "r9", "r10", "r11", "r12", "r13",
                "r14", "r15", "rip"),
    hypercall_nr="rax", hypercall_args=("rdi", "rsi"),
    regions=REGIONS, fs_base=FS_BASE,
    g_loc=("mem", FS_BASE - 16), m_loc=("mem", FS_BASE - 8),
    link_register=None, unwind=unwind,
    crash_addresses={0x1003: "newstack returned into morestack",
                     0x1004: "oldstack returned into lessstack",
                     345: "gogocall returned into newstack"},
    expand=expand, nop=b"\x90", pad=b"\xcc",
    mnemonic_aliases={"movabs": "mov", "jnbe": "ja", "jnb": "jae", "jnc": "jae", "jc": "jb",
                      "jnae": "jb", "jna": "jbe", "jz": "je", "jnz": "jne", "jnle": "jg",
                      "jnl": "jge", "jnge": "jl", "jng": "jle", "sal": "shl", "int3": "int3"},
)
