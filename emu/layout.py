"""Struct layouts and constants, read back from the DWARF of runtime_c.

runtime_c/runtime.h and malloc.h declare every layout and constant once.  The
compiler lays the structs out for each architecture; this module reads the
result from the objects' DWARF, so that the assembler (zasm-style names such
as ``m_cret``), the machine's struct views, the collector and the debugger all
use the compiler's numbers and never a copy of them.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from elftools.elf.elffile import ELFFile

from .arch import get_arch
from .errors import BuildError

#: The structs the rest of goemu reads.  (zasm prefix, C name)
STRUCTS = ("G", "M", "Gobuf", "Stktop", "MHeap", "MSpan", "MStats", "BootArgs", "MCentral", "MCache",
           "MCacheList", "FixAlloc")


@dataclass(frozen=True)
class Field:
    """One leaf of a struct, by its dotted path (``morebuf.pc``, ``tls[3]``)."""
    path: str
    offset: int
    size: int
    type_name: str
    is_pointer: bool = False


@dataclass
class StructLayout:
    name: str
    size: int
    members: dict[str, tuple[int, int, object]] = field(default_factory=dict)  # name -> (offset, size, type die)
    leaves: list[Field] = field(default_factory=list)
    _memo: dict[str, int] = field(default_factory=dict, repr=False, compare=False)

    def offset(self, path: str) -> int:
        """Offset of a dotted member path; ``sched.sp`` and ``tls[2]`` work.
        Remembered per path: a struct such as MHeap has tens of thousands of
        leaves (its page map), and callers ask for the same fields again and again."""
        off = self._memo.get(path)
        if off is None:
            off = self._memo[path] = self._find_offset(path)
        return off

    def _find_offset(self, path: str) -> int:
        for f in self.leaves:
            if f.path == path:
                return f.offset
        top = self.members.get(path)
        if top is not None:
            return top[0]
        for f in self.leaves:  # a prefix such as "morebuf" names an aggregate
            if f.path.startswith(path + ".") or f.path.startswith(path + "["):
                return f.offset
        raise KeyError(f"{self.name} has no field {path!r}")

    def field_at(self, offset: int) -> Field | None:
        """The leaf field covering ``offset`` (for naming roots and watch hits)."""
        for f in self.leaves:
            if f.offset <= offset < f.offset + max(f.size, 1):
                return f
        return None

    def has(self, path: str) -> bool:
        try:
            self.offset(path)
            return True
        except KeyError:
            return False


@dataclass
class Layouts:
    """Everything read from one architecture's objects."""
    arch: str
    ptrsize: int
    structs: dict[str, StructLayout]
    constants: dict[str, int]

    def __getitem__(self, name: str) -> StructLayout:
        return self.structs[name]

    def zasm(self) -> dict[str, int]:
        """Names for assembly, in Go's zasm style: ``g_sched``, ``m_cret``,
        ``gobuf_sp``, ``stktop_gobuf`` for every top-level member, ``sizeof_M``
        per struct, plus every enum constant (``StackGuard``, ``HcExit``)."""
        out: dict[str, int] = dict(self.constants)
        for s in self.structs.values():
            prefix = s.name.lower()
            for member, (off, _size, _t) in s.members.items():
                out[f"{prefix}_{member}"] = off
            out[f"sizeof_{s.name}"] = s.size
        return out


def _strip(die):
    """Follow typedef/const/volatile to the underlying type DIE."""
    while die is not None and die.tag in ("DW_TAG_typedef", "DW_TAG_const_type",
                                          "DW_TAG_volatile_type", "DW_TAG_restrict_type"):
        if "DW_AT_type" not in die.attributes:
            return None
        die = die.get_DIE_from_attribute("DW_AT_type")
    return die


def _type_name(die) -> str:
    if die is None:
        return "void"
    name = die.attributes.get("DW_AT_name")
    if name:
        return name.value.decode()
    if die.tag == "DW_TAG_pointer_type":
        inner = die.get_DIE_from_attribute("DW_AT_type") if "DW_AT_type" in die.attributes else None
        return _type_name(inner) + "*"
    return die.tag.replace("DW_TAG_", "")


