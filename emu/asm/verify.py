"""Check Keystone's output against the source, instruction by instruction.

Keystone 0.9.2 miscompiles some inputs silently (see README, "Keystone's
traps").  Every assembled function is disassembled again with Capstone and
each instruction is compared with the statement it came from: the mnemonic
(modulo aliases), the registers, and every number (branch targets, offsets,
immediates).  ARM literal loads (``ldr rX, =v``) are checked by reading the
pool word the instruction actually loads.
"""
from __future__ import annotations

import re
from functools import cache

import capstone

from ..arch.base import Arch
from ..errors import AssemblyError
from .source import Statement

_TOKEN = re.compile(r"0x[0-9a-fA-F]+|\d+|[A-Za-z_.][\w.]*|[\[\]{}+\-*,!:^]")
_DROP = {"qword", "dword", "word", "byte", "ptr", "xmmword", "tbyte", "#"}


@cache
def disassembler(arch: Arch) -> capstone.Cs:
    cs = capstone.Cs(arch.cs_arch, arch.cs_mode)
    arch.asm_rules.configure(cs)
    return cs


def _mnemonic(m: str, arch: Arch) -> str:
    m = arch.asm_rules.mnemonic(m.lower())
    return arch.mnemonic_aliases.get(m, m)


def _tokens(ops: str, arch: Arch, labels: dict[str, int]) -> list[object]:
    toks: list[object] = []
    raw = _TOKEN.findall(ops.lower().replace("#", " "))
    i = 0
    while i < len(raw):
        t = raw[i]
        if t in _DROP:
            i += 1
            continue
        if t == "-" and i + 1 < len(raw) and re.fullmatch(r"0x[0-9a-f]+|\d+", raw[i + 1]) \
                and (not toks or toks[-1] in (",", "[", "!")):
            toks.append(-int(raw[i + 1], 0))
            i += 2
            continue
        if re.fullmatch(r"0x[0-9a-f]+|\d+", t):
            toks.append(int(t, 0))
        elif t in labels:
            toks.append(labels[t])
        else:
            toks.append(arch.reg_aliases.get(t, t))
        i += 1
    toks = arch.asm_rules.addresses(toks)
    # "+ 0" adds nothing: [rdi + 0x0] is [rdi]
    out: list[object] = []
    for t in toks:
        if t == 0 and out and out[-1] in ("+", "-") and len(out) > 1 and out[-2] not in (",", "["):
            out.pop()
            continue
        if t == "]" and len(out) > 2 and out[-1] == 0 and out[-2] == ",":
            del out[-2:]             # [r0, #0] is [r0]
        out.append(t)
    return out


def _same(a: list[object], b: list[object], narrow: frozenset[tuple[int, int]] | None = None) -> bool:
    """Token lists equal; numbers equal modulo 2**64.  For a number printed for
    an operand narrower than 64 bits, equal modulo its width is enough
    (``narrow``: (bits, value mod 2**bits) of such operands, from Capstone's
    details; ``None``: every number is 32-bit, as on ARM) -- `mov eax, -1`
    prints as 0xffffffff, but `mov rax, 0xffffffff` must not pass for the
    sign-extended `mov rax, -1`."""
    if len(a) != len(b):
        return False
    for x, y in zip(a, b):
        if isinstance(x, int) and isinstance(y, int):
            if not (x - y) % (1 << 64):
                continue
            if narrow is None:
                if (x - y) % (1 << 32):
                    return False
            elif not any((y - v) % (1 << bits) == 0 and (x - y) % (1 << bits) == 0
                         and -(1 << (bits - 1)) <= x < (1 << bits) for bits, v in narrow):
                return False        # (the source's number must also fit the operand's width)
        elif x != y:
            return False
    return True


def check(stmts: list[Statement], code: bytes, addr: int, arch: Arch) -> list[tuple[int, Statement, str]]:
    """Return [(address, statement, disassembly)] for each instruction, or raise
    AssemblyError naming the statement whose bytes do not match its source."""
    cs = disassembler(arch)
    insns = [s for s in stmts if not s.text.endswith(":")]
    decoded = []
    offset = 0
    for st in insns:
        got = next(cs.disasm(code[offset:], addr + offset, 1), None)
        if got is None:
            raise AssemblyError(f"Keystone's bytes at {addr + offset:#x} do not decode",
                                st.file, st.line, st.shown)
        decoded.append((got.address, st, got))
        offset += got.size
    # label addresses: a label stands for the next instruction's address
    labels: dict[str, int] = {}
    it = iter(decoded)
    pending: list[str] = []
    for st in stmts:
        if st.text.endswith(":"):
            pending.append(st.text[:-1].lower())
        else:
            a, _, _ = next(it)
            for p in pending:
                labels[p] = a
            pending = []
    for p in pending:
        labels[p] = addr + offset
    out = []
    for a, st, got in decoded:
        text = f"{got.mnemonic} {got.op_str}".strip()
        _compare(st, got, code, addr, arch, labels)
        out.append((a, st, text))
    return out


def _compare(st: Statement, got, code: bytes, base: int, arch: Arch, labels: dict[str, int]) -> None:
    rules = arch.asm_rules
    mnem, _, ops = st.text.partition(" ")
    want_m, ops = rules.stack_op(_mnemonic(mnem, arch), ops)
    got_m, got_ops = rules.stack_op(_mnemonic(got.mnemonic, arch), got.op_str)
    want = _tokens(ops, arch, labels)
    have = _tokens(got_ops, arch, labels)
    if rules.literal(ops):
        rules.check_literal(st, got, code, base, want_m, ops, lambda m: _mnemonic(m, arch),
                            lambda text: _tokens(text, arch, {}))
        return
    got_m, have = rules.pc_relative(want_m, got_m, got, have)
    if want_m != got_m or not rules.sizes_match(ops, got_ops) \
            or not _same(want, have, rules.narrow_immediates(got)):
        raise AssemblyError(f"Keystone assembled this as '{got.mnemonic} {got.op_str}' at {got.address:#x}",
                            st.file, st.line, st.shown)
