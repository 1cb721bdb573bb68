"""One registry for every Unicorn hook goemu installs.

Breakpoints, watchpoints, the trace recorder, the cycle model, runtime
events and hypercalls all come through here, so that:
- every Python callback is guarded: an exception stops the emulation
  cleanly (emu_stop) and is re-raised by ``Machine`` after emu_start returns,
  never lost inside Unicorn and never a hang;
- adding or removing a hook flushes Unicorn's translation cache, without
  which hooks on already-translated code would silently not fire;
- a hook can be limited to an address range, which costs nothing outside it.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import unicorn as uc_mod
from unicorn import Uc


@dataclass(frozen=True)
class Handle:
    kind: str
    uc_handle: int
    begin: int
    end: int
    label: str = ""
    native: bool = False       # a C function of goemu's native library (emu/native)


class HookRegistry:
    def __init__(self, uc: Uc):
        self._uc = uc
        self._handles: dict[int, Handle] = {}
        self.pending: BaseException | None = None

    # -- guard ---------------------------------------------------------------
    def fail(self, exc: BaseException) -> None:
        """Stop the emulation; ``exc`` is raised once emu_start has returned."""
        if self.pending is None:
            self.pending = exc
        self._uc.emu_stop()

    def _guard(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        def guarded(*args: Any) -> Any:
            if self.pending is not None:
                return False
            try:
                return fn(*args)
            except BaseException as e:  # noqa: BLE001 - re-raised after emu_start
                self.fail(e)
                return False
        return guarded

    def raise_pending(self) -> None:
        exc, self.pending = self.pending, None
        if exc is not None:
            raise exc

    # -- registration ----------------------------------------------------------
    def _add(self, kind: str, htype: int, fn: Callable[..., Any], begin: int, end: int,
             label: str, arg1: int | None = None) -> Handle:
        g = self._guard(fn)
        if arg1 is None:
            h = self._uc.hook_add(htype, g, None, begin, end)
        else:
            h = self._uc.hook_add(htype, g, None, begin, end, arg1)
        handle = Handle(kind, h, begin, end, label)
        self._handles[h] = handle
        self._uc.ctl_flush_tb()
        return handle

    def code(self, fn: Callable[[int, int], Any], begin: int = 1, end: int = 0, label: str = "") -> Handle:
        """fn(address, size) before each instruction in [begin, end]."""
        return self._add("code", uc_mod.UC_HOOK_CODE, lambda _u, a, s, _d: fn(a, s), begin, end, label)

    def at(self, addr: int, fn: Callable[[int], Any], label: str = "") -> Handle:
        """fn(address) before the instruction at exactly ``addr``."""
        return self._add("at", uc_mod.UC_HOOK_CODE, lambda _u, a, _s, _d: fn(a), addr, addr, label)

    def block(self, fn: Callable[[int, int], Any], begin: int = 1, end: int = 0, label: str = "") -> Handle:
        """fn(address, size) at the start of each translated block executed."""
        return self._add("block", uc_mod.UC_HOOK_BLOCK, lambda _u, a, s, _d: fn(a, s), begin, end, label)

    def mem_write(self, fn: Callable[[int, int, int], Any], begin: int = 1, end: int = 0,
                  label: str = "") -> Handle:
        """fn(address, size, value) before each store (the value comes from the
        hook's arguments: memory still holds the old one)."""
        return self._add("mem_write", uc_mod.UC_HOOK_MEM_WRITE,
                         lambda _u, _acc, a, s, v, _d: fn(a, s, v), begin, end, label)

    def mem_read(self, fn: Callable[[int, int], Any], begin: int = 1, end: int = 0, label: str = "") -> Handle:
        """fn(address, size) before each load."""
        return self._add("mem_read", uc_mod.UC_HOOK_MEM_READ,
                         lambda _u, _acc, a, s, _v, _d: fn(a, s), begin, end, label)

    def invalid_mem(self, fn: Callable[[int, int, int, int], Any]) -> Handle:
        """fn(access, address, size, value) on an unmapped or protected access."""
        return self._add("invalid_mem", uc_mod.UC_HOOK_MEM_INVALID,
                         lambda _u, acc, a, s, v, _d: fn(acc, a, s, v), 1, 0, "")

    def interrupt(self, fn: Callable[[int], Any]) -> Handle:
        """fn(intno) on a CPU exception/interrupt (ARM svc, x86 int3)."""
        return self._add("intr", uc_mod.UC_HOOK_INTR, lambda _u, n, _d: fn(n), 1, 0, "")

    def instruction(self, insn: int, fn: Callable[[], Any]) -> Handle:
        """fn() on a specific instruction (x86 syscall)."""
        return self._add("insn", uc_mod.UC_HOOK_INSN, lambda _u, _d: fn(), 1, 0, "", insn)

    def native(self, htype: int, fn_addr: int, user_data: int, begin: int = 1, end: int = 0,
               label: str = "") -> Handle:
        """Register a C function (address ``fn_addr``) with ``uc_hook_add`` on
        Unicorn's engine handle; ``user_data`` is passed to it unchanged.  The
        caller keeps whatever ``user_data`` points to alive."""
        import ctypes

        from unicorn.unicorn_py3.unicorn import uc_hook_h, uclib
        h = uc_hook_h()
        status = uclib.uc_hook_add(self._uc._uch, ctypes.byref(h), htype, ctypes.c_void_p(fn_addr),
                                   ctypes.c_void_p(user_data), ctypes.c_uint64(begin), ctypes.c_uint64(end))
        if status != uc_mod.UC_ERR_OK:
            raise uc_mod.UcError(status)
        handle = Handle(f"native:{htype}", h.value, begin, end, label, native=True)
        self._handles[h.value] = handle
        self._uc.ctl_flush_tb()
        return handle

    def remove(self, handle: Handle) -> None:
        if handle.uc_handle in self._handles:
            if handle.native:
                from unicorn.unicorn_py3.unicorn import uc_hook_h, uclib
                uclib.uc_hook_del(self._uc._uch, uc_hook_h(handle.uc_handle))
            else:
                self._uc.hook_del(handle.uc_handle)
            del self._handles[handle.uc_handle]
            self._uc.ctl_flush_tb()

    def handles(self) -> list[Handle]:
        return list(self._handles.values())
