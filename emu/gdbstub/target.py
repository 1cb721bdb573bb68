"""The target as gdb sees it: the register file and its XML description.

Everything architecture-specific comes from ``emu/arch/<arch>/gdb.py``
(``GDB_ARCH``, ``FEATURES``, ``NONSTEPPABLE_WATCHPOINTS``, ``BREAK_KINDS``);
a third architecture adds that file and nothing here.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from types import ModuleType
from xml.sax.saxutils import quoteattr


@dataclass(frozen=True)
class Reg:
    num: int                  # the remote protocol's register number (p/P, order in g)
    name: str                 # gdb's name
    bits: int
    source: str | None        # goemu's register name, or None (reads as 0)
    type: str
    group: str

    @property
    def nbytes(self) -> int:
        return self.bits // 8


class TargetDescription:
    def __init__(self, arch_name: str):
        self.module: ModuleType = importlib.import_module(f"emu.arch.{arch_name}.gdb")
        self.gdb_arch: str = self.module.GDB_ARCH
        self.nonsteppable_watchpoints: bool = bool(self.module.NONSTEPPABLE_WATCHPOINTS)
        self.break_kinds: tuple[int, ...] = tuple(self.module.BREAK_KINDS)
        self.regs: list[Reg] = []
        for _feature, regs in self.module.FEATURES:
            for name, bits, source, typ, group in regs:
                self.regs.append(Reg(len(self.regs), name, bits, source, typ, group))
        self.g_size = sum(r.nbytes for r in self.regs)

    def xml(self) -> str:
        lines = ['<?xml version="1.0"?>', '<!DOCTYPE target SYSTEM "gdb-target.dtd">',
                 '<target version="1.0">', f"  <architecture>{self.gdb_arch}</architecture>"]
        num = 0
        for feature, regs in self.module.FEATURES:
            lines.append(f"  <feature name={quoteattr(feature)}>")
            for name, bits, _source, typ, group in regs:
                lines.append(f'    <reg name={quoteattr(name)} bitsize="{bits}" type={quoteattr(typ)}'
                             f' group={quoteattr(group)} regnum="{num}"/>')
                num += 1
            lines.append("  </feature>")
        lines.append("</target>")
        return "\n".join(lines) + "\n"

    # -- register values ---------------------------------------------------------------
    def read_all(self, mc) -> bytes:
        values = mc.regs()
        return b"".join(_le(values.get(r.source, 0) if r.source else 0, r.nbytes) for r in self.regs)

    def read_one(self, mc, num: int) -> bytes:
        r = self.regs[num]
        return _le(mc.reg(r.source) if r.source else 0, r.nbytes)

    def write_one(self, mc, num: int, raw: bytes) -> None:
        r = self.regs[num]
        if len(raw) != r.nbytes:
            raise ValueError(f"register {r.name} takes {r.nbytes} bytes, not {len(raw)}")
        if r.source:
            mc.reg_write(r.source, int.from_bytes(raw, "little"))

    def write_all(self, mc, raw: bytes) -> None:
        if len(raw) != self.g_size:
            raise ValueError(f"G needs {self.g_size} bytes of registers, not {len(raw)}")
        off = 0
        for r in self.regs:
            if r.source:
                mc.reg_write(r.source, int.from_bytes(raw[off:off + r.nbytes], "little"))
            off += r.nbytes


def _le(value: int, nbytes: int) -> bytes:
    return (value & ((1 << 8 * nbytes) - 1)).to_bytes(nbytes, "little")
