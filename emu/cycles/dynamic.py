"""The dynamic-stream oracle: goemu's pipeline against llvm-mca on the
instructions that actually ran.

For each workload (:data:`WORKLOADS`) a machine runs the program and a block
hook records every executed block.  A window of that stream (one loop
iteration, or a fixed number of instructions from a given entry) becomes a
straight-line instruction list: each block's instructions in execution
order, minus the control transfer that ends a block when it was taken (the
next block is not its fall-through; calls, returns and jumps always are).
Not-taken conditional branches stay.

Both sides then see the same list, repeated back to back, with every
branch predicted and every access an L1 hit (mispredict and cache penalties
set aside):

* llvm-mca (the core's flags from ``emu.arch.<arch>.timing``):
  ``(TotalCycles(2k) - TotalCycles(k)) / k`` cycles per pass;
* goemu: :class:`emu.cycles.pipeline.Pipeline`, the same scheduler the cycle
  account runs across blocks, the same slope.

``k`` is chosen so that ``k`` passes hold at least :data:`MIN_INSNS`
instructions (fill and drain then weigh little on either side).  Instructions
llvm-mca refuses (ARM LDM/STM/PUSH/POP on Cortex-A9: "unable to resolve
scheduling class for write variant") are dropped from both sides and
counted; their timing is checked against the Cortex-A9 TRM instead
(tests/cycles/test_cycles_pipeline.py, ``A9_MULTIPLE``).

Beside the per-workload table this also reports the block calibration
(``calibrate.calibrate``) weighted by how often each block ran in these
streams: sum over blocks of executions x |model - llvm-mca| over sum of
executions x llvm-mca.
"""
from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field

from ..errors import GoemuError
from .calibrate import MCA_ERROR_LINE, find_llvm_mca, invoke_llvm_mca, mca_args, mca_text
from .model import CoreModel

STREAM_TARGET = 10.0       # per workload and architecture, % (issue #14)
WEIGHTED_TARGET = 15.0     # cycle-weighted block calibration, % per architecture
MIN_INSNS = 4000


@dataclass(frozen=True)
class Window:
    """Where a workload's stream starts and ends: the ``nth`` arrival at
    ``start`` (a function, or ``function:label``), up to the next arrival there
    (``one_turn``) or ``limit`` instructions, whichever comes first."""
    start: str
    nth: int = 1
    one_turn: bool = False
    limit: int = 20000


@dataclass(frozen=True)
class StreamWorkload:
    name: str
    description: str
    window: Window


WORKLOADS = (
    StreamWorkload("hot-split", "one turn of bench hot-split's hot loop: a call that splits and unsplits",
                   Window("descend:again", nth=3, one_turn=True)),
    StreamWorkload("cold-call", "one turn of bench hot-split's cold loop: the same call, no split",
                   Window("cold:again", nth=3, one_turn=True)),
    StreamWorkload("leak-demo", "emu/demos/leak: the whole run from main's entry",
                   Window("main", limit=40000)),
    StreamWorkload("binary-trees", "workload binary-trees (small): one check() of the iteration loop, "
                   "building a depth-4 tree and walking it", Window("check", nth=4, limit=20000)),
    StreamWorkload("recursion", "workload recursion (small): 3000 instructions of rec() from its "
                   "10th frame, one split included", Window("rec", nth=10, limit=3000)),
)


@dataclass
class StreamResult:
    workload: str
    description: str
    instructions: int              # in the compared stream (per pass)
    taken_removed: int
    refused: Counter               # mnemonic -> instructions dropped because llvm-mca refused them
    passes: int
    model: float                   # cycles per pass
    mca: float                     # llvm-mca, the stream as the core runs it (emu.arch.<arch>.timing.mca_stream)
    mca_raw: float                 # llvm-mca, every instruction as written
    executed: Counter = field(default_factory=Counter)   # instruction address -> times executed

    @property
    def error_pct(self) -> float:
        return (self.model - self.mca) / self.mca * 100 if self.mca else 0.0

    def to_json(self) -> dict:
        return {"workload": self.workload, "description": self.description, "instructions": self.instructions,
                "taken_branches_removed": self.taken_removed, "refused_by_llvm_mca": dict(self.refused),
                "passes": self.passes, "model": round(self.model, 3), "llvm_mca": round(self.mca, 3),
                "llvm_mca_as_written": round(self.mca_raw, 3),
                "error_pct": round(self.error_pct, 2)}


