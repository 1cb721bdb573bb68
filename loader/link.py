"""A tiny static linker: place objects' sections, resolve symbols, relocate.

goemu loads its C runtime straight into emulated memory, so it needs no
executable file, only an :class:`Image`: a few contiguous segments
(text, rodata, data, bss) with their bytes and permissions, plus symbol
tables for the debugger and the runtime glue.  Everything is deterministic:
sections are placed in object order then section-index order, and the same
inputs always give byte-identical images.

Symbol rules follow the ELF static linking model:

* a global definition beats a weak one; two global definitions of one name
  are an error; between weak definitions the first object wins;
* local and section symbols resolve within their own object;
* an undefined symbol takes a definition from another object, else a value
  from ``externals`` (object definitions take precedence), else 0 if it is
  weak; otherwise it is an error, but only if a relocation uses it.
"""
from __future__ import annotations

import bisect
import importlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Literal

from emu.errors import LoaderError
from loader.elf import Arch, InputSection, ObjectFile, ObjSymbol, Reloc
from loader.recipe import Recipe, Site

SegmentName = Literal["text", "rodata", "data", "bss"]
SEGMENT_ORDER: tuple[SegmentName, ...] = ("text", "rodata", "data", "bss")
PERMS: dict[SegmentName, str] = {"text": "r-x", "rodata": "r--", "data": "rw-", "bss": "rw-"}


@dataclass
class Segment:
    """A contiguous, page-aligned run of memory with one set of permissions."""
    name: SegmentName
    addr: int
    bytes: bytearray = field(repr=False)
    perms: str

    @property
    def end(self) -> int:
        """First address after the segment."""
        return self.addr + len(self.bytes)


@dataclass(frozen=True)
class ImageSymbol:
    """A function or data object at its final address."""
    name: str
    addr: int
    size: int
    type: str
    obj: str
    binding: str = "global"


@dataclass(frozen=True)
class Placement:
    """Where one input section landed (for debugging and for checking the
    layout against another linker)."""
    obj: str
    index: int
    name: str
    segment: SegmentName
    addr: int
    size: int
    obj_index: int = 0


