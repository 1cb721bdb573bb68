"""Read an ELF relocatable object (``.o``) into plain Python data.

The linker in :mod:`loader.link` never touches pyelftools: everything it needs
(allocatable sections, the symbol table, the relocations that patch those
sections) is copied out here once, so linking is pure and easy to test with
hand-built :class:`ObjectFile` values.

Only what ends up in emulated memory is kept: sections without ``SHF_ALLOC``
(``.debug_*``, ``.comment``, ``.ARM.attributes``) and the ARM unwind index
``.ARM.exidx`` (nothing in goemu unwinds through it) are dropped together with
the relocation sections that patch them.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from elftools.common.exceptions import ELFError
from elftools.elf.constants import SH_FLAGS
from elftools.elf.elffile import ELFFile
from elftools.elf.relocation import RelocationSection
from elftools.elf.sections import Section, Symbol, SymbolTableSection

from emu.errors import LoaderError

Arch = str          # an architecture name of emu.arch.ARCH_NAMES
SymType = Literal["func", "object", "section", "notype", "file"]
SymBinding = Literal["local", "global", "weak"]
# An ELF section index, None for SHN_UNDEF, or a special marker.
SymSection = int | None | Literal["ABS", "COMMON"]

_SYM_TYPES: dict[str, SymType] = {
    "STT_FUNC": "func", "STT_OBJECT": "object", "STT_SECTION": "section",
    "STT_NOTYPE": "notype", "STT_FILE": "file",
}
_SYM_BINDINGS: dict[str, SymBinding] = {"STB_LOCAL": "local", "STB_GLOBAL": "global", "STB_WEAK": "weak"}
# Allocatable sections that goemu deliberately leaves out of the image.
_SKIPPED_ALLOC = (".ARM.exidx",)


@dataclass
class InputSection:
    """One allocatable section of an object, with its bytes (zeros for NOBITS)."""
    index: int
    name: str
    data: bytes = field(repr=False)
    size: int
    align: int
    writable: bool
    executable: bool
    nobits: bool


@dataclass
class ObjSymbol:
    """One symbol-table entry; its position in ``ObjectFile.symbols`` is its ELF index.

    ``section`` is the ELF section index of the definition, ``None`` when
    undefined, ``'ABS'`` for absolute values and ``'COMMON'`` for tentative
    definitions (which :func:`loader.link.link` refuses: compile with
    ``-fno-common``).  Section symbols carry their section's name, as readelf
    shows them."""
    name: str
    value: int
    size: int
    type: SymType
    binding: SymBinding
    section: SymSection


@dataclass
class Reloc:
    """One relocation entry.  ``addend`` is None for REL (ARM) objects: the
    implicit addend lives in the patched bytes and only the per-type recipe
    knows how to decode it."""
    offset: int
    type: int
    symbol: int
    addend: int | None


@dataclass
class ObjectFile:
    """An ELF relocatable object reduced to what the linker needs."""
    path: str
    arch: Arch
    sections: list[InputSection]
    symbols: list[ObjSymbol]
    relocations: dict[int, list[Reloc]] = field(default_factory=dict)

    def section(self, index: int) -> InputSection | None:
        """The kept section with ELF index ``index`` (None if it was dropped)."""
        for sec in self.sections:
            if sec.index == index:
                return sec
        return None


def read_object(path: str) -> ObjectFile:
    """Parse the ELF relocatable object at ``path``.

    Raises LoaderError for anything that is not an x86-64 or ARM ``ET_REL``
    file, and for thread-local sections (goemu has no TLS)."""
    try:
        with open(path, "rb") as fh:
            elf = ELFFile(fh)
            return _convert(path, elf)
    except ELFError as exc:
        raise LoaderError(f"not a readable ELF file: {exc}", obj=path) from exc
    except OSError as exc:
        raise LoaderError(f"cannot read: {exc.strerror}", obj=path) from exc


def _convert(path: str, elf: ELFFile) -> ObjectFile:
    """Copy everything needed out of an open ELFFile (the stream closes after)."""
    arch = _arch_of(path, elf)
    if elf["e_type"] != "ET_REL":
        raise LoaderError(f"expected a relocatable object (ET_REL), got {elf['e_type']}", obj=path)
    sections = [_input_section(path, i, s) for i, s in enumerate(elf.iter_sections()) if _kept(s)]
    kept = {s.index for s in sections}
    return ObjectFile(
        path=path,
        arch=arch,
        sections=sections,
        symbols=_symbols(elf),
        relocations=_relocations(elf, kept),
    )


def _arch_of(path: str, elf: ELFFile) -> Arch:
    """Map e_machine to goemu's architecture name."""
    from emu.arch import ARCH_NAMES, get_arch
    machines = {get_arch(name).elf_machine: name for name in ARCH_NAMES}
    machine = elf["e_machine"]
    if machine not in machines:
        raise LoaderError(f"unsupported machine {machine} (goemu handles "
                          f"{', '.join(f'{m} ({n})' for m, n in machines.items())})", obj=path)
    if elf.little_endian is False:
        raise LoaderError("big-endian objects are not supported", obj=path)
    return machines[machine]


