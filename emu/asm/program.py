"""Checks on a user's program as a whole, before it is linked with the runtime.

What 6l/5l refused at link time, goemu refuses here, with the declaration's
``file:line``: a program with nothing to run (no ``main``), a function or
global whose name would be read as a register or an operand keyword (goemu
substitutes symbol addresses into operands, the runtime's assembly included),
a name that shadows a runtime constant, and a NOSPLIT chain that can use more
stack than the split check guarantees (``stackcheck.py``).
"""
from __future__ import annotations

from functools import cache

import capstone

from ..arch.base import Arch
from ..errors import AssemblyError, LinkError
from .source import Unit

# Words of Keystone's operand syntaxes (Intel on x86, UAL on ARM) that are not registers.
OPERAND_KEYWORDS = frozenset({
    "ptr", "byte", "word", "dword", "qword", "tbyte", "fword", "oword", "xmmword", "ymmword", "zmmword",
    "offset", "lsl", "lsr", "asr", "ror", "rrx", "FP", "SB", "SP", "PC", "RET",
})


@cache
def register_names(arch: Arch) -> frozenset[str]:
    """Every register name the architecture's assembler syntax knows (Capstone's
    table, the emulator's register file and its aliases), in lower case."""
    cs = capstone.Cs(arch.cs_arch, arch.cs_mode)
    names = {n for i in range(1, 1024) if (n := cs.reg_name(i))}
    names |= set(arch.regs) | set(arch.reg_aliases) | set(arch.reg_aliases.values())
    return frozenset(n.lower() for n in names)


def reserved(name: str, arch: Arch) -> str | None:
    """Why ``name`` cannot name a function or global, or None."""
    if name.lower() in register_names(arch):
        return f"the {arch.name} register {name}"
    if name in OPERAND_KEYWORDS or name.lower() in OPERAND_KEYWORDS:
        return f"the operand keyword {name}"
    return None


def check_program(unit: Unit, arch: Arch, consts: dict[str, int]) -> None:
    """Raise LinkError / AssemblyError for a program the linker would refuse."""
    for kind, items in (("function", unit.functions), ("GLOBL", unit.data)):
        for it in items:
            why = reserved(it.name, arch)
            if why:
                raise AssemblyError(f"{kind} {it.name!r} collides with {why}: choose another name",
                                    it.file, it.line)
            if it.name in consts:
                raise AssemblyError(f"{kind} {it.name!r} shadows the runtime constant {it.name} "
                                    f"(= {consts[it.name]:#x}): choose another name", it.file, it.line)


def require_main(unit: Unit) -> None:
    """The linker's last word: a program without main has nothing to run."""
    if not unit.functions and not unit.data:
        raise LinkError("the program is empty: it needs at least 'TEXT main, $frame-$args'", unit.file,
                        symbol="main")
    if not any(f.name == "main" for f in unit.functions):
        names = ", ".join(f.name for f in unit.functions[:5]) or "none"
        raise LinkError(f"the program has no main function (it defines: {names}); the runtime starts "
                        "the program at 'TEXT main'", unit.file, symbol="main")


def check_program_stack(unit: Unit, arch_name: str, variant: str = "buggy") -> None:
    """6l/5l's NOSPLIT stack check on a user's program (stackcheck.py), with the
    runtime's assembly and constants.  The CLI's run, gc-report and trace call it
    before building; build_image does not, so that the runtime tests can still
    provoke the split-stack-overflow throw the linker would have prevented."""
    from ..arch import get_arch
    from ..image import _runtime_parts, runtime_units
    from .stackcheck import check_stack
    arch = get_arch(arch_name)
    layouts, _objs = _runtime_parts(arch_name, variant)
    check_stack(unit, runtime_units(arch), arch, layouts.zasm())
