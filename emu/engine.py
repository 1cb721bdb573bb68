"""The one run engine of a Machine: position, budget, stops and snapshots.

Every way goemu runs emulated code -- ``goemu run`` (``Machine.run``), the
debugger (``Debugger._run`` / ``goto``), the trace recorder and the cycle
account riding along -- goes through :meth:`Engine.run`:

    engine.run(count, until=0, boundary=0, on_boundary=None, interrupted=None) -> Outcome

runs at most ``count`` instructions and stops early at ``until`` (an
address, before it executes), at a stop requested by a hook
(:meth:`Engine.request_stop`: breakpoints, watchpoints), at the program's
exit, at a fault, or when ``interrupted()`` says so at a ``boundary``.
``Outcome.why`` says which.  The position ``Engine.n`` (instructions
executed since boot) is exact after every run.

Counting.  Two interchangeable counters (``engine=`` of ``Machine``):

- ``python``: a Python UC_HOOK_BLOCK callback per executed block (the
  reference implementation);
- ``native`` (the default): a C block hook of goemu's own library
  (emu/native/hooks.c) with a per-block instruction-count table; Python is
  called once per newly translated block (Capstone gives its instruction
  addresses).

Both keep, for the block being executed, the count before it and its
instruction addresses, so ``position(pc)`` is exact inside a block (a hook
firing mid-block, a stop, a fault).

The budget.  Unicorn implements emu_start's instruction count with a code
hook on every instruction.  The python counter always runs with it; on the
native counter a run of at least ``Engine.FREE_RUN`` instructions goes
without it: the C block hook stops the run before the first block that would
end past the count (before any of its instructions or hooks run), and the
rest of that block runs with Unicorn's exact count, its translation dropped
first so that it is made again with Unicorn's count hook.  Unicorn adds that
hook without dropping blocks already translated, so a counted run after a
count-free one drops every translation first (``Engine._counted``).  Every
executed block goes through the counting hook and counts at least one
instruction: no run goes past its count.

The state contract.  Everything that must travel back in time registers a
*part* with :meth:`Engine.register` (a ``save()`` returning a value and a
``restore(value)``): the machine's own fields, the collector's reports, a
cycle account, a trace recorder.  The CPU is Unicorn's context (CPU only).
A :class:`Snapshot` is the union; :meth:`Engine.restore` puts every part back.
Guest memory is not in it: the debugger's history (emu/history.py) keeps the
pages that changed between snapshots and puts them back itself.
Nobody restores another object's fields: each part restores its own.
A part registered after a snapshot was taken is not in it and is left as
it is by restoring that snapshot (it cannot go back before it existed).
"""
from __future__ import annotations

import bisect
import ctypes
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import unicorn
from unicorn import UcError
from unicorn import unicorn_const as UC

from .errors import EmulationError, UsageError

ENGINES = ("native", "python")


class EngineError(UsageError):
    """The engine was asked for something it cannot do (an unknown engine,
    a snapshot part that cannot go back in time)."""


@dataclass
class Outcome:
    """Why a run stopped: count (ran ``count`` instructions), until (reached
    the ``until`` address), hit (a hook requested a stop), exited, fault
    (``error`` holds the EmulationError), interrupted."""
    why: str
    error: EmulationError | None = None
    ran: int = 0


@dataclass
class Snapshot:
    n: int
    ctx: object
    parts: dict[str, Any] = field(default_factory=dict)


# -- counters ---------------------------------------------------------------------------
class _Counter:
    """Instruction counting with exact positions (shared bookkeeping)."""

    def __init__(self, mc):
        self.mc = mc
        self.blocks: dict[tuple[int, int], tuple[int, ...]] = {}   # (addr, size) -> instruction addresses

    def addrs_of(self, addr: int, size: int) -> tuple[int, ...]:
        addrs = self.blocks.get((addr, size))
        if addrs is None:
            spans = self.mc.insn_spans(addr, size)
            found = [a for a, _n in spans]
            covered = sum(n for _a, n in spans)
            if covered < size:
                # bytes Capstone cannot decode (Unicorn faults on them, or runs an instruction
                # Capstone does not know): one more instruction, so that every block counts
                found.append(addr + covered)
            addrs = self.blocks[(addr, size)] = tuple(found)
        return addrs

    def _position_in(self, base: int, addrs: tuple[int, ...], pc: int, whole: int) -> int:
        if addrs and addrs[0] <= pc <= addrs[-1]:
            i = bisect.bisect_left(addrs, pc)
            if i < len(addrs) and addrs[i] == pc:
                return base + i
        return whole