@dataclass
class DynamicCalibration:
    arch: str
    core: str
    mca_args: list[str]
    streams: list[StreamResult]
    weighted_pct: float            # cycle-weighted block calibration error
    weighted_blocks: int
    unmodelled: list[tuple[str, int, list[str]]]   # (function, block address, refused instructions)

    @property
    def overall_pct(self) -> float:
        m = sum(s.model for s in self.streams)
        c = sum(s.mca for s in self.streams)
        return (m - c) / c * 100 if c else 0.0

    @property
    def worst_pct(self) -> float:
        return max((abs(s.error_pct) for s in self.streams), default=0.0)

    @property
    def ok(self) -> bool:
        return self.worst_pct <= STREAM_TARGET and self.weighted_pct <= WEIGHTED_TARGET

    def to_json(self) -> dict:
        return {"arch": self.arch, "core": self.core, "llvm_mca_args": self.mca_args,
                "method": "executed stream, taken branches removed, repeated k and 2k times; slope per pass",
                "stream_target_pct": STREAM_TARGET, "weighted_target_pct": WEIGHTED_TARGET,
                "streams": [s.to_json() for s in self.streams], "overall_pct": round(self.overall_pct, 2),
                "weighted_block_pct": round(self.weighted_pct, 2), "weighted_blocks": self.weighted_blocks,
                "unmodelled_by_llvm_mca": [{"func": f, "addr": a, "refused": r} for f, a, r in self.unmodelled],
                "ok": self.ok}


# -- running a workload ----------------------------------------------------------------

def _machine(arch: str, w: StreamWorkload):
    from ..run import load_program, new_machine
    if w.name in ("hot-split", "cold-call"):
        from .hotsplit import program
        text = program(arch, w.name == "hot-split", 8)
        return new_machine(arch, "buggy", load_program(None, text=text, name=f"{w.name}.s"), 10**7), text
    if w.name == "leak-demo":
        from pathlib import Path
        path = Path(__file__).resolve().parent.parent / "demos" / f"leak_{arch}.s"
        return new_machine(arch, "buggy", load_program(path), 10**7), path.read_text()
    from ..workloads.registry import WORKLOADS as SUITE
    wl = SUITE[w.name]
    params = wl.resolve("small")
    return new_machine(arch, "buggy", wl.program(arch, params), wl.budget(params)), wl.path(arch).read_text()


def _start_addr(mc, text: str, start: str) -> int:
    func, _, label = start.partition(":")
    if not label:
        if func not in mc.image.symbols:
            raise GoemuError(f"dynamic calibration: no symbol {func!r}")
        return mc.image.symbols[func]
    lines = text.splitlines()
    top = next(i for i, ln in enumerate(lines, 1) if ln.startswith(f"TEXT {func},"))
    at = next(i for i, ln in enumerate(lines, 1) if i > top and ln.strip() == f"{label}:")
    f = mc.image.functions[func]
    return min(a for a, _file, ln, _o, _d in f.lines if ln > at)


def executed_blocks(arch: str, w: StreamWorkload) -> tuple[list[tuple[int, int]], object]:
    """The executed blocks (address, size) of the workload's window, and the machine."""
    mc, text = _machine(arch, w)
    start = _start_addr(mc, text, w.window.start)
    seen: list[tuple[int, int]] = []
    state = {"arrivals": 0, "on": False, "insns": 0, "done": False}
    sizes: dict[tuple[int, int], int] = {}

    def on_block(addr: int, size: int) -> None:
        if state["done"]:
            return
        if addr == start:
            state["arrivals"] += 1
            if state["on"] and w.window.one_turn:
                state["done"] = True
                return
            if state["arrivals"] == w.window.nth:
                state["on"] = True
        if state["on"]:
            seen.append((addr, size))
            n = sizes.get((addr, size))
            if n is None:
                n = sizes[(addr, size)] = len(list(mc_disasm(addr, size)))
            state["insns"] += n
            if state["insns"] >= w.window.limit:
                state["done"] = True

    core = CoreModel.for_arch(arch)

    def mc_disasm(addr: int, size: int):
        return core.disassemble(mc.read(addr, size), addr)
    mc.hooks.block(on_block, label="dynamic-calibration")
    mc.run()
    if not seen:
        raise GoemuError(f"dynamic calibration: {w.name} on {arch} never reached {w.window.start} "
                         f"{w.window.nth} times")
    return seen, mc


