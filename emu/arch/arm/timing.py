"""32-bit ARM facts for the cycle model: from a Capstone instruction (detail
on), the registers it reads and writes ("flags" for the CPSR flags; a
conditional instruction reads the flags and the registers it would
overwrite; write-back and post-indexing write the base; LDM/STM/PUSH/POP
register lists), its loads/stores, control flow, and the class key the core
data file maps to an instruction class."""
from __future__ import annotations

from capstone import arm

from ...cycles.insn import InsnInfo
from ..flow import control_kind
from .flow import classify as flow_classify

CORE = "cortex_a9"                 # emu/cycles/data/<CORE>.toml: the core this architecture's cycles model
MCA_ARGS = ["-mtriple=armv7a", "-mcpu=cortex-a9"]   # llvm-mca's flags for the same core (goemu calibrate)
STACK_POINTER = "sp"
_CONDS = ("eq", "ne", "hs", "lo", "cs", "cc", "mi", "pl", "vs", "vc", "hi", "ls", "ge", "lt", "gt", "le", "al")
_REG_SHIFTS = {arm.ARM_SFT_ASR_REG, arm.ARM_SFT_LSL_REG, arm.ARM_SFT_LSR_REG, arm.ARM_SFT_ROR_REG,
               arm.ARM_SFT_RRX_REG}
_SHIFT_MNEMONICS = {"lsl", "lsr", "asr", "ror", "rrx"}
_LOADS = ("ldr", "ldrb", "ldrh", "ldrsb", "ldrsh", "ldrd", "ldm", "pop", "ldrex")
_STORES = ("str", "strb", "strh", "strd", "stm", "push", "strex")
_MULTIPLE = {"ldm": "ldm", "ldmia": "ldm", "ldmib": "ldm", "ldmda": "ldm", "ldmdb": "ldm",
             "stm": "stm", "stmia": "stm", "stmib": "stm", "stmda": "stm", "stmdb": "stm"}
# Data-processing ops that read a loaded value one cycle early (the A9's load fast-forwarding): SUB, RSB,
# ADD, ADC, SBC, RSC, CMN, MVN and CMP, the forwarded register not shifted (Cortex-A9 TRM r2p0, DDI 0388E,
# B.3; LLVM's Cortex-A9 model agrees: A9ReadALU, a SchedReadAdvance of 1, on IIC_iALUi/r, IIC_iCMPi/r,
# IIC_iALUsi/sr and IIC_iMVNr, not on MOV or the logical ops).  The r4p1 TRM (DDI 0388I) widens it to every
# arithmetic or logical op; llvm-mca, the check, follows the narrower list (docs/cycles.md).
_FAST_DST = {"add", "sub", "rsb", "adc", "sbc", "rsc", "cmp", "cmn", "mvn"}
# The address unit (AGU) cycles and the load result kind of each addressing form.  The A9's
# load/store pipe takes one address per AGU cycle, two registers per cycle for LDM/STM/PUSH/POP
# [TRM Table B-3]; which forms occupy the AGU and for how long is LLVM's Cortex-A9 model
# (ARMScheduleA9.td: ItinRW A9WriteAdr / A9WriteAdr2 / A9WriteAdr3 on the IIC_iStore_* classes,
# A9WriteLb + A9WriteAdr2 on LDRB with a register offset or write-back, A9WriteLMAdr for LDM/STM),
# as llvm-mca 14 books them (-resource-pressure): a plain LDR/LDRH takes only the load/store unit.
_STORE_AGU = {"str": (1, 2), "strd": (1, 1), "strb": (2, 3), "strh": (2, 2), "strex": (1, 1)}  # (imm/wb, reg offset)
_BYTE_LOADS = ("ldrb", "ldrh", "ldrsb", "ldrsh")
_TRAPS = {"svc", "udf", "bkpt"}
_NAMES = {"cpsr": "flags", "apsr": "flags", "r13": "sp", "r14": "lr", "r15": "pc", "sb": "r9",
          "sl": "r10", "fp": "r11", "ip": "r12"}


def _name(insn, r) -> str:
    n = insn.reg_name(r)
    return _NAMES.get(n, n)


def base_mnemonic(insn) -> str:
    """Mnemonic without the condition suffix and the S (set flags) suffix."""
    m = insn.mnemonic.split(".")[0]
    if insn.cc not in (arm.ARM_CC_AL, arm.ARM_CC_INVALID) and m[-2:] in _CONDS:
        m = m[:-2]
    if insn.update_flags and m.endswith("s") and m not in ("cmp", "cmn", "tst", "teq") and len(m) > 2:
        m = m[:-1]
    return _MULTIPLE.get(m, m)


