"""Cycle accounting for a running Machine, by runtime phase and by event.

``CycleAccount(machine).attach()`` installs a block hook (and, with
``caches=True``, memory hooks) through ``machine.hooks``; ``detach()``
removes them.  Nothing attached costs nothing.

Per executed block it runs the block's instructions through the core's
pipeline (``emu/cycles/pipeline.py``: the block is described once, as
integer per-instruction records, by the core's ``ops_of``; the pipeline's
state -- dispatch, window, ports, register readiness -- carries from one
executed block to the next, so a correctly predicted branch costs no drain)
and adds the cycles each instruction advances the latest completion, asks
the branch predictor about the transfer that ended the previous block
(where execution actually went is this block's address) and adds the
mispredict penalty (and drains the pipeline: the block dispatches after
everything older has completed), and fetches the block's lines through the I-cache.  With
``caches=True`` every load and store also goes through the L1D/L2.

Every cycle is attributed to exactly one phase (``PHASES``):

- prologue: a goasm function's split check, [func.addr, func.body_start)
- morestack: morestack, its trampolines and reflectcall
- newstack: newstack and every C function it calls, until gogocall
- gogocall, gogo, lessstack: those stubs
- oldstack: oldstack and what it calls, until gogo
- body: function bodies, the program's and the runtime entries'
- gc: runtime.gc's instructions (the collector itself is Python: 0 cycles)
- other: rt0 and boot, goexit

C functions have no FuncInfo: a C function other than newstack, oldstack and
rt0 belongs to the phase that called it.  A mispredict is charged to the
phase it lands in when that is runtime machinery (a return into lessstack
is lessstack's cost), otherwise to the phase of the branch (gogo's jump
back into the caller is gogo's cost, gogocall's jump to morepc gogocall's).

Each split (morestack entry through gogocall's jump into the new frame,
including that jump's mispredict) and each unsplit (lessstack entry
through gogo's jump back) gets an ``EventRecord``.

On the native engine (and without the trace recorder's per-instruction
tap) ``attach`` moves the per-block work into C (emu/native/hooks.c,
emu/native/cycles.py): ``_analyze`` still describes each new block, once,
and C does the rest with identical results; the account then reads its
attributes from the C state (``_NativeAccount``).  The Python code below
is the reference (``--engine python``).
"""
from __future__ import annotations

import atexit
import contextlib
import ctypes
import hashlib
import json
import os
import pickle
import sys
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any, Protocol

import unicorn

from ..arch.flow import KINDS, align_bits, flow_of
from ..asm.verify import disassembler
from ..errors import UsageError
from .cache import CacheHierarchy
from .predict import BranchPredictor

PHASES = ("prologue", "morestack", "newstack", "gogocall", "body", "lessstack", "oldstack", "gogo",
          "gc", "other")
# a mispredict landing in one of these is charged there (else to the branch's phase)
LANDING = frozenset(PHASES) - {"body", "other", "prologue"}

# goasm functions with a phase of their own (their prologues stay "prologue")
_GOASM_PHASES = {"morestack": "morestack", "reflectcall": "morestack", "gogocall": "gogocall",
                 "gogo": "gogo", "lessstack": "lessstack", "runtime.gc": "gc", "goexit": "other"}
_GOASM_INHERIT = {"gosave", "mcall"}          # stubs that run on behalf of their caller
# C functions entered at their first instruction that start a phase
_C_ENTRIES = {"newstack": "newstack", "oldstack": "oldstack", "rt0": "other"}


class BlockCost(Protocol):
    total: int
    per_insn: tuple[int, ...]


class Core(Protocol):
    """What the accounting needs of a core model (emu.cycles.model.CoreModel)."""
    name: str
    branch: dict
    caches: dict

    def ops_of(self, insns: list) -> tuple: ...      # emu.cycles.pipeline.Op per instruction

    def pipeline(self) -> Any: ...                     # an idle emu.cycles.pipeline.Pipeline


def default_core(arch_name: str) -> Core:
    try:
        from .model import CoreModel
    except ImportError as e:
        raise UsageError(f"no core timing model is available for {arch_name} ({e})") from None
    return CoreModel.for_arch(arch_name)


@dataclass
class EventRecord:
    index: int
    kind: str                      # "split" or "unsplit"
    icount: int                    # instructions accounted before it began
    cycles: int = 0
    phases: dict = field(default_factory=dict)
    mispredicts: dict = field(default_factory=dict)
    cache_misses: int = 0
    complete: bool = False

    def to_json(self) -> dict:
        return {"index": self.index, "kind": self.kind, "icount": self.icount, "cycles": self.cycles,
                "phases": dict(self.phases), "mispredicts": dict(self.mispredicts),
                "cache_misses": self.cache_misses, "complete": self.complete}