def _kept(sec: Section) -> bool:
    """True for sections that end up in emulated memory."""
    flags = sec["sh_flags"]
    return bool(flags & SH_FLAGS.SHF_ALLOC) and sec.name not in _SKIPPED_ALLOC \
        and sec["sh_type"] not in ("SHT_ARM_EXIDX", "SHT_GROUP")


def _input_section(path: str, index: int, sec: Section) -> InputSection:
    """Convert one allocatable section."""
    flags = sec["sh_flags"]
    if flags & SH_FLAGS.SHF_TLS:
        raise LoaderError("thread-local sections are not supported", obj=path, section=sec.name)
    nobits = sec["sh_type"] == "SHT_NOBITS"
    size = sec["sh_size"]
    return InputSection(
        index=index,
        name=sec.name,
        data=b"\0" * size if nobits else bytes(sec.data()),
        size=size,
        align=max(1, sec["sh_addralign"]),
        writable=bool(flags & SH_FLAGS.SHF_WRITE),
        executable=bool(flags & SH_FLAGS.SHF_EXECINSTR),
        nobits=nobits,
    )


def _symbols(elf: ELFFile) -> list[ObjSymbol]:
    """The whole .symtab in index order (an object has at most one)."""
    table = elf.get_section_by_name(".symtab")
    if not isinstance(table, SymbolTableSection):
        return []
    names = [s.name for s in elf.iter_sections()]
    return [_symbol(sym, names) for sym in table.iter_symbols()]


def _symbol(sym: Symbol, section_names: list[str]) -> ObjSymbol:
    """Convert one pyelftools Symbol; section symbols take their section's name."""
    shndx = sym["st_shndx"]
    section: SymSection
    if shndx == "SHN_UNDEF":
        section = None
    elif shndx == "SHN_ABS":
        section = "ABS"
    elif shndx == "SHN_COMMON":
        section = "COMMON"
    else:
        section = int(shndx)
    stype = _SYM_TYPES.get(sym["st_info"]["type"], "notype")
    name = sym.name
    if stype == "section" and isinstance(section, int) and not name:
        name = section_names[section]
    return ObjSymbol(
        name=name,
        value=sym["st_value"],
        size=sym["st_size"],
        type=stype,
        binding=_SYM_BINDINGS.get(sym["st_info"]["bind"], "global"),
        section=section,
    )


def _relocations(elf: ELFFile, kept: set[int]) -> dict[int, list[Reloc]]:
    """Relocations grouped by the (kept) section they patch, in file order."""
    out: dict[int, list[Reloc]] = {}
    for sec in elf.iter_sections():
        if not isinstance(sec, RelocationSection):
            continue
        target = sec["sh_info"]
        if target not in kept:
            continue
        rela = sec.is_RELA()
        out.setdefault(target, []).extend(
            Reloc(
                offset=r["r_offset"],
                type=r["r_info_type"],
                symbol=r["r_info_sym"],
                addend=r["r_addend"] if rela else None,
            )
            for r in sec.iter_relocations()
        )
    return out