def _address_unit(m: str, insn, ops, nregs: int, kind: str) -> tuple[int, str]:
    """(AGU cycles, load result kind) of a load or store: see _STORE_AGU.  Kinds: "word" (LDR, latency
    3), "reg" (LDR with a register offset and no write-back, 4: LLVM's A9WriteLsi), "byte" (LDRB/LDRH/
    LDRSB/LDRSH, 4), "byte_reg" (LDRB with a register offset, 5: A9WriteLbsi)."""
    if m in ("ldm", "stm", "push", "pop"):
        return max(1, (nregs + 1) // 2), "word"
    reg_offset = kind == "reg" and not insn.writeback
    if m in _STORE_AGU:
        imm, reg = _STORE_AGU[m]
        return (reg if reg_offset else imm), "word"
    if m in _BYTE_LOADS:
        if m == "ldrb" and reg_offset:
            return 2, "byte_reg"
        return (2 if insn.writeback else 0), "byte"
    if m in ("ldr", "ldrd", "ldrex"):
        if m == "ldrd" or insn.writeback:
            return 1, "word"
        return 0, ("reg" if reg_offset else "word")
    return 0, "word"


def classify(insn) -> InsnInfo:
    m = base_mnemonic(insn)
    ops = list(insn.operands)
    r_all, w_all = insn.regs_access()
    reads = {_name(insn, r) for r in r_all}
    writes = {_name(insn, r) for r in w_all}
    addr: set[str] = set()
    base_writes: set[str] = set()
    shift = None
    load_kind = "word"
    for op in ops:
        if op.type == arm.ARM_OP_MEM:
            for r in (op.mem.base, op.mem.index):
                if r:
                    addr.add(_name(insn, r))
            if op.mem.index:
                load_kind = "reg"
        elif op.type == arm.ARM_OP_REG and op.shift.type:
            if op.shift.type in _REG_SHIFTS:
                shift = "reg"
                reads.add(_name(insn, op.shift.value))   # Capstone leaves the shift register out
            else:
                shift = "imm"
    load = m in _LOADS
    store = m in _STORES
    nregs = 1
    if m in ("ldm", "stm"):
        base = _name(insn, ops[0].reg)
        addr.add(base)
        nregs = len(ops) - 1
        reads.discard(base)
        if insn.writeback:
            base_writes.add(base)
    elif m in ("push", "pop"):
        addr.add("sp")
        base_writes.add("sp")
        nregs = len(ops)
    elif m in ("ldrd", "strd"):
        nregs = 2
    if (load or store) and insn.writeback and m not in ("ldm", "stm"):
        for op in ops:
            if op.type == arm.ARM_OP_MEM and op.mem.base:
                base_writes.add(_name(insn, op.mem.base))
    agu, load_kind = _address_unit(m, insn, ops, nregs, load_kind)
    writes -= base_writes
    if load:
        reads -= addr - {_name(insn, o.reg) for o in ops if o.type == arm.ARM_OP_REG}
    if store:
        addr_only = addr - {_name(insn, o.reg) for o in ops if o.type == arm.ARM_OP_REG}
        reads -= addr_only
    if insn.update_flags:
        writes.add("flags")
    if m == "movt":
        reads |= writes                             # MOVT keeps the low half
    cond = insn.cc not in (arm.ARM_CC_AL, arm.ARM_CC_INVALID)
    if cond:
        reads.add("flags")
        if m not in ("bl", "blx"):
            reads |= writes - {"pc"}                # not executed: the old values stay
    if m in ("bl", "blx"):
        # the link register gets the return address at decode, predicted taken or not: what the branch
        # reads (its condition, BLX's target) is the branch unit's, not an input of LR's new value
        addr |= reads - {"pc"}
        reads = set()

    key = m
    if m in _SHIFT_MNEMONICS:
        key = "shift_reg" if len(ops) == 3 and ops[2].type == arm.ARM_OP_REG else "shift_imm"
    elif shift and m in ("cmp", "cmn") and shift == "imm":
        key = "cmp_shift_imm"                       # LLVM A9: IIC_iCMPsi is WriteALU, latency 1
    elif shift and not (load or store):
        key = "dp_shift_reg" if shift == "reg" else "shift_imm"

    flow = flow_classify(insn)
    control = "trap" if m in _TRAPS else control_kind(flow)
    target = flow.target
    reads.discard("pc")
    writes.discard("pc")
    return InsnInfo(addr=insn.address, size=insn.size, text=f"{insn.mnemonic} {insn.op_str}".strip(),
                    key=key, reads=frozenset(reads), addr_reads=frozenset(addr), writes=frozenset(writes),
                    base_writes=frozenset(base_writes), load=load, store=store, nregs=max(1, nregs),
                    load_kind=load_kind, agu=agu, fast_src=load and m not in ("ldrex",),
                    fast_dst=m in _FAST_DST and shift is None and key not in ("shift_imm", "shift_reg"),
                    control=control, target=target)


def mca_stream(insns, text) -> list[tuple[str, int]]:
    """An executed stream as llvm-mca input lines, (text, index of the
    instruction it stands for), one line each; what llvm-mca cannot schedule
    (LDM/STM/PUSH/POP) is left out by the caller.  A conditional BL/BLX in
    the stream is one whose condition failed (a taken one was removed): it
    runs as a branch that falls through and writes no LR, so it is written
    as the conditional B it then is (llvm-mca's Cortex-A9 model stalls
    dispatch behind every BL: 21 extra cycles per pass of the cold call)."""
    out = []
    for k, insn in enumerate(insns):
        line = text(insn)
        if insn.cc not in (arm.ARM_CC_AL, arm.ARM_CC_INVALID) and base_mnemonic(insn) in ("bl", "blx"):
            cond = insn.mnemonic[len(base_mnemonic(insn)):]
            line = f"b{cond} .Ltarget"
        out.append((line, k))
    return out