@dataclass
class Image:
    """The linked result: what to map, and the names of what is in it.

    ``symbol_table`` is sorted by address on construction (symbolize relies
    on it): treat it as read-only."""
    arch: Arch
    segments: list[Segment]
    symbols: dict[str, int] = field(repr=False)
    symbol_table: list[ImageSymbol] = field(repr=False)
    placements: list[Placement] = field(default_factory=list, repr=False)
    end: int = 0
    _starts: list[int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.symbol_table = sorted(self.symbol_table, key=_symbol_order)
        self._starts = [s.addr for s in self.symbol_table]

    def ranges_of(self, kind: str) -> list[tuple[int, int]]:
        """``(start, end)`` of every segment named ``kind`` ('text', 'bss', ...)."""
        return [(s.addr, s.end) for s in self.segments if s.name == kind]

    def segment_at(self, addr: int) -> Segment | None:
        """The segment containing ``addr``, if any."""
        for seg in self.segments:
            if seg.addr <= addr < seg.end:
                return seg
        return None

    def symbolize(self, addr: int) -> str | None:
        """'name' or 'name+0x10' for the nearest func/object symbol at or below
        ``addr``.

        A sized symbol covers ``[start, start+size]``: the end is included so
        that the return address of a call ending a noreturn function still
        names it.  A zero-sized symbol covers up to the next symbol within its
        segment.  At one address, a symbol that covers ``addr`` wins, then
        globals over locals, functions over objects, and then by name."""
        i = bisect.bisect_right(self._starts, addr)
        if i == 0:
            return None
        start = self._starts[i - 1]
        group = self.symbol_table[bisect.bisect_left(self._starts, start):i]
        sym = self._pick(group, addr)
        if sym is None:
            return None
        off = addr - sym.addr
        return f"{sym.name}+0x{off:x}" if off else sym.name

    def _pick(self, group: list[ImageSymbol], addr: int) -> ImageSymbol | None:
        """Choose among symbols sharing the nearest start (see symbolize)."""
        sized = [s for s in group if s.size and addr <= s.addr + s.size]
        if sized:
            return min(sized, key=_preference)
        unsized = [s for s in group if not s.size]
        seg = self.segment_at(group[0].addr)
        if unsized and seg is not None and addr < seg.end:
            return min(unsized, key=_preference)
        return None


def _symbol_order(s: ImageSymbol) -> tuple[int, str, str]:
    return (s.addr, s.name, s.obj)


def _preference(s: ImageSymbol) -> tuple[bool, bool, str]:
    return (s.binding == "local", s.type != "func", s.name)


# ---------------------------------------------------------------- link


def link(objects: list[ObjectFile], base: int, externals: dict[str, int] | None = None,
         page: int = 0x1000) -> Image:
    """Link ``objects`` into an Image whose first segment starts at ``base``.

    ``externals`` gives addresses for symbols the objects use but do not
    define (assembly stubs, emulator hooks).  Raises LoaderError for mixed
    architectures, duplicate definitions, undefined or unsupported
    references, and RelocationOverflow when a value does not fit its field."""
    arch = _common_arch(objects)
    if page <= 0 or page & (page - 1):
        raise LoaderError(f"page size 0x{page:x} is not a power of two")
    if base % page:
        raise LoaderError(f"base 0x{base:x} is not aligned to the page size 0x{page:x}")
    placements, where = _layout(objects, base, page)
    resolver = _Resolver(objects, where, externals or {})
    contents = _relocate(objects, arch, where, resolver)
    segments = _segments(placements, contents)
    return Image(
        arch=arch,
        segments=segments,
        symbols=resolver.exported(),
        symbol_table=_symbol_table(objects, where, resolver),
        placements=placements,
        end=segments[-1].end if segments else base,
    )


def _common_arch(objects: list[ObjectFile]) -> Arch:
    """All objects must share one architecture."""
    if not objects:
        raise LoaderError("nothing to link: no objects given")
    arch = objects[0].arch
    for obj in objects[1:]:
        if obj.arch != arch:
            raise LoaderError(f"architecture {obj.arch} does not match {arch} of {objects[0].path}",
                              obj=obj.path)
    return arch


# ---------------------------------------------------------------- layout

# (object index, ELF section index) -> address
Where = dict[tuple[int, int], int]


def segment_kind(sec: InputSection) -> SegmentName:
    """Which segment a section belongs to, from its flags alone."""
    if sec.executable:
        return "text"
    if not sec.writable:
        return "rodata"
    return "bss" if sec.nobits else "data"


def _align(value: int, alignment: int) -> int:
    return (value + alignment - 1) // alignment * alignment


def _layout(objects: list[ObjectFile], base: int, page: int) -> tuple[list[Placement], Where]:
    """Give every kept section an address, segment by segment."""
    placements: list[Placement] = []
    where: Where = {}
    cursor = base
    for kind in SEGMENT_ORDER:
        members = [(i, s) for i, o in enumerate(objects) for s in o.sections if segment_kind(s) == kind]
        if not members:
            continue
        pos = _align(cursor, page)
        for i, sec in members:
            pos = _align(pos, sec.align)
            where[(i, sec.index)] = pos
            placements.append(Placement(objects[i].path, sec.index, sec.name, kind, pos, sec.size, i))
            pos += sec.size
        cursor = pos
    return placements, where


def _segments(placements: list[Placement], contents: dict[tuple[int, int], bytearray]) -> list[Segment]:
    """Assemble placed section bytes into one Segment per non-empty group."""
    segments: list[Segment] = []
    for kind in SEGMENT_ORDER:
        members = [p for p in placements if p.segment == kind]
        if not members or members[-1].addr + members[-1].size == members[0].addr:
            continue
        start = members[0].addr
        buf = bytearray(members[-1].addr + members[-1].size - start)
        for p in members:
            buf[p.addr - start:p.addr - start + p.size] = contents[(p.obj_index, p.index)]
        segments.append(Segment(kind, start, buf, PERMS[kind]))
    return segments


# ---------------------------------------------------------------- symbols


@dataclass(frozen=True)
class _Definition:
    addr: int
    obj: int
    weak: bool


class _Resolver:
    """Answers "what is S for symbol #i of object #k" under the ELF rules."""

    def __init__(self, objects: list[ObjectFile], where: Where, externals: dict[str, int]):
        self.objects, self.where, self.externals = objects, where, externals
        self.defs = self._collect_globals()

    def _collect_globals(self) -> dict[str, _Definition]:
        """Global and weak definitions, strong over weak, first weak wins."""
        defs: dict[str, _Definition] = {}
        for k, obj in enumerate(self.objects):
            for sym in obj.symbols:
                if sym.binding == "local" or sym.section is None:
                    continue
                new = _Definition(self._defined_addr(k, sym), k, sym.binding == "weak")
                old = defs.get(sym.name)
                if old is not None and not old.weak and not new.weak:
                    raise LoaderError(
                        f"duplicate definition of '{sym.name}': also defined in "
                        f"{self.objects[old.obj].path}", obj=obj.path)
                if old is None or (old.weak and not new.weak):
                    defs[sym.name] = new
        return defs

    def _defined_addr(self, k: int, sym: ObjSymbol) -> int:
        """Final address of a symbol defined in object ``k``."""
        obj = self.objects[k]
        if sym.section == "ABS":
            return sym.value
        if sym.section == "COMMON":
            raise LoaderError(f"common symbol '{sym.name}' is not supported (compile with -fno-common)",
                              obj=obj.path)
        assert isinstance(sym.section, int)
        addr = self.where.get((k, sym.section))
        if addr is None:
            raise LoaderError(f"symbol '{sym.name}' is defined in section #{sym.section}, "
                              "which is not loaded", obj=obj.path)
        return addr + sym.value

    def value(self, k: int, index: int) -> int | None:
        """S for symbol ``index`` of object ``k``; None when it is undefined
        and nothing provides it."""
        syms = self.objects[k].symbols
        if not 0 <= index < len(syms):
            raise LoaderError(f"relocation uses symbol #{index}, but the table has {len(syms)}",
                              obj=self.objects[k].path)
        sym = syms[index]
        if sym.section is not None and (sym.binding == "local" or sym.name not in self.defs):
            return self._defined_addr(k, sym)
        if sym.name in self.defs:
            return self.defs[sym.name].addr
        if sym.name in self.externals:
            return self.externals[sym.name]
        return 0 if sym.binding == "weak" else None

    def undefined_weak(self, k: int, index: int) -> bool:
        """True when symbol ``index`` of object ``k`` is a weak reference that
        nothing defines: its value is then up to the relocation recipe."""
        sym = self.objects[k].symbols[index]
        return sym.section is None and sym.binding == "weak" and sym.name not in self.defs \
            and sym.name not in self.externals

    def exported(self) -> dict[str, int]:
        """Global and weak definitions by name, sorted by name."""
        return {name: self.defs[name].addr for name in sorted(self.defs)}


def _symbol_table(objects: list[ObjectFile], where: Where, resolver: _Resolver) -> list[ImageSymbol]:
    """Every placed function and data object, locals included; like a
    linker's .symtab, a weak definition overridden elsewhere is left out."""
    out: list[ImageSymbol] = []
    for k, obj in enumerate(objects):
        for sym in obj.symbols:
            if sym.type not in ("func", "object") or not isinstance(sym.section, int):
                continue
            if sym.binding != "local" and resolver.defs[sym.name].obj != k:
                continue
            addr = where.get((k, sym.section))
            if addr is not None:
                out.append(ImageSymbol(sym.name, addr + sym.value, sym.size, sym.type, obj.path,
                                       sym.binding))
    return out


# ---------------------------------------------------------------- relocation


def _recipes(arch: Arch) -> dict[int, Recipe]:
    """The RELOCS table of ``emu.arch.<arch>.relocs`` (imported on first use so
    that the arch packages may import loader.recipe freely)."""
    return importlib.import_module(f"emu.arch.{arch}.relocs").RELOCS


def reloc_name(arch: Arch, number: int) -> str:
    """'R_ARM_CALL (28)' style name for messages; just the number if unknown."""
    name = importlib.import_module(f"emu.arch.{arch}.relocs").NAMES.get(number)
    return f"{name} ({number})" if name else f"relocation type {number}"


def _sites(objects: list[ObjectFile]) -> Iterator[tuple[int, InputSection, Reloc]]:
    """Every relocation, in a fixed order: object, section index, offset."""
    for k, obj in enumerate(objects):
        for index in sorted(obj.relocations):
            sec = obj.section(index)
            if sec is None:
                raise LoaderError(f"relocations target section #{index}, which is not loaded",
                                  obj=obj.path)
            for rel in sorted(obj.relocations[index], key=lambda r: r.offset):
                yield k, sec, rel


def _relocate(objects: list[ObjectFile], arch: Arch, where: Where,
              resolver: _Resolver) -> dict[tuple[int, int], bytearray]:
    """Copy every section's bytes and apply its relocations."""
    recipes = _recipes(arch)
    contents = {(k, s.index): bytearray(s.data) for k, o in enumerate(objects) for s in o.sections}
    _check_undefined(objects, resolver)
    for k, sec, rel in _sites(objects):
        obj = objects[k]
        recipe = recipes.get(rel.type)
        if recipe is None:
            raise LoaderError(f"unsupported relocation {reloc_name(arch, rel.type)}", obj=obj.path,
                              section=sec.name, offset=rel.offset, reloc_type=reloc_name(arch, rel.type))
        if sec.nobits:
            raise LoaderError(f"{recipe.name} patches a NOBITS section", obj=obj.path,
                              section=sec.name, offset=rel.offset, reloc_type=recipe.name)
        s = resolver.value(k, rel.symbol)
        assert s is not None  # _check_undefined ran
        site = Site(obj.path, sec.name, rel.offset, where[(k, sec.index)] + rel.offset)
        recipe.apply(contents[(k, sec.index)], site, s, rel.addend,
                     undefined_weak=resolver.undefined_weak(k, rel.symbol))
    return contents


def _check_undefined(objects: list[ObjectFile], resolver: _Resolver) -> None:
    """Refuse to link if a relocation uses a symbol nobody defines; name the
    first one with its first use, and count the others."""
    first: dict[str, tuple[str, str, int]] = {}
    for k, sec, rel in _sites(objects):
        if resolver.value(k, rel.symbol) is None:
            name = objects[k].symbols[rel.symbol].name
            first.setdefault(name, (objects[k].path, sec.name, rel.offset))
    if not first:
        return
    name, (path, section, offset) = next(iter(first.items()))
    others = sorted(n for n in first if n != name)
    more = f" (and {len(others)} more: {', '.join(others[:8])})" if others else ""
    err = LoaderError(f"undefined symbol '{name}'{more}", obj=path, section=section, offset=offset)
    err.symbol, err.undefined = name, sorted(first)  # type: ignore[attr-defined]
    raise err
