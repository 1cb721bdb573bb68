"""Parsing goasm files into functions, statements and data declarations.

Syntax (one per line; ``//`` starts a comment):

    TEXT name, $frame-$args            a function with the split check
    TEXT name, NOSPLIT, $frame-$args   no check (Go's textflag 7)
    label:                             a local label
    <instruction>                      native syntax; RET returns
    GLOBL name, $size                  a zeroed global of size bytes
    DATA name+off/width, $value        initialise width (1, 2, 4, 8) bytes

Symbol names may use Go's middle dot (``runtime·new``); it reads as ``.``.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import AssemblyError, InputError


@dataclass
class Statement:
    text: str
    file: str
    line: int
    origin: str = "source"     # "source", "prologue", "epilogue"
    source: str = ""           # the line as the user wrote it (comment stripped)

    @property
    def shown(self) -> str:
        """What an error echoes: the user's line, and goemu's rewriting of it when that differs."""
        src = self.source or self.text
        if self.source and self.text and " ".join(self.text.split()) != " ".join(self.source.split()):
            return f"{src}\n    (goemu's rewriting: {self.text})"
        return src


@dataclass
class Function:
    name: str
    frame: int
    args: int
    nosplit: bool
    file: str
    line: int
    body: list[Statement] = field(default_factory=list)
    decl_text: str = ""         # the TEXT line as written

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}"


@dataclass
class DataDecl:
    name: str
    size: int
    file: str
    line: int
    inits: list[tuple[int, int, str, int]] = field(default_factory=list)  # (off, width, value, line)


@dataclass
class Unit:
    file: str
    functions: list[Function] = field(default_factory=list)
    data: list[DataDecl] = field(default_factory=list)


_NAME = r"[A-Za-z_.·][\w.·]*"
_TEXT = re.compile(rf"^TEXT\s+(?P<name>{_NAME})(?:\(SB\))?\s*,\s*(?:(?P<flags>[A-Z0-9|]+)\s*,\s*)?"
                   r"\$(?P<frame>-?\d+)(?:\s*-\s*\$?(?P<args>-?\d+))?\s*$")
_GLOBL = re.compile(rf"^GLOBL\s+(?P<name>{_NAME})(?:\(SB\))?\s*,\s*(?:[A-Z0-9|]+\s*,\s*)?\$(?P<size>\d+)\s*$")
_DATA = re.compile(rf"^DATA\s+(?P<name>{_NAME})(?:\(SB\))?(?:\+(?P<off>\d+))?\s*/\s*(?P<width>[1248])\s*,"
                   r"\s*\$(?P<value>\S+)\s*$")


MAX_FRAME = 0x7FFFFFFF     # frame and argument sizes are int32 in 6l/5l and in m->moreframesize


def canonical(name: str) -> str:
    """Go writes runtime·new; goemu stores runtime.new."""
    return name.replace("·", ".")


def _strip_comment(line: str) -> str:
    i = line.find("//")
    return line if i < 0 else line[:i]


def _flags(text: str | None, where: tuple[str, int], raw: str) -> bool:
    if not text:
        return False
    nosplit = False
    for part in text.split("|"):
        if part in ("NOSPLIT", "7"):
            nosplit = True
        elif part in ("NOPROF", "DUPOK", "0", "1", "2", "3", "4", "5", "6"):
            nosplit = nosplit or (part.isdigit() and int(part) & 4 != 0)
        else:
            raise AssemblyError(f"unknown TEXT flag {part!r} (NOSPLIT, NOPROF, DUPOK or a number)",
                                *where, raw)
    return nosplit


def parse_text(text: str, file: str = "<string>") -> Unit:
    """Parse goasm source; errors name file:line."""
    unit = Unit(file)
    current: Function | None = None
    datas: dict[str, DataDecl] = {}
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = _strip_comment(raw).strip()
        if not line:
            continue
        where = (file, lineno)
        if line.startswith("TEXT"):
            m = _TEXT.match(line)
            if not m:
                raise AssemblyError("malformed TEXT; expected 'TEXT name, [NOSPLIT,] $frame-$args'",
                                    *where, raw)
            frame = int(m["frame"])
            if frame < 0 and frame != -4 and frame != -8:
                raise AssemblyError(f"frame size ${frame} of {m['name']}: a frame is 0 or more bytes "
                                    "($-4 on ARM: no frame, no LR save)", *where, raw)
            if m["args"] and int(m["args"]) < 0:
                raise AssemblyError(f"argument size {m['args']} of {m['name']} is negative", *where, raw)
            for what, v in (("frame", frame), ("argument", int(m["args"] or 0))):
                if v > MAX_FRAME:
                    raise AssemblyError(f"{what} size {v} of {m['name']} is too large (at most {MAX_FRAME}: "
                                        "the linker and morestack keep it in 32 bits)", *where, raw)
            current = Function(canonical(m["name"]), frame, int(m["args"] or 0),
                               _flags(m["flags"], where, raw), file, lineno, decl_text=line)
            if any(f.name == current.name for f in unit.functions):
                raise AssemblyError(f"function {current.name} defined twice", *where, raw)
            unit.functions.append(current)
        elif line.startswith("GLOBL"):
            m = _GLOBL.match(line)
            if not m:
                raise AssemblyError("malformed GLOBL; expected 'GLOBL name, $size'", *where, raw)
            name = canonical(m["name"])
            if name in datas:
                raise AssemblyError(f"GLOBL {name} declared twice", *where, raw)
            datas[name] = DataDecl(name, int(m["size"]), file, lineno)
            unit.data.append(datas[name])
            current = None
        elif line.startswith("DATA"):
            m = _DATA.match(line)
            if not m:
                raise AssemblyError("malformed DATA; expected 'DATA name+off/width, $value'", *where, raw)
            name = canonical(m["name"])
            if name not in datas:
                raise AssemblyError(f"DATA for {name} before its GLOBL", *where, raw)
            d = datas[name]
            off, width = int(m["off"] or 0), int(m["width"])
            if off + width > d.size:
                raise AssemblyError(f"DATA {name}+{off}/{width} is outside its {d.size} bytes", *where, raw)
            d.inits.append((off, width, canonical(m["value"]), lineno))
        else:
            if current is None:
                raise AssemblyError("instruction outside a TEXT function", *where, raw)
            current.body.append(Statement(line, file, lineno, source=line))
    return unit


def parse_file(path: str | Path, display: str | None = None) -> Unit:
    """Parse a file; ``display`` is the name errors use (default: the path)."""
    p = Path(path)
    try:
        text = p.read_text()
    except OSError as e:
        raise InputError(f"cannot read program: {e.strerror}", display or str(p)) from None
    except UnicodeDecodeError as e:
        raise InputError(f"program is not UTF-8 text (byte {e.start})", display or str(p)) from None
    return parse_text(text, display or str(p))