class PythonCounter(_Counter):
    name = "python"

    def __init__(self, mc):
        super().__init__(mc)
        self.icount = 0
        self._base = 0
        self._addrs: tuple[int, ...] = ()

    def install(self, hooks) -> None:
        hooks.block(self._on_block, label="count")

    def _on_block(self, addr: int, size: int) -> None:
        addrs = self.blocks.get((addr, size))
        if addrs is None:
            addrs = self.addrs_of(addr, size)
        self._base = self.icount
        self._addrs = addrs
        self.icount += len(addrs)

    def set_position(self, n: int) -> None:
        self.icount = self._base = n
        self._addrs = ()

    free_runs = False               # the reference always runs with Unicorn's count

    def position(self, pc: int) -> int:
        return self._position_in(self._base, self._addrs, pc, self.icount)


_MISS = ctypes.CFUNCTYPE(ctypes.c_int32, ctypes.c_uint64, ctypes.c_uint32)


class NativeCounter(_Counter):
    """The C block hook (goemu_count_block) over a state struct owned here."""
    name = "native"

    def __init__(self, mc):
        super().__init__(mc)
        from .native import library
        lib = library()
        slots = lib.goemu_counter_slots()

        class State(ctypes.Structure):
            _fields_ = [("icount", ctypes.c_uint64), ("blk_base", ctypes.c_uint64),
                        ("blk_addr", ctypes.c_uint64), ("blk_size", ctypes.c_uint32),
                        ("blk_n", ctypes.c_uint32), ("misses", ctypes.c_uint64),
                        ("blocks", ctypes.c_uint64), ("miss", ctypes.c_void_p), ("stop", ctypes.c_void_p),
                        ("key_addr", ctypes.c_uint64 * slots), ("key_size", ctypes.c_uint32 * slots),
                        ("count", ctypes.c_uint32 * slots), ("limit", ctypes.c_uint64),
                        ("limit_hit", ctypes.c_uint32), ("pad_limit", ctypes.c_uint32)]
        if ctypes.sizeof(State) != lib.goemu_counter_size():
            from .native import NativeBuildError
            raise NativeBuildError("native hook library: counter layout mismatch "
                                   f"({lib.goemu_counter_size()} bytes, expected {ctypes.sizeof(State)})")
        self.lib = lib
        self.state = State()
        self._miss = _MISS(self._on_miss)        # kept alive as long as the counter
        self.state.miss = ctypes.cast(self._miss, ctypes.c_void_p)
        self.state.stop = ctypes.cast(unicorn.unicorn_py3.unicorn.uclib.uc_emu_stop, ctypes.c_void_p)
        self._hooks = None

    def _on_miss(self, addr: int, size: int) -> int:
        hooks = self._hooks
        if hooks is not None and hooks.pending is not None:
            return -1
        try:
            return len(self.addrs_of(addr, size))
        except BaseException as e:  # noqa: BLE001 - re-raised after emu_start
            if hooks is not None:
                hooks.fail(e)
            return -1

    def install(self, hooks) -> None:
        self._hooks = hooks
        hooks.native(UC.UC_HOOK_BLOCK, ctypes.cast(self.lib.goemu_count_block, ctypes.c_void_p).value,
                     ctypes.addressof(self.state), label="count")

    @property
    def icount(self) -> int:
        return self.state.icount

    @icount.setter
    def icount(self, n: int) -> None:
        self.state.icount = n

    def set_position(self, n: int) -> None:
        s = self.state
        s.icount = s.blk_base = n
        s.blk_size = 0
        s.blk_n = 0

    free_runs = True                # long runs go without Unicorn's count (Engine._chunk)

    def arm(self, limit: int) -> None:
        """Stop before any block that would end past ``limit`` (0: no limit)."""
        self.state.limit = limit
        self.state.limit_hit = 0

    def disarm(self) -> bool:
        """Remove the limit; whether the run stopped at it."""
        s = self.state
        hit = bool(s.limit_hit)
        s.limit = 0
        s.limit_hit = 0
        return hit

    def position(self, pc: int) -> int:
        s = self.state
        if not s.blk_n:
            return s.icount
        addrs = self.blocks.get((s.blk_addr, s.blk_size), ())
        return self._position_in(s.blk_base, addrs, pc, s.icount)


