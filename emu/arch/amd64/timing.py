"""amd64 facts for the cycle model: from a Capstone instruction (detail on),
the registers it reads and writes (sub-registers as their 64-bit register,
the flags as the pseudo-register "flags"), its memory accesses, control
flow, and the class key the core data file maps to an instruction class."""
from __future__ import annotations

import capstone
from capstone import x86

from ...cycles.insn import InsnInfo
from ..flow import control_kind
from .flow import classify as flow_classify

CORE = "sandybridge"                 # emu/cycles/data/<CORE>.toml: the core this architecture's cycles model
MCA_ARGS = ["-mtriple=x86_64", "-mcpu=sandybridge", "-x86-asm-syntax=intel"]   # llvm-mca's flags for the same core (goemu calibrate)
STACK_POINTER = "rsp"
_GPR = ("rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp", "rsp")
_FULL: dict[str, str] = {}
for _r in _GPR:
    b = _r[1:]                                   # ax, bx, ..., sp
    _FULL.update({_r: _r, "e" + b: _r, b: _r})
    if b in ("ax", "bx", "cx", "dx"):
        _FULL[b[0] + "l"] = _r
        _FULL[b[0] + "h"] = _r
    else:
        _FULL[b + "l"] = _r
for _n in range(8, 16):
    for _s in ("", "d", "w", "b"):
        _FULL[f"r{_n}{_s}"] = f"r{_n}"
_FULL.update({"rflags": "flags", "eflags": "flags", "flags": "flags"})
_PARTIAL = {n for n in _FULL if n not in _GPR and not n.startswith("e") and not n.endswith("d")
            and n not in ("rflags", "eflags", "flags") and not (n.startswith("r") and n[1:].isdigit())}

_TRAPS = {"syscall", "int3", "int", "hlt", "ud2", "sysenter"}
_SHIFTS = {"shl", "shr", "sar", "rol", "ror", "sal"}


def full_reg(name: str) -> str | None:
    """The architectural register ``name`` is part of (None for rip and unknown ones)."""
    return _FULL.get(name)


def _norm(insn, ids) -> set[str]:
    out = set()
    for r in ids:
        f = _FULL.get(insn.reg_name(r))
        if f:
            out.add(f)
    return out


def classify(insn) -> InsnInfo:
    m = insn.mnemonic
    ops = list(insn.operands)
    reads: set[str] = set()
    writes: set[str] = set()
    addr: set[str] = set()
    load = store = False
    load_kind = "word"
    for op in ops:
        if op.type == x86.X86_OP_REG:
            name = insn.reg_name(op.reg)
            f = _FULL.get(name)
            if f is None:
                continue
            if op.access & capstone.CS_AC_READ:
                reads.add(f)
            if op.access & capstone.CS_AC_WRITE:
                writes.add(f)
                if name in _PARTIAL:
                    reads.add(f)             # an 8/16-bit write merges into the old value
        elif op.type == x86.X86_OP_MEM:
            for r in (op.mem.base, op.mem.index):
                if r:
                    f = _FULL.get(insn.reg_name(r))
                    if f:
                        addr.add(f)
            if op.mem.index or not -2048 <= op.mem.disp < 2048:
                load_kind = "complex"
            if m != "lea" and not m.startswith("nop"):
                if op.access & capstone.CS_AC_READ:
                    load = True
                if op.access & capstone.CS_AC_WRITE:
                    store = True
    # Implicit operands (flags, rsp of push/pop, rcx of rep ...).
    r_all, w_all = insn.regs_access()
    imp_r = _norm(insn, insn.regs_read)
    imp_w = _norm(insn, insn.regs_write)
    reads |= imp_r
    writes |= imp_w
    if not ops:                                  # e.g. ret, syscall: only implicit operands
        reads |= _norm(insn, r_all)
        writes |= _norm(insn, w_all)

    key = m
    flow = flow_classify(insn)
    control = "trap" if m in _TRAPS else control_kind(flow)
    target = flow.target
    if m.startswith("j"):
        key = "jmp" if m == "jmp" else "jcc"
    elif m.startswith("cmov"):
        key = "cmovcc"
        reads |= writes - {"flags"}              # the destination keeps its value when false
    elif m.startswith("set"):
        key = "setcc"
    elif m in _SHIFTS and len(ops) == 2 and ops[1].type == x86.X86_OP_REG:
        key = m + "_cl"
    elif m == "lea" and ops and ops[1].type == x86.X86_OP_MEM:
        mem = ops[1].mem
        rip = mem.base and insn.reg_name(mem.base) == "rip"
        if rip or (mem.base and mem.index and mem.disp) or (mem.index and mem.scale > 1 and mem.base):
            key = "lea3"
        reads |= addr                            # LEA's "address" is its data
        addr = set()
    elif m.startswith("nop"):
        key = "nop"
    elif m in ("xor", "sub") and len(ops) == 2 and all(o.type == x86.X86_OP_REG for o in ops) \
            and ops[0].reg == ops[1].reg:
        key = "zero_idiom"
        reads = set()
    if m in ("push", "pop", "call", "ret", "retq"):
        # The stack engine updates RSP in the front end: no uop, no dependency.
        store = m in ("push", "call")
        load = m in ("pop", "ret", "retq")
        reads.discard("rsp")
        writes.discard("rsp")
        addr = set()
    reads.discard("rip")
    return InsnInfo(addr=insn.address, size=insn.size, text=f"{m} {insn.op_str}".strip(), key=key,
                    reads=frozenset(reads), addr_reads=frozenset(addr),
                    writes=frozenset(writes), load=load, store=store, load_kind=load_kind,
                    has_imm=any(op.type == x86.X86_OP_IMM for op in ops),
                    stack_engine=m in ("push", "pop", "call", "ret", "retq"), control=control, target=target)



def mca_stream(insns, text) -> list[tuple[str, int]]:
    """An executed stream as llvm-mca input lines, (text, index of the
    instruction it stands for).  llvm-mca's Sandy Bridge model has no stack
    engine: it gives PUSH/POP a 5-6 cycle dependency through RSP, so a run of
    them is serialised (push rax; push rbx; pop rbx; pop rax: 22 cycles per
    pass instead of 2).  Sandy Bridge updates RSP in the front end (Agner Fog,
    microarchitecture, Sandy Bridge "stack engine"), so PUSH/POP are written
    here as what the stack engine executes: a store to / load from
    ``[rsp + offset]`` with the offset tracked, and the synchronisation uop
    (``lea rsp, [rsp + offset]``) before the next instruction that names RSP."""
    out: list[tuple[str, int]] = []
    delta = 0
    for k, insn in enumerate(insns):
        m = insn.mnemonic
        info = classify(insn)
        if m == "push" and insn.op_str and "ptr" not in insn.op_str:
            delta -= 8
            out.append((f"mov qword ptr [rsp {'-' if delta < 0 else '+'} {abs(delta)}], {insn.op_str}", k))
            continue
        if m == "pop" and insn.op_str and "ptr" not in insn.op_str:
            out.append((f"mov {insn.op_str}, qword ptr [rsp {'-' if delta < 0 else '+'} {abs(delta)}]", k))
            delta += 8
            continue
        if delta and ("rsp" in info.reads or "rsp" in info.addr_reads or "rsp" in info.writes):
            out.append((f"lea rsp, [rsp {'-' if delta < 0 else '+'} {abs(delta)}]", k))
            delta = 0
        out.append((text(insn), k))
    return out