def straight_stream(core: CoreModel, mc, blocks: list[tuple[int, int]],
                    executed: Counter | None = None) -> tuple[list, int]:
    """The executed instructions, taken transfers removed; and how many were
    removed.  ``executed`` (if given) counts every executed instruction address."""
    out, removed = [], 0
    cache: dict[tuple[int, int], list] = {}
    for i, (addr, size) in enumerate(blocks):
        insns = cache.get((addr, size))
        if insns is None:
            insns = cache[(addr, size)] = core.disassemble(mc.read(addr, size), addr)
        if not insns:
            continue
        if executed is not None:
            executed.update(i.address for i in insns)
        last = insns[-1]
        info = core.info(last)
        nxt = blocks[i + 1][0] if i + 1 < len(blocks) else None
        taken = nxt != last.address + last.size if nxt is not None else info.control != "cond"
        if info.control and taken:
            out.extend(insns[:-1])
            removed += 1
        else:
            out.extend(insns)
    return out, removed


# -- llvm-mca on one stream ------------------------------------------------------------------

def _mca_total(mca: str, arch: str, insns: list, iterations: int,
               as_run: bool = True) -> tuple[int | None, int | None]:
    """llvm-mca's TotalCycles, or (None, index of the refused instruction)."""
    import importlib
    import json
    import re
    timing = importlib.import_module(f"emu.arch.{arch}.timing")
    if as_run:
        lines = timing.mca_stream(insns, lambda i: mca_text(arch, i))
    else:
        lines = [(mca_text(arch, i), k) for k, i in enumerate(insns)]
    text = "\n".join(t for t, _k in lines) + "\n"
    proc = invoke_llvm_mca(mca, arch, text, iterations, 600, f"a {len(insns)}-instruction {arch} stream")
    m = MCA_ERROR_LINE.search(proc.stderr)
    if m:           # llvm-mca may report an error, leave the line out and still succeed
        return None, lines[int(m.group(1)) - 1][1]
    if proc.returncode != 0:
        m = re.search(r"note: instruction:\s*(\S+)", proc.stderr)
        if m:
            bad = m.group(1)
            for k, i in enumerate(insns):
                if i.mnemonic == bad:
                    return None, k
        raise GoemuError(f"llvm-mca failed on the {arch} stream: {proc.stderr.strip().splitlines()[:1]}")
    data = json.loads(proc.stdout)
    return int(data["CodeRegions"][0]["SummaryView"]["TotalCycles"]), None


def _filter_refused(mca: str, arch: str, insns: list) -> tuple[list, Counter]:
    refused: set[str] = set()
    dropped: Counter = Counter()
    for _ in range(64):
        kept = [i for i in insns if i.mnemonic not in refused]
        _total, bad = _mca_total(mca, arch, kept, 1)
        if bad is None:
            for i in insns:
                if i.mnemonic in refused:
                    dropped[i.mnemonic] += 1
            return kept, dropped
        m = kept[bad].mnemonic
        if m in refused:
            raise GoemuError(f"llvm-mca keeps refusing {m!r} on {arch}")
        refused.add(m)
    raise GoemuError(f"llvm-mca refused too many different instructions on {arch}")


def model_slope(core: CoreModel, insns: list, k: int) -> float:
    ops = core.ops_of(insns)
    pipe = core.pipeline()
    for _ in range(k):
        pipe.run(ops)
    t1 = pipe.high
    for _ in range(k):
        pipe.run(ops)
    return (pipe.high - t1) / k


