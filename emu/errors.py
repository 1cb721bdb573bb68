"""One exception hierarchy for goemu.

Every error carries its context as attributes so that presenters (CLI, REPL)
can format it; the core never prints.  ``str(err)`` is always a complete,
one-line-first human message.
"""
from __future__ import annotations

from dataclasses import dataclass


class GoemuError(Exception):
    """Base of every error goemu raises on purpose."""

    exit_code = 1


class InputError(GoemuError):
    """An input file cannot be read: missing, a directory, unreadable, not
    text.  ``path`` names it.  Exit 66 (sysexits' EX_NOINPUT)."""

    exit_code = 66

    def __init__(self, message: str, path: str | None = None):
        self.path = path
        super().__init__(f"{path}: {message}" if path else message)


class OutputError(GoemuError):
    """An output file cannot be written.  Exit 74 (sysexits' EX_IOERR)."""

    exit_code = 74

    def __init__(self, message: str, path: str | None = None):
        self.path = path
        super().__init__(f"{path}: {message}" if path else message)


class BuildError(GoemuError):
    """The cross compiler or the build cache failed (names the file)."""


class AssemblyError(GoemuError):
    """A source line could not be assembled, or Keystone's output did not
    match the source when disassembled again.  Carries ``file`` and ``line``."""

    def __init__(self, message: str, file: str | None = None, line: int | None = None,
                 text: str | None = None):
        self.file, self.line, self.text = file, line, text
        where = f"{file}:{line}: " if file and line else (f"{file}: " if file else "")
        super().__init__(f"{where}{message}" + (f"\n    {text.strip()}" if text else ""))


class LoaderError(GoemuError):
    """An ELF object could not be loaded or relocated.

    ``reloc_type`` / ``section`` / ``offset`` / ``obj`` locate the problem."""

    def __init__(self, message: str, *, obj: str | None = None, section: str | None = None,
                 offset: int | None = None, reloc_type: str | int | None = None):
        self.obj, self.section, self.offset, self.reloc_type = obj, section, offset, reloc_type
        loc = []
        if obj:
            loc.append(obj)
        if section is not None:
            loc.append(section + (f"+0x{offset:x}" if offset is not None else ""))
        super().__init__(": ".join([" ".join(loc), message]) if loc else message)


class LinkError(GoemuError):
    """The program's functions do not fit together: no ``main``, an undefined
    symbol, a NOSPLIT chain that can overflow the stack guard (6l/5l's stack
    check).  ``file``/``line`` locate the declaration, ``symbol`` names it and
    ``chain`` lists the functions of an overflowing NOSPLIT chain."""

    def __init__(self, message: str, file: str | None = None, line: int | None = None,
                 symbol: str | None = None, chain: list[str] | None = None):
        self.file, self.line, self.symbol, self.chain = file, line, symbol, chain or []
        where = f"{file}:{line}: " if file and line else (f"{file}: " if file else "")
        super().__init__(f"{where}{message}")


class RelocationOverflow(LoaderError):
    """A relocated value does not fit the field it must be stored in."""


@dataclass
class Frame:
    """One frame of a backtrace across stack segments."""
    pc: int
    sp: int
    symbol: str
    segment: int | None = None
    note: str = ""


class EmulationError(GoemuError):
    """The emulated program stopped abnormally.

    ``pc``, ``symbol`` (symbol+offset), ``insn`` (disassembled text),
    ``registers`` (name -> value) and ``backtrace`` (list of Frame) describe
    where; subclasses say why."""

    exit_code = 2

    def __init__(self, message: str, *, pc: int | None = None, symbol: str | None = None,
                 insn: str | None = None, registers: dict[str, int] | None = None,
                 backtrace: list[Frame] | None = None):
        self.reason = message
        self.pc, self.symbol, self.insn = pc, symbol, insn
        self.registers = registers or {}
        self.backtrace = backtrace or []
        where = f" at pc=0x{pc:x}" if pc is not None else ""
        if symbol:
            where += f" <{symbol}>"
        if insn:
            where += f": {insn}"
        super().__init__(f"{message}{where}")


class MemoryFault(EmulationError):
    """Unmapped or protected memory was read, written or fetched."""

    def __init__(self, message: str, *, address: int | None = None, **kw):
        self.address = address
        super().__init__(message, **kw)


class InvalidInstruction(EmulationError):
    """The CPU met an instruction it cannot execute (or a deliberate trap)."""


class RuntimeThrow(EmulationError):
    """The emulated runtime called throw(), e.g. "split stack overflow"."""


class BudgetExhausted(EmulationError):
    """The instruction budget ran out before the program exited."""

    exit_code = 3


class UsageError(GoemuError):
    """The user asked for something that does not make sense (bad flag,
    unknown symbol, malformed expression).  ``usage`` is the command's
    usage line when argparse found the problem."""

    exit_code = 64
    usage: str | None = None
    prog: str | None = None


class ToolMissing(GoemuError):
    """An external tool goemu needs (e.g. llvm-mca for ``goemu calibrate``) is
    not installed; the message says how to install it."""

    exit_code = 69

    def __init__(self, message: str, tool: str | None = None):
        self.tool = tool
        super().__init__(message)
