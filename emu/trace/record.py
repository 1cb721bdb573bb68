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

TENET_REGS = {
    "amd64": ["rax", "rbx", "rcx", "rdx", "rbp", "rsp", "rsi", "rdi", "r8", "r9", "r10", "r11",
              "r12", "r13", "r14", "r15", "rip"],
    "arm": ["r0", "r1", "r2", "r3", "r4", "r5", "r6", "r7", "r8", "r9", "r10", "r11", "r12",
            "sp", "lr", "pc"],
}


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


class Recorder:
    def __init__(self, mc, sink, program: str = "<program>", start: int | None = None,
                 stop: int | None = None, max_records: int | None = None, account=None):
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
            from ..cycles.account import PHASES
            acct.tap = True
            acct.attach()       # its block hook must be installed before the recorder's code hook
            header["cycles"] = {"core": acct.core.name, "phases": list(PHASES), "dcache_model": acct.dcache}
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
        f = getattr(self.sink, "f", None)
        try:
            pos = f.tell() if f is not None else None
        except (OSError, ValueError):
            pos = None
        sink = {k: copy.copy(v) for k, v in vars(self.sink).items() if k != "f"}
        return (self.active, self.done, self.done_reason, self.count, self.prev, self.pending_pc,
                self.pending_cycles, list(self.mem), list(self.events), list(self.queued), set(self.seen),
                pos, sink)

    def restore_state(self, st: tuple) -> None:
        (self.active, self.done, self.done_reason, self.count, self.prev, self.pending_pc, self.pending_cycles,
         mem, events, queued, seen, pos, sink) = st
        self.mem, self.events, self.queued, self.seen = list(mem), list(events), list(queued), set(seen)
        f = getattr(self.sink, "f", None)
        if f is not None:
            if pos is None:
                from ..engine import EngineError
                raise EngineError("the trace is written to a stream that cannot be rewound")
            f.seek(pos)
            f.truncate()
        for k, v in sink.items():
            setattr(self.sink, k, copy.copy(v))

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


def record(mc, path: str, fmt: str = "native", program: str = "<program>", start: int | None = None,
           stop: int | None = None, max_records: int | None = None, account=None) -> Recorder:
    """Record ``mc``'s run to ``path``; returns the finished recorder (``.count`` records).
    With ``account`` (a CycleAccount on ``mc``), native records carry their cycles."""
    from .native import NativeWriter
    from .tenet import TenetWriter
    with open(path, "wb") as f:
        sink = NativeWriter(f) if fmt == "native" else TenetWriter(f)
        rec = Recorder(mc, sink, program, start, stop, max_records, account).attach()
        rec.run()
    return rec
