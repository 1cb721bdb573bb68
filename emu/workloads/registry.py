"""The workload suite: programs shipped with goemu, runnable by name.

Each workload is one goasm file per architecture in this folder,
``<name>_<arch>.s`` (dashes in the name become underscores).  Its parameters
are globals named ``param_<name>`` with a ``DATA`` line holding the small
size, so every file also runs on its own (``goemu run FILE``) at the small
size; ``program()`` rewrites those initial values for another size.  The
expected output is a Python computation of the same formula the program
computes, for any parameters, so a run at any size can be checked.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..arch import get_arch
from ..errors import UsageError

HERE = Path(__file__).resolve().parent
SIZES = ("small", "large")


def _word_bits(arch: str) -> int:
    return 8 * get_arch(arch).ptrsize


@dataclass(frozen=True)
class Param:
    name: str
    small: int
    large: int
    doc: str
    minimum: int = 0
    maximum: int | None = None


@dataclass(frozen=True)
class Workload:
    name: str
    description: str
    params: tuple[Param, ...]
    expected: Callable[[str, dict], list[str]]     # (arch, params) -> printed lines
    collections: Callable[[dict], int]             # params -> runtime.gc calls
    budget: Callable[[dict], int]                  # params -> a generous instruction budget

    def path(self, arch: str) -> Path:
        return HERE / f"{self.name.replace('-', '_')}_{arch}.s"

    def param(self, name: str) -> Param:
        for p in self.params:
            if p.name == name:
                return p
        raise UsageError(f"workload {self.name} has no parameter {name!r} "
                         f"(it has: {', '.join(p.name for p in self.params)})")

    def resolve(self, size: str = "small", overrides: dict[str, int] | None = None) -> dict[str, int]:
        """The parameters at ``size``, with ``overrides`` applied and range-checked."""
        if size not in SIZES:
            raise UsageError(f"size must be one of {', '.join(SIZES)}, not {size!r}")
        out = {p.name: getattr(p, size) for p in self.params}
        for k, v in (overrides or {}).items():
            p = self.param(k)
            if v < p.minimum or (p.maximum is not None and v > p.maximum):
                hi = f"..{p.maximum}" if p.maximum is not None else " or more"
                raise UsageError(f"workload {self.name}: {k}={v} is out of range ({p.minimum}{hi})")
            out[k] = v
        return out

    def program(self, arch: str, params: dict[str, int]):
        """The parsed program (emu.asm.source.Unit) with each param_<name>
        global initialised to ``params[name]``."""
        from ..asm.source import parse_file
        unit = parse_file(self.path(arch), display=f"workloads/{self.path(arch).name}")
        decls = {d.name: d for d in unit.data}
        for k, v in params.items():
            d = decls.get(f"param_{k}")
            if d is None or not d.inits:
                raise UsageError(f"{self.path(arch).name} declares no initialised param_{k}")
            off, width, _old, line = d.inits[0]
            if v >= 1 << 8 * width:
                raise UsageError(f"workload {self.name}: {k}={v} does not fit in {width} bytes on {arch}")
            d.inits[0] = (off, width, str(v), line)
        return unit


def _signed(v: int, arch: str) -> str:
    w = _word_bits(arch)
    v &= (1 << w) - 1
    return str(v - (1 << w) if v >> (w - 1) else v)


def _binary_trees(arch: str, p: dict) -> list[str]:
    d_max, d_min = p["depth"], p["mindepth"]
    nodes = lambda d: (1 << (d + 1)) - 1
    out = [d_max + 1, nodes(d_max + 1)]
    for d in range(d_min, d_max + 1, 2):
        it = 1 << (d_max - d)
        out += [it, d, it * nodes(d)]
    out += [d_max, nodes(d_max)]
    return [_signed(v, arch) for v in out]


def _tree_allocations(p: dict) -> int:
    """Objects binary-trees allocates: stretch, long-lived, and every iteration's trees."""
    d_max, nodes = p["depth"], lambda d: (1 << (d + 1)) - 1
    return nodes(d_max + 1) + nodes(d_max) + sum((1 << (d_max - d)) * nodes(d)
                                                 for d in range(p["mindepth"], d_max + 1, 2))


def _recursion(arch: str, p: dict) -> list[str]:
    mask = (1 << _word_bits(arch)) - 1
    n, a, b, down = p["depth"], 1, 2, []
    while n:
        down.append((n, a))
        a, b, n = b, (a + b) & mask, n - 1
    x, y = a, b
    for n, a in reversed(down):
        x, y = (3 * x + n) & mask, y ^ a
    return [_signed(v, arch) for v in (p["depth"], x, y)]


