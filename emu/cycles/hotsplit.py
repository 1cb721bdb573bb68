"""goemu bench hot-split: what a call that splits on every iteration costs.

The hot-split problem of segmented stacks: a loop whose call site sits just
above a segment's stack guard calls a small function whose frame does not
fit, so every call allocates a segment (morestack, newstack, gogocall) and
every return frees it (lessstack, oldstack, gogo).  The same loop with the
call site far from the boundary never splits.

Both programs are generated goasm.  ``descend`` recurses until one more
call would cross the guard, then runs the loop there; ``cold`` runs the same
loop near the top of the first segment.  leaf(i) returns 2i+1, so both
print n(n+2).  Cycles are counted between two markers, the loop's head on
its first test and its exit, so boot, the descent and the exit path are left
out: cycles per call are that count over n.
"""
from __future__ import annotations

import json
from dataclasses import dataclass

from ..arch import ARCH_NAMES
from ..errors import EmulationError
from ..run import load_program, new_machine
from .account import PHASES, CycleAccount


def program(arch: str, hot: bool, n: int) -> str:
    """The goasm text: main calls descend(n) (hot) or cold(n)."""
    import importlib
    text = importlib.import_module(f"emu.arch.{arch}.hotsplit")
    return text.PROGRAM.format(loop=text.LOOP, n=n, entry="descend" if hot else "cold")


@dataclass
class LoopCost:
    hot: bool
    calls: int
    cycles: int                      # from the loop's first test to its exit
    instructions: int
    splits: int                      # inside the loop
    unsplits: int
    phases: dict[str, int]           # inside the loop, per phase
    mispredicts: dict[str, int]      # inside the loop, per kind

    @property
    def per_call(self) -> float:
        return self.cycles / self.calls if self.calls else 0.0

    def to_json(self) -> dict:
        return {"hot": self.hot, "calls": self.calls, "cycles": self.cycles,
                "instructions": self.instructions, "cycles_per_call": round(self.per_call, 3),
                "splits": self.splits, "unsplits": self.unsplits, "phases": self.phases,
                "mispredicts": self.mispredicts}


@dataclass
class HotSplit:
    arch: str
    core: str
    hot: LoopCost
    cold: LoopCost
    streams: dict | None = None      # piece -> (goemu, llvm-mca) on the executed stream, penalties aside

    def per_event(self, phases) -> float:
        """Cycles per split (SPLIT_PHASES) or unsplit (UNSPLIT_PHASES) in the hot loop."""
        n = self.hot.splits if phases[0] == "morestack" else self.hot.unsplits
        return sum(self.hot.phases[p] for p in phases) / n if n else 0.0

    @property
    def ratio(self) -> float:
        return self.hot.per_call / self.cold.per_call if self.cold.per_call else 0.0

    def to_json(self) -> dict:
        from .dynamic import SPLIT_PHASES, UNSPLIT_PHASES
        return {"arch": self.arch, "core": self.core, "iterations": self.hot.calls,
                "hot": self.hot.to_json(), "cold": self.cold.to_json(), "ratio": round(self.ratio, 3),
                "cycles_per_split": round(self.per_event(SPLIT_PHASES), 3),
                "cycles_per_unsplit": round(self.per_event(UNSPLIT_PHASES), 3),
                "streams_penalties_aside": None if self.streams is None else
                {k: {"goemu": round(g, 3), "llvm_mca": round(m, 3)} for k, (g, m) in self.streams.items()}}


def _markers(mc, text: str, entry: str) -> tuple[int, int]:
    """Addresses of the loop head (``again:``) and exit (``done:``) in ``entry``,
    found through the source lines the assembler kept."""
    lines = text.splitlines()
    top = next(i for i, ln in enumerate(lines, 1) if ln.startswith(f"TEXT {entry},"))
    again = next(i for i, ln in enumerate(lines, 1) if i > top and ln.strip() == "again:")
    done = next(i for i, ln in enumerate(lines, 1) if i > top and ln.strip() == "done:")
    f = mc.image.functions[entry]
    at = lambda line: min(a for a, _file, ln, _o, _d in f.lines if ln > line)
    return at(again), at(done)


def _snap(acc: CycleAccount) -> dict:
    return {"total": acc.total, "insns": acc.instructions, "phases": dict(acc.phase_cycles),
            "mispredicts": dict(acc.predictor.mispredicts), "splits": len(acc.splits),
            "unsplits": len(acc.unsplits)}


