"""A machine: one architecture's CPU, memory map, runtime and program.

``Machine`` owns the Unicorn instance and exposes what the tools above it
need as plain data: registers, memory, the current g and m, struct fields by
name, a backtrace across stack segments, runtime events (split, unsplit,
GC), and running under an instruction budget.  It never prints.
"""
from __future__ import annotations

import ctypes
import os
from collections.abc import Callable
from dataclasses import dataclass, field

import unicorn
from unicorn import Uc, UcError
from unicorn.unicorn_py3.unicorn import uclib

from .arch.base import Arch
from .asm.verify import disassembler
from .engine import Engine
from .errors import BudgetExhausted, EmulationError, Frame, InvalidInstruction, MemoryFault, RuntimeThrow
from .eventlog import EventLog
from .hooks import HookRegistry
from .image import Image

PAGE = 0x1000
DEFAULT_BUDGET = 50_000_000


@dataclass(slots=True)
class Event:
    """A runtime event: ``split`` (newstack entered), ``unsplit`` (oldstack
    entered), ``lessstack`` (with the value it saves), ``gc``, ``exit``."""
    kind: str
    icount: int
    pc: int
    detail: dict = field(default_factory=dict)


def _page_up(n: int) -> int:
    return (n + PAGE - 1) & ~(PAGE - 1)


_ENGINE: str | None = None


def set_default_engine(name: str | None) -> None:
    """The engine of every Machine made without ``engine=`` (``--engine``)."""
    global _ENGINE
    _ENGINE = name


def default_engine() -> str:
    """``--engine`` (set_default_engine), else ``$GOEMU_ENGINE``, else native."""
    return _ENGINE or os.environ.get("GOEMU_ENGINE") or "native"


