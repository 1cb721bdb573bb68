"""ARM: how Keystone's output is compared with the source (emu/asm/verify.py).

Capstone names r9/r10 (not sb/sl), spells ``movw`` for a 16-bit ``mov``,
prints a one-register push/pop as ``str``/``ldr`` with writeback and
``adr rX, label`` as ``add/sub rX, pc, #off``; a literal load
``ldr rX, =v`` is checked by reading the pool word the instruction loads.
"""
from __future__ import annotations

import re

import capstone

from ...errors import AssemblyError
from ..base import AsmRules


class ArmAsmRules(AsmRules):
    def configure(self, cs) -> None:
        cs.syntax = capstone.CS_OPT_SYNTAX_NOREGNAME   # r9, r10 rather than sb, sl

    def mnemonic(self, m: str) -> str:
        return "mov" + m[4:] if m.startswith("movw") else m

    def stack_op(self, mnem: str, ops: str) -> tuple[str, str]:
        """``pop {r}`` is ``ldr r, [sp], #4`` and ``push {r}`` is ``str r, [sp, #-4]!``
        (Capstone and Keystone each pick one spelling)."""
        single = re.fullmatch(r"\s*\{\s*(\w+)\s*\}\s*", ops)
        if single and mnem == "pop":
            return "ldr", f"{single.group(1)}, [sp], #4"
        if single and mnem == "push":
            return "str", f"{single.group(1)}, [sp, #-4]!"
        return mnem, ops

    def literal(self, ops: str) -> bool:
        return "=" in ops

    def check_literal(self, st, got, code: bytes, base: int, want_m: str, ops: str, mnemonic, tokens) -> None:
        _reg, _, value = ops.partition(",")
        want = int(value.strip().lstrip("="), 0) & 0xFFFFFFFF
        m = re.fullmatch(r"\[pc(?:, #(-?0x[0-9a-f]+|-?\d+))?\]", got.op_str.split(", ", 1)[1].strip()) \
            if ", " in got.op_str else None
        if mnemonic(got.mnemonic) == want_m and m:
            lit = got.address + 8 + (int(m.group(1), 0) if m.group(1) else 0) - base
            if 0 <= lit <= len(code) - 4 and int.from_bytes(code[lit:lit + 4], "little") == want:
                return
        elif mnemonic(got.mnemonic).startswith(("mov", "mvn")):
            toks = tokens(got.op_str)
            if toks and isinstance(toks[-1], int):
                v = toks[-1] & 0xFFFFFFFF
                if (v if got.mnemonic.startswith("mov") else ~v & 0xFFFFFFFF) == want:
                    return
        raise AssemblyError(f"Keystone's literal load '{got.mnemonic} {got.op_str}' does not load {want:#x}",
                            st.file, st.line, st.shown)

    def pc_relative(self, want_m: str, got_m: str, got, have: list[object]) -> tuple[str, list[object]]:
        if want_m == "adr" and got_m in ("add", "sub"):
            # Capstone prints `adr rX, label` as `add/sub rX, pc, #off` (pc reads as the address + 8)
            m = re.fullmatch(r"(\w+), pc, #(-?0x[0-9a-f]+|-?\d+)", got.op_str.strip())
            if m:
                off = int(m.group(2), 0)
                from . import ARCH
                return "adr", [ARCH.reg_aliases.get(m.group(1), m.group(1)), ",",
                               got.address + 8 + (off if got.mnemonic.startswith("add") else -off)]
        return got_m, have