def _loop(arch: str, hot: bool, n: int, core, caches: bool) -> LoopCost:
    """Cycles between the loop's first test and its exit: n calls (plus the final
    test), nothing of boot, the descent or the exit path."""
    text = program(arch, hot, n)
    mc = new_machine(arch, "buggy", load_program(None, text=text, name=f"hotsplit_{'hot' if hot else 'cold'}.s"))
    acc = CycleAccount(mc, core, caches=caches).attach()
    head, done = _markers(mc, text, "descend" if hot else "cold")
    marks: dict[str, dict] = {}
    mc.hooks.at(head, lambda _a: marks.setdefault("head", _snap(acc)), "hot-split head")
    mc.hooks.at(done, lambda _a: marks.setdefault("done", _snap(acc)), "hot-split done")
    mc.run()
    want = n * (n + 2) & ((1 << 8 * mc.arch.ptrsize) - 1)
    if mc.output != [str(want)] or set(marks) != {"head", "done"}:
        raise EmulationError(f"hot-split workload printed {mc.output}, expected [{want}]", pc=mc.pc)
    # Unicorn runs a block's hook before the code hooks of its instructions, so
    # each snapshot already holds the block it was taken in: the difference is
    # exactly n turns of the loop (rotated by one block) plus the exit block.
    a, b = marks["head"], marks["done"]
    return LoopCost(hot, n, b["total"] - a["total"], b["insns"] - a["insns"],
                    b["splits"] - a["splits"], b["unsplits"] - a["unsplits"],
                    {p: b["phases"][p] - a["phases"][p] for p in PHASES},
                    {k: b["mispredicts"][k] - a["mispredicts"].get(k, 0) for k in b["mispredicts"]})


def measure(arch: str, iterations: int = 1000, core=None, caches: bool = False,
            streams: bool = False) -> HotSplit:
    """``streams``: also the executed-stream figures of goemu's pipeline and
    llvm-mca (penalties aside) per piece, when llvm-mca is installed."""
    if core is None:
        from .account import default_core
        core = default_core(arch)
    r = HotSplit(arch, core.name, _loop(arch, True, iterations, core, caches),
                 _loop(arch, False, iterations, core, caches))
    if streams:
        from ..errors import ToolMissing
        from .dynamic import hot_split_pieces
        try:
            r.streams = hot_split_pieces(arch)
        except ToolMissing:
            r.streams = None
    return r


def summary(r: HotSplit) -> str:
    n = r.hot.calls
    out = [f"hot-split on {r.arch} ({r.core} model), {n} calls per loop",
           (f"  hot  (call site at the segment boundary): {r.hot.per_call:9.1f} cycles/call, "
           f"{r.hot.splits} splits, {r.hot.unsplits} unsplits"),
           (f"  cold (call site far from the boundary):   {r.cold.per_call:9.1f} cycles/call, "
           f"{r.cold.splits} splits, {r.cold.unsplits} unsplits"),
           f"  ratio hot/cold: {r.ratio:.2f}x",
           "  hot loop, cycles per call by phase:"]
    for p in PHASES:
        if r.hot.phases[p]:
            out.append(f"    {p:10} {r.hot.phases[p] / n:9.1f}")
    from .dynamic import SPLIT_PHASES, UNSPLIT_PHASES
    st = r.streams or {}

    def beside(piece):
        if piece not in st:
            return ""
        g, m = st[piece]
        return f"   [stream, penalties aside: goemu {g:6.1f}, llvm-mca {m:6.1f}]"
    out.append(f"  per split   (morestack..gogocall): {r.per_event(SPLIT_PHASES):9.1f}{beside('split')}")
    out.append(f"  per unsplit (lessstack..gogo):     {r.per_event(UNSPLIT_PHASES):9.1f}{beside('unsplit')}")
    rest = r.hot.per_call - r.per_event(SPLIT_PHASES) - r.per_event(UNSPLIT_PHASES)
    out.append(f"  rest of a hot call:                {rest:9.1f}{beside('hot call')}")
    out.append(f"  per plain (cold) call:             {r.cold.per_call:9.1f}{beside('cold call')}")
    if r.streams is None:
        out.append("  (llvm-mca not found: no stream figures)")
    ras = r.hot.mispredicts.get("ret", 0) / n if n else 0.0
    allm = sum(r.hot.mispredicts.values()) / n if n else 0.0
    out.append(f"  hot loop mispredicts per call: {allm:.2f}, of which RAS (returns): {ras:.2f} "
               f"(cold: {r.cold.mispredicts.get('ret', 0) / n if n else 0.0:.2f})")
    return "\n".join(out)


def cmd_hot_split(ns) -> int:
    from ..errors import UsageError
    if ns.iterations < 1:
        raise UsageError("--iterations must be at least 1")
    archs = [ns.arch] if ns.arch else list(ARCH_NAMES)
    results = [measure(a, ns.iterations, caches=ns.cache_model, streams=not ns.no_llvm_mca) for a in archs]
    if ns.json:
        print(json.dumps([r.to_json() for r in results] if len(results) > 1 else results[0].to_json(),
                         indent=2))
    else:
        print("\n\n".join(summary(r) for r in results))
    return 0


def register(sub) -> None:
    b = sub.add_parser("bench", help="cycle-model benchmarks")
    bs = b.add_subparsers(dest="bench", required=True)
    h = bs.add_parser("hot-split", help="a loop whose every call splits the stack, vs the same loop "
                      "far from the boundary")
    h.add_argument("--arch", choices=ARCH_NAMES, help="default: both")
    h.add_argument("--iterations", type=int, default=1000, metavar="N", help="calls per loop (default 1000)")
    h.add_argument("--cache-model", action="store_true", help="also model the data caches")
    h.add_argument("--json", action="store_true", help="print JSON")
    h.add_argument("--no-llvm-mca", action="store_true",
                   help="leave out the executed-stream figures of goemu's pipeline and llvm-mca")
    h.set_defaults(func=cmd_hot_split)
