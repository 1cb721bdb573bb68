"""What an allocation and a split cost in emulated instructions, at two sizes.

Go 1.0's allocator does both in constant time: a small ``runtime.new`` pops an
MCache list (refilled in batches, spans carved once), a FixedStack split pops
the M's stack FixAlloc, a larger one is a small mallocgc.  These programs
measure it:

- ``alloc_program(arch, n, k, size)``: main allocates n objects of ``size``
  bytes, each linked onto a global list (so all stay live); the cost is
  counted over the last k allocations, when the heap already holds n - k
  objects (each architecture's ``emu/arch/<arch>/programs/alloc.s``).
- ``split_program(arch, depth, n, leaf_frame)``: main recurses ``depth`` frames
  of 512 bytes, then descends (32-byte frames) until one more call would
  cross the stack guard, and there calls ``leaf`` n times, each call splitting
  and unsplitting (a FixedStack segment for a small leaf frame, a heap
  segment above 3072 bytes).  This is the hot-split workload's program
  (emu/workloads/hot_split_<arch>.s) with its parameters and leaf's frame
  filled in.

``measure_alloc`` / ``measure_split`` run one and return instructions per
operation, counted between the loop's markers (boot, set-up and exit left
out).  ``bench(cfg)`` is the ``make bench`` measurement.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from .arch import ARCH_NAMES, get_arch
from .run import load_program, new_machine


def alloc_program(arch: str, n: int, k: int, size: int = 16) -> str:
    return get_arch(arch).program("alloc").format(n=n, k=k, size=size)


def split_program(arch: str, depth: int, n: int, leaf_frame: int = 16) -> str:
    """The hot-split workload's program (emu/workloads/hot_split_<arch>.s) with
    ``depth`` and ``n`` as its parameters' initial values and leaf's frame
    declared ``leaf_frame`` bytes."""
    from .workloads import get
    text = get("hot-split").path(arch).read_text()
    for pattern, value in ((r"^(DATA param_depth\+0/\d+, \$)\d+$", depth),
                           (r"^(DATA param_calls\+0/\d+, \$)\d+$", n),
                           (r"^(TEXT leaf, \$)\d+(?=-)", leaf_frame)):
        text, count = re.subn(pattern, lambda m, v=value: f"{m.group(1)}{v}", text, flags=re.MULTILINE)
        if count != 1:
            raise ValueError(f"hot_split_{arch}.s: expected one line matching {pattern!r}")
    return text


def _label_addr(mc, text: str, func: str, label: str) -> int:
    """The address of the first instruction after ``label:`` in ``func``."""
    lines = text.splitlines()
    top = next(i for i, ln in enumerate(lines, 1) if ln.startswith(f"TEXT {func},"))
    at = next(i for i, ln in enumerate(lines, 1) if i > top and ln.strip() == f"{label}:")
    f = mc.image.functions[func]
    return min(a for a, _file, ln, _o, _d in f.lines if ln > at)


@dataclass
class Cost:
    ops: int
    instructions: int
    splits: int = 0

    @property
    def per_op(self) -> float:
        return self.instructions / self.ops if self.ops else 0.0


def _between(mc, text: str, func: str, first: str, last: str) -> int:
    seen: dict[str, int] = {}
    a, b = _label_addr(mc, text, func, first), _label_addr(mc, text, func, last)
    mc.hooks.at(a, lambda _x: seen.setdefault("a", mc.icount), "allocbench")
    mc.hooks.at(b, lambda _x: seen.setdefault("b", mc.icount), "allocbench")
    mc.run()
    if "a" not in seen or "b" not in seen:
        raise RuntimeError(f"markers not reached (exited={mc.exited}, output={mc.output[-3:]})")
    return seen["b"] - seen["a"]


def measure_alloc(arch: str, n: int, k: int = 1000, size: int = 16, budget: int = 10**9) -> Cost:
    """Instructions per ``runtime.new(size)`` over the last k of n allocations
    (all kept live), loop overhead included."""
    text = alloc_program(arch, n, k, size)
    mc = new_machine(arch, "fixed", load_program(None, text=text, name="alloc.s"), budget)
    return Cost(k, _between(mc, text, "main", "mark", "done"))


def measure_split(arch: str, depth: int, n: int = 200, leaf_frame: int = 16, budget: int = 10**9) -> Cost:
    """Instructions per call of a loop in which every call splits, ``depth`` frames
    of 512 bytes below the top of the stack."""
    text = split_program(arch, depth, n, leaf_frame)
    mc = new_machine(arch, "fixed", load_program(None, text=text, name="split.s"), budget)
    splits: list[int] = []
    mc.on("split", lambda ev: splits.append(1))
    before = len(splits)
    insns = _between(mc, text, "descend", "again", "done")
    return Cost(n, insns, len(splits) - before)


def split_cycles(arch: str, depth: int, n: int = 200, leaf_frame: int = 16) -> float:
    """Cycles per call (goemu's cycle model, the arch's default core) of the
    every-call-splits loop, ``depth`` frames of 512 bytes down: what
    ``goemu bench hot-split`` reports per call, at a chosen depth."""
    from .cycles.account import CycleAccount, default_core
    text = split_program(arch, depth, n, leaf_frame)
    mc = new_machine(arch, "fixed", load_program(None, text=text, name="split.s"), 10**9)
    acc = CycleAccount(mc, default_core(arch)).attach()
    seen: dict[str, int] = {}
    for label in ("again", "done"):
        mc.hooks.at(_label_addr(mc, text, "descend", label),
                    lambda _a, label=label: seen.setdefault(label, acc.total), "allocbench")
    mc.run()
    return (seen["done"] - seen["again"]) / n


def bench(cfg) -> list:
    """make bench: instructions per allocation (heap of 10^3 vs 10^5 live objects)
    and per split (top of the stack vs 1,500 frames of 512 bytes), both archs."""
    from .bench import Row
    rows = []
    for arch in ARCH_NAMES:
        small, big = measure_alloc(arch, 1000, 1000), measure_alloc(arch, 100_000, 1000)
        rows.append(Row("alloc insns/new(16)", arch,
                        f"{small.per_op:.1f} vs {big.per_op:.1f}",
                        f"heap 10^3 vs 10^5 live objects, last 1000 allocations; ratio "
                        f"{big.per_op / small.per_op:.2f}"))
        for leaf, what in ((16, "FixedStack"), (6000, "heap segment")):
            top, deep = measure_split(arch, 0, 200, leaf), measure_split(arch, 1500, 200, leaf)
            rows.append(Row(f"split insns/call ({what})", arch,
                            f"{top.per_op:.1f} vs {deep.per_op:.1f}",
                            f"top vs 1,500 frames of 512 B, 200 calls; ratio {deep.per_op / top.per_op:.2f}"))
        top_c, deep_c = split_cycles(arch, 0), split_cycles(arch, 1500)
        rows.append(Row("split cycles/call (FixedStack)", arch, f"{top_c:.1f} vs {deep_c:.1f}",
                        f"cycle model, top vs 1,500 frames of 512 B; ratio {deep_c / top_c:.2f}"))
    return rows
