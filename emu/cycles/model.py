"""Per-core cycle model of straight-line code.

A core is data (``emu/cycles/data/<core>.toml``): dispatch width, an
in-flight window, execution ports/pipes, instruction classes (latency, uops,
ports, reciprocal throughput) from public tables, the mnemonic -> class
rules, and the branch-predictor and cache figures the dynamic model uses.

The scheduler is the same for every core: instructions dispatch in program
order, ``dispatch_width`` uops per cycle, at most ``window`` instructions in
flight; each execution uop issues at the first cycle its inputs are ready
(read-after-write through registers, the flags included) and a port of its
group is free; a result is ready ``latency`` cycles after its first uop
issues.  Loads and stores add memory uops from the core's ``[memory]``
section.  Out-of-order issue is modelled by letting a later uop take an
earlier free port cycle; Cortex-A9 gets its partial out-of-order-ness from
its small width (2), window (40) and single load/store pipe.

``block_cost`` is one execution from an idle core (all hits, no
mispredictions: a branch, call or return costs its dispatch slot and
execution port but does not wait for its inputs, since the front end has
already gone on at the predicted target); ``steady_state`` is cycles per iteration when the block is
run back to back (what llvm-mca reports).  Both are deterministic.
"""
from __future__ import annotations

import importlib
import math
from collections import Counter
from dataclasses import dataclass
from importlib import resources

import capstone

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

from ..errors import GoemuError
from .insn import InsnInfo

CORES = {"amd64": "sandybridge", "arm": "cortex_a9"}
DEFAULT_CLASS = "default"
# Iterations simulated for steady_state: the slope between these two points.
_WARM, _RUNS = 100, 200


@dataclass(frozen=True)
class InsnClass:
    name: str
    latency: int
    uops: int
    ports: tuple[str, ...]
    rthroughput: float
    fold: bool


@dataclass(frozen=True)
class BlockCost:
    """Cycles of one execution of a block; ``per_insn`` sums to ``total``."""
    total: int
    per_insn: tuple[int, ...]


