"""Instructions per split and per unsplit, by function: what README's "Where the
model differs from Go 1.0" quotes for runtime_c against Go 1.0's 6c/5c code.

    python -m emu.splitcost [PROGRAM ...] [--arch amd64|arm] [--variant buggy|fixed]

A split runs from the trampoline (or morestack, reflectcall) to gogocall's jump
into the function; an unsplit from lessstack to gogo's jump.  Each
instruction in between is counted against the function it belongs to, and
the functions are grouped: Go's assembly (the stubs, the same instructions as
Go 1.0's), the segmented-stack C (newstack, oldstack, memmove, stackalloc,
stackfree: clang's code where Go had 6c's/5c's), and the allocator below
stackalloc/stackfree.  A measuring tool: it counts with a per-instruction hook,
on the few thousand instructions of a demo.
"""
from __future__ import annotations

import argparse
import bisect
import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from .arch import ARCH_NAMES
from .run import load_program, new_machine

STUBS = ("morestack", "reflectcall", "gogocall", "lessstack", "gogo")
STACK_C = ("newstack", "oldstack", "memmove", "stackalloc", "stackfree")
DEMOS = Path(__file__).resolve().parent / "demos"


@dataclass
class SplitCost:
    arch: str
    variant: str
    program: str
    splits: int
    unsplits: int
    split: Counter = field(default_factory=Counter)     # function -> instructions over all splits
    unsplit: Counter = field(default_factory=Counter)

    def group(self, which: str) -> dict[str, float]:
        """Instructions per split (or unsplit) in each group."""
        c, n = (self.split, self.splits) if which == "split" else (self.unsplit, self.unsplits)
        out = {"stubs": 0.0, "stack C": 0.0, "allocator": 0.0}
        for fn, k in c.items():
            g = "stubs" if fn.startswith(STUBS) else "stack C" if fn in STACK_C else "allocator"
            out[g] += k / max(n, 1)
        return out

    def to_json(self) -> dict:
        return {"arch": self.arch, "variant": self.variant, "program": self.program, "splits": self.splits,
                "unsplits": self.unsplits, "per_split": self.group("split"),
                "per_unsplit": self.group("unsplit"),
                "split_functions": {f: k / max(self.splits, 1) for f, k in sorted(self.split.items())},
                "unsplit_functions": {f: k / max(self.unsplits, 1) for f, k in sorted(self.unsplit.items())}}


def measure(arch: str, variant: str, program: str | Path) -> SplitCost:
    from unicorn import UC_HOOK_CODE
    mc = new_machine(arch, variant, load_program(program))
    im = mc.image
    syms = sorted({(a, n) for n, a in im.symbols.items()})
    addrs = [a for a, _ in syms]
    starts = {im.symbols[n] for n in im.symbols if n.startswith("morestack") or n == "reflectcall"}
    # the jumps that leave: gogocall's jmp rax / mov pc, r1 (Go's file has an unreached pop after
    # it on amd64) and gogo's last instruction
    leave = [ln[0] for ln in im.functions["gogocall"].lines if ln[4].startswith(("jmp", "mov pc"))]
    ends = {leave[-1], im.functions["gogo"].lines[-1][0]}
    less = im.symbols["lessstack"]
    cost = SplitCost(arch, variant, str(program), 0, 0)
    phase: list[Counter | None] = [None]

    def hook(_uc, addr: int, _size: int, _d) -> None:
        if phase[0] is None:
            phase[0] = cost.split if addr in starts else cost.unsplit if addr == less else None
        if phase[0] is not None:
            phase[0][syms[bisect.bisect_right(addrs, addr) - 1][1]] += 1
            if addr in ends:
                phase[0] = None
    mc.uc.hook_add(UC_HOOK_CODE, hook)
    mc.run()
    cost.splits = sum(e.kind == "split" for e in mc.events)
    cost.unsplits = sum(e.kind == "unsplit" for e in mc.events)
    return cost


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m emu.splitcost", description=__doc__.split("\n\n")[0])
    p.add_argument("programs", nargs="*", help="goasm files (default: the leak and list demos)")
    p.add_argument("--arch", choices=ARCH_NAMES, action="append")
    p.add_argument("--variant", choices=("buggy", "fixed"), default="fixed")
    p.add_argument("--json", action="store_true")
    a = p.parse_args(argv)
    rows = []
    for arch in a.arch or ARCH_NAMES:
        progs = a.programs or [DEMOS / f"leak_{arch}.s", DEMOS / f"list_{arch}.s"]
        for prog in progs:
            rows.append(measure(arch, a.variant, prog))
    if a.json:
        print(json.dumps([r.to_json() for r in rows], indent=1))
        return 0
    print(f"{'arch':6} {'program':16} {'splits':>6}  per split: stubs  stack C  allocator"
          "   per unsplit: stubs  stack C  allocator")
    for r in rows:
        s, u = r.group("split"), r.group("unsplit")
        print(f"{r.arch:6} {Path(r.program).name:16} {r.splits:>6}  {s['stubs']:16.1f} {s['stack C']:8.1f} "
              f"{s['allocator']:10.1f}   {u['stubs']:18.1f} {u['stack C']:8.1f} {u['allocator']:10.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
