"""The debugger core: stepping, breakpoints, watchpoints and time travel.

``Debugger`` drives a ``Machine`` and returns data (``Stop``, ``Breakpoint``,
dicts of fields); it never prints.  The REPL (emu/repl.py) presents it.

Exact instruction positions.  ``Debugger.n`` is the number of instructions
executed since boot, exactly: runs are bounded with Unicorn's instruction
count, and when a run stops early (a breakpoint hook, an exit, a fault) the
position is Machine.position(): the count at the start of the block being
executed plus the index of the PC inside that block.

Time travel.  The machine is snapshotted (CPU, the pages of memory that
changed, and the Python side of the machine: output, events, GC reports...;
emu/history.py) every ``snap_interval`` instructions and at every stop.
Going to position K restores the latest snapshot at or before K and
re-executes forward exactly K - snapshot instructions with breakpoints muted;
execution is deterministic, so the state is bit-identical to the one first
reached.  Snapshots newer than the one restored are kept (a later search
backwards from there uses them); they are dropped only when the state is
changed by hand (``mutated``).  Under a memory bound the history is thinned
(dense near the present, sparser further back), never cut: a position far
from any snapshot costs more re-execution.
"""
from __future__ import annotations

import bisect
import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from unicorn import UcError

from .errors import EmulationError, GoemuError, UsageError
from .expr import BadExpression, Evaluator, MemoryError_, NoSuchSymbol, Value, struct_fields, value_int
from .history import History
from .machine import Machine
from .unwind import GROWING, on_g0, segment_chain

SNAP_INTERVAL = 10_000
CHUNK = 10_000
SCAN_SPAN = 2_000_000       # the longest replay of one step of a search backwards


class DebuggerError(UsageError):
    """A debugger command cannot be carried out (bad expression, no such
    breakpoint, nothing to go back to...)."""


class ProgramExited(DebuggerError):
    pass


class _Interrupted(Exception):
    """Ctrl-C during a search backwards (internal)."""


@dataclass
class Breakpoint:
    num: int
    kind: str                 # break, tbreak, watch, rwatch, awatch
    addr: int
    spec: str
    size: int = 1
    hits: int = 0
    enabled: bool = True
    handles: list = field(default_factory=list)
    reg: str | None = None    # a watchpoint on a register (``watch $rsp``): checked at every instruction
    _prev: tuple[int, int, int] | None = None   # register watch: (position, value, pc) last seen
    _at: dict = field(default_factory=dict)     # register watch: position -> value seen there

    @property
    def temporary(self) -> bool:
        return self.kind == "tbreak"

    @property
    def is_watch(self) -> bool:
        return self.kind in ("watch", "rwatch", "awatch")


@dataclass
class Stop:
    """Why and where a run stopped."""
    reason: str               # step, breakpoint, watchpoint, exited, finish, until, interrupted,
                              # fault, history-start, budget
    pc: int
    icount: int
    symbol: str = ""
    bp: Breakpoint | None = None
    old: int | None = None    # watchpoints: value before / after the access, in the
    new: int | None = None    # direction of travel (gdb's Old/New: reversed when going back)
    access_pc: int | None = None
    access: str = ""          # watchpoints: "write" or "read"
    exit_status: int | None = None
    error: EmulationError | None = None
    reverse: bool = False     # reached by going back
    also: list = field(default_factory=list)   # other breakpoints hit at the same instruction


@dataclass
class _Hit:
    n: int                    # position of the instruction that hit (before it executes)
    bp: Breakpoint | None
    old: int | None = None
    new: int | None = None
    pc: int = 0
    access: str = ""          # watchpoints: "write" or "read"


