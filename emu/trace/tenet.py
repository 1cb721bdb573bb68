"""Tenet's text trace format (github.com/gaasedelen/tenet, tracers/README.md).

One line per executed instruction, an *execution delta*: the registers that
changed since the previous line (``name=0xVALUE``, lower-case, Tenet's GPR
set for the arch: amd64 rax..r15+rip, ARM r0..r12, sp, lr, pc), the program
counter last on the register list of every line, then the memory the previous
instruction touched as ``mr=0xADDR:HEXBYTES`` / ``mw=0xADDR:HEXBYTES``.
The first line dumps every register as it was before the first recorded
instruction (with --from, not the boot state).  This is the README's
reference pattern: at each instruction callback, dump the register changes
and the memory accesses since the previous callback.  Registers are Tenet's
sets (AMD64; ARM as its Arm32 definition); flags, fs_base and goemu's events
are not in the format and are left out.
"""
from __future__ import annotations

from typing import BinaryIO

from ..arch import get_arch


class TenetWriter:
    def __init__(self, f: BinaryIO):
        self.f = f
        self.lines = 0

    def begin(self, header: dict) -> None:
        names = header["registers"]
        self.names = names
        self.pcname = header["pc"]
        tset = get_arch(header["arch"]).tenet_regs
        self.keep = [i for i, n in enumerate(names) if n in tset and n != self.pcname]
        self.keepset = set(self.keep)
        self.init = header["initial"]
        self.pending: tuple[list, list] | None = None   # (changed, mem) of the previous record

    def first_state(self, regs: list[int]) -> None:
        self.init = regs        # the first line dumps the state before the first recorded instruction

    def code_entry(self, *a) -> None:
        pass

    def record(self, index, pc, changed, mem, events, cycles=None) -> None:
        # Tenet's format has no field for cycles: they are kept by the native format only.
        names = self.names
        if self.pending is None:
            parts = [f"{names[i]}={self.init[i]:#x}" for i in self.keep]
            memparts = []
        else:
            ch, pm = self.pending
            parts = [f"{names[i]}={v:#x}" for i, v in ch if i in self.keepset]
            memparts = [f"{'mw' if k else 'mr'}={a:#x}:{d.hex()}" for k, a, s, d in pm]
        parts.append(f"{self.pcname}={pc:#x}")
        self.f.write((",".join(parts + memparts) + "\n").encode())
        self.pending = (changed, mem)
        self.lines += 1

    def close(self) -> None:
        self.f.flush()
