"""ARM control flow of a Capstone instruction (for the branch predictor).

Returns in this runtime take four shapes: 5l's epilogue ``ldr pc, [sp], #N``
(or ``ldr pc, [sp], r11`` for large frames), ``pop {..., pc}``, ``bx lr``
and ``mov pc, lr``.  ``bl`` is a call and ``blx reg`` an indirect call;
any other write of pc (``ldr pc, [rX]``, ``mov pc, rX``, ``bx rX``) is an
indirect jump -- including 5l's frameless return ``add pc, lr, #0``, which
the predictor does not take for a return.  A conditionally executed transfer (``bllo morestack``,
``bne loop``) is ``cond``, with ``taken_kind`` saying what it is when taken.
"""
from __future__ import annotations

from capstone import arm

from ..flow import Flow

ALIGN_BITS = 2          # ARM-mode instructions are word aligned

_PC, _SP, _LR = arm.ARM_REG_PC, arm.ARM_REG_SP, arm.ARM_REG_LR
_B, _BL, _BX, _BLX = arm.ARM_INS_B, arm.ARM_INS_BL, arm.ARM_INS_BX, arm.ARM_INS_BLX
_POPS = {arm.ARM_INS_POP, arm.ARM_INS_LDM}
_LDR, _MOV = arm.ARM_INS_LDR, arm.ARM_INS_MOV


def _writes_pc(insn) -> bool:
    if insn.id in (_B, _BL, _BX, _BLX):
        return True
    return any(op.type == arm.ARM_OP_REG and op.reg == _PC for op in insn.operands[:1]) or \
        (insn.id in _POPS and any(op.type == arm.ARM_OP_REG and op.reg == _PC for op in insn.operands))


def _unconditional(insn) -> tuple[str, int | None]:
    ops = insn.operands
    iid = insn.id
    imm = ops[0].imm if ops and ops[0].type == arm.ARM_OP_IMM else None
    if iid == _B:
        return ("jump", imm) if imm is not None else ("indirect_jump", None)
    if iid == _BL:
        return ("call", imm) if imm is not None else ("indirect_call", None)
    if iid == _BLX:
        return ("call", imm) if imm is not None else ("indirect_call", None)
    if iid == _BX:
        return ("ret", None) if ops and ops[0].reg == _LR else ("indirect_jump", None)
    if iid == arm.ARM_INS_POP or (iid in _POPS and ops and ops[0].reg == _SP):
        # pop {..., pc} / ldmia sp!, {..., pc}: the return of a C function
        return ("ret", None)
    if iid == _LDR and len(ops) >= 2 and ops[1].type == arm.ARM_OP_MEM and ops[1].mem.base == _SP \
            and insn.writeback and len(ops) > 2:
        return ("ret", None)          # ldr pc, [sp], #N: 5l's epilogue pops the saved LR
    if iid == _MOV and len(ops) == 2 and ops[1].type == arm.ARM_OP_REG and ops[1].reg == _LR:
        return ("ret", None)
    return ("indirect_jump", None)


def classify(insn) -> Flow:
    ft = insn.address + insn.size
    if not _writes_pc(insn):
        return Flow("none", None, ft)
    kind, target = _unconditional(insn)
    if insn.cc not in (arm.ARM_CC_AL, arm.ARM_CC_INVALID):
        return Flow("cond", target, ft, kind)
    return Flow(kind, target, ft)
