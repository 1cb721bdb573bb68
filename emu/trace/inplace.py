"""Registers the C recorder may read in place, without a Unicorn call.

``uc_reg_read_batch`` costs about 7 ns per register (a call and a switch per
register in Unicorn's ``reg_read``); for most registers that function only
copies a field of the emulated CPU's state (``env->regs[i]``).  On hot-split
the recorder's register reads were about 40% of its time.  This module finds,
once per machine, where those fields are, and proves it, so that
emu/native/hooks.c can copy them with plain loads:

1. every register except the pc (never compared) and the flags (computed by
   ``reg_read`` from lazily kept condition codes) is written with a random
   value through ``uc_reg_write``;
2. the memory reached from the pointers held in Unicorn's engine structure is
   read through ``/proc/self/mem`` (a bad address is an ``OSError``, never a
   fault) and searched for each value: a register is located when its value
   occurs exactly once, near the others;
3. each located register is then written twice more with new random values,
   and both ``uc_reg_read`` and the located bytes must return them;
4. every register gets its original value back.

A register that is not located, or fails the proof, is read with
``uc_reg_read_batch`` as before; a host without ``/proc/self/mem`` reads them
all that way.  The traces are the same bytes either way
(tests/engine/test_engine_native_trace.py runs both).  The result (which
pointer of the engine structure, and the offsets from it) is remembered per
architecture, so later machines only re-check it.
"""
from __future__ import annotations

import os
import random

_SCAN = 1 << 18             # bytes searched from each pointer of the engine structure
_UC_BYTES = 1 << 14         # bytes of the engine structure searched for pointers
_known: dict[str, tuple[int, dict[str, int]]] = {}   # arch -> (pointer's offset in the engine, register offsets)


class _Mem:
    def __init__(self):
        self.fd = os.open("/proc/self/mem", os.O_RDONLY)

    def read(self, addr: int, n: int) -> bytes:
        try:
            return os.pread(self.fd, n, addr)
        except (OSError, OverflowError, ValueError):
            return b""

    def close(self) -> None:
        os.close(self.fd)


def _word(b: bytes, off: int, width: int) -> int:
    return int.from_bytes(b[off:off + width], "little")


def locate(mc) -> tuple[int, dict[str, int], int] | None:
    """(base address, {register name: byte offset from base}, width) of the
    registers of ``mc`` that read in place, or None when none could be proven."""
    try:
        mem = _Mem()
    except OSError:
        return None
    uc, a = mc.uc, mc.arch
    width = a.ptrsize
    names = [n for n in a.regs if n not in (a.pc, a.flags)]
    orig = {n: uc.reg_read(a.regs[n]) for n in names}
    rnd = random.Random()
    try:
        handle = uc._uch.value
        engine = mem.read(handle, _UC_BYTES)
        found = None
        known = _known.get(a.name)
        if known is not None and len(engine) >= known[0] + 8:
            ptr = _word(engine, known[0], 8)
            offs = {n: ptr + o for n, o in known[1].items()}
            if _prove(uc, a, mem, offs, width, rnd):
                found = (known[0], ptr, offs)
        if found is None:
            found = _search(uc, a, mem, engine, names, width, rnd)
        if found is None:
            return None
        slot, ptr, offs = found
        _known[a.name] = (slot, {n: addr - ptr for n, addr in offs.items()})
        base = min(offs.values())
        return base, {n: addr - base for n, addr in offs.items()}, width
    finally:
        for n, v in orig.items():
            uc.reg_write(a.regs[n], v)
        mem.close()


def _search(uc, a, mem: _Mem, engine: bytes, names: list[str], width: int, rnd: random.Random):
    """Write random values, find them behind one of the engine's pointers."""
    top = 1 << (8 * width - 1)
    vals = {n: rnd.getrandbits(8 * width) | top for n in names}
    for n, v in vals.items():
        uc.reg_write(a.regs[n], v)
    seen = set()
    for slot in range(0, len(engine) - 7, 8):
        ptr = _word(engine, slot, 8)
        if ptr < 0x10000 or ptr >= 1 << 47 or ptr in seen:
            continue
        seen.add(ptr)
        blob = mem.read(ptr, _SCAN) or mem.read(ptr, _SCAN >> 4)
        if not blob or blob.find(vals[names[0]].to_bytes(width, "little")) < 0:
            continue                        # (one search first: most pointers lead elsewhere)
        offs = {}
        for n, v in vals.items():
            b = v.to_bytes(width, "little")
            i = blob.find(b)
            if i >= 0 and blob.find(b, i + 1) < 0:
                offs[n] = ptr + i
        if not offs:
            continue
        span = max(offs.values()) - min(offs.values())
        if len(offs) >= max(1, len(names) // 2) and span < 4096 and _prove(uc, a, mem, offs, width, rnd):
            return slot, ptr, offs
    return None


def _prove(uc, a, mem: _Mem, offs: dict[str, int], width: int, rnd: random.Random) -> bool:
    """Drop from ``offs`` the registers whose bytes do not follow uc_reg_write
    and uc_reg_read twice; True if any register is left."""
    for _ in range(2):
        vals = {n: rnd.getrandbits(8 * width) for n in offs}
        for n, v in vals.items():
            uc.reg_write(a.regs[n], v)
        for n in list(offs):
            got = mem.read(offs[n], width)
            if len(got) != width or int.from_bytes(got, "little") != vals[n] or uc.reg_read(a.regs[n]) != vals[n]:
                del offs[n]
    return bool(offs)
