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
its small width (2), window (40), single load/store pipe and in-order address
unit ([memory] agu_ports; pipeline.py).

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
from .pipeline import (
    F_CONTROL,
    F_CTL_RESULT,
    F_FAST_DST,
    F_FAST_SRC,
    F_LOAD,
    F_NAMES_RSP,
    F_STACK_ENGINE,
    F_STORE,
    MAX_OPUOPS,
    MAX_PORTS,
    MAX_WINDOW,
    QUEUE_BIT,
    Config,
    Op,
    Pipeline,
)


def core_name(arch: str) -> str:
    """The core that stands for ``arch`` (``emu.arch.<arch>.timing.CORE``)."""
    try:
        timing = importlib.import_module(f"emu.arch.{arch}.timing")
    except ModuleNotFoundError:
        raise GoemuError(f"no core model for architecture {arch!r}") from None
    return timing.CORE

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
        self.rs: int = pipe.get("scheduler", 0)
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
        self._reg_bits: dict[str, int] = {}
        self.fusion: dict = dict(pipe.get("fusion", {}))
        if len(self.ports) > MAX_PORTS or self.window > MAX_WINDOW or self.rs > MAX_WINDOW:
            raise GoemuError(f"core {self.name}: more than {MAX_PORTS} ports or a window over {MAX_WINDOW}")

    # -- construction -------------------------------------------------------
    @classmethod
    def load(cls, core_name: str) -> CoreModel:
        try:
            text = resources.files("emu.cycles").joinpath("data").joinpath(f"{core_name}.toml").read_text()
        except FileNotFoundError:
            data = resources.files("emu.cycles").joinpath("data")
            known = ", ".join(sorted(p.name[:-5] for p in data.iterdir() if p.name.endswith(".toml")))
            raise GoemuError(f"no core data for {core_name!r} (known: {known})")
        return cls(tomllib.loads(text))

    @classmethod
    def for_arch(cls, arch: str) -> CoreModel:
        return cls.load(core_name(arch))

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

    # -- the pipeline's view -----------------------------------------------------
    def reg_bit(self, name: str) -> int:
        """The bit of register ``name`` in the pipeline's masks (assigned on first use)."""
        b = self._reg_bits.get(name)
        if b is None:
            b = len(self._reg_bits)
            if b >= QUEUE_BIT:                       # the last bit is the in-order AGU's (pipeline.py)
                raise GoemuError(f"core {self.name}: more than {QUEUE_BIT} registers named ({name!r})")
            self._reg_bits[name] = b
        return b

    def _mask(self, regs) -> int:
        m = 0
        for r in regs:
            m |= 1 << self.reg_bit(r)
        return m

    def _ports(self, group: str) -> int:
        m = 0
        for p in self.groups[group]:
            m |= 1 << self.ports.index(p)
        return m

    @property
    def config(self) -> Config:
        return Config(self.width, self.window, len(self.ports),
                      self._ports(self.stack_sync) if self.stack_sync else 0,
                      self.reg_bit(self._timing.STACK_POINTER), self.rs)

    def op_of(self, info: InsnInfo, fused_first: bool = False, fused_second: bool = False) -> Op:
        """The pipeline description of one instruction.  ``fused_first`` /
        ``fused_second``: the two halves of a macro-fused pair (the first
        becomes the pair's one uop, on the fusion port; the second takes no
        slot and no port)."""
        cls = self.class_of(info)
        mem = self.memory
        per_cycle = mem.get("multiple_regs_per_cycle", 1)
        mem_cycles = max(1, math.ceil(info.nregs / per_cycle)) if per_cycle > 1 else 1
        flags = 0
        load_ports = load_occ = load_lat = load_fast = 0
        load_occ = 1
        if info.load:
            flags |= F_LOAD
            lat = mem["load_latency"]
            occ = mem_cycles
            if info.load_kind != "word":
                lat = mem.get(f"load_latency_{info.load_kind}", lat)
            load_ports, load_occ, load_lat = self._ports(mem["load_ports"]), occ, lat + mem_cycles - 1
            advance = mem.get("load_forward_advance", 0)
            if advance and info.fast_src:
                flags |= F_FAST_SRC
                load_fast = lat - advance + mem_cycles - 1
        sa_ports = sd_ports = 0
        agu_ports = agu_occ = 0
        if info.agu and mem.get("agu_ports"):
            agu_ports, agu_occ = self._ports(mem["agu_ports"]), info.agu
        if info.store:
            flags |= F_STORE
            sa_ports = self._ports(mem["store_address_ports"])
            if mem.get("store_data_ports"):
                sd_ports = self._ports(mem["store_data_ports"])
        op_groups = () if (cls.fold and (info.load or info.store)) else cls.ports
        ops = tuple((self._ports(g), max(1, round(cls.rthroughput * len(self.groups[g]) / len(op_groups))))
                    for g in op_groups)
        slots = max(1, cls.uops)
        if fused_second:
            slots, ops = 0, ()
        elif fused_first:
            ops = ((self._ports(self.fusion["port"]), 1),)
        if len(ops) > MAX_OPUOPS:
            raise GoemuError(f"core {self.name}: class {cls.name} has more than {MAX_OPUOPS} execution uops")
        if info.fast_dst:
            flags |= F_FAST_DST
        if info.stack_engine:
            flags |= F_STACK_ENGINE
        sp = self._timing.STACK_POINTER
        if sp in info.reads or sp in info.addr_reads or sp in info.writes:
            flags |= F_NAMES_RSP
        if info.control:
            flags |= F_CONTROL
            if info.writes - {"flags"}:
                flags |= F_CTL_RESULT
        return Op(slots=slots, flags=flags, reads=self._mask(info.reads), addr=self._mask(info.addr_reads),
                  writes=self._mask(info.writes), base=self._mask(info.base_writes), latency=cls.latency,
                  ops=ops, load_ports=load_ports, load_occ=load_occ, load_lat=load_lat, load_fast=load_fast,
                  sa_ports=sa_ports, sa_occ=mem_cycles, sd_ports=sd_ports, agu_ports=agu_ports,
                  agu_occ=max(1, agu_occ))

    def fuses(self, a: InsnInfo, b: InsnInfo) -> bool:
        """Whether ``a`` then ``b`` decode as one macro-fused uop (the core's
        [pipeline.fusion] rule: first key, second key, no memory operand
        together with an immediate)."""
        f = self.fusion
        if not f or a.key not in f["first"] or b.key not in f["second"]:
            return False
        return not ((a.load or a.store) and a.has_imm)

    def ops_of(self, insns) -> tuple[Op, ...]:
        """The pipeline description of a straight sequence (a block, or a stream)."""
        infos = [self.info(i) for i in insns]
        out: list[Op] = []
        i = 0
        while i < len(infos):
            if i + 1 < len(infos) and self.fuses(infos[i], infos[i + 1]):
                out.append(self.op_of(infos[i], fused_first=True))
                out.append(self.op_of(infos[i + 1], fused_second=True))
                i += 2
            else:
                out.append(self.op_of(infos[i]))
                i += 1
        return tuple(out)

    def pipeline(self) -> Pipeline:
        """A fresh (idle) pipeline of this core."""
        return Pipeline(self.config)

    # -- costs --------------------------------------------------------------
    def block_cost(self, insns) -> BlockCost:
        """One execution of the block from an idle core."""
        infos = [self.info(i) for i in insns]
        key = tuple((i.addr, i.text) for i in infos)
        got = self._block_cache.get(key)
        if got is None:
            per = self.pipeline().run(self.ops_of(infos))
            got = self._block_cache[key] = BlockCost(sum(per), tuple(per))
        return got

    def stream_cost(self, insns) -> int:
        """Cycles of a straight instruction stream from an idle core."""
        return sum(self.pipeline().run(self.ops_of(insns)))

    def steady_state(self, insns) -> float:
        """Cycles per iteration of the block run back to back (loop-carried
        dependencies included): the slope between iteration 100 and 200."""
        infos = [self.info(i) for i in insns]
        if not infos:
            return 0.0
        key = tuple((i.addr, i.text) for i in infos)
        got = self._steady_cache.get(key)
        if got is None:
            ops = self.ops_of(infos)
            pipe = self.pipeline()
            for _ in range(_WARM):
                pipe.run(ops)
            t_warm = pipe.high
            for _ in range(_RUNS - _WARM):
                pipe.run(ops)
            got = self._steady_cache[key] = (pipe.high - t_warm) / (_RUNS - _WARM)
        return got

    def cost_of_bytes(self, code: bytes, addr: int) -> BlockCost:
        return self.block_cost(self.disassemble(code, addr))