def make_counter(mc, engine: str) -> _Counter:
    if engine == "native":
        return NativeCounter(mc)
    if engine == "python":
        return PythonCounter(mc)
    raise EngineError(f"unknown engine {engine!r} (native or python)")


# -- the engine ----------------------------------------------------------------------------
class Engine:
    def __init__(self, mc, kind: str = "native"):
        self.mc = mc
        self.kind = kind
        self.counter = make_counter(mc, kind)
        self.counter.install(mc.hooks)
        self._parts: dict[str, tuple[Callable[[], Any], Callable[[Any], None]]] = {}
        self._stop_requested = False
        self.run_start = 0                 # position at which the current run began
        self._until_handle = None
        self.starts = 0                    # emu_start calls so far: a block hook sees a (re)start cheaply
        self.starts_c = ctypes.c_uint64(0)  # the same, for C hooks (emu/native/hooks.c's cycle account)
        self._uc_counting = False          # Unicorn's count hook exists (the last emu_start had a count)
        self._uncounted_tbs = False        # translated blocks may lack the count hook's call (_counted)

    # -- position -------------------------------------------------------------------
    @property
    def n(self) -> int:
        """Instructions executed since boot (exact between runs)."""
        return self.counter.icount

    def position(self, pc: int | None = None) -> int:
        """Exactly how many instructions ran before the one at ``pc`` (default:
        the current pc) when it lies in the block being executed; otherwise
        the count of whole blocks entered."""
        return self.counter.position(self.mc.pc if pc is None else pc)

    def set_position(self, n: int) -> None:
        """Declare that exactly ``n`` instructions have run."""
        self.counter.set_position(n)

    # -- stops -------------------------------------------------------------------------
    def request_stop(self) -> None:
        """From a hook: stop before the current instruction runs."""
        self._stop_requested = True
        self.mc.uc.emu_stop()

    def _on_until(self, addr: int) -> None:
        if self.position(addr) != self._until_from:
            self._stop_requested = True
            self._until_hit = True
            self.mc.uc.emu_stop()

    # -- running -------------------------------------------------------------------------
    def run(self, count: int, until: int = 0, boundary: int = 0,
            on_boundary: Callable[[], None] | None = None,
            interrupted: Callable[[], bool] | None = None,
            stopped: Callable[[], bool] | None = None) -> Outcome:
        """Run at most ``count`` instructions; see the module docstring.
        ``stopped()``, asked after each emu_start, says whether a hook stopped
        the run (for hooks that call ``uc.emu_stop()`` themselves; hooks that
        call ``request_stop()`` need not)."""
        mc = self.mc
        start = self.n
        target = start + count
        self._until_hit = False
        self._until_from = start
        if until:
            self._until_handle = mc.hooks.at(until, self._on_until, "until")
        try:
            while self.n < target:
                if mc.exited:
                    return Outcome("exited", ran=self.n - start)
                if interrupted is not None and interrupted():
                    return Outcome("interrupted", ran=self.n - start)
                chunk = target - self.n
                if boundary:
                    chunk = min(chunk, (self.n // boundary + 1) * boundary - self.n)
                err = self._chunk(chunk)
                if err is not None:
                    return Outcome("fault", err, self.n - start)
                if self._until_hit:
                    return Outcome("until", ran=self.n - start)
                if self._stop_requested or (stopped is not None and stopped()):
                    return Outcome("hit", ran=self.n - start)
                if boundary and on_boundary is not None and self.n % boundary == 0:
                    on_boundary()
            return Outcome("exited" if mc.exited else "count", ran=self.n - start)
        finally:
            if self._until_handle is not None:
                mc.hooks.remove(self._until_handle)
                self._until_handle = None

    #: A run of at least this many instructions on the native counter goes without Unicorn's
    #: count (shorter ones, e.g. the debugger's snapshot intervals, keep it).
    FREE_RUN = 1 << 16
    #: The count of a run without Unicorn's count once Unicorn's count hook exists: passing 0
    #: would make Unicorn remove the hook and drop every translated block (uc.c, 2.1.4).
    _HUGE = 1 << 62

    def _chunk(self, count: int) -> EmulationError | None:
        """Run at most ``count`` instructions and leave the exact position in
        the counter.  Returns the emulation error, if any; other exceptions
        raised by hooks propagate.

        Unicorn implements emu_start's instruction count with a code hook on
        every instruction, which costs more than goemu's whole counting.  So a
        long run on the native counter goes without it (:meth:`_free`): the C
        block hook stops the run before the first block that would end past
        the count, and only the rest of that one block runs with Unicorn's
        exact count."""
        begin = self.n
        self.set_position(begin)
        self.run_start = begin
        self._stop_requested = False
        if count >= self.FREE_RUN and self.counter.free_runs:
            return self._free(begin, begin + count)
        return self._counted(begin, count)

    def _start(self, count: int) -> EmulationError | None:
        """One emu_start (``count`` 0: without Unicorn's count); on an error the
        position is made exact and the error returned."""
        mc = self.mc
        self.starts += 1
        self.starts_c.value = self.starts
        self._uc_counting = count > 0
        try:
            mc.uc.emu_start(mc.pc, 0, 0, count)
        except UcError as e:
            self.set_position(self.position())      # the faulting instruction did not complete
            return self._pending() or mc._translate(e)
        if mc.hooks.pending is not None:
            self.set_position(self.position())      # a hook failed before its instruction ran
            return self._pending()
        return None

    def _counted(self, begin: int, count: int) -> EmulationError | None:
        """One emu_start with Unicorn's exact count."""
        if self._uncounted_tbs:
            # Blocks translated during a run without Unicorn's count have no call to its
            # count hook, and Unicorn adds that hook without dropping them (uc.c, 2.1.4):
            # they would run uncounted, past the count.  Drop every translation.
            self.mc.uc.ctl_flush_tb()
            self._uncounted_tbs = False
        err = self._start(count)
        return err if err is not None else self._settle(begin, count)

    def _settle(self, begin: int, count: int) -> EmulationError | None:
        """The exact position after an emu_start of at most ``count`` from ``begin``."""
        mc = self.mc
        if self._stop_requested or mc.exited or self.counter.icount < begin + count:
            if self.counter.icount == begin and not self._stop_requested and not mc.exited:
                return mc.error(EmulationError, "emulation made no progress")
            self.set_position(self.position())
        else:
            # Unicorn stopped after exactly `count` instructions; the block
            # hook counted the whole last block
            self.set_position(begin + count)
        return None

    def _free(self, begin: int, target: int) -> EmulationError | None:
        """Run to ``target`` without Unicorn's count: the counter's block hook stops
        the run before the block that would end past ``target`` (before any of
        its instructions or their hooks run), then the rest of that block runs
        with Unicorn's count.  Only that block needs the count hook, so only
        its translation is dropped (the others were made without it)."""
        mc, c = self.mc, self.counter
        c.arm(target)
        try:
            err = self._start(self._HUGE if self._uc_counting else 0)
        finally:
            hit = c.disarm()
        self._uncounted_tbs = True
        if err is not None:
            return err
        if not hit or self._stop_requested or mc.exited:
            return self._settle(begin, target - begin)   # stopped before: a stop request, the exit, a hook
        s = c.state
        addr, size, n, base = s.blk_addr, s.blk_size, s.blk_n, s.blk_base
        pc = mc.pc
        p = self.position(pc)
        self.set_position(p)
        if p == target:
            return None
        if pc != addr or p != base or not 0 < target - p < n:
            return self._counted(p, target - p)          # not at a block's start: count everything
        mc.uc.ctl_remove_cache(addr, addr + max(size, 1))
        c.arm(p + n)                                      # leaving the block (it cannot) stops at the next
        try:
            err = self._start(target - p)
        finally:
            left = c.disarm()
        if err is not None:
            return err
        if left:
            self.set_position(self.position())
            return mc.error(EmulationError, f"internal: the run left the block at {addr:#x} before "
                            f"Unicorn's count of {target - p} stopped it")
        return self._settle(p, target - p)

    def _pending(self) -> EmulationError | None:
        """Re-raise what a hook raised; an EmulationError is returned instead."""
        try:
            self.mc.hooks.raise_pending()
        except EmulationError as e:
            return e
        return None

    # -- the state contract ----------------------------------------------------------------
    def register(self, name: str, save: Callable[[], Any], restore: Callable[[Any], None]) -> None:
        """Add a part to every later snapshot.  ``save()`` returns a value that
        ``restore(value)`` puts back; values must not alias live state."""
        if name in self._parts:
            raise EngineError(f"a snapshot part named {name!r} is already registered")
        self._parts[name] = (save, restore)

    def unregister(self, name: str) -> None:
        self._parts.pop(name, None)

    def parts(self) -> list[str]:
        return list(self._parts)

    def snapshot(self) -> Snapshot:
        return Snapshot(self.n, self.mc.uc.context_save(), {k: s() for k, (s, _r) in self._parts.items()})

    def restore(self, snap: Snapshot) -> None:
        self.mc.uc.context_restore(snap.ctx)
        for name, (_s, restore) in self._parts.items():
            if name in snap.parts:
                restore(snap.parts[name])
        self.mc.hooks.pending = None
        self.set_position(snap.n)


# -- runtime events captured in C ----------------------------------------------------------
class NativeEvents:
    """The runtime events at fixed addresses (split, unsplit, lessstack),
    captured by goemu_event_hook into a ring and turned into Event objects
    when the machine's events are looked at.  ``specs``: (kind, pc, fields
    of M, deref, register) as built by the Machine."""

    def __init__(self, mc, counter: NativeCounter, specs: list[dict]):
        from .native import library
        lib = library()
        lib.goemu_events_size.restype = ctypes.c_uint32
        slots = lib.goemu_events_slots()
        win = 64

        class Spec(ctypes.Structure):
            _fields_ = [("pc", ctypes.c_uint64), ("m_addr", ctypes.c_uint64), ("kind", ctypes.c_int32),
                        ("reg_id", ctypes.c_int32), ("m_reg", ctypes.c_int32), ("win_lo", ctypes.c_uint32),
                        ("win_len", ctypes.c_uint32), ("deref_off", ctypes.c_int32),
                        ("deref_add", ctypes.c_uint32), ("deref_size", ctypes.c_uint32)]

        class Rec(ctypes.Structure):
            _fields_ = [("kind", ctypes.c_int32), ("status", ctypes.c_uint32), ("blk_base", ctypes.c_uint64),
                        ("blk_addr", ctypes.c_uint64), ("blk_size", ctypes.c_uint32), ("blk_n", ctypes.c_uint32),
                        ("pc", ctypes.c_uint64), ("m", ctypes.c_uint64), ("reg", ctypes.c_uint64),
                        ("deref", ctypes.c_uint64), ("win", ctypes.c_uint8 * win)]

        class State(ctypes.Structure):
            _fields_ = [("counter", ctypes.c_void_p), ("n", ctypes.c_uint32), ("nspecs", ctypes.c_uint32),
                        ("ptrsize", ctypes.c_uint32), ("pad", ctypes.c_uint32), ("drains", ctypes.c_uint64),
                        ("reg_read", ctypes.c_void_p), ("mem_read", ctypes.c_void_p), ("drain", ctypes.c_void_p),
                        ("specs", Spec * 8), ("ring", Rec * slots)]
        if ctypes.sizeof(State) != lib.goemu_events_size():
            from .native import NativeBuildError
            raise NativeBuildError("native hook library: event ring layout mismatch")
        if len(specs) > 8 or any(s["win_len"] > win for s in specs):
            raise EngineError("too many native events, or an event window wider than 64 bytes")
        self.mc, self.lib, self.counter = mc, lib, counter
        self.state = st = State()
        st.counter = ctypes.addressof(counter.state)
        st.ptrsize = mc.arch.ptrsize
        uclib = unicorn.unicorn_py3.unicorn.uclib
        st.reg_read = ctypes.cast(uclib.uc_reg_read, ctypes.c_void_p)
        st.mem_read = ctypes.cast(uclib.uc_mem_read, ctypes.c_void_p)
        self._drain_cb = ctypes.CFUNCTYPE(None)(self._on_full)
        st.drain = ctypes.cast(self._drain_cb, ctypes.c_void_p)
        self.specs = specs
        for i, s in enumerate(specs):
            sp = st.specs[i]
            sp.pc, sp.kind, sp.reg_id = s["pc"], i, s.get("reg", -1)
            sp.m_reg, sp.m_addr = s["m_reg"], s["m_addr"]
            sp.win_lo, sp.win_len = s["win_lo"], s["win_len"]
            sp.deref_off, sp.deref_add, sp.deref_size = s.get("deref", (-1, 0, 0))
        st.nspecs = len(specs)
        self.handles = []
        # sink(names, keys, which, positions, pcs, values): the drained events, in order, as
        # columns (EventLog.extend_typed)
        self.sink: Callable[..., None] | None = None

    def install(self, hooks) -> None:
        fn = ctypes.cast(self.lib.goemu_event_hook, ctypes.c_void_p).value
        for s in self.specs:
            self.handles.append(hooks.native(UC.UC_HOOK_CODE, fn, ctypes.addressof(self.state), s["pc"], s["pc"],
                                             label=s["name"]))

    def remove(self, hooks) -> None:
        self.drain()
        for h in self.handles:
            hooks.remove(h)
        self.handles = []

    def _on_full(self) -> None:
        try:
            self.drain()
        except BaseException as e:  # noqa: BLE001 - re-raised after emu_start
            self.mc.hooks.fail(e)

    def discard(self) -> None:
        self.state.n = 0

    def drain(self) -> None:
        """Hand the captured records to the sink as whole columns, in order:
        numpy over the ring, no Python work per event (a few passes per
        drain of up to 4096 records)."""
        import numpy as np
        st = self.state
        n = st.n
        if not n:
            return
        st.n = 0
        rsize = ctypes.sizeof(st.ring[0])
        ring = np.frombuffer((ctypes.c_char * (n * rsize)).from_address(ctypes.addressof(st.ring)),
                             dtype=self._dtype(rsize))
        status = ring["status"]
        if status.any():
            i = int(np.flatnonzero(status)[0])
            code, s = int(status[i]), self.specs[int(ring["kind"][i])]
            why = next(v for k, v in {1: "m", 2: "M", 4: "register", 8: "pointer"}.items() if code & k)
            raise self.mc.error(EmulationError, f"{s['name']}: cannot read the event's {why}",
                                pc=int(ring["pc"][i]))
        kind = ring["kind"].astype(np.intp)
        pcs = ring["pc"].copy()
        pos = ring["blk_base"].astype(np.int64)
        inside = np.flatnonzero(pcs != ring["blk_addr"])           # events inside a block (rare)
        if len(inside):
            blocks = self.counter.blocks
            triples = np.stack([ring["blk_addr"][inside], ring["blk_size"][inside].astype(np.uint64),
                                pcs[inside]], axis=1)
            uniq, inv = np.unique(triples, axis=0, return_inverse=True)
            add = np.zeros(len(uniq), dtype=np.int64)
            for j, (a, sz, pc) in enumerate(uniq.tolist()):
                addrs = blocks.get((a, sz), ())
                add[j] = addrs.index(pc) if pc in addrs else 0
            pos[inside] += add[inv.reshape(-1)]
        values = []
        for k, spec in enumerate(self.specs):
            sub = ring[kind == k]
            cols = [_le(sub["win"], o, ln) for o, ln in spec.get("fields", ())]
            got = spec["decode"](cols, sub["reg"], sub["deref"])
            values.append(np.stack(got, axis=1) if got else np.zeros((len(sub), 0), dtype=np.uint64))
        self.sink([s["name"] for s in self.specs], [s["keys"] for s in self.specs], kind, pos, pcs, values)

    @staticmethod
    @lru_cache(maxsize=4)
    def _dtype(rsize: int):
        import numpy as np
        return np.dtype({
                "names": ["kind", "status", "blk_base", "blk_addr", "blk_size", "blk_n", "pc", "m", "reg",
                          "deref", "win"],
                "formats": ["<i4", "<u4", "<u8", "<u8", "<u4", "<u4", "<u8", "<u8", "<u8", "<u8", ("u1", 64)],
                "offsets": [0, 4, 8, 16, 24, 28, 32, 40, 48, 56, 64], "itemsize": rsize})


def _le(win, off: int, size: int):
    """Little-endian unsigned integers of ``size`` bytes at ``off`` of every row (uint64)."""
    import numpy as np
    if size in (1, 2, 4, 8):
        return np.ascontiguousarray(win[:, off:off + size]).view(f"<u{size}")[:, 0].astype(np.uint64)
    v = np.zeros(win.shape[0], dtype=np.uint64)
    for i in range(size):
        v |= win[:, off + i].astype(np.uint64) << np.uint64(8 * i)
    return v