@dataclass
class CycleResult:
    core: str
    arch: str
    total: int
    instructions: int
    phases: dict[str, int]
    phase_instructions: dict[str, int]
    branches: dict[str, int]
    mispredicts: dict[str, int]
    ras: dict[str, int]
    penalties: dict[str, int]           # mispredict / icache / dcache cycles (inside the phases)
    caches: dict | None                 # per level hits/misses; l1d only with the cache model
    dcache: bool
    splits: list[EventRecord]
    unsplits: list[EventRecord]

    @property
    def cpi(self) -> float:
        return self.total / self.instructions if self.instructions else 0.0

    def to_json(self) -> dict:
        return {"core": self.core, "arch": self.arch, "total": self.total,
                "instructions": self.instructions, "cpi": round(self.cpi, 4),
                "phases": dict(self.phases), "phase_instructions": dict(self.phase_instructions),
                "branches": dict(self.branches), "mispredicts": dict(self.mispredicts),
                "ras": dict(self.ras), "penalties": dict(self.penalties), "caches": self.caches,
                "dcache_model": self.dcache,
                "splits": [r.to_json() for r in self.splits],
                "unsplits": [r.to_json() for r in self.unsplits],
                "note": "gc counts runtime.gc's instructions; the collector runs in Python and costs 0 cycles"}


class _Block:
    __slots__ = ("end", "first", "flow", "flow_pc", "index", "line0", "lines", "n", "one_line", "ops", "segs")

    def __init__(self, n, segs, flow, flow_pc, lines, end, ops=(), index=None):
        self.n = n
        self.ops = ops              # the pipeline's description of each instruction
        self.index = index or {}    # instruction address -> position in the block
        self.segs = segs            # [(static phase or None, ninsns, start, end)]
        self.first = segs[0][0] if segs else None
        self.flow = flow            # Flow of the last instruction when it transfers control, else None
        self.flow_pc = flow_pc
        self.lines = lines
        self.line0 = lines[0]
        self.one_line = len(lines) == 1
        self.end = end