def _size(die, ptrsize: int) -> int:
    t = _strip(die)
    if t is None:
        return 0
    if t.tag == "DW_TAG_pointer_type":
        return ptrsize
    if "DW_AT_byte_size" in t.attributes:
        return t.attributes["DW_AT_byte_size"].value
    if t.tag == "DW_TAG_array_type":
        elem = _size(t.get_DIE_from_attribute("DW_AT_type"), ptrsize)
        return elem * _array_count(t)
    return 0


def _array_count(arr) -> int:
    n = 1
    for sub in arr.iter_children():
        if sub.tag == "DW_TAG_subrange_type":
            if "DW_AT_count" in sub.attributes:
                n *= sub.attributes["DW_AT_count"].value
            elif "DW_AT_upper_bound" in sub.attributes:
                n *= sub.attributes["DW_AT_upper_bound"].value + 1
    return n


def _leaves(prefix: str, base: int, die, ptrsize: int, out: list[Field]) -> None:
    t = _strip(die)
    if t is None:
        return
    if t.tag == "DW_TAG_structure_type":
        for mem in t.iter_children():
            if mem.tag != "DW_TAG_member":
                continue
            name = mem.attributes["DW_AT_name"].value.decode()
            off = mem.attributes["DW_AT_data_member_location"].value
            _leaves(f"{prefix}.{name}" if prefix else name, base + off,
                    mem.get_DIE_from_attribute("DW_AT_type"), ptrsize, out)
    elif t.tag == "DW_TAG_array_type":
        elem = t.get_DIE_from_attribute("DW_AT_type")
        esize = _size(elem, ptrsize)
        for i in range(_array_count(t)):
            _leaves(f"{prefix}[{i}]", base + i * esize, elem, ptrsize, out)
    else:  # scalar, pointer, union: one leaf
        out.append(Field(prefix, base, _size(t, ptrsize), _type_name(t),
                         t.tag == "DW_TAG_pointer_type"))


def read_layouts(objects: list[Path], arch: str) -> Layouts:
    """Collect the STRUCTS and all enumerators from the DWARF of ``objects``."""
    structs: dict[str, StructLayout] = {}
    constants: dict[str, int] = {}
    ptrsize = get_arch(arch).ptrsize
    for path in objects:
        with open(path, "rb") as f:
            elf = ELFFile(f)
            if not elf.has_dwarf_info():
                raise BuildError(f"{path}: no DWARF; runtime_c must be compiled with -g")
            dwarf = elf.get_dwarf_info()
            for cu in dwarf.iter_CUs():
                for die in cu.iter_DIEs():
                    if die.tag == "DW_TAG_enumerator":
                        constants[die.attributes["DW_AT_name"].value.decode()] = \
                            die.attributes["DW_AT_const_value"].value
                    elif die.tag == "DW_TAG_structure_type" and "DW_AT_name" in die.attributes:
                        name = die.attributes["DW_AT_name"].value.decode()
                        if name in STRUCTS and name not in structs \
                                and "DW_AT_declaration" not in die.attributes:
                            structs[name] = _struct(name, die, ptrsize)
    missing = [s for s in STRUCTS if s not in structs]
    if missing:
        raise BuildError(f"runtime_c DWARF lacks struct(s) {', '.join(missing)}")
    return Layouts(arch, ptrsize, structs, constants)


def _struct(name: str, die, ptrsize: int) -> StructLayout:
    s = StructLayout(name, die.attributes["DW_AT_byte_size"].value)
    for mem in die.iter_children():
        if mem.tag == "DW_TAG_member":
            mname = mem.attributes["DW_AT_name"].value.decode()
            tdie = mem.get_DIE_from_attribute("DW_AT_type")
            s.members[mname] = (mem.attributes["DW_AT_data_member_location"].value,
                                _size(tdie, ptrsize), tdie)
    _leaves("", 0, die, ptrsize, s.leaves)
    return s
