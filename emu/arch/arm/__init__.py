"""arm: Go 1.0 on 32-bit ARM, as 5l and asm_arm.s shaped it.

m is R9 and g is R10; a Go function saves LR at 0(SP) of its frame
(autosize = declared frame + 4) and finds its arguments at 4(SP) of its
caller's frame; 5l inserts the split check and one morestack entry taking
R1 = frame size, R2 = argument size, R3 = the LR at the prologue.
"""
from __future__ import annotations

import capstone
import keystone
import unicorn
from unicorn import arm_const as A

from ..base import Arch, Expansion, FuncDecl, Region

_REG_NAMES = ["r0", "r1", "r2", "r3", "r4", "r5", "r6", "r7", "r8", "r9", "r10", "r11", "r12",
              "sp", "lr", "pc", "cpsr"]
REGS = {n: getattr(A, f"UC_ARM_REG_{n.upper()}") for n in _REG_NAMES}

REGIONS = {
    "text": Region("text", 0x10000, 0x100000, "r-x"),
    "runtime": Region("runtime", 0x200000, 0x100000, "rwx"),
    "data": Region("data", 0x400000, 0x100000, "rw-"),
    "g0stack": Region("g0stack", 0x7FF00000, 0x20000, "rw-"),
    # SysAlloc's memory: MSpans, the MCache, FixedStack stack segments (runtime_c/mfixalloc.c)
    "stacks": Region("stacks", 0x40000000, 0x4000000, "rw-"),
    # the heap arena and its GC bitmap (arena/8) just below it
    "bitmap": Region("bitmap", 0x10800000 - 0x800000, 0x800000, "rw-"),
    "arena": Region("arena", 0x10800000, 0x4000000, "rw-"),
}

StackSmall, StackBig = 128, 4096


def encodable(value: int) -> bool:
    """An ARM data-processing immediate: 8 bits rotated right by an even amount."""
    value &= 0xFFFFFFFF
    for rot in range(0, 32, 2):
        if ((value << rot) | (value >> (32 - rot))) & 0xFFFFFFFF < 256:
            return True
    return False


def _imm(reg: str, value: int, cond: str = "") -> str:
    """Load a constant: a mov (movw) when it fits 16 bits, a literal otherwise."""
    if value <= 0xFFFF:
        return f"mov{cond} {reg}, #{value:#x}"
    return f"ldr{cond} {reg}, ={value:#x}"


def _frame_ops(autosize: int) -> tuple[list[str], list[str]]:
    """Allocate the frame saving LR at 0(SP); and the matching return.  Above
    the 12-bit offset range 5l goes through REGTMP (R11), and so do we."""
    if autosize == 0:
        return [], ["bx lr"]
    if autosize <= 0xFFF:
        return [f"str lr, [sp, #-{autosize:#x}]!"], [f"ldr pc, [sp], #{autosize:#x}"]
    return ([f"ldr r11, ={autosize:#x}", "str lr, [sp, -r11]!"],
            [f"ldr r11, ={autosize:#x}", "ldr pc, [sp], r11"])


def expand(decl: FuncDecl, consts: dict[str, int]) -> Expansion:
    """Prologue and epilogue as 5l's noops() emitted them."""
    if decl.frame < 0 or (decl.frame == 0 and decl.leaf):
        autosize = 0
    else:
        autosize = decl.frame + 4
    alloc, ret = _frame_ops(autosize)
    args = (decl.args + 3) & ~3          # 5l rounds the argument size up to 4
    pro: list[str] = []
    if autosize and not decl.nosplit:
        if autosize < StackBig:
            pro.append("ldr r1, [r10]")                       # g->stackguard
            if autosize < StackSmall:
                pro.append("cmp sp, r1")
            else:
                if encodable(autosize):
                    pro.append(f"sub r2, sp, #{autosize:#x}")
                else:
                    pro += [f"ldr r11, ={autosize:#x}", "sub r2, sp, r11"]
                pro.append("cmp r2, r1")
            pro += [_imm("r1", autosize + 160, "lo"), _imm("r2", args, "lo"),
                    "movlo r3, lr", "bllo morestack"]
        else:
            pro += [_imm("r1", autosize), _imm("r2", args), "mov r3, lr", "bl morestack"]
    end = len(pro)
    pro += alloc
    return Expansion(pro, ret, autosize, autosize + 4, "sp", end)


def unwind(fn_frame: int, allocated: bool, sp: int, lr: int | None, read_ptr) -> tuple[int, int]:
    """(return pc, caller's SP): LR is saved at 0(SP) once the frame exists."""
    if not allocated or fn_frame == 0:
        return (lr or 0), sp
    return read_ptr(sp), sp + fn_frame


ARCH = Arch(
    name="arm", ptrsize=4,
    uc_arch=unicorn.UC_ARCH_ARM, uc_mode=unicorn.UC_MODE_ARM,
    cs_arch=capstone.CS_ARCH_ARM, cs_mode=capstone.CS_MODE_ARM,
    ks_arch=keystone.KS_ARCH_ARM, ks_mode=keystone.KS_MODE_ARM,
    elf_machine="EM_ARM",
    regs=REGS, pc="pc", sp="sp", ret="r0", flags="cpsr",
    tenet_regs=("r0", "r1", "r2", "r3", "r4", "r5", "r6", "r7", "r8", "r9", "r10", "r11", "r12", "sp", "lr", "pc"),
    hypercall_nr="r7", hypercall_args=("r0", "r1"), hypercall_pc_advance=4,
    regions=REGIONS, fs_base=None,
    g_loc=("reg", "r10"), m_loc=("reg", "r9"),
    link_register="lr", unwind=unwind,
    crash_addresses={0x1003: "newstack returned into morestack",
                     0x1004: "oldstack returned into lessstack",
                     345: "gogocall returned into newstack"},
    expand=expand, nop=b"\x00\xf0\x20\xe3", pad=b"\xf0\x00\xf0\xe7",   # udf #0xf: a trap
    literal_pool=True,
    reg_aliases={"sb": "r9", "sl": "r10", "fp": "r11", "ip": "r12", "r13": "sp", "r14": "lr",
                 "r15": "pc"},
    mnemonic_aliases={"movw": "mov", "stmdb": "push", "ldmia": "pop"},
)
