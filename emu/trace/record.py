"""The trace recorder: one record per executed instruction.

Registers are read in one ``uc_reg_read_batch`` call per instruction through
Unicorn's shared library (preallocated id/pointer/value arrays), not one
binding call per register.  A record is completed at the next instruction's
code hook (or when the run stops), so its registers are the state *after*
the instruction; memory accesses are collected by the mem hooks while the
instruction runs (a write's value comes from the hook's arguments, since
memory still holds the old value).  Records go straight to a sink
(native or tenet writer): memory use is constant.

Windows: with ``start`` (--from) recording begins at the first execution of
that address, which is record 0; with ``stop`` (--to) recording and the run
end at the first execution of that address after recording began, which is
not recorded (so start == stop records one entry up to the next one).
Runtime events (split, lessstack, unsplit, gc, exit) are attached to the
record of the instruction at which the machine published them.
"""
from __future__ import annotations

import copy
import ctypes

from unicorn.unicorn_py3.unicorn import uclib

from ..errors import GoemuError
from . import native as _fmt  # _fmt.CHUNK read at run time (tests make chunks small)

_SINK_LIVE = ("f", "_queue", "_worker", "_error")   # a sink's fields that are not its position


def _save_sink(sink) -> tuple:
    """A sink's position: its file offset (after any background writes) and its buffered chunk."""
    if hasattr(sink, "sync"):
        sink.sync()
    f = getattr(sink, "f", None)
    try:
        pos = f.tell() if f is not None else None
    except (OSError, ValueError):
        pos = None
    return pos, {k: copy.copy(v) for k, v in vars(sink).items() if k not in _SINK_LIVE}


def _restore_sink(sink, saved: tuple) -> None:
    pos, fields = saved
    f = getattr(sink, "f", None)
    if f is not None:
        if pos is None:
            from ..engine import EngineError
            raise EngineError("the trace is written to a stream that cannot be rewound")
        f.seek(pos)
        f.truncate()
    for k, v in fields.items():
        setattr(sink, k, copy.copy(v))


class _StopTrace(Exception):
    """Raised inside a hook to end the run once --max-insns records are written."""


def _jsonable(x):
    if isinstance(x, (int, float, str, bool)) or x is None:
        return x
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if hasattr(x, "freed") and hasattr(x, "retained"):       # emu.gc.GcReport
        def obj(o):
            d = {"addr": o.addr, "size": o.size}
            if getattr(o, "root", None) is not None:
                d.update(root=o.root, root_addr=o.root_addr, path=o.path_text())
            return d
        return {"index": x.index, "heap_before": x.heap_before, "heap_after": x.heap_after,
                "freed": [obj(o) for o in x.freed], "retained": [obj(o) for o in x.retained]}
    if hasattr(x, "to_json"):
        return _jsonable(x.to_json())
    return str(x)


def data_names(mc) -> list[list]:
    """[addr, size, name] for the fields of m0 and g0 (``m0.cret``), for reports."""
    out = []
    for sym, struct in (("m0", "M"), ("g0", "G")):
        base = mc.image.symbols.get(sym)
        if base is None:
            continue
        L = mc.layouts[struct]
        for f in L.leaves:
            out.append([base + f.offset, f.size, f"{sym}.{f.path}"])
    return out


def _functions(mc) -> list[list]:
    return [list(f) for f in mc.image.code_functions()]


def header_of(mc, program: str) -> dict:
    a = mc.arch
    names = list(a.regs)
    return {
        "format": "goemu-trace", "version": 1, "arch": a.name, "variant": mc.image.variant,
        "program": program, "registers": names, "pc": a.pc, "sp": a.sp, "flags": a.flags,
        "ptrsize": a.ptrsize,
        "initial": [mc.uc.reg_read(r) for r in a.regs.values()],
        "functions": _functions(mc),
        "data_names": data_names(mc),
    }


def _cycles_header(acct) -> dict:
    from ..cycles.account import PHASES
    return {"core": acct.core.name, "phases": list(PHASES), "dcache_model": acct.dcache}