class CycleAccount:
    def __init__(self, machine: Any, core: Core | None = None, caches: bool = False):
        self.mc = machine
        self.arch = machine.arch.name
        self.core = core if core is not None else default_core(self.arch)
        self.dcache = caches
        br = self.core.branch
        self.penalty = int(br["mispredict_penalty"])
        self.predictor = BranchPredictor(int(br["bht_entries"]), int(br["btb_entries"]),
                                         int(br["ras_entries"]), align_bits(self.arch),
                                         int(br.get("history_bits", 0)))
        self.hier = CacheHierarchy(self.core.caches)
        self._l1i = self.hier.l1i
        self._classify = flow_of(self.arch)
        self._cs = disassembler(machine.arch)
        self._cs.detail = True
        self._static = self._phase_map()
        self._blocks: dict[tuple[int, int], _Block] = {}
        self._describer = _describer(self.core)
        # the pipeline numbers registers the way the block descriptions do
        self.pipe = (self._describer.core if self._describer is not None else self.core).pipeline()
        self._handles: list = []
        self.mode = "other"
        self.total = 0
        self.instructions = 0
        self.phase_cycles = {p: 0 for p in PHASES}
        self.phase_insns = {p: 0 for p in PHASES}
        self.penalties = {"mispredict": 0, "icache": 0, "dcache": 0}
        self.splits: list[EventRecord] = []
        self.unsplits: list[EventRecord] = []
        self._rec: EventRecord | None = None
        self._rec_misses0 = 0
        self._prev: _Block | None = None
        self._engine = None         # the machine's run engine (set on attach)
        self._starts = -1           # engine.starts when the last block was entered
        self._pos0 = 0
        # per-instruction view for the trace recorder (see insn_start); off unless asked for
        self.tap = False
        self._tap_block: _Block | None = None
        self._tap_pen = 0
        self._tap_per: list[int] = []
        self._tap_segs: list[tuple[int, int, str, str | None]] = []
        self._late = 0              # cycles owed by the instruction that just finished
        self._tap_phase: str | None = None
        self._prev_addr = 0
        self._native = None         # emu.native.cycles.NativeCycles once attached to a native engine
        self._closed: dict[str, list[EventRecord]] = {"split": [], "unsplit": []}
        self._raw_records: list[bytes] = []

    @property
    def native(self):
        """The account's C side (emu.native.cycles.NativeCycles) once it runs in C, else None.
        The C trace recorder points its per-instruction view at it."""
        return self._native

    # -- attaching ------------------------------------------------------------
    def attach(self) -> CycleAccount:
        if self._handles:
            return self
        self._pos0 = self.mc.icount - self.instructions     # machine position of the account's start
        self._engine = getattr(self.mc, "engine", None)
        self._starts = -1
        if self._native is None and self._native_possible():
            self._go_native()
        if self._native is not None:
            return self._attach_native()
        h = self.mc.hooks
        self._handles.append(h.block(self._on_block, label="cycles"))
        if self.dcache:
            self._handles.append(h.mem_read(self._on_read, label="cycles"))
            self._handles.append(h.mem_write(self._on_write, label="cycles"))
        engine = getattr(self.mc, "engine", None)
        if engine is not None:
            engine.register(f"cycles@{id(self):x}", self.save_state, self.restore_state)
        return self

    def detach(self) -> None:
        for handle in self._handles:
            self.mc.hooks.remove(handle)
        self._handles = []
        engine = getattr(self.mc, "engine", None)
        if engine is not None:
            engine.unregister(f"cycles@{id(self):x}")

    # -- the native path: the per-block work in C (emu/native/hooks.c) -------------------
    def _native_possible(self) -> bool:
        """A native engine, no per-instruction tap (the trace recorder's view
        stays Python), a fresh account, and tables that fit the C ones."""
        engine = self._engine
        if engine is None or getattr(engine, "kind", None) != "native" or self.tap:
            return False
        if self.instructions or self._prev is not None:
            return False
        from ..native.cycles import fits
        br = self.core.branch
        return fits(br, self.hier) and int(br["bht_entries"]) > 0

    def _go_native(self) -> None:
        from ..native.cycles import NativeCycles
        nat = NativeCycles(self._native_miss, self._native_records)
        br = self.core.branch
        landing = sum(1 << PHASES.index(p) for p in LANDING)
        nat.configure(self.penalty, self.predictor.shift, int(br["bht_entries"]), int(br["btb_entries"]),
                      int(br["ras_entries"]), self.hier, landing, self.pipe.cfg, self.predictor.history_mask)
        nat.state.mode = PHASES.index(self.mode)
        nat.state.counter = ctypes.addressof(self._engine.counter.state)
        nat.state.starts = ctypes.addressof(self._engine.starts_c)
        nat.failure = self.mc.hooks.fail
        self._native = nat
        self.__class__ = _NativeAccount

    def _attach_native(self) -> CycleAccount:
        nat, h = self._native, self.mc.hooks
        nat.state.pos0 = self.mc.icount - nat.state.instructions
        nat.state.starts_seen = self._engine.starts_c.value - 1     # the next block may be a resumption
        nat.state.counted = self._engine.counter.state.blocks
        # after the counter's hook, which was registered first (Unicorn calls block hooks in order)
        self._handles = [h.native(unicorn.UC_HOOK_BLOCK, nat.after_hook, nat.address, label="cycles")]
        if self.dcache:
            for kind in (unicorn.UC_HOOK_MEM_READ, unicorn.UC_HOOK_MEM_WRITE):
                self._handles.append(h.native(kind, nat.mem_hook, nat.address, label="cycles"))
        self._engine.register(f"cycles@{id(self):x}", self.save_state, self.restore_state)
        return self

    def _native_miss(self, addr: int, size: int) -> int:
        hooks = self.mc.hooks
        if hooks.pending is not None:
            return -1
        try:
            b = self._blocks.get((addr, size)) or self._analyze(addr, size)
            st = self._native.state
            stage = st.stage
            if len(b.segs) > len(st.stage_n) or b.n > len(st.stage_ops):
                raise UsageError(f"block at {addr:#x}: {len(b.segs)} phase segments and {b.n} instructions, "
                                 f"more than the native table takes ({len(st.stage_n)}, {len(st.stage_ops)})")
            stage.n, stage.nseg = b.n, len(b.segs)
            stage.first = PHASES.index(b.first) if b.first is not None else -1
            f = b.flow
            stage.kind = _KIND[f.kind] if f is not None else 0
            stage.taken = _KIND[f.taken_kind] if f is not None and f.taken_kind else 0
            stage.has_target = int(f is not None and f.target is not None)
            stage.target = f.target if f is not None and f.target is not None else 0
            stage.fallthrough = f.fallthrough if f is not None else 0
            stage.flow_pc, stage.end = b.flow_pc, b.end
            stage.line0, stage.nlines = b.lines.start, len(b.lines)
            for i, (ph, n, _s0, _e0) in enumerate(b.segs):
                st.stage_phase[i] = PHASES.index(ph) if ph is not None else -1
                st.stage_n[i] = n
            self._native.stage_ops(b.ops)
            return 0
        except BaseException as e:  # noqa: BLE001 - re-raised after emu_start
            hooks.fail(e)
            return -1

    def _native_records(self, raw: bytes) -> None:
        self._raw_records.append(raw)

    def _materialize(self) -> None:
        """Closed records drained from C, as EventRecords (in order)."""
        self._native.drain()
        raws, self._raw_records = self._raw_records, []
        for raw in raws:
            for r in self._native.records(raw):
                kind = "unsplit" if r.kind else "split"
                self._closed[kind].append(_rec_of(r, kind))

    # -- the state that travels back in time (emu/engine.py's contract) -------------------
    def save_state(self) -> tuple:
        """Everything a later block can change.  Closed split/unsplit records
        never change again: only the open one is copied."""
        pred, hier = self.predictor, self.hier
        rec = self._rec
        return (
            self.mode, self.total, self.instructions, dict(self.phase_cycles), dict(self.phase_insns),
            dict(self.penalties), len(self.splits), len(self.unsplits),
            None if rec is None else (rec.kind, rec.index, _copy(rec)), self._rec_misses0,
            self._prev, self._prev_addr, self._late, self._tap_block, self._tap_pen, list(self._tap_segs),
            self._tap_phase, list(self._tap_per), self.pipe.save(),
            (list(pred.bht), pred.ghr, list(pred.btb_tag), list(pred.btb_target), list(pred.ras), dict(pred.seen),
             dict(pred.mispredicts), pred.ras_underflows, pred.ras_overflows),
            tuple(([list(x) for x in c.sets], c.hits, c.misses) for c in (hier.l1i, hier.l1d, hier.l2)),
        )

    def restore_state(self, st: tuple) -> None:
        (self.mode, self.total, self.instructions, phase_cycles, phase_insns, penalties, nsplits, nunsplits,
         rec, self._rec_misses0, self._prev, self._prev_addr, self._late, self._tap_block, self._tap_pen,
         tap_segs, self._tap_phase, tap_per, pipe, pred_st, caches) = st
        self._tap_per = list(tap_per)
        self.pipe.restore(pipe)
        self.phase_cycles, self.phase_insns, self.penalties = dict(phase_cycles), dict(phase_insns), dict(penalties)
        del self.splits[nsplits:]
        del self.unsplits[nunsplits:]
        self._rec = None
        if rec is not None:
            kind, index, copy = rec
            self._rec = _copy(copy)
            (self.splits if kind == "split" else self.unsplits)[index] = self._rec
        self._tap_segs = list(tap_segs)
        pred = self.predictor
        bht, pred.ghr, tag, target, ras, seen, mis, pred.ras_underflows, pred.ras_overflows = pred_st
        pred.bht[:], pred.btb_tag[:], pred.btb_target[:], pred.ras[:] = bht, tag, target, ras
        pred.seen, pred.mispredicts = dict(seen), dict(mis)
        for c, (sets, c.hits, c.misses) in zip((self.hier.l1i, self.hier.l1d, self.hier.l2), caches):
            c.sets[:] = [list(x) for x in sets]

    @property
    def attached(self) -> bool:
        return bool(self._handles)

    # -- static facts ------------------------------------------------------------
    def _phase_map(self):
        image = self.mc.image
        c_entries = {image.symbols[n]: p for n, p in _C_ENTRIES.items() if n in image.symbols}

        def static_phase(addr: int) -> str | None:
            f = image.func_at(addr)
            if f is None:
                return c_entries.get(addr)
            if not f.nosplit and addr < f.body_start:
                return "prologue"
            name = f.name
            if name.startswith("morestack"):
                return "morestack"
            if name in _GOASM_INHERIT:
                return None
            return _GOASM_PHASES.get(name, "body")
        return static_phase

    def _analyze(self, addr: int, size: int) -> _Block:
        code = self.mc.read(addr, size)
        d = self._describer
        got = d.blocks.get((addr, code)) if d is not None else None
        if got is None:
            insns = list(self._cs.disasm(code, addr))
            if d is not None:
                got = d.describe(addr, code, insns, self._classify)
            else:
                ops = self.core.ops_of(insns) if insns else ()
                flow = self._classify(insns[-1]) if insns else None
                got = (tuple(i.address for i in insns), ops, flow, ())
        addrs, ops, flow, unknown = got
        if unknown and d is not None and d.core is not self.core:
            self.core.unknown.update(dict(unknown))   # what the account's own core would have counted
        segs: list[tuple[str | None, int, int, int]] = []
        static = self._static
        for i, a in enumerate(addrs):
            ph = static(a)
            if segs and segs[-1][0] == ph:
                p, n, s, _e = segs[-1]
                segs[-1] = (p, n + 1, s, i + 1)
            else:
                segs.append((ph, 1, i, i + 1))
        if flow is not None and flow.kind == "none":
            flow = None
        line = self.hier.line
        lines = range(addr // line, (addr + max(size, 1) - 1) // line + 1)
        b = _Block(len(addrs), segs, flow, addrs[-1] if addrs else addr, lines, addr + size,
                   ops, {a: i for i, a in enumerate(addrs)})
        self._blocks[(addr, size)] = b
        return b

    # -- charging -----------------------------------------------------------------
    def _charge(self, phase: str, n: int) -> None:
        self.phase_cycles[phase] += n
        self.total += n
        rec = self._rec
        if rec is not None:
            rec.cycles += n
            rec.phases[phase] = rec.phases.get(phase, 0) + n

    def _open(self, phase: str) -> None:
        if self._rec is not None:
            return
        if phase == "morestack":
            rec = EventRecord(len(self.splits), "split", self.instructions)
            self.splits.append(rec)
        elif phase == "lessstack":
            rec = EventRecord(len(self.unsplits), "unsplit", self.instructions)
            self.unsplits.append(rec)
        else:
            return
        self._rec = rec
        self._rec_misses0 = self.hier.total_misses

    def _close(self, phase: str) -> None:
        rec = self._rec
        if rec is None or phase == self.mode:
            return
        if (rec.kind == "split" and self.mode == "gogocall") or (rec.kind == "unsplit" and self.mode == "gogo"):
            rec.complete = True
            rec.cache_misses = self.hier.total_misses - self._rec_misses0
            self._rec = None

    # -- hooks ----------------------------------------------------------------------
    def _transfer(self, prev: _Block, addr: int, first: str, mode: str) -> None:
        """The branch that ended ``prev`` went to ``addr``: ask the predictor."""
        f = prev.flow
        pred = self.predictor
        if f.kind == "cond":
            wrong = ["cond"] if pred.observe("cond", prev.flow_pc, addr, f.fallthrough) else []
            if addr != f.fallthrough and f.taken_kind != "jump" and \
                    pred.observe(f.taken_kind, prev.flow_pc, addr, f.fallthrough):
                wrong.append(f.taken_kind)
        else:
            wrong = [f.kind] if pred.observe(f.kind, prev.flow_pc, addr, f.fallthrough) else []
        if wrong:
            self.pipe.drain()
            self.penalties["mispredict"] += self.penalty
            self._charge(first if first in LANDING else mode, self.penalty)
            if first not in LANDING:
                self._late += self.penalty      # the branch's own cost (see insn_start)
            rec = self._rec
            if rec is not None:
                for k in wrong:
                    rec.mispredicts[k] = rec.mispredicts.get(k, 0) + 1

    def _on_block(self, addr: int, size: int) -> None:
        prev = self._prev
        engine = self._engine
        if prev is not None and (engine is None or engine.starts != self._starts) and \
                self.instructions + self._pos0 > self.mc.position(addr):
            # Resuming the block that was executing when a run stopped (a
            # debugger stop, a restored snapshot): the whole block was charged
            # when it was entered -- fewer instructions have run than were
            # charged -- so a run with stops costs what one without does.
            # ``_prev`` stays the whole block (its branch ends this one).
            self._starts = engine.starts if engine is not None else 0
            return
        if engine is not None:
            self._starts = engine.starts       # only the first block of a run can be a resumption
        b = self._blocks.get((addr, size))
        if b is None:
            b = self._analyze(addr, size)
        total0, late0 = self.total, self._late
        mode = self.mode
        first = b.first or mode
        if first != mode:
            self._open(first)
        # a block starting inside the previous one is a resumption unless it is the branch's target
        if prev is not None and prev.flow is not None and \
                not (self._prev_addr < addr < prev.end and addr != prev.flow.target):
            self._transfer(prev, addr, first, mode)
        if first != mode:
            self._close(first)
            self.mode = mode = first
        # the I-cache: the common case is a block on one line that is already the most recent in its set
        l1i = self._l1i
        line = b.line0
        s = l1i.sets[line % l1i.nsets]
        if b.one_line and s and s[-1] == line:
            l1i.hits += 1
        else:
            pen = self.hier.fetch_lines(b.lines)
            if pen:
                self.penalties["icache"] += pen
                self._charge(first, pen)
        segs = b.segs
        tap = self.tap
        step = self.pipe.step
        if tap:
            per = [step(op) for op in b.ops]
            self._tap_per = per
            self._tap_block, self._tap_segs = b, []
            self._tap_pen = self.total - total0 - (self._late - late0)
        if len(segs) == 1 and self._rec is None and (segs[0][0] or mode) == mode:
            cyc = sum(per) if tap else sum(step(op) for op in b.ops)
            self.phase_cycles[mode] += cyc
            self.total += cyc
            self.phase_insns[mode] += b.n
            if tap:
                self._tap_segs.append((0, b.n, mode, None))
        else:
            ops = b.ops
            for ph, n, s0, e0 in segs:
                cyc = sum(per[s0:e0]) if tap else sum(step(ops[i]) for i in range(s0, e0))
                p = ph or mode
                if p != mode:
                    self._open(p)
                    self._close(p)
                    self.mode = mode = p
                self._charge(p, cyc)
                self.phase_insns[p] += n
                if tap:
                    rec = self._rec
                    self._tap_segs.append((s0, e0, p, f"{rec.kind} {rec.index}" if rec else None))
        self.instructions += b.n
        self._prev = b
        self._prev_addr = addr

    def _on_read(self, addr: int, size: int) -> None:
        pen = self.hier.access(addr, size, "r")
        if pen:
            self.penalties["dcache"] += pen
            self._charge(self._tap_phase or self.mode, pen)
            self._late += pen

    def _on_write(self, addr: int, size: int, _value: int) -> None:
        pen = self.hier.access(addr, size, "w")
        if pen:
            self.penalties["dcache"] += pen
            self._charge(self._tap_phase or self.mode, pen)
            self._late += pen

    # -- per instruction, for the trace recorder ---------------------------------------
    def insn_start(self, addr: int) -> tuple[int, str, str | None]:
        """Called (with ``tap`` on) as the instruction at ``addr`` starts, after
        its block's hook: (its static cycles, plus -- if it is the block's
        first instruction -- the penalties of arriving there: fetch misses and
        a mispredict charged to the landing phase; its phase; the split or
        unsplit it belongs to, e.g. ``"unsplit 1"``).  What the instruction
        owes once it has run -- its data-cache misses, and the mispredict of
        the branch it is, charged when the next block starts -- comes from
        ``take_late``.  Summed over a run, these equal ``total``, per phase
        and per split/unsplit record."""
        b = self._tap_block
        i = b.index.get(addr) if b is not None else None
        if i is None:
            self._tap_phase = self.mode
            return 0, self.mode, None
        cyc = self._tap_per[i] + (self._tap_pen if i == 0 else 0)
        for s0, e0, p, within in self._tap_segs:
            if s0 <= i < e0:
                self._tap_phase = p
                return cyc, p, within
        self._tap_phase = self.mode
        return cyc, self.mode, None

    def take_late(self) -> int:
        pen, self._late = self._late, 0
        return pen

    # -- results ------------------------------------------------------------------------
    def result(self) -> CycleResult:
        if self._rec is not None:
            self._rec.cache_misses = self.hier.total_misses - self._rec_misses0
        stats = self.hier.stats()
        if not self.dcache:
            stats.pop("l1d")
        pred = self.predictor
        return CycleResult(
            core=self.core.name, arch=self.arch, total=sum(self.phase_cycles.values()),
            instructions=self.instructions, phases=dict(self.phase_cycles),
            phase_instructions=dict(self.phase_insns),
            branches={k: pred.seen[k] for k in KINDS if k != "none"},
            mispredicts={k: pred.mispredicts[k] for k in KINDS if k != "none"},
            ras={"entries": pred.ras_entries, "underflows": pred.ras_underflows,
                 "overflows": pred.ras_overflows},
            penalties=dict(self.penalties), caches=stats, dcache=self.dcache,
            splits=[_copy(r) for r in self.splits], unsplits=[_copy(r) for r in self.unsplits])


def _copy(r: EventRecord) -> EventRecord:
    return EventRecord(r.index, r.kind, r.icount, r.cycles, dict(r.phases), dict(r.mispredicts),
                       r.cache_misses, r.complete)


_KIND = {k: i for i, k in enumerate(KINDS)}


class _Describer:
    """The pipeline description of blocks, shared by every account whose core
    has the same data, in this process and, through a file under goemu's
    build cache, across processes: a block's instruction addresses, its
    ``ops_of``, the flow of its last instruction, and the default-class keys
    its description counted, keyed by (address, bytes) -- all functions of
    the bytes, the address, the core data and goemu's classification code.
    Capstone and the core's classification (about 300 us per block) then run
    once per block, not once per block per account.  The descriptions number
    registers the way this describer's own model does, so an account that
    uses them takes its pipeline from that model (a numbering only renames
    the pipeline's register slots: the cycles are the same); the file keeps
    the numbering and a new process re-establishes it on a fresh model
    (``CoreModel.reg_bit`` in bit order) before using the file's blocks.  A
    core is described from its data: one whose attributes were changed after
    it was built must not be a plain CoreModel (a subclass describes its own
    blocks)."""

    MAX_INSNS = 500_000           # instructions described before the table starts over

    def __init__(self, core: Any, path: str | None = None):
        self.core = core
        self.blocks: dict[tuple[int, bytes], tuple] = {}
        self.ninsns = 0
        self.path = path          # the file of descriptions (None: this process only)
        self.saved = 0            # blocks the file holds
        self._regs: set[str] = set()
        if path is not None:
            self._load()

    def describe(self, addr: int, code: bytes, insns: list, classify) -> tuple:
        core = self.core
        unknown = core.unknown
        before = dict(unknown)
        ops = core.ops_of(insns) if insns else ()
        counted = tuple((k, n - before.get(k, 0)) for k, n in unknown.items() if n != before.get(k, 0))
        for insn in insns:                        # the registers the descriptions number (for the file)
            info = core.info(insn)
            self._regs.update(info.reads, info.addr_reads, info.writes, info.base_writes)
        got = (tuple(i.address for i in insns), ops, classify(insns[-1]) if insns else None, counted)
        if self.ninsns + len(insns) > self.MAX_INSNS:
            self.blocks.clear()
            self.ninsns = self.saved = 0
        self.blocks[(addr, code)] = got
        self.ninsns += len(insns)
        return got

    # -- the file ------------------------------------------------------------------------
    def _numbering(self) -> list[str] | None:
        """Register names in bit order, or None if a bit has no known name."""
        import importlib
        names = set(self._regs)
        names.add(importlib.import_module(f"emu.arch.{self.core.arch}.timing").STACK_POINTER)
        bits = {self.core.reg_bit(n): n for n in names}          # all already numbered: a lookup
        if sorted(bits) != list(range(len(bits))):
            return None
        return [bits[i] for i in range(len(bits))]

    def _load(self) -> None:
        try:
            with open(self.path, "rb") as f:
                regs, blocks = pickle.load(f)
        except Exception:  # noqa: BLE001 - a missing or unreadable file is only a cold start
            return
        if not isinstance(regs, list) or not isinstance(blocks, dict):
            return
        for i, name in enumerate(regs):                          # a fresh model: numbers in this order
            if self.core.reg_bit(name) != i:
                return
        self._regs = set(regs)
        self.blocks = blocks
        self.ninsns = sum(len(v[0]) for v in blocks.values())
        self.saved = len(blocks)

    def save(self) -> None:
        """Write the descriptions made since the file was read (atomically: processes may race)."""
        if self.path is None or len(self.blocks) <= self.saved:
            return
        regs = self._numbering()
        if regs is None:
            return
        tmp = f"{self.path}.{os.getpid()}.tmp"
        try:
            os.makedirs(os.path.dirname(self.path), exist_ok=True)
            with open(tmp, "wb") as f:
                pickle.dump((regs, self.blocks), f, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(tmp, self.path)
            self.saved = len(self.blocks)
        except (OSError, pickle.PicklingError, TypeError, AttributeError):   # at exit: never a traceback
            with contextlib.suppress(OSError):
                os.remove(tmp)


_DESCRIBERS: dict[tuple, _Describer] = {}


def _code_version() -> str:
    """What the descriptions are computed by: the cycle model's and the architectures' Python
    sources, Capstone's version and Python's (pickled objects)."""
    import capstone
    h = hashlib.sha256(f"{capstone.__version__} {sys.version_info[:2]}".encode())
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    paths = [os.path.join(root, "asm", "verify.py")]               # the disassembler's configuration
    for sub in ("cycles", "arch"):
        for dirpath, dirnames, files in os.walk(os.path.join(root, sub)):
            dirnames.sort()
            paths += [os.path.join(dirpath, n) for n in sorted(files) if n.endswith((".py", ".toml"))]
    for path in paths:
        with open(path, "rb") as f:
            h.update(os.path.relpath(path, root).encode() + b"\0" + f.read() + b"\0")
    return h.hexdigest()


def _describer_path(core: Any, key: tuple) -> str | None:
    """``$GOEMU_CYCLES_DESCRIBE_CACHE``: unset or 1, the build cache's ``cycles``
    folder; 0, no file (descriptions stay in the process); else a folder."""
    where = os.environ.get("GOEMU_CYCLES_DESCRIBE_CACHE", "1")
    if where == "0":
        return None
    try:
        if where == "1":
            from ..build import cache_dir
            where = str(cache_dir() / "cycles")
        digest = hashlib.sha256((repr(key) + _code_version()).encode()).hexdigest()[:20]
        return os.path.join(where, f"describe-{core.arch}-{digest}.pickle")
    except (OSError, ImportError):
        return None


def _describer(core: Any) -> _Describer | None:
    """The shared describer of a CoreModel's data (None for any other core:
    its blocks are described by the account itself)."""
    try:
        from .model import CoreModel
    except ImportError:
        return None
    if type(core) is not CoreModel:
        return None
    key = (core.name, json.dumps(core.data, sort_keys=True, default=str))
    d = _DESCRIBERS.get(key)
    if d is None:
        d = _DESCRIBERS[key] = _Describer(CoreModel(core.data), _describer_path(core, key))
    return d


@atexit.register
def _save_describers() -> None:
    for d in list(_DESCRIBERS.values()):
        d.save()


def _rec_of(r, kind: str, cache_misses: int | None = None) -> EventRecord:
    """An EventRecord from a C record (dict keys in the order Python would have made them)."""
    return EventRecord(r.index, kind, r.icount, r.cycles,
                       {PHASES[p]: r.phases[p] for p in r.order[:r.norder]},
                       {KINDS[k]: r.mis[k] for k in r.morder[:r.nmorder]},
                       r.cache_misses if cache_misses is None else cache_misses, bool(r.complete))


class _NativeAccount(CycleAccount):
    """A CycleAccount whose per-block work runs in C: the same attributes,
    read from the C state.  (An attached account switches to this class.)"""

    def _st(self):
        return self._native.state

    @property
    def tap(self) -> bool:
        return False

    @tap.setter
    def tap(self, on: bool) -> None:
        if on:
            raise UsageError("this cycle account runs natively: give it to the trace recorder before attaching it")

    total = property(lambda self: self._native.state.total)
    instructions = property(lambda self: self._native.state.instructions)
    mode = property(lambda self: PHASES[self._native.state.mode])
    phase_cycles = property(lambda self: dict(zip(PHASES, self._native.state.phase_cycles)))
    phase_insns = property(lambda self: dict(zip(PHASES, self._native.state.phase_insns)))

    @property
    def penalties(self) -> dict:
        st = self._native.state
        return {"mispredict": st.pen_mis, "icache": st.pen_icache, "dcache": st.pen_dcache}

    def _open_record(self, kind: str) -> EventRecord | None:
        st = self._native.state
        if not st.rec_open or ("unsplit" if st.rec.kind else "split") != kind:
            return None
        misses = st.l1i.misses + st.l1d.misses + st.l2.misses
        return _rec_of(st.rec, kind, misses - st.rec_misses0)

    def _records(self, kind: str) -> list[EventRecord]:
        self._materialize()
        out = list(self._closed[kind])
        rec = self._open_record(kind)
        return out + [rec] if rec is not None else out

    splits = property(lambda self: self._records("split"))
    unsplits = property(lambda self: self._records("unsplit"))

    @property
    def predictor(self):
        st = self._native.state
        seen = {k: st.seen[i] for i, k in enumerate(KINDS) if k != "none"}
        mis = {k: st.mispredicts[i] for i, k in enumerate(KINDS) if k != "none"}
        return SimpleNamespace(seen=seen, mispredicts=mis, ras_entries=st.nras, ras_underflows=st.ras_underflows,
                               ras_overflows=st.ras_overflows, total_mispredicts=sum(mis.values()))

    def save_state(self) -> tuple:
        self._materialize()
        return ("native", self._native.save(), len(self._closed["split"]), len(self._closed["unsplit"]))

    def restore_state(self, st: tuple) -> None:
        _tag, data, nsplits, nunsplits = st
        self._materialize()
        self._native.restore(data)
        del self._closed["split"][nsplits:]
        del self._closed["unsplit"][nunsplits:]

    def insn_start(self, addr: int) -> tuple[int, str, str | None]:
        raise UsageError("a native cycle account has no per-instruction view (attach it through the recorder)")

    def take_late(self) -> int:
        return 0

    def result(self) -> CycleResult:
        st = self._native.state
        caches = {name: {"hits": getattr(st, name).hits, "misses": getattr(st, name).misses}
                  for name in ("l1i", "l1d", "l2")}
        if not self.dcache:
            caches.pop("l1d")
        pred = self.predictor
        phases = self.phase_cycles
        return CycleResult(
            core=self.core.name, arch=self.arch, total=sum(phases.values()), instructions=self.instructions,
            phases=phases, phase_instructions=self.phase_insns, branches=pred.seen, mispredicts=pred.mispredicts,
            ras={"entries": pred.ras_entries, "underflows": pred.ras_underflows, "overflows": pred.ras_overflows},
            penalties=self.penalties, caches=caches, dcache=self.dcache,
            splits=self.splits, unsplits=self.unsplits)
