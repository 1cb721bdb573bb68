"""amd64: how Keystone's output is compared with the source (emu/asm/verify.py)."""
from __future__ import annotations

import re

import capstone

from ..base import AsmRules

_SIZES = re.compile(r"\b(byte|word|dword|qword|xmmword|tbyte)\s+ptr\b")


class Amd64AsmRules(AsmRules):
    def __init__(self) -> None:
        self._detail: capstone.Cs | None = None

    def addresses(self, toks: list[object]) -> list[object]:
        return canonical_addresses(toks)

    def narrow_immediates(self, got) -> frozenset[tuple[int, int]]:
        """(bits, value mod 2**bits) of each immediate operand narrower than 64 bits."""
        if self._detail is None:
            self._detail = capstone.Cs(capstone.CS_ARCH_X86, capstone.CS_MODE_64)
            self._detail.detail = True
        insn = next(self._detail.disasm(bytes(got.bytes), got.address, 1), None)
        if insn is None:
            return frozenset()
        return frozenset((8 * op.size, op.imm % (1 << 8 * op.size)) for op in insn.operands
                         if op.type == capstone.x86.X86_OP_IMM and 0 < op.size < 8)

    def sizes_match(self, ops: str, got_ops: str) -> bool:
        want_sizes = _SIZES.findall(ops.lower())
        return not want_sizes or want_sizes == _SIZES.findall(got_ops.lower())


def canonical_addresses(toks: list[object]) -> list[object]:
    """x86 memory operands in one order: [base + index*scale + disp], whatever
    order the source wrote the terms in ([FP+rcx*8] becomes [rsp + 0x18 + rcx*8]
    while Capstone prints [rsp + rcx*8 + 0x18])."""
    out: list[object] = []
    i = 0
    while i < len(toks):
        if toks[i] != "[" or "]" not in toks[i:]:
            out.append(toks[i])
            i += 1
            continue
        j = toks.index("]", i)
        inner = toks[i + 1:j]
        regs, scaled, disp, sign, k, ok = [], [], 0, 1, 0, True
        while k < len(inner):
            t = inner[k]
            if t in ("+", "-"):
                sign = 1 if t == "+" else -1
                k += 1
                continue
            if isinstance(t, int):
                disp += sign * t
            elif isinstance(t, str) and k + 2 < len(inner) and inner[k + 1] == "*" \
                    and isinstance(inner[k + 2], int):
                scaled.append((t, inner[k + 2]))
                k += 2
            elif isinstance(t, str) and t.isidentifier() and sign == 1:
                regs.append(t)
            else:
                ok = False
                break
            sign = 1
            k += 1
        scaled = [s for s in scaled if s != ("riz", 1)]   # [abs + riz*1]: Keystone's SIB absolute form
        if not ok:                       # something else (fs:, a label): leave it as written
            out += toks[i:j + 1]
        else:
            body: list[object] = []
            for r in regs:
                body += (["+"] if body else []) + [r]
            for r, sc in scaled:
                body += (["+"] if body else []) + [r, "*", sc]
            if disp or not body:
                body += (["+" if disp >= 0 else "-"] if body else []) + [abs(disp) if body else disp]
            out += ["[", *body, "]"]
        i = j + 1
    return out