class Machine:
    def __init__(self, image: Image, budget: int = DEFAULT_BUDGET, engine: str | None = None):
        self.image = image
        self.arch: Arch = image.arch
        self.layouts = image.layouts
        self.budget = budget
        self.uc = Uc(self.arch.uc_arch, self.arch.uc_mode)
        # direct calls into Unicorn's library with preallocated buffers: the
        # binding's mem_read/reg_read allocate on every call (hooks read a lot)
        self._uch = self.uc._uch
        self._rbuf = ctypes.create_string_buffer(4096)
        self._rbuf_addr = ctypes.addressof(self._rbuf)
        self._reg_val = ctypes.c_uint64()
        self._reg_ref = ctypes.byref(self._reg_val)
        self._field_at: dict[tuple[str, str], tuple[int, int]] = {}
        self.hooks = HookRegistry(self.uc)
        self.exited = False
        self.exit_status: int | None = None
        self.output: list[str] = []
        self._events = EventLog(Event)      # list-like, in columns: long runs publish millions (emu/eventlog.py)
        self._native_events = None          # emu.engine.NativeEvents while no listener is attached
        self.listeners: dict[str, list[Callable[[Event], None]]] = {}
        self.gc_handler: Callable[[Machine, int], object] | None = None
        self.gc_reports: list = []          # the collector's reports (emu.gc), in order
        self.main_g: int | None = None
        self._last_invalid: tuple[int, int, int] | None = None
        self._map_memory()
        # the engine's counting hook comes first: other hooks see exact positions
        self.engine = Engine(self, engine or default_engine())
        self.engine.register("machine", self._save_state, self._restore_state)
        self._install_hooks()
        self._boot()

    # -- the state that travels back in time (see emu/engine.py) -------------------------
    def _save_state(self) -> tuple:
        return (self.exited, self.exit_status, self.main_g, self._last_invalid,
                len(self.output), len(self.events), len(self.gc_reports))

    def _restore_state(self, st: tuple) -> None:
        self.exited, self.exit_status, self.main_g, self._last_invalid, nout, nev, ngc = st
        del self.output[nout:]
        del self.events[nev:]
        del self.gc_reports[ngc:]

    @property
    def icount(self) -> int:
        """Instructions executed since boot: exact between runs; inside a hook
        it counts the whole block being executed (``position()`` is exact)."""
        return self.engine.n

    @icount.setter
    def icount(self, n: int) -> None:
        self.engine.set_position(n)

    # -- set-up -------------------------------------------------------------------
    def _map_memory(self) -> None:
        perms = {"r": unicorn.UC_PROT_READ, "w": unicorn.UC_PROT_WRITE, "x": unicorn.UC_PROT_EXEC}
        def prot(p: str) -> int:
            return sum(perms[c] for c in p if c in perms)
        for name, region in self.arch.regions.items():
            if name == "runtime":
                continue   # mapped per segment below, with each segment's permissions
            self.uc.mem_map(region.base, region.size, prot(region.perms))
        for name, addr, data, p in self.image.chunks:
            if name.startswith("runtime."):
                self.uc.mem_map(addr, _page_up(max(len(data), 1)), prot(p))
            if data:
                self.uc.mem_write(addr, data)

    def _install_hooks(self) -> None:
        self.hooks.invalid_mem(self._on_invalid)
        if self.arch.hypercall_insn is not None:
            self.hooks.instruction(self.arch.hypercall_insn, self._on_hypercall)
        self.hooks.interrupt(lambda intno: self.arch.on_interrupt(self, intno))
        if self.engine.kind == "native":
            from .engine import NativeEvents
            self._native_events = NativeEvents(self, self.engine.counter, self._event_specs())
            events = self._events
            self._native_events.sink = events.extend_typed
            self._native_events.install(self.hooks)
        else:
            self._python_event_hooks()

    def _python_event_hooks(self) -> None:
        sym = self.image.symbols
        self.hooks.at(sym["newstack"], self._on_newstack, "split")
        self.hooks.at(sym["oldstack"], self._on_oldstack, "unsplit")
        self.hooks.at(sym["lessstack"], self._on_lessstack, "lessstack")

    def _event_specs(self) -> list[dict]:
        """What the native event hook copies for split, unsplit and lessstack
        (the same fields as _on_newstack/_on_oldstack/_on_lessstack read)."""
        a, sym = self.arch, self.image.symbols
        kind, where = a.m_loc
        m = dict(m_reg=a.regs[str(where)] if kind == "reg" else -1, m_addr=int(where) if kind == "mem" else 0)

        def window(paths):
            at = [self._field("M", p) for p in paths]
            lo = min(o for o, _ in at)
            return lo, max(o + n for o, n in at) - lo, [(o - lo, n) for o, n in at]

        lo, ln, split_at = window(self._SPLIT)
        names = ("framesize", "argsize", "morepc", "caller_pc", "caller_sp")
        # decode(window fields, register, deref) -> the detail's values (numpy columns, in keys' order)
        split = dict(name="split", pc=sym["newstack"], win_lo=lo, win_len=ln, fields=split_at, **m,
                     keys=names, decode=lambda cols, _r, _d: cols)
        lo2, ln2, un_at = window(("curg", "cret"))
        sb_off, sb_size = self._field("G", "stackbase")
        unsplit = dict(name="unsplit", pc=sym["oldstack"], win_lo=lo2, win_len=ln2, fields=un_at, **m,
                       deref=(un_at[0][0], sb_off, sb_size), keys=("cret", "stktop"),
                       decode=lambda cols, _r, ds: [cols[1], ds])
        less = dict(name="lessstack", pc=sym["lessstack"], win_lo=0, win_len=0, reg=a.regs[a.ret], **m,
                    keys=("ret",), decode=lambda _c, rs, _d: [rs])
        return [split, unsplit, less]

    @property
    def events(self) -> list[Event]:
        """Every runtime event so far, in order (events captured natively are
        turned into Event objects here, when looked at)."""
        ne = self._native_events
        if ne is not None and ne.state.n:
            ne.drain()
        return self._events

    def _boot(self) -> None:
        a, L = self.arch, self.layouts
        boot = self.image.symbols["bootargs"]
        ba = L["BootArgs"]
        g0lo, g0hi = a.regions["g0stack"].base, a.regions["g0stack"].end
        values = {"arena": a.regions["arena"].base, "arena_size": a.regions["arena"].size,
                  "stacks": a.regions["stacks"].base, "stacks_size": a.regions["stacks"].size,
                  "g0stack_lo": g0lo, "g0stack_hi": g0hi,
                  "mainfn": self.image.symbols.get("main", 0)}
        for k, v in values.items():
            self.write_ptr(boot + ba.offset(k), v)
        m0, g0 = self.image.symbols["m0"], self.image.symbols["g0"]
        sp = g0hi - 0x100
        if a.link_register:               # rt0 never returns; a return would fault at 0
            self.reg_write(a.link_register, 0)
        else:                             # as if called (amd64: rsp+8 is 16-byte aligned at entry)
            sp -= a.ptrsize
            self.write_ptr(sp, 0)
        if a.fs_base is not None:
            self.reg_write("fs_base", a.fs_base)
        for (kind, where), v in ((a.m_loc, m0), (a.g_loc, g0)):
            if kind == "mem":
                self.write_ptr(where, v)
            else:
                self.reg_write(where, v)
        self.reg_write(a.sp, sp)
        self.reg_write(a.pc, self.image.symbols["rt0"])
        from .gc import write_gogc
        write_gogc(self)            # the program's GOGC: --gogc, else $GOGC (emu/gc.py)

    # -- registers and memory ------------------------------------------------------
    def reg(self, name: str) -> int:
        v = self._reg_val
        v.value = 0
        status = uclib.uc_reg_read(self._uch, self.arch.regs[name], self._reg_ref)
        if status != unicorn.UC_ERR_OK:
            raise UcError(status)
        return v.value

    def reg_write(self, name: str, value: int) -> None:
        self.uc.reg_write(self.arch.regs[name], value)

    def regs(self) -> dict[str, int]:
        return {n: self.uc.reg_read(r) for n, r in self.arch.regs.items()}

    @property
    def pc(self) -> int:
        return self.reg(self.arch.pc)

    @property
    def sp(self) -> int:
        return self.reg(self.arch.sp)

    def read(self, addr: int, size: int) -> bytes:
        if size > 4096 or size <= 0:
            return bytes(self.uc.mem_read(addr, size))
        status = uclib.uc_mem_read(self._uch, addr, self._rbuf, size)
        if status != unicorn.UC_ERR_OK:
            raise UcError(status, addr, size)
        return ctypes.string_at(self._rbuf_addr, size)

    def write(self, addr: int, data: bytes) -> None:
        self.uc.mem_write(addr, data)

    def read_ptr(self, addr: int) -> int:
        return int.from_bytes(self.read(addr, self.arch.ptrsize), "little")

    def write_ptr(self, addr: int, value: int) -> None:
        self.uc.mem_write(addr, (value & ((1 << 8 * self.arch.ptrsize) - 1)).to_bytes(self.arch.ptrsize, "little"))

    def read_uint(self, addr: int, size: int) -> int:
        return int.from_bytes(self.read(addr, size), "little")

    def read_cstring(self, addr: int, limit: int = 4096) -> str:
        out = bytearray()
        while len(out) < limit:
            try:
                chunk = self.read(addr + len(out), 64)
            except UcError:
                break
            i = chunk.find(b"\0")
            if i >= 0:
                out += chunk[:i]
                break
            out += chunk
        return out.decode("utf-8", "replace")

    def _field(self, struct: str, path: str) -> tuple[int, int]:
        at = self._field_at.get((struct, path))
        if at is None:
            L = self.layouts[struct]
            f = next((x for x in L.leaves if x.path == path), None)
            at = self._field_at[(struct, path)] = (L.offset(path), f.size if f else self.arch.ptrsize)
        return at

    def field(self, struct: str, base: int, path: str) -> int:
        """Read one field of a runtime struct at ``base`` by name (``morebuf.pc``)."""
        off, size = self._field(struct, path)
        return self.read_uint(base + off, size)

    def fields(self, struct: str, base: int, paths: tuple[str, ...]) -> list[int]:
        """Several fields of one struct, in one memory read."""
        at = [self._field(struct, p) for p in paths]
        lo = min(o for o, _ in at)
        raw = self.read(base + lo, max(o + n for o, n in at) - lo)
        return [int.from_bytes(raw[o - lo:o - lo + n], "little") for o, n in at]

    def struct(self, struct: str, base: int) -> dict[str, int]:
        """Every leaf field of a struct at ``base``, read in one go."""
        L = self.layouts[struct]
        raw = self.read(base, L.size)
        return {f.path: int.from_bytes(raw[f.offset:f.offset + f.size], "little") for f in L.leaves}

    def _loc(self, loc: tuple[str, object]) -> int:
        kind, where = loc
        return self.read_ptr(int(where)) if kind == "mem" else self.reg(str(where))

    @property
    def g(self) -> int:
        return self._loc(self.arch.g_loc)

    @property
    def m(self) -> int:
        return self._loc(self.arch.m_loc)

    @property
    def g0(self) -> int:
        return self.image.symbols["g0"]

    @property
    def m0(self) -> int:
        return self.image.symbols["m0"]

    def symbolize(self, addr: int) -> str:
        return self.image.symbolize(addr) or f"{addr:#x}"

    def disasm(self, addr: int, count: int = 1) -> list[tuple[int, str, bytes]]:
        cs = disassembler(self.arch)
        try:
            code = self.read(addr, 16 * count)
        except UcError:
            return []
        return [(i.address, f"{i.mnemonic} {i.op_str}".strip(), bytes(i.bytes))
                for i in cs.disasm(code, addr, count)]

    # -- hooks' bodies -------------------------------------------------------------
    def set_position(self, n: int) -> None:
        """Declare that exactly ``n`` instructions have run (after restoring a
        snapshot, or before a run whose count the caller keeps)."""
        self.engine.set_position(n)

    def position(self, pc: int | None = None) -> int:
        """Exactly how many instructions ran before the one at ``pc`` (default:
        the current pc) when it lies in the block being executed.  ``icount``
        counts whole blocks as they start; inside a hook, or after a stop in
        the middle of a block, this is the precise figure."""
        return self.engine.position(pc)

    def disasm_block(self, addr: int, size: int) -> list:
        cs = disassembler(self.arch)
        return list(cs.disasm(self.read(addr, size), addr))

    def insn_spans(self, addr: int, size: int) -> list[tuple[int, int]]:
        """(address, size) of each instruction of the block (Capstone's lite
        decoder: no instruction objects; the engine's counters ask once per block)."""
        cs = disassembler(self.arch)
        return [(a, n) for a, n, _m, _o in cs.disasm_lite(self.read(addr, size), addr)]

    def _on_invalid(self, access: int, addr: int, size: int, value: int) -> bool:
        self._last_invalid = (access, addr, size)
        return False

    def emit(self, kind: str, **detail) -> Event:
        return self._emit(kind, self.pc, detail)

    def _emit(self, kind: str, pc: int, detail: dict) -> Event:
        ev = Event(kind, self.position(pc), pc, detail)
        self.events.append(ev)
        ls = self.listeners
        if ls:
            for fn in ls.get(kind, []) + ls.get("*", []):
                fn(ev)
        return ev

    def on(self, kind: str, fn: Callable[[Event], None]) -> None:
        """Call ``fn(event)`` as each event of ``kind`` ("*": any) is published.
        Listeners run synchronously, so the events go through Python hooks
        (a listener only for events published from Python -- gc, exit, boot --
        leaves split, unsplit and lessstack captured natively)."""
        if self._native_events is not None and kind in ("split", "unsplit", "lessstack", "*"):
            self._native_events.remove(self.hooks)
            self._native_events = None
            self._python_event_hooks()
        self.listeners.setdefault(kind, []).append(fn)

    _SPLIT = ("moreframesize", "moreargsize", "morepc", "morebuf.pc", "morebuf.sp")

    def _on_newstack(self, addr: int) -> None:
        fs, args, morepc, cpc, csp = self.fields("M", self.m, self._SPLIT)
        self._emit("split", addr, dict(framesize=fs, argsize=args, morepc=morepc, caller_pc=cpc, caller_sp=csp))

    def _on_oldstack(self, addr: int) -> None:
        # The Stktop of the segment being left sits at curg->stackbase; oldstack
        # moves stackbase back before gogo, and backtraces still need it.
        curg, cret = self.fields("M", self.m, ("curg", "cret"))
        self._emit("unsplit", addr, dict(cret=cret, stktop=self.field("G", curg, "stackbase") if curg else 0))

    def _on_lessstack(self, addr: int) -> None:
        self._emit("lessstack", addr, dict(ret=self.reg(self.arch.ret)))

    def _hypercall(self, nr: int, a0: int, a1: int) -> int:
        L = self.layouts.constants
        signed = a0 - (1 << 8 * self.arch.ptrsize) if a0 >> (8 * self.arch.ptrsize - 1) else a0
        if nr == L["HcExit"]:
            self.exited = True
            self.exit_status = signed
            self.emit("exit", status=signed)
            self.uc.emu_stop()
        elif nr == L["HcThrow"]:
            msg = self.read_cstring(a0)
            # Report (and leave the PC at) the hypercall instruction itself, as
            # gdb shows a trap: on ARM the PC has already moved past the svc.
            if self.arch.hypercall_pc_advance:
                self.reg_write(self.arch.pc, self.pc - self.arch.hypercall_pc_advance)
            raise self.error(RuntimeThrow, f"runtime throw: {msg}")
        elif nr == L["HcPrintInt"]:
            self.output.append(str(signed))
        elif nr == L["HcPrintHex"]:
            self.output.append(f"{a0:#x}")
        elif nr == L["HcPrintStr"]:
            self.output.append(self.read_cstring(a0))
        elif nr == L["HcGC"]:
            if self.gc_handler is None:
                from .gc import trigger_of
                if trigger_of(self) == "allocation":
                    return 0        # no collector attached: the allocator's trigger does nothing
                raise self.error(EmulationError, "runtime.gc called but no collector is attached")
            report = self.gc_handler(self, a0)
            self.emit("gc", report=report)
        elif nr == L["HcBoot"]:
            self.main_g = a0
            self.emit("boot", g=a0)
        else:
            raise self.error(InvalidInstruction, f"unknown hypercall {nr}")
        return 0

    def _on_hypercall(self) -> None:
        a = self.arch
        self._hypercall(self.reg(a.hypercall_nr), self.reg(a.hypercall_args[0]), self.reg(a.hypercall_args[1]))

    # -- errors and backtraces -----------------------------------------------------------
    def error(self, cls: type[EmulationError], message: str, pc: int | None = None, **kw) -> EmulationError:
        pc = self.pc if pc is None else pc
        insn = self.disasm(pc, 1)
        try:
            bt = self.backtrace()
        except Exception:  # noqa: BLE001 - a broken stack must not hide the original error
            bt = []
        return cls(message, pc=pc, symbol=self.symbolize(pc), insn=insn[0][1] if insn else None,
                   registers=self.regs(), backtrace=bt, **kw)

    def backtrace(self, limit: int = 64) -> list[Frame]:
        from .unwind import backtrace
        return backtrace(self, limit)

    # -- running ---------------------------------------------------------------------
    def run(self, max_insns: int | None = None, until: int = 0) -> None:
        """Run until the program exits, an error, the budget is spent, or (with
        ``until``) the next execution of that address (not executed)."""
        budget = self.budget if max_insns is None else max_insns
        out = self.engine.run(budget, until)
        if out.error is not None:
            raise out.error
        if out.why == "count" and not self.exited:
            raise self.error(BudgetExhausted,
                             f"instruction budget of {budget} exhausted (raise it with --max-insns)")

    def _translate(self, e: UcError) -> EmulationError:
        errno = e.errno
        mem_errors = {
            unicorn.UC_ERR_READ_UNMAPPED: "read from unmapped memory",
            unicorn.UC_ERR_WRITE_UNMAPPED: "write to unmapped memory",
            unicorn.UC_ERR_FETCH_UNMAPPED: "jump to unmapped memory",
            unicorn.UC_ERR_READ_PROT: "read from protected memory",
            unicorn.UC_ERR_WRITE_PROT: "write to read-only memory",
            unicorn.UC_ERR_FETCH_PROT: "jump to non-executable memory",
        }
        if errno in mem_errors:
            addr = self._last_invalid[1] if self._last_invalid else None
            msg = mem_errors[errno] + (f" at {addr:#x}" if addr is not None else "")
            if addr is not None:
                crash = self.arch.crash_addresses.get(addr & ~0x7) or self.arch.crash_addresses.get(addr)
                if crash:
                    msg += f" ({crash})"
                elif addr < PAGE and self.image.func_at(self.pc) and self.image.func_at(self.pc).name == "abort":
                    msg += " (abort: morestack on g0's stack)"
                elif addr < PAGE:
                    msg += " (nil dereference)"
            return self.error(MemoryFault, msg, address=addr)
        if errno in (unicorn.UC_ERR_INSN_INVALID, unicorn.UC_ERR_EXCEPTION):
            return self.error(InvalidInstruction, "invalid instruction")
        return self.error(EmulationError, f"emulation failed: {e}")
