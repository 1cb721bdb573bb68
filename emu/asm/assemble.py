"""Keystone, used carefully: one handle per architecture, numbers in hex,
symbols resolved by us, every result checked by Capstone (verify.py)."""
from __future__ import annotations

import re
from functools import cache

import keystone

from ..arch.base import Arch
from ..errors import AssemblyError
from .source import Statement
from .verify import check


@cache
def _ks(arch: Arch) -> keystone.Ks:
    # One handle per architecture for the life of the process, Intel syntax on
    # x86 and no symbol resolver: both avoid Keystone's decimal-as-hex trap.
    return keystone.Ks(arch.ks_arch, arch.ks_mode)


def _join(stmts: list[Statement]) -> str:
    return "\n".join(s.text for s in stmts)


def assemble(stmts: list[Statement], addr: int, arch: Arch) -> bytes:
    """Assemble statements at ``addr``; on failure name the guilty line."""
    try:
        enc, _ = _ks(arch).asm(_join(stmts), addr)
    except keystone.KsError as e:
        raise _locate(stmts, addr, arch, e) from None
    if enc is None:
        raise _locate(stmts, addr, arch, None)
    return bytes(enc)


def assemble_checked(stmts: list[Statement], addr: int, arch: Arch) -> tuple[bytes, list]:
    code = assemble(stmts, addr, arch)
    return code, check(stmts, code, addr, arch)


_WORD = re.compile(r"(?<![\w.$#=])([A-Za-z_][\w.]*)(?![\w.])")


def _try(text: str, addr: int, arch: Arch) -> keystone.KsError | None:
    try:
        enc, _ = _ks(arch).asm(text, addr)
    except keystone.KsError as e:
        return e
    return None if enc is not None else keystone.KsError(keystone.KS_ERR_ASM_INVALIDOPERAND)


def _missing_symbol(text: str, addr: int, arch: Arch) -> str | None:
    """The name Keystone could not resolve: the one whose replacement by an
    address makes the line assemble."""
    head, _, rest = text.partition(" ")
    for m in _WORD.finditer(rest):
        cand = head + " " + rest[:m.start()] + hex(addr) + rest[m.end():]
        if _try(cand, addr, arch) is None:
            return m.group(1)
    return None


def _locate(stmts: list[Statement], addr: int, arch: Arch, err: Exception | None) -> AssemblyError:
    """Keystone reports no line: try each statement alone, labels replaced by
    an address, and blame the first one that fails."""
    labels = {s.text[:-1] for s in stmts if s.text.endswith(":")}
    for st in stmts:
        if st.text.endswith(":"):
            continue
        text = st.text
        for lab in labels:
            text = re.sub(rf"(?<![\w.]){re.escape(lab)}(?![\w.])", hex(addr), text)
        e = _try(text, addr, arch)
        if e is None:
            continue
        if getattr(e, "errno", None) == keystone.KS_ERR_ASM_SYMBOL_MISSING:
            name = _missing_symbol(text, addr, arch)
            if name:
                return AssemblyError(f"unknown symbol {name!r} (not a label of this function, a function, "
                                     "a GLOBL or a runtime constant)", st.file, st.line, st.shown)
        return AssemblyError(f"cannot assemble for {arch.name}: {e}", st.file, st.line, st.shown)
    first = next((s for s in stmts), None)
    return AssemblyError(f"cannot assemble for {arch.name}: {err}",
                         first.file if first else None, first.line if first else None)
