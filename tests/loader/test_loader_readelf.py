"""Oracle 1: read_object must agree with binutils readelf on every symbol and
on every relocation of the sections goemu loads."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass

import pytest
from elftools.elf.enums import ENUM_RELOC_TYPE_ARM, ENUM_RELOC_TYPE_x64

from loader import ObjectFile, read_object

READELF = shutil.which("readelf") or "/usr/bin/readelf"
pytestmark = pytest.mark.skipif(not os.path.exists(READELF), reason="readelf not installed")

RELOC_NAMES = {
    "amd64": {v: k for k, v in ENUM_RELOC_TYPE_x64.items() if isinstance(v, int)},
    "arm": {v: k for k, v in ENUM_RELOC_TYPE_ARM.items() if isinstance(v, int)},
}
SYM_LINE = re.compile(r"^\s*(\d+):\s+([0-9a-f]+)\s+(0x[0-9a-f]+|\d+)\s+(\w+)\s+(\w+)\s+(\w+)\s+(\w+)\s?(.*)$")
REL_HEADER = re.compile(r"^Relocation section '(\.rela?)(\S*)' at offset")
SECTION_NDX = {"UND": None, "ABS": "ABS", "COM": "COMMON"}


@dataclass
class ReadelfReloc:
    offset: int
    type: str
    symbol: str
    addend: int | None


def readelf(*args: str) -> str:
    return subprocess.run([READELF, "-W", *args], check=True, capture_output=True, text=True).stdout


def readelf_symbols(path: str) -> list[tuple]:
    """(value, size, type, bind, ndx, name) per .symtab row, in index order."""
    rows = []
    for line in readelf("-s", path).splitlines():
        m = SYM_LINE.match(line)
        if m:
            _, value, size, typ, bind, _vis, ndx, name = m.groups()
            section = SECTION_NDX[ndx] if ndx in SECTION_NDX else int(ndx)
            rows.append((int(value, 16), int(size, 0), typ.lower(), bind.lower(), section, name.strip()))
    return rows


def readelf_relocs(path: str) -> dict[str, list[ReadelfReloc]]:
    """Relocations per *target* section name ('.text' for '.rela.text')."""
    out: dict[str, list[ReadelfReloc]] = {}
    current: list[ReadelfReloc] | None = None
    for line in readelf("-r", path).splitlines():
        header = REL_HEADER.match(line)
        if header:
            current = out.setdefault(header.group(2), [])
        elif current is not None and re.match(r"^[0-9a-f]{8,16}\s", line):
            current.append(parse_reloc_row(line))
    return out


def parse_reloc_row(line: str) -> ReadelfReloc:
    """'offset info type [symvalue name [+|- addend]]'."""
    fields = line.split()
    offset, typ, rest = int(fields[0], 16), fields[2], fields[4:]
    addend = None
    if len(rest) >= 3 and rest[-2] in "+-":
        addend = int(rest[-1], 16) * (-1 if rest[-2] == "-" else 1)
        rest = rest[:-2]
    elif len(fields) == 4:  # RELA without a symbol: 'offset info type addend'
        rest, addend = [], int(fields[3], 16)
    return ReadelfReloc(offset, typ, rest[0] if rest else "", addend)


def test_symbols_match_readelf(arch_built) -> None:
    for path in map(str, arch_built.paths.values()):
        obj = read_object(path)
        expected = readelf_symbols(path)
        assert len(obj.symbols) == len(expected), path
        for i, (sym, row) in enumerate(zip(obj.symbols, expected)):
            value, size, typ, bind, section, name = row
            assert (sym.value, sym.size, sym.type, sym.binding, sym.section) == \
                (value, size, typ, bind, section), f"{path} symbol #{i} {name}"
            if name or sym.type != "section":  # old readelf leaves section symbols unnamed
                assert sym.name == name, f"{path} symbol #{i}"


def test_relocations_match_readelf(arch_built) -> None:
    for path in map(str, arch_built.paths.values()):
        obj = read_object(path)
        expected = readelf_relocs(path)
        loaded = {s.name for s in obj.sections}
        ours = relocs_by_name(obj)
        assert set(ours) == {name for name in expected if name in loaded}, path
        for name, rows in ours.items():
            assert rows == expected[name], f"{path} {name}"


def relocs_by_name(obj: ObjectFile) -> dict[str, list[ReadelfReloc]]:
    """Our relocations in readelf's terms (type names, symbol names)."""
    out = {}
    for index, relocs in obj.relocations.items():
        sec = obj.section(index)
        assert sec is not None
        out[sec.name] = [
            ReadelfReloc(r.offset, RELOC_NAMES[obj.arch][r.type], obj.symbols[r.symbol].name, r.addend)
            for r in relocs
        ]
    return out


def test_kept_sections(arch_built) -> None:
    """Only allocatable sections survive; .ARM.exidx and its relocations are gone."""
    for path in map(str, arch_built.paths.values()):
        obj = read_object(path)
        names = [s.name for s in obj.sections]
        assert ".ARM.exidx" not in names
        assert not any(n.startswith((".debug", ".comment", ".ARM.attributes")) for n in names)
        for sec in obj.sections:
            assert len(sec.data) == sec.size
            if sec.nobits:
                assert sec.data == b"\0" * sec.size
        addends = {r.addend is None for rs in obj.relocations.values() for r in rs}
        assert addends <= {obj.arch == "arm"}, "REL (ARM) has no explicit addends, RELA always has"
