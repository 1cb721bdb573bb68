"""amd64: Go 1.0 on ELF/x86-64, as 6l and the runtime's asm_amd64.s shaped it.

g is at -16(FS) and m at -8(FS); Go functions take arguments on the stack
(0(FP) = the first argument, just above the return PC); 6l inserts the split
check (small / large / huge frames) and picks a morestack trampoline.
"""
from __future__ import annotations

import re

import capstone
import keystone
import unicorn
from unicorn import x86_const as X

from ...errors import InvalidInstruction
from ..base import Arch, Expansion, FuncDecl, Region
from .asmcheck import Amd64AsmRules

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
    """6l's choice of morestack entry and the sizes it passes (Go 1.0's src/cmd/6l/pass.c, dostkoff)."""
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


def split_caller(mc, name: str, pc: int, sp: int, lr: int | None):
    """In morestack or a trampoline before the switch to g0: 0(SP) is the
    return into f, 8(SP) f's return into its caller.  morestack8..48 push one
    word before jumping to morestack_n, which pops it after loading m (as Go's
    morestack<> did)."""
    ps = 8
    f = mc.image.func_at(pc)
    pushed = name[9:] in ("8", "16", "24", "32", "40", "48") and pc != f.addr
    if name == "morestack_n":
        pushed = pc <= next(ln[0] for ln in f.lines if ln[4].startswith("pop"))
    extra = ps if pushed else 0
    morepc = mc.read_ptr(sp + extra)
    fsp = sp + extra + ps
    return morepc, fsp, (mc.read_ptr(fsp), fsp + ps)


_FP = re.compile(r"\[\s*FP\s*(?:([-+])\s*([^\]]+))?\]")


def rewrite_fp(text: str, exp, fold) -> tuple[str, list[str]]:
    """[FP+off] -> [frame register + offset of 0(FP) + off], constants folded."""
    def sub(m: re.Match) -> str:
        off = f" {m.group(1)} {m.group(2)}" if m.group(1) else ""
        return fold(f"[{exp.fp_register} + {exp.fp_offset:#x}{off}]")
    return _FP.sub(sub, text), []


def on_interrupt(mc, intno: int) -> None:
    """int3 (the hypercall is the syscall instruction, hooked on its own)."""
    if intno == 3:
        # The trap leaves rip past the int3; report the int3 itself.
        mc.reg_write("rip", mc.pc - 1)
        why = "morestack on g0 (INT $3)" if mc.image.func_at(mc.pc) and \
            mc.image.func_at(mc.pc).name == "morestack" else "breakpoint trap (INT $3)"
        raise mc.error(InvalidInstruction, why)
    raise mc.error(InvalidInstruction, f"CPU exception {intno}")


ARCH = Arch(
    name="amd64", ptrsize=8,
    rewrite_fp=rewrite_fp, fp_syntax="[FP+off]",
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
                     0x1103: "newstack returned into reflect.call",
                     345: "gogocall returned into newstack"},
    expand=expand, pad=b"\xcc",
    hypercall_insn=X.UC_X86_INS_SYSCALL, on_interrupt=on_interrupt,
    frame_pointer="rbp", c_call_sp="rbx", split_caller=split_caller,
    call_mnemonics="call", jump_mnemonics="jmp", far_placeholder=0x1000000, asm_rules=Amd64AsmRules(),
    mnemonic_aliases={"movabs": "mov", "jnbe": "ja", "jnb": "jae", "jnc": "jae", "jc": "jb",
                      "jnae": "jb", "jna": "jbe", "jz": "je", "jnz": "jne", "jnle": "jg",
                      "jnl": "jge", "jnge": "jl", "jng": "jle", "sal": "shl", "int3": "int3"},
)
