"""arm: Go 1.0 on 32-bit ARM, as 5l and asm_arm.s shaped it.

m is R9 and g is R10; a Go function saves LR at 0(SP) of its frame
(autosize = declared frame + 4) and finds its arguments at 4(SP) of its
caller's frame; 5l inserts the split check and one morestack entry taking
R1 = frame size, R2 = argument size, R3 = the LR at the prologue.
"""
from __future__ import annotations

import re

import capstone
import keystone
import unicorn
from unicorn import arm_const as A

from ...errors import InvalidInstruction
from ..base import Arch, Expansion, FuncDecl, Region
from .asmcheck import ArmAsmRules

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
    """Load a constant as 5l did (no movw on its ARMv5 target): mov when the
    value is a rotated 8-bit immediate, mvn when its complement is, and a
    literal-pool load otherwise."""
    value &= 0xFFFFFFFF
    if encodable(value):
        return f"mov{cond} {reg}, #{value:#x}"
    if encodable(~value):
        return f"mvn{cond} {reg}, #{~value & 0xFFFFFFFF:#x}"
    return f"ldr{cond} {reg}, ={value:#x}"


def _frame_ops(autosize: int) -> tuple[list[str], list[str]]:
    """Allocate the frame saving LR at 0(SP); and the matching return.  A
    frameless return is 5l's B (R14), encoded `add pc, lr, #0`.  Above the
    12-bit offset range 5l loads the offset into REGTMP (R11) from the pool."""
    if autosize == 0:
        return [], ["add pc, lr, #0x0"]
    if autosize <= 0xFFF:
        return [f"str lr, [sp, #-{autosize:#x}]!"], [f"ldr pc, [sp], #{autosize:#x}"]
    return ([f"ldr r11, ={-autosize & 0xFFFFFFFF:#x}", "str lr, [sp, r11]!"],
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
                # MOVW $-autosize(SP), R2: -autosize is never an immediate, so 5l
                # loads it from the literal pool into REGTMP and adds SP.
                pro += [f"ldr r11, ={-autosize & 0xFFFFFFFF:#x}", "add r2, sp, r11", "cmp r2, r1"]
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


def split_caller(mc, name: str, pc: int, sp: int, lr: int | None):
    """In morestack before the switch to g0: LR is the return into f, R3 f's
    LR (its return into its caller), SP f's SP.  morestack reuses R3 for the
    argument pointer once m->morebuf.pc holds the caller's PC."""
    f = mc.image.func_at(pc)
    reused = name == "morestack" and pc > next(ln[0] for ln in f.lines if ln[4].startswith("add r3, sp"))
    return lr, sp, (mc.field("M", mc.m, "morebuf.pc") if reused else mc.reg("r3"), sp)


_FP = re.compile(r"\[\s*FP\s*(?:,\s*#?\s*(-?(?:0x[0-9a-fA-F]+|\d+)))?\s*\]")


def rewrite_fp(text: str, exp, fold) -> tuple[str, list[str]]:
    """[FP, #off] -> [frame register, #offset]; an offset beyond the 12-bit
    range goes through REGTMP (R11), as 5l did."""
    pre: list[str] = []

    def sub(m: re.Match) -> str:
        off = exp.fp_offset + (int(m.group(1), 0) if m.group(1) else 0)
        if 0 <= off <= 0xFFF:
            return f"[{exp.fp_register}, #{off:#x}]"
        pre.extend([f"ldr r11, ={off:#x}", f"add r11, {exp.fp_register}, r11"])
        return "[r11]"
    return _FP.sub(sub, text), pre


def on_interrupt(mc, intno: int) -> None:
    """svc is our hypercall; udf (and anything else) is an error."""
    if intno == 2:
        mc._on_hypercall()
        return
    pc = mc.pc
    if intno == 1:
        raise mc.error(InvalidInstruction, "undefined instruction", pc=pc)
    raise mc.error(InvalidInstruction, f"CPU exception {intno}", pc=pc)


ARCH = Arch(
    name="arm", ptrsize=4,
    rewrite_fp=rewrite_fp, fp_syntax="[FP, #off]",
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
    crash_addresses={345: "gogocall returned into newstack"},   # ARM's stubs branch: no crash stores
    expand=expand, pad=b"\xf0\x00\xf0\xe7",   # udf #0xf: a trap
    on_interrupt=on_interrupt,
    frame_pointer="r11", c_call_sp="r4", split_caller=split_caller,
    # bl/blx with any condition call (blt/blo are conditional branches, not calls)
    call_mnemonics=r"blx?(?:eq|ne|cs|hs|cc|lo|mi|pl|vs|vc|hi|ls|ge|lt|gt|le|al)?",
    jump_mnemonics=r"b(?:al)?", far_placeholder=0x100000, asm_rules=ArmAsmRules(),
    reg_aliases={"sb": "r9", "sl": "r10", "fp": "r11", "ip": "r12", "r13": "sp", "r14": "lr",
                 "r15": "pc"},
    mnemonic_aliases={"movw": "mov", "stmdb": "push", "ldmia": "pop"},
)
