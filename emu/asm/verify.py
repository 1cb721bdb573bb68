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
    if arch.name == "arm":
        cs.syntax = capstone.CS_OPT_SYNTAX_NOREGNAME   # r9, r10 rather than sb, sl
    return cs


def _mnemonic(m: str, arch: Arch) -> str:
    m = m.lower()
    if arch.name == "arm" and m.startswith("movw"):
        m = "mov" + m[4:]
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
    if arch.name == "amd64":
        toks = _canonical_addresses(toks)
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


def _canonical_addresses(toks: list[object]) -> list[object]:
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


@cache
def _detail_disassembler(arch: Arch) -> capstone.Cs:
    cs = capstone.Cs(arch.cs_arch, arch.cs_mode)
    cs.detail = True
    return cs


def _narrow_immediates(got, arch: Arch) -> frozenset[tuple[int, int]]:
    """(bits, value mod 2**bits) of each immediate operand narrower than 64 bits (x86)."""
    insn = next(_detail_disassembler(arch).disasm(bytes(got.bytes), got.address, 1), None)
    if insn is None:
        return frozenset()
    return frozenset((8 * op.size, op.imm % (1 << 8 * op.size)) for op in insn.operands
                     if op.type == capstone.x86.X86_OP_IMM and 0 < op.size < 8)


_SIZES = re.compile(r"\b(byte|word|dword|qword|xmmword|tbyte)\s+ptr\b")


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
    mnem, _, ops = st.text.partition(" ")
    want_m = _mnemonic(mnem, arch)
    got_m = _mnemonic(got.mnemonic, arch)
    got_ops = got.op_str
    if arch.name == "arm":
        want_m, ops = _one_register_stack_op(want_m, ops)
        got_m, got_ops = _one_register_stack_op(got_m, got_ops)
    want = _tokens(ops, arch, labels)
    have = _tokens(got_ops, arch, labels)
    if arch.name == "arm" and "=" in ops:
        _check_literal(st, got, code, base, want_m, ops, arch)
        return
    if arch.name == "arm" and want_m == "adr" and got_m in ("add", "sub"):
        # Capstone prints `adr rX, label` as `add/sub rX, pc, #off` (pc reads as the address + 8)
        m = re.fullmatch(r"(\w+), pc, #(-?0x[0-9a-f]+|-?\d+)", got_ops.strip())
        if m:
            off = int(m.group(2), 0)
            got_m = "adr"
            have = [arch.reg_aliases.get(m.group(1), m.group(1)), ",",
                    got.address + 8 + (off if got.mnemonic.startswith("add") else -off)]
    narrow = _narrow_immediates(got, arch) if arch.ptrsize == 8 else None
    sizes_ok = True
    if arch.name == "amd64":
        want_sizes = _SIZES.findall(ops.lower())
        sizes_ok = not want_sizes or want_sizes == _SIZES.findall(got_ops.lower())
    if want_m != got_m or not sizes_ok or not _same(want, have, narrow):
        raise AssemblyError(f"Keystone assembled this as '{got.mnemonic} {got.op_str}' at {got.address:#x}",
                            st.file, st.line, st.shown)


def _one_register_stack_op(mnem: str, ops: str) -> tuple[str, str]:
    """ARM: ``pop {r}`` is ``ldr r, [sp], #4`` and ``push {r}`` is ``str r, [sp, #-4]!``
    (Capstone and Keystone each pick one spelling)."""
    single = re.fullmatch(r"\s*\{\s*(\w+)\s*\}\s*", ops)
    if single and mnem == "pop":
        return "ldr", f"{single.group(1)}, [sp], #4"
    if single and mnem == "push":
        return "str", f"{single.group(1)}, [sp, #-4]!"
    return mnem, ops


def _check_literal(st: Statement, got, code: bytes, base: int, want_m: str, ops: str, arch: Arch) -> None:
    _reg, _, value = ops.partition(",")
    want = int(value.strip().lstrip("="), 0) & 0xFFFFFFFF
    m = re.fullmatch(r"\[pc(?:, #(-?0x[0-9a-f]+|-?\d+))?\]", got.op_str.split(", ", 1)[1].strip()) \
        if ", " in got.op_str else None
    if _mnemonic(got.mnemonic, arch) == want_m and m:
        lit = got.address + 8 + (int(m.group(1), 0) if m.group(1) else 0) - base
        if 0 <= lit <= len(code) - 4 and int.from_bytes(code[lit:lit + 4], "little") == want:
            return
    elif _mnemonic(got.mnemonic, arch).startswith(("mov", "mvn")):
        toks = _tokens(got.op_str, arch, {})
        if toks and isinstance(toks[-1], int):
            v = toks[-1] & 0xFFFFFFFF
            if (v if got.mnemonic.startswith("mov") else ~v & 0xFFFFFFFF) == want:
                return
    raise AssemblyError(f"Keystone's literal load '{got.mnemonic} {got.op_str}' does not load {want:#x}",
                        st.file, st.line, st.shown)