def measure_stream(core: CoreModel, mca: str, arch: str, w: StreamWorkload) -> StreamResult:
    blocks, mc = executed_blocks(arch, w)
    executed: Counter = Counter()
    insns, removed = straight_stream(core, mc, blocks, executed)
    kept, dropped = _filter_refused(mca, arch, insns)
    if not kept:
        raise GoemuError(f"dynamic calibration: nothing of {w.name} on {arch} is left for llvm-mca")
    k = max(1, math.ceil(MIN_INSNS / len(kept)))
    lo, _ = _mca_total(mca, arch, kept, k)
    hi, _ = _mca_total(mca, arch, kept, 2 * k)
    mca_ss = (hi - lo) / k
    lo, _ = _mca_total(mca, arch, kept, k, as_run=False)
    hi, _ = _mca_total(mca, arch, kept, 2 * k, as_run=False)
    raw = (hi - lo) / k
    return StreamResult(w.name, w.description, len(kept), removed, dropped, k, model_slope(core, kept, k), mca_ss,
                        raw, executed)


# -- the block calibration weighted by execution -----------------------------------------------

def weighted_blocks(cal, executions: Counter) -> tuple[float, int]:
    """Cycle-weighted absolute error of the block calibration: blocks that ran
    weigh by executions x llvm-mca cycles."""
    num = den = 0.0
    n = 0
    for b in cal.blocks:
        times = executions.get(b.addr, 0)
        if not times:
            continue
        n += 1
        num += times * abs(b.model - b.mca)
        den += times * b.mca
    return (num / den * 100 if den else 0.0), n


def calibrate_dynamic(arch: str, workloads=WORKLOADS) -> DynamicCalibration:
    from .calibrate import calibrate
    mca = find_llvm_mca()
    core = CoreModel.for_arch(arch)
    streams = [measure_stream(core, mca, arch, w) for w in workloads]
    executions: Counter = Counter()
    for s in streams:
        executions.update(s.executed)
    cal = calibrate(arch, include_short=True)
    pct, n = weighted_blocks(cal, executions)
    return DynamicCalibration(arch, core.name, mca_args(arch), streams, pct, n, cal.unmodelled)


# -- the hot-split figures per piece (goemu bench hot-split) -------------------------------------

SPLIT_PHASES = ("morestack", "newstack", "gogocall")
UNSPLIT_PHASES = ("lessstack", "oldstack", "gogo")


def hot_split_pieces(arch: str) -> dict[str, tuple[float, float]]:
    """One turn of the hot loop cut by runtime phase -- the split (morestack
    through gogocall), the unsplit (lessstack through gogo), the rest (the
    plain call and loop) -- and one turn of the cold loop (a plain call):
    each piece's executed stream, taken branches removed, on goemu's
    pipeline and on llvm-mca: {piece: (goemu, llvm-mca) cycles per pass}."""
    from .account import CycleAccount
    mca = find_llvm_mca()
    core = CoreModel.for_arch(arch)
    out: dict[str, tuple[float, float]] = {}
    for w in WORKLOADS:
        if w.name not in ("hot-split", "cold-call"):
            continue
        blocks, mc = executed_blocks(arch, w)
        stream, _removed = straight_stream(core, mc, blocks)
        static = CycleAccount(mc, core)._static
        pieces: dict[str, list] = {"split": [], "unsplit": [], "call": []}
        mode = "body"
        for insn in stream:
            mode = static(insn.address) or mode
            piece = "split" if mode in SPLIT_PHASES else "unsplit" if mode in UNSPLIT_PHASES else "call"
            pieces[piece].append(insn)
        if w.name == "cold-call":
            pieces = {"cold call": pieces["call"]}
        else:
            pieces["hot call"] = pieces.pop("call")
        for name, insns in pieces.items():
            kept, _dropped = _filter_refused(mca, arch, insns)
            if not kept:
                continue
            k = max(1, math.ceil(MIN_INSNS / len(kept)))
            lo, _ = _mca_total(mca, arch, kept, k)
            hi, _ = _mca_total(mca, arch, kept, 2 * k)
            out[name] = (model_slope(core, kept, k), (hi - lo) / k)
    return out
