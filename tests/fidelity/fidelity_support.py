"""Shared helpers for the fidelity tests: goemu's instructions and registers
against Go 1.0's, as the project's reference notes on the runtime describe them.

Expected sequences are written by hand in the tests, in Capstone's spelling,
with every number as a plain integer taken from the reference's offset table
(section 2), never read back from goemu.  ``disasm`` turns what goemu
assembled into the same spelling: numbers as signed decimals, a branch target
inside the function as ``@k`` (the k-th instruction), a function's address as
its name, and an ARM literal-pool load as ``ldr rX, =value``.
"""
from __future__ import annotations

import re
from functools import cache

from emu.image import build_image
from emu.run import load_program

ARCHES = ("amd64", "arm")
VARIANTS = ("buggy", "fixed")

# Reference section 2: Go 1.0's offsets, per arch.
OFF = {
    "amd64": dict(m_g0=0, m_morepc=8, m_moreargp=16, morebuf_sp=24, morebuf_pc=32, morebuf_g=40,
                  m_moreframesize=48, m_moreargsize=52, m_cret=56, m_curg=112,
                  g_stackguard=0, g_stackbase=8, sched_sp=32, sched_pc=40, sched_g=48,
                  gobuf_sp=0, gobuf_pc=8, gobuf_g=16),
    "arm": dict(m_g0=0, m_morepc=4, m_moreargp=8, morebuf_sp=12, morebuf_pc=16, morebuf_g=20,
                m_moreframesize=24, m_moreargsize=28, m_cret=32, m_curg=80,
                g_stackguard=0, g_stackbase=4, sched_sp=16, sched_pc=20, sched_g=24,
                gobuf_sp=0, gobuf_pc=4, gobuf_g=8),
}

_NUM = re.compile(r"(?<![\w])-?(?:0x[0-9a-f]+|\d+)(?![\w])")


@cache
def image(arch: str, variant: str = "buggy", program: str | None = None, text: str | None = None):
    unit = load_program(None, text=text, name=program or "<fidelity>") if text is not None else None
    return build_image(arch, variant, unit)


def _text_bytes(im) -> tuple[int, bytes]:
    [(base, code)] = [(b, c) for name, b, c, _p in im.chunks if name == "text"]
    return base, code


def disasm(im, name: str, origins: tuple[str, ...] = ("prologue", "source", "epilogue")) -> list[str]:
    """The function's instructions (of the given origins) in the tests' spelling."""
    fi = im.functions[name]
    lines = [ln for ln in fi.lines if ln[3] in origins]
    index = {ln[0]: k for k, ln in enumerate(fi.lines)}
    names = {a: n for n, a in im.symbols.items()}
    bits = 64 if im.arch.ptrsize == 8 else 32
    base, code = _text_bytes(im)
    out = []
    for addr, _file, _line, _origin, text in lines:
        t = " ".join(text.lower().replace("#", "").split())
        if m := re.fullmatch(r"(ldr\w*) (\w+), \[pc(?:, (-?(?:0x[0-9a-f]+|\d+)))?\]", t):
            lit = addr + 8 + (int(m[3], 0) if m[3] else 0)
            t = f"{m[1]} {m[2]}, ={int.from_bytes(code[lit - base:lit - base + 4], 'little')}"

        def num(mm: re.Match, addr: int = addr, t: str = t) -> str:
            v = int(mm.group(0), 0)
            if v in index and v != addr or (v in index and re.match(r"(j|b)", t)):
                return f"@{index[v]}"
            if v in names and v >= im.arch.regions["text"].base:
                return names[v]
            v &= (1 << bits) - 1
            return str(v - (1 << bits) if v >> (bits - 1) else v)
        out.append(_NUM.sub(num, t))
    return out


def fill(seq: list[str], arch: str) -> list[str]:
    """Expand {name} placeholders from the reference's offset table."""
    out = [s.format(**OFF[arch]) for s in seq]
    return [re.sub(r"(?: \+|,) 0\]", "]", s) for s in out]      # [rax + 0] is printed [rax]