class CoreModel:
    def __init__(self, data: dict):
        self.data = data
        self.name: str = data["name"]
        self.title: str = data.get("title", self.name)
        self.arch: str = data["arch"]
        self.sources: list[dict] = list(data.get("sources", []))
        self.branch: dict = dict(data["branch"])
        self.caches: dict = {k: (dict(v) if isinstance(v, dict) else v) for k, v in data["caches"].items()}
        pipe = data["pipeline"]
        self.width: int = pipe["dispatch_width"]
        self.window: int = pipe.get("window", 0)
        self.ports: tuple[str, ...] = tuple(pipe["ports"])
        self.groups: dict[str, tuple[str, ...]] = {g: tuple(ps) for g, ps in pipe["groups"].items()}
        self.memory: dict = dict(data["memory"])
        self.stack_sync: str | None = pipe.get("stack_sync_ports") or None
        self.classes: dict[str, InsnClass] = {
            n: InsnClass(n, int(c["latency"]), int(c["uops"]), tuple(c["ports"]), float(c["rthroughput"]),
                         bool(c.get("fold", False)))
            for n, c in data["classes"].items()}
        if DEFAULT_CLASS not in self.classes:
            raise GoemuError(f"core {self.name}: no [classes.{DEFAULT_CLASS}]")
        self.rules: dict[str, str] = {}
        for cls, keys in data["mnemonics"].items():
            if cls not in self.classes:
                raise GoemuError(f"core {self.name}: [mnemonics] names unknown class {cls!r}")
            for k in keys:
                self.rules[k] = cls
        for c in self.classes.values():
            for g in c.ports:
                if g not in self.groups:
                    raise GoemuError(f"core {self.name}: class {c.name} uses unknown port group {g!r}")
        self._timing = importlib.import_module(f"emu.arch.{self.arch}.timing")
        self._info_cache: dict[tuple[int, bytes], InsnInfo] = {}
        self._block_cache: dict[tuple, BlockCost] = {}
        self._steady_cache: dict[tuple, float] = {}
        self.unknown: Counter[str] = Counter()      # keys that fell into the default class
        self._md = None

    # -- construction -------------------------------------------------------
    @classmethod
    def load(cls, core_name: str) -> CoreModel:
        try:
            text = resources.files("emu.cycles").joinpath("data").joinpath(f"{core_name}.toml").read_text()
        except FileNotFoundError:
            raise GoemuError(f"no core data for {core_name!r} (known: {', '.join(sorted(CORES.values()))})")
        return cls(tomllib.loads(text))

    @classmethod
    def for_arch(cls, arch: str) -> CoreModel:
        if arch not in CORES:
            raise GoemuError(f"no core model for architecture {arch!r}")
        return cls.load(CORES[arch])

    # -- instructions -------------------------------------------------------
    def info(self, insn) -> InsnInfo:
        """The timing facts of a Capstone instruction (cached by address and bytes)."""
        if isinstance(insn, InsnInfo):
            return insn
        k = (insn.address, bytes(insn.bytes))
        got = self._info_cache.get(k)
        if got is None:
            got = self._info_cache[k] = self._timing.classify(insn)
        return got

    def class_of(self, info: InsnInfo) -> InsnClass:
        name = self.rules.get(info.key)
        if name is None:
            self.unknown[info.key] += 1
            name = DEFAULT_CLASS
        return self.classes[name]

    def disassemble(self, code: bytes, addr: int) -> list:
        if self._md is None:
            from ..arch import get_arch
            a = get_arch(self.arch)
            self._md = capstone.Cs(a.cs_arch, a.cs_mode)
            self._md.detail = True
        return list(self._md.disasm(code, addr))

    # -- costs --------------------------------------------------------------
    def block_cost(self, insns) -> BlockCost:
        infos = [self.info(i) for i in insns]
        key = tuple((i.addr, i.text) for i in infos)
        got = self._block_cache.get(key)
        if got is None:
            done = _Sched(self).run(infos, 1)
            per, high = [], 0
            for c in done:
                per.append(max(0, c - high))
                high = max(high, c)
            got = self._block_cache[key] = BlockCost(high, tuple(per))
        return got

    def steady_state(self, insns) -> float:
        """Cycles per iteration of the block run back to back (loop-carried
        dependencies included): the slope between iteration 100 and 200."""
        infos = [self.info(i) for i in insns]
        if not infos:
            return 0.0
        key = tuple((i.addr, i.text) for i in infos)
        got = self._steady_cache.get(key)
        if got is None:
            done = _Sched(self).run(infos, _RUNS)
            n = len(infos)
            t_warm = max(done[:_WARM * n])
            t_end = max(done)
            got = self._steady_cache[key] = (t_end - t_warm) / (_RUNS - _WARM)
        return got

    def cost_of_bytes(self, code: bytes, addr: int) -> BlockCost:
        return self.block_cost(self.disassemble(code, addr))