class Recorder:
    """The trace recorder.  ``Recorder(...)`` gives a :class:`NativeRecorder`
    (the C hooks of emu/native/hooks.c) when the machine runs on the native
    engine, the sink is the native format and the cycle account, if any, can
    run in C (a fresh, unattached account whose tables fit); otherwise this class, the Python reference (one Python code hook per
    instruction).  ``native=False`` asks for the reference, ``native=True``
    for the C recorder (an EngineError if it cannot be used)."""

    def __new__(cls, mc, sink, program: str = "<program>", start: int | None = None,
                stop: int | None = None, max_records: int | None = None, account=None,
                native: bool | None = None):
        if cls is Recorder:
            why = NativeRecorder.unusable(mc, sink, account)
            if native and why:
                from ..engine import EngineError
                raise EngineError(f"the native trace recorder cannot be used: {why}")
            if native is None:
                native = why is None
            return object.__new__(NativeRecorder if native else Recorder)
        return object.__new__(cls)

    def __init__(self, mc, sink, program: str = "<program>", start: int | None = None,
                 stop: int | None = None, max_records: int | None = None, account=None,
                 native: bool | None = None):
        self.mc, self.sink = mc, sink
        self.account = account          # an emu.cycles.account.CycleAccount: records carry cycles
        self.pending_cycles: tuple[int, str, str | None] | None = None
        self.program = program
        self.start_pc, self.stop_pc = start, stop
        self.max_records = max_records
        a = mc.arch
        self.names = list(a.regs)
        n = len(self.names)
        self.pc_idx = self.names.index(a.pc)
        self._ids = (ctypes.c_int * n)(*a.regs.values())
        self._vals = (ctypes.c_uint64 * n)()
        self._ptrs = (ctypes.c_void_p * n)(*[ctypes.addressof(self._vals) + 8 * i for i in range(n)])
        self._n = n
        self._uch = mc.uc._uch
        self._batch = uclib.uc_reg_read_batch
        self.active = start is None
        self.done = False
        self.count = 0
        self.prev: list[int] | None = None
        self.pending_pc: int | None = None
        self.mem: list = []
        self.events: list = []
        self.queued: list = []
        self.seen: set[int] = set()
        self.done_reason = "end"        # end of the run, "max" (max_records) or "to" (--to reached)
        self._handles = []

    # -- wiring -------------------------------------------------------------------
    def attach(self) -> Recorder:
        mc = self.mc
        header = header_of(mc, self.program)
        acct = self.account
        if acct is not None:
            acct.tap = True
            acct.attach()       # its block hook must be installed before the recorder's code hook
            header["cycles"] = _cycles_header(acct)
        self.sink.begin(header)
        h = mc.hooks
        self._handles = [h.code(self._on_code, label="trace"), h.mem_write(self._on_write, label="trace"),
                         h.mem_read(self._on_read, label="trace")]
        for kind in ("split", "unsplit", "lessstack", "gc", "exit"):
            mc.on(kind, self._on_event)
        engine = getattr(mc, "engine", None)
        if engine is not None:
            engine.register(self._part, self.save_state, self.restore_state)
        return self

    # -- the state that travels back in time (emu/engine.py's contract) -------------------
    @property
    def _part(self) -> str:
        return f"trace@{id(self):x}"

    def save_state(self) -> tuple:
        """The recorder's position and its sink's: the file offset and the
        sink's buffered (not yet written) records."""
        return (self.active, self.done, self.done_reason, self.count, self.prev, self.pending_pc,
                self.pending_cycles, list(self.mem), list(self.events), list(self.queued), set(self.seen),
                _save_sink(self.sink))

    def restore_state(self, st: tuple) -> None:
        (self.active, self.done, self.done_reason, self.count, self.prev, self.pending_pc, self.pending_cycles,
         mem, events, queued, seen, sink) = st
        self.mem, self.events, self.queued, self.seen = list(mem), list(events), list(queued), set(seen)
        _restore_sink(self.sink, sink)

    def run(self) -> None:
        """mc.run() with the recorder attached; finishes the trace either way."""
        try:
            self.mc.run()
        except _StopTrace:
            pass
        finally:
            self.finish()

    def finish(self) -> None:
        if self.done:
            return
        if self.pending_pc is not None:
            self.max_records = None     # the run is over: reaching the limit here stops nothing
            self._complete(self._read())
        self.done = True
        for hd in self._handles:
            self.mc.hooks.remove(hd)
        engine = getattr(self.mc, "engine", None)
        if engine is not None:
            engine.unregister(self._part)
        self.sink.close()

    # -- hooks --------------------------------------------------------------------
    def _read(self) -> list[int]:
        if self._batch(self._uch, self._ids, self._ptrs, self._n):
            raise GoemuError("uc_reg_read_batch failed")
        return self._vals[:]

    def _complete(self, cur: list[int]) -> None:
        prev = self.prev
        pci = self.pc_idx
        if prev is None:
            changed = [(i, v) for i, v in enumerate(cur) if i != pci]
        else:
            changed = [(i, v) for i, (v, p) in enumerate(zip(cur, prev)) if v != p and i != pci]
        cyc = self.pending_cycles
        if cyc is not None:
            cyc = (cyc[0] + self.account.take_late(), cyc[1], cyc[2])
        self.sink.record(self.count, self.pending_pc, changed, self.mem, self.events, cyc)
        self.count += 1
        self.prev = cur
        self.pending_pc = None
        self.mem, self.events = [], []
        if self.max_records is not None and self.count >= self.max_records:
            self.active = False
            self.done_reason = "max"
            raise _StopTrace()

    def _on_code(self, addr: int, size: int) -> None:
        if not self.active:
            if self.done or self.start_pc is None or addr != self.start_pc:
                return
            self.active = True              # --from: the first entry to the symbol is recorded
            if self.account is not None:
                self.account.take_late()    # penalties of unrecorded instructions
        elif self.stop_pc is not None and addr == self.stop_pc:
            # --to: stop on reaching the symbol's entry (not recorded); the run ends here
            if self.pending_pc is not None:
                self._complete(self._read())
            self.active = False
            self.done_reason = "to"
            raise _StopTrace()
        if self.pending_pc is not None:
            self._complete(self._read())
        elif self.prev is None:
            self.sink.first_state(self._read())   # registers before the first recorded instruction
        if addr not in self.seen:
            self.seen.add(addr)
            d = self.mc.disasm(addr, 1)
            raw, text = (d[0][2], d[0][1]) if d else (bytes(self.mc.read(addr, size)), "(bad)")
            self.sink.code_entry(addr, raw, text, self.mc.symbolize(addr))
        self.pending_pc = addr
        if self.account is not None:
            self.pending_cycles = self.account.insn_start(addr)
        if self.queued:
            self.events, self.queued = self.queued, []

    def _on_write(self, addr: int, size: int, value: int) -> None:
        if self.pending_pc is not None:
            self.mem.append((1, addr, size, (value & ((1 << (8 * size)) - 1)).to_bytes(size, "little")))

    def _on_read(self, addr: int, size: int) -> None:
        if self.pending_pc is not None:
            self.mem.append((0, addr, size, bytes(self.mc.uc.mem_read(addr, size))))

    def _on_event(self, ev) -> None:
        if not self.active:
            # an event published at the --from instruction before the code hook saw it
            if not self.done and self.start_pc is not None and ev.pc == self.start_pc and self.prev is None:
                self.queued.append((ev.kind, _jsonable(dict(ev.detail))))
            return
        item = (ev.kind, _jsonable(dict(ev.detail)))
        if self.pending_pc is not None and (ev.pc == self.pending_pc or ev.kind in ("gc", "exit")):
            self.events.append(item)
        else:
            self.queued.append(item)


