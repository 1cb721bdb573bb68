"""amd64 control flow of a Capstone instruction (for the branch predictor).

jmp imm / jcc imm / call imm / ret are direct; jmp and call through a
register or memory are indirect.  syscall (our hypercall) and int3 are not
transfers the predictor sees.
"""
from __future__ import annotations

import capstone
from capstone import x86

from ..flow import Flow

ALIGN_BITS = 0          # x86 instructions start at any byte

_JMP = {x86.X86_INS_JMP, x86.X86_INS_LJMP}
_CALL = {x86.X86_INS_CALL, x86.X86_INS_LCALL}
_RET = {x86.X86_INS_RET, x86.X86_INS_RETF, x86.X86_INS_RETFQ}


def _direct(insn) -> int | None:
    ops = insn.operands
    if len(ops) == 1 and ops[0].type == x86.X86_OP_IMM:
        return ops[0].imm
    return None


def classify(insn) -> Flow:
    ft = insn.address + insn.size
    iid = insn.id
    if iid in _RET:
        return Flow("ret", None, ft)
    if iid in _CALL:
        t = _direct(insn)
        return Flow("call", t, ft) if t is not None else Flow("indirect_call", None, ft)
    if iid in _JMP:
        t = _direct(insn)
        return Flow("jump", t, ft) if t is not None else Flow("indirect_jump", None, ft)
    if capstone.CS_GRP_JUMP in insn.groups:       # jcc, loop, jrcxz
        return Flow("cond", _direct(insn), ft, "jump")
    return Flow("none", None, ft)