class Debugger:
    def __init__(self, mc: Machine, snap_interval: int = SNAP_INTERVAL, budget: int | None = None,
                 history: dict | None = None):
        self.mc = mc
        self.arch = mc.arch
        self.snap_interval = snap_interval
        self.budget = budget if budget is not None else mc.budget
        self.regions = [(a, b - a + 1) for a, b, _p in mc.uc.mem_regions()]
        self.engine = mc.engine
        self.n = mc.icount
        self.breakpoints: dict[int, Breakpoint] = {}
        self._next_bp = 1
        self._muted = False
        self._interrupt = False
        self._call_cache: dict[int, tuple[bool, int, bool]] = {}
        self._hits: list[_Hit] = []
        self._stop_hit: _Hit | None = None
        self._scan_also: list[Breakpoint] = []
        self._internal: list[tuple[int, Callable[[], bool], str]] = []
        self._internal_handles: list = []
        self._trace: list[tuple[int, int, int]] | None = None
        self.last_regs: dict[str, int] = mc.regs()
        self.history = History(mc, snap_interval, **(history or {}))

    # -- exact counting ----------------------------------------------------------------
    def _count_at(self, pc: int) -> int:
        """Exact position of the instruction at ``pc`` inside the current block."""
        return self.engine.position(pc)

    # -- snapshots: emu/history.py (incremental, thinned) -----------------------------------
    def _snapshot(self) -> None:
        self.history.take()

    def _restore_at(self, pos: int) -> None:
        if pos > self.n:
            raise DebuggerError(f"internal: restoring snapshot {pos} ahead of the present {self.n}")
        self.history.restore(pos)
        self.n = pos

    def snapshots(self) -> list[int]:
        return self.history.positions()

    def history_lines(self) -> list[str]:
        """What the history keeps (``info snapshots``)."""
        i = self.history.info()
        ns = self.history.ns
        k = bisect.bisect_right(ns, self.n) - 1
        mib = 1 << 20
        return [
            (f"{i.count} snapshots, instructions {i.first} to {i.last}: one every {i.interval} instructions "
             f"and at every stop, thinned with distance from the present ({i.thinned} removed so far)"),
            (f"memory: {i.bytes / mib:.1f} MiB of a {i.max_bytes / mib:.0f} MiB bound ({i.pages} guest pages "
             f"held); at most {i.max_snapshots} snapshots"),
            (f"largest gap: {i.largest_gap} instructions (reaching a position costs re-executing from the "
             f"snapshot before it)"),
            f"now at instruction {self.n}; nearest snapshot at or before it: {ns[k] if k >= 0 else '-'}",
        ]

    def mutated(self) -> None:
        """The state was changed outside execution (a manual gc, set var): the
        present becomes a new origin of later history; later snapshots are dropped."""
        self.history.truncate(self.n)
        self.history.take()

    # -- running forward exactly: the machine's engine ------------------------------------
    def _run(self, count: int, muted: bool) -> tuple[str, EmulationError | None]:
        """Run at most ``count`` instructions, snapshotting at every multiple of
        ``snap_interval``.  Returns (why, error): why is count, hit, exited,
        fault, interrupted."""
        self._muted = muted
        self._stop_hit = None
        self.engine.set_position(self.n)

        def interrupted() -> bool:
            if self._interrupt and (not muted or self._interruptible):
                self._interrupt = False
                return True
            return False
        try:
            out = self.engine.run(count, boundary=self.snap_interval, on_boundary=self._snapshot_here,
                                  interrupted=interrupted, stopped=lambda: self._stop_hit is not None)
        finally:
            self._muted = False
            self.n = self.engine.n
        return out.why, out.error

    _interruptible = False          # a muted run (goto) that Ctrl-C may stop

    @property
    def _run_start(self) -> int:
        """Position at which the engine's current emu_start began (a hook at
        that very position is the stop being resumed from)."""
        return self.engine.run_start

    @_run_start.setter
    def _run_start(self, n: int) -> None:
        self.engine.run_start = n

    _goto_target: int | None = None

    def _snapshot_here(self) -> None:
        self.n = self.engine.n
        t = self._goto_target
        h = self.history
        if t is not None and self.n not in h.snaps:
            # a long goto: as dense as thinning would keep them once there (rr-like), not denser
            far = (t - self.n) // h.density
            if far > self.snap_interval and self.n - h.before(self.n) < far:
                return
        self._snapshot()

    def goto(self, target: int, interruptible: bool = False) -> None:
        """Put the machine at exact position ``target`` (forward or back).
        ``interruptible``: Ctrl-C (``interrupt``) stops it where it got to
        (``self.n`` says where), as a user's ``goto N`` expects."""
        if target < 0:
            raise DebuggerError("cannot go before the start of the program")
        if target < self.n:
            # Only ever back: the parts' restore (output, events, a trace file) truncates
            # to the snapshot, so a snapshot ahead of the present cannot be jumped to;
            # snapshots ahead are kept for later searches backwards from there.
            self._restore_at(self.history.before(target))
        self._interruptible = interruptible
        self._goto_target = target
        try:
            why, err = self._run(target - self.n, muted=True)
        finally:
            self._interruptible = False
            self._goto_target = None
        if why == "interrupted":
            return
        if self.n != target:
            raise DebuggerError(f"could not reach instruction {target} (stopped at {self.n}: {why}"
                                + (f", {err}" if err else "") + ")")

    # -- hooks for breakpoints ---------------------------------------------------------
    def _code_hit(self, bp: Breakpoint | None, addr: int, cond: Callable[[], bool] | None = None) -> None:
        if self._trace is not None:
            return
        n = self._count_at(addr)
        if n == self._run_start and not self._muted:
            return                      # resuming from this very breakpoint
        if cond is not None and not cond():
            return
        h = _Hit(n, bp, pc=addr)
        if self._muted:
            self._hits.append(h)
            return
        self._stop_hit = h
        self.engine.request_stop()

    def _mem_hit(self, bp: Breakpoint, addr: int, size: int, value: int | None) -> None:
        """A watched access (``value`` is None for a read).  As in gdb, a
        ``watch`` triggers only when a write changes the value; ``awatch`` on
        every read and every write."""
        if self._trace is not None:
            return
        mc = self.mc
        pc = mc.pc
        n = self._count_at(pc)
        lo, hi = max(addr, bp.addr), min(addr + size, bp.addr + bp.size)
        if lo >= hi:
            return
        old = mc.read_uint(bp.addr, bp.size)
        new = None
        if value is not None:
            raw = bytearray(mc.read(bp.addr, bp.size))
            vb = (value & ((1 << 8 * size) - 1)).to_bytes(size, "little")
            raw[lo - bp.addr:hi - bp.addr] = vb[lo - addr:hi - addr]
            new = int.from_bytes(raw, "little")
            if bp.kind == "watch" and new == old:
                return
        h = _Hit(n, bp, old, new, pc, access="read" if value is None else "write")
        if self._muted:
            self._hits.append(h)
            return
        self._stop_hit = h
        self.engine.request_stop()

    def _reg_hit(self, bp: Breakpoint, addr: int) -> None:
        """A register watchpoint, before each instruction: when the register
        differs from its value before the previous instruction, that
        instruction (at position n - 1) wrote it -- a hit, reported as a
        write by that instruction, exactly like a memory watchpoint's."""
        if self._trace is not None:
            return
        n = self._count_at(addr)
        v = self.mc.reg(bp.reg)
        prev = bp._prev
        bp._prev = (n, v, addr)
        if prev is None or prev[0] != n - 1:
            bp._at[n] = v               # the first instruction of a run: remembered for the scan back
        if self._muted:
            # Going back, runs end at snapshot boundaries: the last instruction
            # of an interval is checked against the value seen at the start
            # of the next one (or at the stop it was searched from).
            after = bp._at.get(n + 1)
            if after is not None and after != v:
                self._hits.append(_Hit(n, bp, v, after, addr, access="write"))
        if prev is None or prev[0] != n - 1 or prev[1] == v:
            return
        h = _Hit(n - 1, bp, prev[1], v, prev[2], access="write")
        if self._muted:
            self._hits.append(h)
            if len(self._hits) > 4 * self.snap_interval:
                # a long muted replay (goto) of a register that changes often: a search
                # back only ever wants the latest hits, keep those
                del self._hits[:2 * self.snap_interval]
            return
        if n - 1 < self._run_start:
            return
        self._stop_hit = h
        self.engine.request_stop()

    def _note_watched_registers(self, forget: bool = False) -> None:
        """Remember watched registers' values at the present position (a
        stop); ``forget``: the state changed outside execution, the values
        seen later in the old history no longer hold."""
        for bp in self.breakpoints.values():
            if bp.reg is not None:
                if forget:
                    bp._at = {k: v for k, v in bp._at.items() if k <= self.n}
                bp._at[self.n] = self.mc.reg(bp.reg)

    def _watch_value(self, bp: Breakpoint) -> int:
        return self.mc.reg(bp.reg) if bp.reg is not None else self.mc.read_uint(bp.addr, bp.size)

    def _install(self, bp: Breakpoint) -> None:
        hooks = self.mc.hooks
        if bp.reg is not None:
            bp._prev = None
            bp.handles = [hooks.code(lambda a, _s, bp=bp: self._reg_hit(bp, a), label=f"watch {bp.num}")]
        elif bp.kind == "watch":
            bp.handles = [hooks.mem_write(lambda a, s, v, bp=bp: self._mem_hit(bp, a, s, v),
                                          bp.addr, bp.addr + bp.size - 1, f"watch {bp.num}")]
        elif bp.kind == "rwatch":
            bp.handles = [hooks.mem_read(lambda a, s, bp=bp: self._mem_hit(bp, a, s, None),
                                         bp.addr, bp.addr + bp.size - 1, f"rwatch {bp.num}")]
        elif bp.kind == "awatch":
            bp.handles = [hooks.mem_write(lambda a, s, v, bp=bp: self._mem_hit(bp, a, s, v),
                                          bp.addr, bp.addr + bp.size - 1, f"awatch {bp.num}"),
                          hooks.mem_read(lambda a, s, bp=bp: self._mem_hit(bp, a, s, None),
                                         bp.addr, bp.addr + bp.size - 1, f"awatch {bp.num}")]
        else:
            bp.handles = [hooks.at(bp.addr, lambda a, bp=bp: self._code_hit(bp, a), f"break {bp.num}")]

    def _uninstall(self, bp: Breakpoint) -> None:
        for h in bp.handles:
            self.mc.hooks.remove(h)
        bp.handles = []

    # -- breakpoints -------------------------------------------------------------------
    def resolve(self, spec: str) -> int:
        """An address from ``sym``, ``sym+off``, ``0x...`` or ``*expr``."""
        spec = spec.strip().lstrip("*")
        return self.eval(spec)

    def add_break(self, spec: str, temporary: bool = False) -> Breakpoint:
        addr = self.resolve(spec)
        bp = Breakpoint(self._next_bp, "tbreak" if temporary else "break", addr, spec.strip())
        self._next_bp += 1
        self._install(bp)
        self.breakpoints[bp.num] = bp
        return bp

    def add_watch(self, expr: str, read: bool = False, kind: str | None = None) -> Breakpoint:
        """``kind``: watch (a write that changes the value), rwatch (a read),
        awatch (a read or a write)."""
        kind = kind or ("rwatch" if read else "watch")
        if kind not in ("watch", "rwatch", "awatch"):
            raise DebuggerError(f"no watchpoint kind {kind!r}")
        v = self.evaluate(expr)
        if v.reg is not None:
            if kind != "watch":
                raise DebuggerError(f"{kind} on a register is not supported: registers are not read by "
                                    "address (use watch)")
            bp = Breakpoint(self._next_bp, kind, 0, expr.strip(), self.arch.ptrsize, reg=v.reg)
        else:
            addr, size = self.lvalue(expr)
            self._read(addr, size)          # an unmapped address is refused now, not at the first access
            bp = Breakpoint(self._next_bp, kind, addr, expr.strip(), size)
        self._next_bp += 1
        self._install(bp)
        self.breakpoints[bp.num] = bp
        return bp

    def delete(self, num: int | None = None) -> list[int]:
        nums = list(self.breakpoints) if num is None else [num]
        for k in nums:
            bp = self.breakpoints.pop(k, None)
            if bp is None:
                raise DebuggerError(f"no breakpoint number {k}")
            self._uninstall(bp)
        return nums

    # -- running -----------------------------------------------------------------------
    def interrupt(self) -> None:
        """Ask a running command (a forward run, or a search backwards) to
        stop at the next chunk boundary (Ctrl-C)."""
        self._interrupt = True

    def clear_interrupt(self) -> None:
        self._interrupt = False

    def _stop(self, reason: str, hit: _Hit | None = None, err: EmulationError | None = None) -> Stop:
        mc = self.mc
        self._snapshot()        # every stop is a snapshot: stepping back from here is cheap
        pc = mc.pc
        self._note_watched_registers()
        st = Stop(reason, pc, self.n, mc.symbolize(pc), error=err)
        if mc.exited:
            st.reason, st.exit_status = ("exited" if reason != "history-start" else reason), mc.exit_status
        if hit is not None:
            st.bp, st.old, st.new, st.access_pc, st.access = hit.bp, hit.old, hit.new, hit.pc, hit.access
        return st

    def check_running(self) -> None:
        if self.mc.exited:
            raise ProgramExited(f"the program has exited with status {self.mc.exit_status}")

    def _forward(self, limit: int | None, internal: list[tuple[int, Callable[[], bool] | None]] = (),
                 reason_count: str = "step", use_bps: bool = True) -> Stop:
        """Run forward until a breakpoint, an internal stop, an exit or ``limit``
        instructions."""
        self.check_running()
        handles = []
        saved = []
        if not use_bps:
            for bp in self.breakpoints.values():
                saved.append(bp)
                self._uninstall(bp)
        for addr, cond in internal:
            handles.append(self.mc.hooks.at(addr, lambda a, c=cond: self._code_hit(None, a, c), "internal"))
        try:
            budget = limit if limit is not None else self.budget
            why, err = self._run(budget, muted=False)
        finally:
            for h in handles:
                self.mc.hooks.remove(h)
            for bp in saved:
                self._install(bp)
        if why == "fault":
            return self._stop("fault", err=err)
        if why == "interrupted":
            return self._stop("interrupted")
        if why == "exited":
            return self._stop("exited")
        if why == "hit":
            hit = self._stop_hit
            if hit.bp is not None and hit.bp.is_watch:
                # The access happened inside the instruction: land just after it.
                self.goto(hit.n + 1)
                if hit.access == "write":
                    hit.new = self._watch_value(hit.bp)
                else:
                    hit.new = hit.old
            if hit.bp is not None:
                hit.bp.hits += 1
                st = self._stop("watchpoint" if hit.bp.is_watch else "breakpoint", hit)
                if hit.bp.temporary:
                    self.delete(hit.bp.num)
                return st
            return self._stop("until", hit)
        if limit is None:
            return self._stop("budget")
        return self._stop(reason_count)

    def stepi(self, count: int = 1) -> Stop:
        return self._forward(count, use_bps=False)

    def cont(self) -> Stop:
        return self._forward(None)

    def run_until(self, addr: int, cond: Callable[[], bool] | None = None) -> Stop:
        return self._forward(None, [(addr, cond)])

    def until_split(self) -> Stop:
        return self.run_until(self.mc.image.symbols["morestack"])

    def until_unsplit(self) -> Stop:
        return self.run_until(self.mc.image.symbols["lessstack"])

    def _is_call(self, pc: int) -> tuple[bool, int]:
        """(is a call instruction, its fall-through address)."""
        info = self._call_info(pc)
        return info[0], info[1]

    def _call_info(self, pc: int) -> tuple[bool, int, bool]:
        """(is a call, fall-through address, calls morestack).  A call of
        morestack (or one of its trampolines) "returns" to its fall-through
        on the new segment: newstack resumes the function there (m->morepc)
        with sp on the new segment, so it is not matched by sp."""
        hit = self._call_cache.get(pc)
        if hit is not None:
            return hit
        ins = self.mc.disasm(pc, 1)
        res = (False, 0, False)
        if ins:
            _a, text, raw = ins[0]
            mn, _, ops = text.partition(" ")
            if self.mc.arch.is_call(mn):
                more = False
                try:
                    target = int(ops.strip().lstrip("#"), 0)
                    f = self.mc.image.func_at(target)
                    more = f is not None and f.name.startswith("morestack")
                except ValueError:
                    pass            # an indirect call
                res = (True, pc + len(raw), more)
        self._call_cache[pc] = res
        return res

    # Runtime functions a call never comes back from: the goroutine resumes
    # elsewhere (newstack: in the function growing its stack; oldstack: in
    # the caller of the frame that returned through lessstack).
    _NO_RETURN = ("newstack", "oldstack", "gogo", "gogocall")

    def _resume_point(self) -> tuple[int, int | None] | None:
        """Where the goroutine resumes when the runtime code running now (a
        split or an unsplit) is done: (pc, sp), sp None when it resumes on a
        segment not known yet (a split: the new segment)."""
        for f in self.backtrace(limit=8)[1:]:
            if f.segment is None:
                continue                # another g0 frame
            if f.note.startswith(GROWING):
                return f.pc, None
            return f.pc, f.sp
        return None

    def _calls_no_return(self, pc: int) -> bool:
        ins = self.mc.disasm(pc, 1)
        if not ins:
            return False
        tgt = self.branch_target(ins[0][1])
        f = self.function_bounds(tgt) if tgt is not None else None
        return f is not None and f[0] in self._NO_RETURN

    def nexti(self, count: int = 1) -> Stop:
        """One instruction, stepping over calls.  A call that never returns
        (lessstack's call of oldstack, morestack's of newstack) is stepped
        over to where the goroutine resumes."""
        st = None
        for _ in range(count):
            call, nxt, more = self._call_info(self.mc.pc)
            if call and self._calls_no_return(self.mc.pc):
                rp = self._resume_point()
                if rp is None:
                    st = self.stepi(1)
                else:
                    rpc, rsp = rp
                    st = self._forward(None, [(rpc, (lambda: True) if rsp is None
                                               else (lambda rsp=rsp: self.mc.sp == rsp))])
                    if st.reason == "until":
                        st.reason = "step"
            elif call:
                sp = self.mc.sp
                st = self._forward(None, [(nxt, (lambda: True) if more else (lambda sp=sp: self.mc.sp == sp))])
                if st.reason == "until":
                    st.reason = "step"
            else:
                st = self.stepi(1)
            if st.reason != "step":
                return st
        return st

    def finish(self, frame: int = 0) -> Stop:
        """Run until the current function returns to its caller (across
        lessstack: the caller resumes on the older segment).  In a split
        (morestack, newstack and what they call, gogocall), until the
        function growing its stack resumes on its new segment; in an unsplit
        (lessstack, oldstack, gogo), until the caller resumes."""
        self.check_running()
        bt = self.backtrace(limit=frame + 2)
        if len(bt) < frame + 2:
            raise DebuggerError('"finish" not meaningful in the outermost frame')
        caller = bt[frame + 1]       # ``frame``: the selected frame (up/down), as gdb's finish
        if caller.note.startswith(GROWING):
            st = self.run_until(caller.pc)
        else:
            st = self.run_until(caller.pc, lambda: self.mc.sp == caller.sp)
        if st.reason == "until":
            st.reason = "finish"
        return st

    # -- going back --------------------------------------------------------------------
    def reverse_stepi(self, count: int = 1) -> Stop:
        if self.n == 0:
            raise DebuggerError("no more reverse-execution history")
        target = max(0, self.n - count)
        self.goto(target)
        return self._stop("history-start" if target == 0 else "step")

    def _scan_back(self, want: Callable[[_Hit], bool] | None = None,
                   trace_pred: Callable[[int, int], bool] | None = None) -> _Hit | None:
        """The latest hit before the current position: a breakpoint/watchpoint
        hit (``want``) or an instruction whose (pc, sp) satisfies
        ``trace_pred``.  Replays snapshot intervals backwards, newest first;
        Ctrl-C (``interrupt``) stops the search between two intervals, leaving
        the machine at the oldest position searched, and raises _Interrupted."""
        end = self.n
        span = self.snap_interval
        while end > 0:
            if self._interrupt:
                self._interrupt = False
                self.goto(end)
                raise _Interrupted()
            ns = self.history.ns
            # replay spans that double in length (fewer restores over a long search),
            # from the latest snapshot at or before end - span
            k = bisect.bisect_right(ns, max(0, end - span)) - 1
            k = max(k, 0)
            start = ns[k]
            if start >= end:
                break
            self._restore_at(start)
            self._hits = []
            h = None
            if trace_pred is not None:
                mc = self.mc
                pcs: list[_Hit] = []
                def tr(addr: int, _size: int, mc=mc, pcs=pcs) -> None:
                    if trace_pred(addr, mc.sp):
                        pcs.append(_Hit(self._count_at(addr), None, pc=addr))
                h = mc.hooks.code(tr, label="reverse-scan")
            try:
                self._run(end - start, muted=True)
            finally:
                if h is not None:
                    self.mc.hooks.remove(h)
            cands = [x for x in (pcs if trace_pred is not None else self._hits)
                     if start <= x.n < end and (want is None or want(x))]
            self._hits = []
            if cands:
                last = max(x.n for x in cands)
                same = [x for x in cands if x.n == last]
                # a watchpoint before a breakpoint at the same instruction: it is the more specific stop
                same.sort(key=lambda x: not (x.bp is not None and x.bp.is_watch))
                best = same[0]
                best_also = [x.bp for x in same[1:] if x.bp is not None and x.bp is not best.bp]
                self._scan_also = best_also
                return best
            end = start
            if trace_pred is None:          # a Python hook on every instruction: keep its replays short
                span = min(2 * span, SCAN_SPAN)
        return None

    def _interrupted_stop(self) -> Stop:
        st = self._stop("interrupted")
        st.reverse = True
        return st

    def reverse_continue(self) -> Stop:
        """Back to the latest breakpoint or watchpoint hit before now, as gdb's
        reverse-continue: a breakpoint stops on its instruction; a ``watch``
        stops on the instruction whose store changed the value (the store not
        yet done: Old value = the value it wrote, New value = the value before);
        ``rwatch``/``awatch`` on the reading instruction."""
        if self.n == 0:
            raise DebuggerError("no more reverse-execution history")
        self._scan_also = []
        if not self.breakpoints:
            self.goto(0)
            return self._stop("history-start")
        try:
            hit = self._scan_back()
        except _Interrupted:
            return self._interrupted_stop()
        if hit is None:
            self.goto(0)
            return self._stop("history-start")
        self.goto(hit.n)
        hit.bp.hits += 1
        if hit.access == "write":
            hit.old, hit.new = hit.new, hit.old
        st = self._stop("watchpoint" if hit.bp.is_watch else "breakpoint", hit)
        st.reverse = True
        st.also = list(self._scan_also)
        for bp in st.also:
            bp.hits += 1
        return st

    def reverse_finish(self, frame: int = 0) -> Stop:
        """Back to the call instruction that entered the current function (or
        the selected ``frame``'s, as gdb's reverse-finish after up)."""
        bt = self.backtrace(limit=frame + 2)
        if len(bt) < frame + 2:
            raise DebuggerError('"reverse-finish" not meaningful in the outermost frame')
        caller = bt[frame + 1]
        def pred(pc: int, sp: int) -> bool:
            if sp != caller.sp:
                return False
            call, nxt = self._is_call(pc)
            return call and nxt == caller.pc
        here = self.n
        try:
            hit = self._scan_back(trace_pred=pred)
        except _Interrupted:
            return self._interrupted_stop()
        if hit is None:
            self.goto(here)             # the search replayed older history: stay where we were
            raise DebuggerError("could not find the call of this frame in the history")
        self.goto(hit.n)
        st = self._stop("finish")
        st.reverse = True
        return st

    def _call_returning_here(self) -> int | None:
        """If the current instruction was reached by returning from a call
        (directly, or through lessstack and gogo after a split), the position
        of that call instruction; else None.

        The call is the latest instruction before now that is a call whose
        fall-through address is the current pc, with the current sp (a call
        and its return leave sp as it was, on both architectures; lessstack
        resumes the caller on its own segment with its own sp).  If this very
        (pc, sp) was reached again after that call, the call had already
        returned and we came here some other way (a jump back in a loop)."""
        pc_h, sp_h = self.mc.pc, self.mc.sp
        def pred(pc: int, sp: int) -> bool:
            if pc == pc_h:
                return sp == sp_h
            call, nxt, more = self._call_info(pc)
            return call and nxt == pc_h and (sp == sp_h or more)
        here = self.n
        hit = self._scan_back(trace_pred=pred)
        if hit is None or hit.pc == pc_h:
            return None
        return hit.n if hit.n < here - 1 else None

    def reverse_nexti(self, count: int = 1) -> Stop:
        """Back one instruction in this frame, as gdb's reverse-nexti: when the
        instruction executed before this one returned from a call made in this
        frame, land on that call instruction (the whole call is stepped over
        backwards, through any stack split it made)."""
        st = None
        for _ in range(count):
            if self.n == 0:
                if st is not None:
                    return self._stop("history-start")
                raise DebuggerError("no more reverse-execution history")
            here = self.n
            try:
                call = self._call_returning_here()
            except _Interrupted:
                return self._interrupted_stop()
            self.goto(call if call is not None else here - 1)
            st = self._stop("history-start" if self.n == 0 else "step")
            st.reverse = True
        return st

    # -- state fingerprint -------------------------------------------------------------
    def state_hash(self) -> str:
        mc = self.mc
        h = hashlib.sha256()
        for name in sorted(mc.arch.regs):
            h.update(name.encode() + mc.reg(name).to_bytes(16, "little"))
        for addr, size in self.regions:
            h.update(bytes(mc.uc.mem_read(addr, size)))
        return h.hexdigest()

    # -- expressions (emu/expr.py) -----------------------------------------------------
    def evaluate(self, expr: str, frame: int = 0) -> Value:
        """A typed value (emu.expr.Value) for a C-like expression.  An
        assignment in it (``p x = 1``) changes the state: the present becomes
        a new origin of history, as after ``set var``.  ``frame``: in an outer
        frame of the backtrace, $pc and $sp are that frame's."""
        regs = None
        if frame:
            f = self.backtrace(limit=frame + 1)[frame]
            regs = {self.arch.pc: f.pc, self.arch.sp: f.sp}
        ev = Evaluator(self.mc, expr, regs)
        v = ev.parse()
        if getattr(ev, "stored", False):
            self.mutated()
            self._note_watched_registers(forget=True)
        return v

    def lvalue(self, expr: str) -> tuple[int, int]:
        """(address, size) of a watchable expression: a struct field, a
        global, ``*ADDR`` (a word) or any expression in memory."""
        e = expr.strip()
        v = self.evaluate(e)
        if v.reg is not None:
            raise BadExpression(f"{e} is a register, not memory")
        if v.addr is None:
            if e.startswith("*"):
                raise BadExpression(f"cannot watch {e}: not an lvalue")
            # an address: the word there (``watch 0x63f238``)
            return value_int(self.mc, v), self.arch.ptrsize
        return v.addr, v.type.size

    def eval(self, expr: str, frame: int = 0) -> int:
        """A number from any expression (``0x10*4``, ``$sp-16``, ``m->cret``,
        ``sym+8``); an aggregate stands for its address."""
        return value_int(self.mc, self.evaluate(expr, frame))

    def print_value(self, expr: str) -> tuple[str, object]:
        """("int", value) or ("struct", (name, addr, {field: value})); the REPL
        prints from ``evaluate`` (typed) instead."""
        v = self.evaluate(expr)
        if v.type.kind in ("struct", "array"):
            name = str(v.type)
            return "struct", (name, v.addr, struct_fields(self.mc, v))
        return "int", value_int(self.mc, v)

    def set_var(self, expr: str) -> int:
        """``set var LHS = RHS``: writes memory or a register.  The present
        becomes a new origin of history (as after a manual gc)."""
        if "=" not in expr.replace("==", "").replace("!=", "").replace("<=", "").replace(">=", ""):
            raise BadExpression("set var needs an assignment: set var EXPR = VALUE")
        return value_int(self.mc, self.evaluate(expr))

    # -- looking -----------------------------------------------------------------------
    def backtrace(self, limit: int = 64) -> list:
        return self.mc.backtrace(limit)

    def examine(self, addr: int, count: int, unit: int) -> list[tuple[int, list[int]]]:
        """Rows of (address, values) for x/N{b,h,w,g}."""
        raw = self._read(addr, count * unit)
        vals = [int.from_bytes(raw[i * unit:(i + 1) * unit], "little") for i in range(count)]
        per = {1: 8, 2: 8, 4: 4, 8: 2}[unit]
        return [(addr + i * unit, vals[i:i + per]) for i in range(0, count, per)]

    def _read(self, addr: int, n: int) -> bytes:
        try:
            return self.mc.read(addr, n)
        except UcError:
            raise MemoryError_(addr) from None

    def strings(self, addr: int, count: int, limit: int = 200) -> list[tuple[int, str]]:
        """x/s: ``count`` NUL-terminated strings from addr, as (address, text)
        without the NUL (at most ``limit`` bytes each, as gdb's print elements;
        bytes decoded as Latin-1, one character per byte)."""
        out = []
        for _ in range(count):
            raw = bytearray()
            a = addr
            while len(raw) < limit:
                try:
                    chunk = self.mc.read(a, 1)
                except UcError:
                    if not raw:
                        raise MemoryError_(a) from None
                    break
                if chunk == b"\0":
                    break
                raw += chunk
                a += 1
            out.append((addr, bytes(raw).decode("latin-1")))
            addr += len(raw) + 1
        return out

    def function_bounds(self, addr: int) -> tuple[str, int, int] | None:
        """(name, start, end) of the goasm or C function containing addr."""
        f = self.mc.image.func_at(addr)
        if f is not None:
            return f.name, f.addr, f.end
        if getattr(self, "_cfuncs", None) is None:
            self._cfuncs = self.mc.image.code_functions()
        for name, start, size in self._cfuncs:
            if start <= addr < start + size:
                return name, start, start + size
        return None

    def disassemble(self, addr: int | None = None, count: int | None = None) -> tuple[str, list]:
        """(function name, [(addr, text, bytes)]) — the whole function (goasm
        or C) at addr (or pc), or ``count`` instructions from addr."""
        mc = self.mc
        addr = mc.pc if addr is None else addr
        if count is not None:
            ins = mc.disasm(addr, count)
            if not ins:
                raise MemoryError_(addr)
            return mc.symbolize(addr), ins
        fb = self.function_bounds(addr)
        if fb is None:
            raise DebuggerError(f"No function contains specified address {addr:#x}.")
        name, start, end = fb
        out, a = [], start
        while a < end:
            ins = mc.disasm(a, 1)
            if not ins:
                break
            out.append(ins[0])
            a += len(ins[0][2])
        return name, out

    _BRANCH = re.compile(r"^(call|j[a-z]+|loop\w*|b|bl|blx|b[a-z]{2}|bl[a-z]{2}|cbn?z)$")

    def branch_target(self, text: str) -> int | None:
        """The immediate target of a branch or call instruction's text, else None."""
        mn, _, ops = text.partition(" ")
        if not self._BRANCH.match(mn):
            return None
        op = ops.split(",")[-1].strip().lstrip("#")
        try:
            return int(op, 0)
        except ValueError:
            return None

    def stack_segments(self) -> list[dict]:
        """The goroutine's segment chain, newest first."""
        mc = self.mc
        g = mc.g
        g0_now = on_g0(mc)
        if g0_now:
            g = mc.field("M", mc.m, "curg")
        if not g:
            return []
        SG = mc.layouts.constants.get("StackGuard", 0)
        out = []
        guard, base = mc.field("G", g, "stackguard"), mc.field("G", g, "stackbase")
        sp = None if g0_now else mc.sp
        tops = segment_chain(mc, g)
        for i, top in enumerate(tops):
            st = mc.struct("Stktop", top)
            lo = guard - SG
            seg_sp = sp if i == 0 else mc.field("Stktop", tops[i - 1], "gobuf.sp")
            out.append(dict(index=len(tops) - i, lo=lo, hi=base + mc.layouts["Stktop"].size,
                            stackguard=guard, stackbase=base, stktop=top, fields=st, sp=seg_sp,
                            free=(seg_sp - lo) if seg_sp is not None and lo <= seg_sp <= base else None,
                            current=(i == 0)))
            guard, base = st["stackguard"], st["stackbase"]
        if not tops:
            out.append(dict(index=0, lo=guard - SG, hi=base, stackguard=guard, stackbase=base, stktop=None,
                            fields={}, sp=sp, free=None, current=True))
        return out

    def changed_registers(self) -> tuple[dict[str, int], set[str]]:
        now = self.mc.regs()
        changed = {k for k, v in now.items() if self.last_regs.get(k) != v}
        return now, changed

    def mark_seen(self) -> None:
        self.last_regs = self.mc.regs()

    def stack_words(self, count: int = 8) -> list[tuple[int, int]]:
        sp, ps = self.mc.sp, self.arch.ptrsize
        out = []
        for i in range(count):
            try:
                out.append((sp + i * ps, self.mc.read_ptr(sp + i * ps)))
            except UcError:
                break
        return out

    # -- the collector -----------------------------------------------------------------
    def gc(self):
        from .gc import collect
        rep = collect(self.mc, self.mc.sp)
        self.mutated()
        self._note_watched_registers(forget=True)
        return rep

    def why(self, addr: int):
        """(kind, ObjectInfo) for the object containing ``addr`` in the last
        collection report: kind is retained or freed."""
        from .gc import reports_of
        reps = reports_of(self.mc)
        if not reps:
            raise DebuggerError("no collection has run yet (use gc)")
        rep = reps[-1]
        for kind, objs in (("retained", rep.retained), ("freed", rep.freed)):
            for o in objs:
                if o.addr <= addr < o.addr + o.size:
                    return kind, o, rep
        raise DebuggerError(f"{addr:#x} is not a heap object in collection #{rep.index}")

    # -- for the gdb stub (emu/gdbstub) ------------------------------------------------
    def add_watch_range(self, addr: int, size: int, kind: str = "watch") -> Breakpoint:
        """A watchpoint on the raw byte range [addr, addr+size) (gdb's Z2/Z3/Z4
        packets give an address and a length, not an expression).  ``kind``
        as in add_watch; the Stop's ``bp.addr`` is ``addr``."""
        if kind not in ("watch", "rwatch", "awatch"):
            raise DebuggerError(f"no watchpoint kind {kind!r}")
        if size <= 0:
            raise DebuggerError(f"a watchpoint needs a length, not {size}")
        self._read(addr, size)          # an unmapped range is refused now
        bp = Breakpoint(self._next_bp, kind, addr, f"*{addr:#x}@{size}", size)
        self._next_bp += 1
        self._install(bp)
        self.breakpoints[bp.num] = bp
        return bp

    def stepi_watching(self) -> Stop:
        """One instruction with breakpoints and watchpoints armed: a
        watchpoint the instruction triggers is reported (reason
        ``watchpoint``, as a continue would), as a hardware single-step does
        for gdb.  ``stepi`` ignores them."""
        return self._forward(1)


def new_debugger(arch: str, variant: str, unit, budget: int | None = None,
                 snap_interval: int = SNAP_INTERVAL, history: dict | None = None) -> Debugger:
    """``history``: the bounds of emu.history.History (max_bytes, max_snapshots)."""
    from .machine import DEFAULT_BUDGET
    from .run import new_machine
    mc = new_machine(arch, variant, unit, budget or DEFAULT_BUDGET)
    return Debugger(mc, snap_interval=snap_interval, budget=budget, history=history)


__all__ = [
    "BadExpression",
    "Breakpoint",
    "Debugger",
    "DebuggerError",
    "GoemuError",
    "NoSuchSymbol",
    "ProgramExited",
    "Stop",
    "new_debugger",
]