def _hot_split(arch: str, p: dict) -> list[str]:
    n = p["calls"]
    return [_signed(n * (n + 2), arch)]      # sum of leaf(i) = 2i + 1 for i = n..1


def reflect_words(arch: str) -> int:
    """Words in reflect-loop's big argument block (4000 bytes)."""
    return 4000 // (_word_bits(arch) // 8)


def _reflect(arch: str, p: dict) -> list[str]:
    mask = (1 << _word_bits(arch)) - 1
    k = reflect_words(arch)
    acc = 1
    for i in range(p["iters"]):
        if i % 2 == 0:          # radd(i, acc) (7*i + acc), a 3-word block
            acc = (7 * i + acc) & mask
        else:                   # rsum: words w_j = acc + j, j < k-1; result sum (j+1) * w_j
            acc = sum((j + 1) * ((acc + j) & mask) for j in range(k - 1)) & mask
    return [_signed(v, arch) for v in (p["iters"], acc)]


def _list(arch: str, p: dict) -> list[str]:
    n = p["nodes"]
    return [_signed(v, arch) for v in (n, n * (n + 1) // 2)]


WORKLOADS: dict[str, Workload] = {w.name: w for w in (
    Workload("binary-trees",
             "GCBench-style: a stretch tree of depth+1, a long-lived tree of depth kept in a global, "
             "2^(depth-d) trees of each depth d = mindepth, mindepth+2, ..., depth built, checked "
             "and dropped, runtime.gc after each depth; prints node counts",
             (Param("depth", 6, 16, "depth of the long-lived tree (large: 131,071 live nodes, "
                    "1.3 million allocated)", 1, 24),
              Param("mindepth", 4, 4, "first depth of the iterations", 0, 24)),
             _binary_trees, lambda p: 1 + len(range(p["mindepth"], p["depth"] + 1, 2)),
             lambda p: 4000 * _tree_allocations(p) + 10**7),
    Workload("recursion",
             "rec(n, a, b) (x, y) recursing depth frames deep over many stack segments, arguments "
             "and results copied across every boundary, runtime.gc at the deepest point",
             (Param("depth", 1000, 100_000, "frames", 0),),
             _recursion, lambda p: 1, lambda p: 1000 * p["depth"] + 10**7),
    Workload("hot-split",
             "a loop calling a small leaf function at a segment's guard, so every call splits and "
             "unsplits; the loop runs under depth frames of 512 bytes",
             (Param("calls", 200, 100_000, "calls in the loop", 1),
              Param("depth", 20, 1500, "frames of 512 bytes above the loop (0: the top of the stack)", 0)),
             _hot_split, lambda p: 0, lambda p: 5000 * (p["calls"] + p["depth"]) + 10**7),
    Workload("reflect-loop",
             "reflectcall in a loop, each call's argument block a fresh heap object: a 3-word "
             "block on even iterations (no new segment), a 4000-byte one on odd ones (a new "
             "segment, the block copied there and back); runtime.gc every gcevery iterations",
             (Param("iters", 64, 10_000, "reflectcalls", 1),
              Param("gcevery", 16, 1000, "iterations between collections", 1)),
             _reflect, lambda p: p["iters"] // p["gcevery"], lambda p: 100_000 * p["iters"] + 10**7),
    Workload("list",
             "a linked list of nodes {next, value} built by a function on its own segment, kept "
             "alive through a global, collected, walked, then dropped and collected again",
             (Param("nodes", 200, 100_000, "list length", 1),),
             _list, lambda p: 2, lambda p: 5000 * p["nodes"] + 10**7),
)}


def get(name: str) -> Workload:
    try:
        return WORKLOADS[name]
    except KeyError:
        raise UsageError(f"no workload named {name!r} (known: {', '.join(WORKLOADS)})") from None


def parse_params(items: list[str] | None) -> dict[str, int]:
    """``["depth=16", "mindepth=4"]`` -> {"depth": 16, "mindepth": 4}."""
    out = {}
    for item in items or []:
        k, sep, v = item.partition("=")
        try:
            if not sep or not k:
                raise ValueError
            out[k.strip()] = int(v, 0)
        except ValueError:
            raise UsageError(f"--param expects NAME=INTEGER, not {item!r}") from None
    return out