class _Sched:
    """One run of the scheduler over fresh core state."""

    def __init__(self, core: CoreModel):
        self.core = core
        self.nxt: dict[str, dict[int, int]] = {p: {} for p in core.ports}   # busy cycle -> a later cycle
        self.ready: dict[str, tuple[int, int]] = {}
        self.slot = 0
        self.retire: list[int] = []
        self.stack_offset = False      # the stack engine holds an RSP delta the back end has not seen

    def _sync_needed(self, info: InsnInfo) -> bool:
        if info.stack_engine:
            self.stack_offset = True
            return False
        if self.stack_offset and ("rsp" in info.reads or "rsp" in info.addr_reads or "rsp" in info.writes):
            self.stack_offset = False
            return True
        return False

    def _ready(self, regs, fast: bool = False) -> int:
        t = 0
        for r in regs:
            v = self.ready.get(r)
            if v is not None:
                t = max(t, v[1] if fast else v[0])
        return t

    def _free(self, p: str, c: int) -> int:
        """First free cycle >= c on port p (a "next free" forest with path compression)."""
        nxt = self.nxt[p]
        root = c
        while root in nxt:
            root = nxt[root]
        while c in nxt and nxt[c] != root:
            nxt[c], c = root, nxt[c]
        return root

    def _issue(self, group: str, t: int, occ: int = 1) -> int:
        best_c, best_p = None, None
        for p in self.core.groups[group]:
            c = self._free(p, t)
            while occ > 1:
                c2 = c
                for k in range(1, occ):
                    if c + k in self.nxt[p]:
                        c2 = self._free(p, c + k)
                        break
                if c2 == c:
                    break
                c = c2
            if best_c is None or c < best_c:
                best_c, best_p = c, p
        nxt = self.nxt[best_p]
        for k in range(occ):
            nxt[best_c + k] = best_c + k + 1
        return best_c

    def run(self, infos: list[InsnInfo], iterations: int) -> list[int]:
        core, mem = self.core, self.core.memory
        width, window = core.width, core.window
        per_cycle = mem.get("multiple_regs_per_cycle", 1)
        classes = [core.class_of(i) for i in infos]
        done: list[int] = []
        for _ in range(iterations):
            for info, cls in zip(infos, classes):
                k = len(done)
                d = self.slot // width
                if window and k >= window and self.retire[k - window] > d:
                    d = self.retire[k - window]
                    self.slot = d * width
                sync = core.stack_sync and self._sync_needed(info)
                self.slot += max(1, cls.uops) + (1 if sync else 0)
                if sync:
                    t = self._issue(core.stack_sync, max(d, self._ready(("rsp",))))
                    self.ready["rsp"] = (t + 1, t + 1)
                issued = [d]
                t_addr = max(d, self._ready(info.addr_reads))
                load_done = load_fast = None
                agu_t = None
                mem_cycles = max(1, math.ceil(info.nregs / per_cycle)) if per_cycle > 1 else 1
                if info.load:
                    lat = mem["load_latency"]
                    occ = mem_cycles
                    if info.load_kind == "complex":
                        lat = mem.get("load_latency_complex", lat)
                    elif info.load_kind == "byte":
                        lat = mem.get("load_latency_byte", lat)
                        occ = max(occ, mem.get("load_agu_byte", 1))
                    elif info.load_kind == "shift_reg":
                        lat = mem.get("load_latency_shift_reg", lat)
                    agu_t = self._issue(mem["load_ports"], t_addr, occ)
                    issued.append(agu_t)
                    load_done = agu_t + lat + (mem_cycles - 1)
                    fast = mem.get("load_latency_fast")
                    load_fast = agu_t + fast + (mem_cycles - 1) if (fast and info.fast_src) else load_done
                op_ports = () if (cls.fold and (info.load or info.store)) else cls.ports
                t_data = max(d, self._ready(info.reads, info.fast_dst))
                if info.load and op_ports:
                    t_data = max(t_data, load_fast if info.fast_dst else load_done)
                first = None
                for g in op_ports:
                    occ = max(1, round(cls.rthroughput * len(core.groups[g]) / len(op_ports)))
                    t = self._issue(g, t_data if first is None else first, occ)
                    issued.append(t)
                    if first is None:
                        first = t
                if op_ports:
                    result = first + cls.latency
                    result_fast = result
                elif info.load:
                    result, result_fast = load_done, load_fast
                else:
                    result = result_fast = t_data + cls.latency
                if info.store:
                    t_sa = self._issue(mem["store_address_ports"], t_addr, mem_cycles)
                    issued.append(t_sa)
                    agu_t = t_sa if agu_t is None else agu_t
                    if mem.get("store_data_ports"):
                        src = result if op_ports else t_data
                        issued.append(self._issue(mem["store_data_ports"], max(d, src)))
                    else:
                        issued.append(max(t_data, result if op_ports else t_data))
                for w in info.writes:
                    self.ready[w] = (result, result_fast)
                if info.base_writes:
                    tb = (agu_t if agu_t is not None else t_addr) + 1
                    for w in info.base_writes:
                        self.ready[w] = (tb, tb)
                if info.control:
                    # Predicted correctly (the block-cost assumption), a branch does not hold up
                    # what follows: it costs its dispatch slot and ports, not its inputs' latency.
                    complete = max([d + 1] + [result for w in info.writes if w != "flags"])
                else:
                    complete = max(result, max(issued) + 1)
                done.append(complete)
                if window:
                    self.retire.append(max(complete, self.retire[-1]) if self.retire else complete)
        return done