def _account_unusable(account) -> str | None:
    """Why a cycle account cannot ride along with the C recorder (None: it can)."""
    from ..native.cycles import fits
    if account.attached or account.instructions or account.native is not None:
        return "the cycle account has already run (give the recorder a fresh, unattached one)"
    if account.tap:
        return "the cycle account gives its records to the Python recorder (tap is on)"
    br = account.core.branch
    if not (fits(br, account.hier) and int(br["bht_entries"]) > 0):
        return "the cycle account's predictor or caches do not fit the C tables"
    return None


_RECORDED = ("split", "unsplit", "lessstack", "gc", "exit")
HOLD = 8                                # drained chunks held before their events are read
_SYNC = ("gc", "exit")                  # published from Python (hypercalls): indexed as they happen


class NativeRecorder(Recorder):
    """The recorder in C (emu/native/hooks.c, ``goemu_trace_code`` and
    ``goemu_trace_mem``): the C hooks build the native format's columns
    (pcs, register masks and values, memory accesses) in fixed buffers;
    Python drains the completed records in bulk, adds each chunk's new code
    entries (numpy over the pc column) and its runtime events, and the
    writer compresses.  Byte-identical to :class:`Recorder` (the reference).

    Events: split, unsplit and lessstack are captured natively with exact
    positions; record ``i`` is the instruction at position ``start + i``
    (the position of the first recorded instruction), so an event belongs to
    record ``event.icount - start``, as the reference attaches it.  gc and
    exit are published by the machine's hypercall hook (Python): a listener
    notes the record being executed then.

    Cycles: with an account, the account runs in C (emu/native/hooks.c
    goemu_cycles_after) with its per-instruction view (``goemu_ctap``, what
    CycleAccount.insn_start/take_late give the reference) pointed at this
    recorder's C state, which fills the cycles, phase and within columns."""

    @staticmethod
    def unusable(mc, sink, account) -> str | None:
        """Why the C recorder cannot record this (None: it can)."""
        from .native import NativeWriter
        engine = getattr(mc, "engine", None)
        if engine is None or engine.kind != "native":
            return "the machine does not run on the native engine"
        if not isinstance(sink, NativeWriter):
            return "only the native trace format is recorded in C"
        if account is not None:
            why = _account_unusable(account)
            if why:
                return why
        if len(mc.arch.regs) > 32:
            return "more than 32 registers"
        return None

    def __init__(self, mc, sink, program: str = "<program>", start: int | None = None,
                 stop: int | None = None, max_records: int | None = None, account=None,
                 native: bool | None = None):
        super().__init__(mc, sink, program, start, stop, max_records, account)
        import unicorn
        from unicorn.unicorn_py3.unicorn import uclib as ucl

        from ..native import library
        lib = library()
        self.lib = lib
        lib.goemu_trace_seen_reset.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_uint32]
        lim = [lib.goemu_trace_limits(i) for i in range(24)]
        nregs_max, recs, nvals, nmeta, ndata = lim[:5]
        self._off = dict(zip(("end", "pcs", "masks", "nmem", "vals", "meta", "data", "tap_size", "tap", "cyc",
                              "phase", "within", "seg_end", "seg_within", "seg_phase", "per", "seen_slots",
                              "newpcs", "seen"), lim[5:24]))
        from ..native.cycles import limits as cycle_limits
        clim = cycle_limits()
        nseg, nops = clim["stage"], clim["stage_ops"]

        class Tap(ctypes.Structure):        # hooks.c goemu_ctap
            _fields_ = [("base", ctypes.c_uint64), ("pen", ctypes.c_uint64), ("late", ctypes.c_uint64),
                        ("n", ctypes.c_uint32), ("nseg", ctypes.c_uint32), ("phase", ctypes.c_uint32),
                        ("valid", ctypes.c_uint32), ("seg_end", ctypes.c_uint32 * nseg),
                        ("seg_within", ctypes.c_uint32 * nseg), ("seg_phase", ctypes.c_uint8 * nseg),
                        ("per", ctypes.c_uint32 * nops)]

        class State(ctypes.Structure):
            _fields_ = [("count", ctypes.c_uint64), ("pending_pc", ctypes.c_uint64),
                        ("active", ctypes.c_uint32), ("done", ctypes.c_uint32), ("why", ctypes.c_uint32),
                        ("have_prev", ctypes.c_uint32), ("have_pending", ctypes.c_uint32),
                        ("started", ctypes.c_uint32), ("start_blk_base", ctypes.c_uint64),
                        ("start_blk_addr", ctypes.c_uint64), ("start_blk_size", ctypes.c_uint32),
                        ("pad0", ctypes.c_uint32), ("start_at", ctypes.c_uint64),
                        ("prev", ctypes.c_uint64 * nregs_max), ("pend_cyc", ctypes.c_uint64),
                        ("pend_phase", ctypes.c_uint32), ("pend_within", ctypes.c_uint32),
                        ("blk_seen", ctypes.c_uint64), ("blk_k", ctypes.c_uint64),
                        ("end_of_state", ctypes.c_uint64),
                        ("counter", ctypes.c_void_p), ("reg_batch", ctypes.c_void_p),
                        ("mem_read", ctypes.c_void_p), ("drain", ctypes.c_void_p), ("halt", ctypes.c_void_p),
                        ("stop", ctypes.c_void_p), ("max_records", ctypes.c_uint64),
                        ("start_pc", ctypes.c_uint64), ("stop_pc", ctypes.c_uint64),
                        ("has_start", ctypes.c_uint32), ("has_stop", ctypes.c_uint32),
                        ("nregs", ctypes.c_uint32), ("pc_idx", ctypes.c_uint32), ("rec_cap", ctypes.c_uint32),
                        ("errors", ctypes.c_uint32), ("drains", ctypes.c_uint64),
                        ("seen_cap", ctypes.c_uint32), ("seen_full", ctypes.c_uint32),
                        ("nseen", ctypes.c_uint32), ("nnew", ctypes.c_uint32),
                        ("ids", ctypes.c_int32 * nregs_max), ("env", ctypes.c_void_p),
                        ("ndirect", ctypes.c_uint32), ("nbatch", ctypes.c_uint32), ("width", ctypes.c_uint32),
                        ("pad1", ctypes.c_uint32), ("dslot", ctypes.c_uint32 * nregs_max),
                        ("doff", ctypes.c_uint32 * nregs_max), ("bslot", ctypes.c_uint32 * nregs_max),
                        ("bids", ctypes.c_int32 * nregs_max), ("ptrs", ctypes.c_void_p * nregs_max),
                        ("cur", ctypes.c_uint64 * nregs_max), ("acct", ctypes.c_void_p), ("tap", Tap),
                        ("nrec", ctypes.c_uint32), ("nvals", ctypes.c_uint32), ("nmeta", ctypes.c_uint32),
                        ("ndata", ctypes.c_uint32), ("pend_meta", ctypes.c_uint32), ("pend_data", ctypes.c_uint32),
                        ("pcs", ctypes.c_uint64 * recs), ("masks", ctypes.c_uint32 * recs),
                        ("nmem", ctypes.c_uint16 * recs), ("vals", ctypes.c_uint64 * nvals),
                        ("meta", ctypes.c_uint8 * (nmeta * 10)), ("data", ctypes.c_uint8 * ndata),
                        ("cyc", ctypes.c_uint32 * recs), ("phase", ctypes.c_uint8 * recs),
                        ("within", ctypes.c_uint32 * recs), ("newpcs", ctypes.c_uint64 * recs),
                        ("seen", ctypes.c_uint64 * self._off["seen_slots"])]
        o = self._off
        layout_ok = ctypes.sizeof(State) == lib.goemu_trace_size() and ctypes.sizeof(Tap) == o["tap_size"] and all(
            getattr(S, k).offset == o[v] for S, k, v in (
                (State, "end_of_state", "end"), (State, "pcs", "pcs"), (State, "masks", "masks"),
                (State, "nmem", "nmem"), (State, "vals", "vals"), (State, "meta", "meta"), (State, "data", "data"),
                (State, "tap", "tap"), (State, "cyc", "cyc"), (State, "phase", "phase"),
                (State, "within", "within"), (State, "newpcs", "newpcs"), (State, "seen", "seen"),
                (Tap, "seg_end", "seg_end"), (Tap, "seg_within", "seg_within"),
                (Tap, "seg_phase", "seg_phase"), (Tap, "per", "per")))
        if not layout_ok:
            from ..native import NativeBuildError
            raise NativeBuildError("native hook library: trace recorder layout mismatch")
        self.state = st = State()
        a = mc.arch
        st.nregs = len(self.names)
        st.pc_idx = self.pc_idx
        for i, rid in enumerate(a.regs.values()):
            st.ids[i] = rid
        self.in_place = self._read_in_place(st) if self.in_place else []
        st.counter = ctypes.addressof(mc.engine.counter.state)
        st.reg_batch = ctypes.cast(ucl.uc_reg_read_batch, ctypes.c_void_p)
        st.mem_read = ctypes.cast(ucl.uc_mem_read, ctypes.c_void_p)
        st.stop = ctypes.cast(ucl.uc_emu_stop, ctypes.c_void_p)
        self._drain_cb = ctypes.CFUNCTYPE(None)(self._on_full)
        self._halt_cb = ctypes.CFUNCTYPE(None, ctypes.c_int32)(self._on_halt)
        st.drain = ctypes.cast(self._drain_cb, ctypes.c_void_p)
        st.halt = ctypes.cast(self._halt_cb, ctypes.c_void_p)
        st.max_records = max_records or 0
        st.has_start, st.start_pc = start is not None, start or 0
        st.has_stop, st.stop_pc = stop is not None, stop or 0
        st.active = start is None
        lib.goemu_trace_init(ctypes.byref(st))
        if recs < _fmt.CHUNK:
            from ..native import NativeBuildError
            raise NativeBuildError("native hook library: the trace recorder's buffers do not hold a chunk")
        st.rec_cap = _fmt.CHUNK
        self._hook_types = (unicorn.UC_HOOK_CODE, unicorn.UC_HOOK_MEM_READ_AFTER | unicorn.UC_HOOK_MEM_WRITE)
        self.drained = 0                  # records taken from C
        self._held: list[tuple] = []      # drained records not yet given to the sink (their events unread)
        self._fill = 0                    # records in the writer's chunk, the held ones included
        self._ev_next = 0                 # the first of mc.events not yet placed in a record
        self._sync: list = []             # [(event, record index or None)] for gc and exit
        self._start: int | None = None    # position of record 0

    in_place = True     # read the registers emu/trace/inplace.py proves readable in place (False: all batched)

    def _read_in_place(self, st) -> list[str]:
        """Set up the registers C copies from the CPU state; returns their names."""
        from .inplace import locate
        found = locate(self.mc)
        if not found:
            return []
        env, offs, width = found
        direct = [i for i, n in enumerate(self.names) if n in offs and i != self.pc_idx]
        batch = [i for i in range(len(self.names)) if i not in direct and i != self.pc_idx]
        st.env, st.width, st.ndirect, st.nbatch = env, width, len(direct), len(batch)
        for j, i in enumerate(direct):
            st.dslot[j], st.doff[j] = i, offs[self.names[i]]
        for k, i in enumerate(batch):
            st.bslot[k] = i
        return [self.names[i] for i in direct]

    @property
    def count(self) -> int:
        """Records written so far."""
        st = getattr(self, "state", None)
        return self._count if st is None else st.count

    @count.setter
    def count(self, n: int) -> None:
        self._count = n

    # -- wiring -------------------------------------------------------------------
    def attach(self) -> NativeRecorder:
        mc = self.mc
        header = header_of(mc, self.program)
        acct = self.account
        if acct is not None:
            acct.attach()       # in C; its block hook before the recorder's code hook
            nat = acct.native
            if nat is None:
                acct.detach()
                from ..engine import EngineError
                raise EngineError("the native trace recorder cannot be used: the cycle account did not go native")
            nat.set_tap(ctypes.addressof(self.state.tap))
            self.state.acct = nat.address
            header["cycles"] = _cycles_header(acct)
        self.sink.begin(header)
        lib, h, addr = self.lib, mc.hooks, ctypes.addressof(self.state)
        self._handles = [
            h.native(self._hook_types[0], ctypes.cast(lib.goemu_trace_code, ctypes.c_void_p).value, addr,
                     label="trace"),
            h.native(self._hook_types[1], ctypes.cast(lib.goemu_trace_mem, ctypes.c_void_p).value, addr,
                     label="trace")]
        self._ev_next = len(mc.events)
        for kind in _SYNC:
            mc.on(kind, self._on_sync)
        mc.engine.register(self._part, self.save_state, self.restore_state)
        return self

    def finish(self) -> None:
        if self.done:
            return
        st = self.state
        self.lib.goemu_trace_finish(ctypes.byref(st), ctypes.c_void_p(self.mc.uc._uch.value))
        try:
            self._drain()
            self._release()
            self._check()
        finally:
            self.done = True
            st.done = 1
            st.active = 0
            if self.account is not None and self.account.native is not None:
                self.account.native.set_tap(None)      # the account outlives this state
            for hd in self._handles:
                self.mc.hooks.remove(hd)
            self.mc.engine.unregister(self._part)
            self.sink.close()

    # -- callbacks from C ------------------------------------------------------------
    def _on_full(self) -> None:
        try:
            self._drain()
        except BaseException as e:  # noqa: BLE001 - re-raised after emu_start
            self.mc.hooks.fail(e)

    def _on_halt(self, why: int) -> None:
        if why == 3:                    # an error in C: the run ends with it
            try:
                self._check()
            except GoemuError as e:
                self.mc.hooks.fail(e)
            return
        self.active = False
        self.done_reason = {1: "max", 2: "to"}.get(why, "end")
        self.mc.hooks.fail(_StopTrace())

    def _on_sync(self, ev) -> None:
        st = self.state
        if st.done:
            return
        if st.active:
            idx = st.count          # the record being executed (the reference: pending, or the next one)
        elif self.start_pc is not None and ev.pc == self.start_pc and not st.have_prev and not st.why:
            idx = 0
        else:
            idx = None
        self._sync.append((ev, idx))

    def _reset_seen(self) -> None:
        """C's table of recorded pcs holds exactly ``self.seen``."""
        pcs = sorted(self.seen)
        arr = (ctypes.c_uint64 * max(1, len(pcs)))(*pcs)
        self.lib.goemu_trace_seen_reset(ctypes.byref(self.state), arr, len(pcs))

    def _check(self) -> None:
        err = self.state.errors
        if err:
            why = "; ".join(t for bit, t in ((1, "its buffer was not drained"),
                                             (2, ("one instruction made more memory accesses than its buffer "
                                                  "holds, or an access wider than 255 bytes")),
                                             (4, "registers could not be read"),
                                             (8, "memory could not be read")) if err & bit)
            raise GoemuError(f"the trace recorder stopped: {why}")

    # -- draining ---------------------------------------------------------------------
    def _start_position(self) -> int | None:
        if self._start is None and self.state.started:
            st = self.state
            addrs = self.mc.engine.counter.blocks.get((st.start_blk_addr, st.start_blk_size), ())
            at = st.start_at
            self._start = st.start_blk_base + (addrs.index(at) if at in addrs else 0)
        return self._start

    def _index_of(self, ev, start: int | None) -> int | None:
        if ev.kind in _SYNC:
            sync = self._sync
            # by value: the machine's event log stores columns and makes a new Event per read
            for i in range(len(sync) - 1, -1, -1):
                e = sync[i][0]
                if e.icount == ev.icount and e.kind == ev.kind and e.pc == ev.pc:
                    return sync[i][1]
            return None
        return None if start is None else ev.icount - start

    def _events(self, first: int, end: int) -> list:
        """The events of records [first, end), as (index, kind, detail)."""
        evs = self.mc.events
        i = self._ev_next
        n = len(evs)
        out: list = []
        if i >= n:
            return out
        start = self._start_position()
        for ev in evs[i:n]:         # one slice: the log builds its Events in one pass
            kind = ev.kind
            if kind in _RECORDED:
                if kind in _SYNC:
                    idx = self._index_of(ev, start)
                else:
                    idx = None if start is None else ev.icount - start
                if idx is not None and idx >= end:
                    break
                if idx is not None and idx >= first:
                    d = ev.detail       # a fresh dict per read; split, unsplit, lessstack: names to integers
                    if kind in _SYNC or not all(type(v) is int for v in d.values()):
                        d = _jsonable(dict(d))
                    out.append((idx, kind, d))
            i += 1
        self._ev_next = i
        return out

    def _describe(self, new: list[int]) -> list:
        """Code entries for ``new``, pcs recorded for the first time (C's log, in order)."""
        seen, mc = self.seen, self.mc
        out: list = []
        for pc in new:
            if pc not in seen:
                seen.add(pc)
                d = mc.disasm(pc, 1)
                raw, text = (d[0][2], d[0][1]) if d else (bytes(mc.read(pc, 1)), "(bad)")
                out.append([pc, raw.hex(), text, mc.symbolize(pc)])
        return out

    def _code(self, pcs: bytes) -> list:
        """Code entries for the pcs executed here for the first time, in order
        (from the pc column: when C's table of recorded pcs is full)."""
        import numpy as np
        arr = np.frombuffer(pcs, dtype="<u8")
        seen = self.seen
        new = [pc for pc in np.unique(arr).tolist() if pc not in seen]
        if len(new) > 1:                # in the order of their first execution
            at = np.searchsorted(np.array(new, dtype=np.uint64), arr)
            hit = np.zeros(len(arr), dtype=bool)
            ok = at < len(new)
            hit[ok] = np.array(new, dtype=np.uint64)[at[ok]] == arr[ok]
            first = {}
            for i in np.flatnonzero(hit).tolist():
                first.setdefault(int(arr[i]), i)
            new = sorted(new, key=first.__getitem__)
        return self._describe(new)

    def _drain(self) -> None:
        """Hand the completed records to the sink (one chunk at most per call:
        C never completes more than the chunk has room for)."""
        st = self.state
        n = st.nrec
        if not n and not st.pend_meta:
            return
        base = ctypes.addressof(st)
        off = self._off
        at = ctypes.string_at
        pcs, masks, nmem = at(base + off["pcs"], 8 * n), at(base + off["masks"], 4 * n), at(base + off["nmem"], 2 * n)
        vals = at(base + off["vals"], 8 * st.nvals)
        meta, data = at(base + off["meta"], 10 * st.pend_meta), at(base + off["data"], st.pend_data)
        cycles = None
        if st.acct:
            cycles = (at(base + off["cyc"], 4 * n), at(base + off["phase"], n), at(base + off["within"], 4 * n))
        new = None if st.seen_full else st.newpcs[:st.nnew]
        self.lib.goemu_trace_consumed(ctypes.byref(st))
        first = self.drained
        self.drained += n
        code = self._code(pcs) if new is None else self._describe(new)
        self._held.append((first, n, pcs, masks, vals, nmem, meta, data, code, cycles))
        chunk = _fmt.CHUNK
        self._fill = (self._fill + n) % chunk
        st.rec_cap = chunk - self._fill
        if len(self._held) >= HOLD:
            self._release()

    def _release(self) -> None:
        """Give the held records to the sink, with their events: the machine's events
        are read once for all of them (each read drains the engine's event ring, a
        numpy pass with a fixed cost)."""
        held, self._held = self._held, []
        if not held:
            return
        import bisect
        firsts = [h[0] for h in held]
        evs: list[list] = [[] for _ in held]
        for ev in self._events(firsts[0], held[-1][0] + held[-1][1]):
            evs[bisect.bisect_right(firsts, ev[0]) - 1].append(ev)
        for (first, n, pcs, masks, vals, nmem, meta, data, code, cycles), mine in zip(held, evs):
            self.sink.add_columns(first, n, pcs, masks, vals, nmem, meta, data, code, mine, cycles)

    # -- the state that travels back in time ------------------------------------------
    def _tap_parts(self) -> list[tuple[int, int]]:
        """(offset, size) of the account's per-instruction view in use: its head and the
        used prefixes of its arrays."""
        o, tap = self._off, self.state.tap
        base = o["tap"]
        nseg, n = min(tap.nseg, len(tap.seg_end)), min(tap.n, len(tap.per))
        return [(base, o["seg_end"]), (base + o["seg_end"], 4 * nseg), (base + o["seg_within"], 4 * nseg),
                (base + o["seg_phase"], nseg), (base + o["per"], 4 * n)]

    def _save_tap(self) -> tuple[bytes, ...] | None:
        if not self.state.acct:
            return None
        base = ctypes.addressof(self.state)
        return tuple(ctypes.string_at(base + off, size) for off, size in self._tap_parts())

    def _restore_tap(self, saved: tuple[bytes, ...] | None) -> None:
        if saved is None:
            return
        base = ctypes.addressof(self.state)
        ctypes.memmove(base + self._off["tap"], saved[0], len(saved[0]))      # the head first: it sizes the rest
        for (off, _size), b in zip(self._tap_parts()[1:], saved[1:]):
            ctypes.memmove(base + off, b, len(b))

    def save_state(self) -> tuple:
        self._drain()
        self._release()
        st = self.state
        base = ctypes.addressof(st)
        head = ctypes.string_at(base, self._off["end"])
        pend = (ctypes.string_at(base + self._off["meta"], 10 * st.nmeta),
                ctypes.string_at(base + self._off["data"], st.ndata))
        return (head, pend, self._save_tap(), _save_sink(self.sink), self.drained, self._ev_next, len(self._sync), set(self.seen),
                self.active, self.done_reason, self._start)

    def restore_state(self, saved: tuple) -> None:
        head, (meta, data), tap, sink, self.drained, self._ev_next, nsync, seen, self.active, \
            self.done_reason, self._start = saved
        st = self.state
        base = ctypes.addressof(st)
        ctypes.memmove(base, head, len(head))
        self.lib.goemu_trace_consumed(ctypes.byref(st))     # empty the record buffers
        ctypes.memmove(base + self._off["meta"], meta, len(meta))
        ctypes.memmove(base + self._off["data"], data, len(data))
        st.nmeta, st.ndata = len(meta) // 10, len(data)
        st.pend_meta = st.pend_data = 0
        self._restore_tap(tap)
        st.errors = 0
        self.seen = set(seen)
        self._reset_seen()
        del self._sync[nsync:]
        _restore_sink(self.sink, sink)
        self._held = []
        self._fill = self.sink.n
        st.rec_cap = self.sink.room()


def record(mc, path: str, fmt: str = "native", program: str = "<program>", start: int | None = None,
           stop: int | None = None, max_records: int | None = None, account=None,
           native: bool | None = None) -> Recorder:
    """Record ``mc``'s run to ``path``; returns the finished recorder (``.count`` records).
    With ``account`` (a CycleAccount on ``mc``), native records carry their cycles."""
    from .native import NativeWriter
    from .tenet import TenetWriter
    with open(path, "wb") as f:
        sink = NativeWriter(f) if fmt == "native" else TenetWriter(f)
        rec = Recorder(mc, sink, program, start, stop, max_records, account, native).attach()
        rec.run()
    return rec
