"""Turn a parsed function into the statements Keystone will see.

Adds the architecture's prologue and epilogue (via ``arch.expand``), rewrites
FP references, substitutes zasm constants and symbol addresses, writes every
number in hex (Keystone may read bare decimals as hex) and folds constant
arithmetic so that the Capstone check compares like with like.
"""
from __future__ import annotations

import re

from ..arch.base import Arch, Expansion, FuncDecl
from ..errors import AssemblyError
from .source import Function, Statement, canonical

_LABEL = re.compile(r"^([A-Za-z_.][\w.]*):$")
_IDENT = re.compile(r"(?<![\w.$=·])([A-Za-z_][\w.·]*)(?![\w·])")
_DEC = re.compile(r"(?<![\w.])(\d+)(?![\w.])")
_NUM = r"(?:0x[0-9a-fA-F]+|\d+)"
# A run of numbers joined by + - * (optionally signed), not touching a * or a name.
_RUN = re.compile(rf"(?<![\w*])([-+]?\s*{_NUM}(?:\s*[-+*]\s*{_NUM})*)(?![\w*(])")


def is_leaf(fn: Function, arch: Arch) -> bool:
    """No call in the body (what calls is the architecture's ``is_call``)."""
    return not any(arch.is_call(st.text.split(None, 1)[0]) for st in fn.body)


def decl_of(fn: Function, arch: Arch) -> FuncDecl:
    if fn.frame < 0 and not (arch.link_register and fn.frame == -arch.ptrsize):
        no_frame = "" if not arch.link_register else f" (${-arch.ptrsize} means: no frame, no LR save)"
        raise AssemblyError(f"frame size ${fn.frame} of {fn.name}: {arch.name} frames are 0 or more "
                            f"bytes{no_frame}", fn.file, fn.line)
    if fn.frame > 0 and fn.frame % arch.ptrsize:
        # Every slot below would be misaligned, and the collector (like Go's
        # scanblock) scans aligned words only: pointers there would be missed.
        raise AssemblyError(f"frame size {fn.frame} of {fn.name} is not a multiple of {arch.ptrsize}",
                            fn.file, fn.line)
    return FuncDecl(fn.name, fn.frame, fn.args, fn.nosplit, is_leaf(fn, arch))


def _fold(text: str) -> str:
    """Evaluate runs of constant arithmetic: ``rbx + 0x20 + 0x8`` -> ``rbx + 0x28``."""
    def repl(m: re.Match) -> str:
        run = m.group(1)
        if not re.search(r"[-+*]", run.strip()[1:]) and not run.strip().startswith(("+", "-")):
            return run
        value = eval(run, {"__builtins__": {}}, {})  # digits and + - * only (matched above)
        lead = run.strip()[0]
        before = text[:m.start()].rstrip()
        binary = lead in "+-" and before and (before[-1].isalnum() or before[-1] in "])")
        if binary:
            return (" + " if value >= 0 else " - ") + hex(abs(value))
        return hex(value) if value >= 0 else "-" + hex(-value)
    return _RUN.sub(repl, text)


def _rewrite_fp(text: str, exp: Expansion, arch: Arch, where: Statement) -> list[str]:
    """Rewrite FP memory operands (after constants became numbers).  On ARM an
    offset beyond the 12-bit range goes through REGTMP (R11), as 5l did."""
    if "FP" not in text:
        return [text]
    out, pre = arch.rewrite_fp(text, exp, _fold)
    if re.search(r"\bFP\b", out):
        raise AssemblyError(f"FP may only be used as a memory operand: {arch.fp_syntax}",
                            where.file, where.line, where.shown)
    return pre + [out]


def substitute(text: str, consts: dict[str, int], symbols: dict[str, int], labels: set[str],
               st: Statement) -> str:
    """Replace constants and symbols by numbers; leave the mnemonic and labels alone."""
    head, _, rest = text.partition(" ")
    if not rest:
        return text

    def imm(m: re.Match) -> str:
        name = canonical(m.group(1))
        if name in symbols:
            return hex(symbols[name])
        raise AssemblyError(f"unknown symbol {name!r} in ${name}", st.file, st.line, st.shown)

    rest = re.sub(r"\$([A-Za-z_][\w.·]*)", imm, rest)
    rest = re.sub(r"=([A-Za-z_][\w.·]*)", lambda m: "=" + imm(m), rest)

    def ident(m: re.Match) -> str:
        name = canonical(m.group(1))
        if name in labels:
            return m.group(1)
        if name in consts:
            return hex(consts[name])
        if name in symbols:
            return hex(symbols[name])
        return m.group(1)

    rest = _IDENT.sub(ident, rest)
    rest = _DEC.sub(lambda m: hex(int(m.group(1))), rest)
    return f"{head} {_fold(rest)}"


def expand_function(fn: Function, arch: Arch, consts: dict[str, int],
                    symbols: dict[str, int]) -> tuple[list[Statement], Expansion, set[str]]:
    """The statements of one function, ready for Keystone, and its frame facts."""
    exp = arch.expand(decl_of(fn, arch), consts)
    labels: set[str] = set()
    first_at: dict[str, int] = {}
    for st in fn.body:
        if m := _LABEL.match(st.text):
            if m.group(1) in labels:
                raise AssemblyError(f"label {m.group(1)} defined twice in {fn.name} (first at line "
                                    f"{first_at[m.group(1)]})", st.file, st.line, st.shown)
            labels.add(m.group(1))
            first_at[m.group(1)] = st.line
    labels |= {m.group(1) for t in exp.prologue if (m := _LABEL.match(t))}
    out: list[Statement] = []

    def emit(text: str, st: Statement, origin: str) -> None:
        if _LABEL.match(text):
            out.append(Statement(text, st.file, st.line, origin, st.source))
            return
        text = substitute(text, consts, symbols, labels, st)
        for t in _rewrite_fp(text, exp, arch, st):
            out.append(Statement(t, st.file, st.line, origin, st.source))

    head = Statement("", fn.file, fn.line, "prologue", fn.decl_text)
    for t in exp.prologue:
        emit(t, head, "prologue")
    for st in fn.body:
        if st.text in ("RET", "ret"):          # UAL has no "ret": on ARM only RET matches
            for t in exp.epilogue:
                emit(t, st, "epilogue")
        else:
            emit(st.text, st, "source")
    if not any(not _LABEL.match(st.text) for st in out):
        raise AssemblyError(f"function {fn.name} has no instructions (end it with RET)", fn.file, fn.line,
                            fn.decl_text or None)
    return out, exp, labels
