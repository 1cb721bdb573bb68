"""Command-line side of the workload suite: ``goemu run --workload NAME
[--size small|large] [--param NAME=VALUE ...]`` and ``goemu workloads``."""
from __future__ import annotations

import json
import time
from dataclasses import dataclass

from ..arch import ARCH_NAMES
from ..errors import UsageError
from .registry import SIZES, WORKLOADS, get, parse_params


def add_options(p) -> None:
    """The options a program-running subcommand takes to run a workload by name."""
    p.add_argument("--workload", metavar="NAME", choices=list(WORKLOADS),
                   help=f"run a workload of the suite instead of a file: {', '.join(WORKLOADS)}")
    p.add_argument("--size", choices=SIZES, default="small",
                   help="the workload's parameter set (default small)")
    p.add_argument("--param", action="append", metavar="NAME=VALUE",
                   help="set one workload parameter (repeatable); see `goemu workloads`")


@dataclass
class WorkloadRun:
    name: str
    size: str
    params: dict
    expected: list[str]
    expected_collections: int
    seconds: float

    def ok(self, res) -> bool:
        explicit = [g for g in res.gcs if g.trigger == "runtime.gc"]      # not those started by allocation
        return res.output == self.expected and len(explicit) == self.expected_collections

    def to_json(self, res) -> dict:
        return {"name": self.name, "size": self.size, "params": self.params, "expected": self.expected,
                "expected_collections": self.expected_collections, "output_ok": self.ok(res),
                "wall_seconds": round(self.seconds, 3)}

    def line(self, res) -> str:
        ps = ", ".join(f"{k}={v}" for k, v in self.params.items())
        verdict = "output as expected" if res.output == self.expected else \
            f"OUTPUT DIFFERS from the expected {self.expected}"
        calls = sum(g.trigger == "runtime.gc" for g in res.gcs)
        if calls != self.expected_collections:
            verdict += f"; {calls} runtime.gc collections, expected {self.expected_collections}"
        return (f"workload {self.name} ({self.size}: {ps}): {verdict}; {res.instructions} instructions, "
                f"{len(res.gcs)} collections ({len(res.gcs) - calls} started by allocation), "
                f"{self.seconds:.2f} s")


def workload_unit(ns):
    """The parsed program ``ns.workload`` names at ``ns.size``/``ns.param`` on
    ``ns.arch``, or None when no workload was asked for (for other subcommands)."""
    if not getattr(ns, "workload", None):
        return None
    if getattr(ns, "program", None):
        raise UsageError("give either a program file or --workload, not both")
    w = get(ns.workload)
    return w.program(ns.arch or "amd64", w.resolve(ns.size, parse_params(ns.param)))


def run_workload(ns, **opts):
    """Run ``ns.workload`` on ``ns.arch``/``ns.variant``; returns (RunResult, WorkloadRun).
    The budget is the larger of --max-insns and the workload's own estimate."""
    from ..run import run_program
    unit = workload_unit(ns)
    w, overrides = get(ns.workload), parse_params(ns.param)
    params = w.resolve(ns.size, overrides)
    arch, variant = ns.arch or "amd64", ns.variant or "buggy"
    t0 = time.perf_counter()
    res = run_program(arch, variant, unit, max(ns.max_insns, w.budget(params)),
                      name=f"workload:{w.name}", **opts)
    run = WorkloadRun(w.name, ns.size + (" with --param" if overrides else ""), params,
                      w.expected(arch, params), w.collections(params), time.perf_counter() - t0)
    return res, run


def cmd_workloads(ns) -> int:
    if ns.json:
        print(json.dumps([{"name": w.name, "description": w.description,
                           "files": {a: f"emu/workloads/{w.path(a).name}" for a in ARCH_NAMES},
                           "params": [{"name": p.name, "small": p.small, "large": p.large, "doc": p.doc}
                                      for p in w.params]} for w in WORKLOADS.values()], indent=2))
        return 0
    for w in WORKLOADS.values():
        print(f"{w.name}: {w.description}")
        print(f"    files: emu/workloads/{w.path('amd64').name}, {w.path('arm').name}")
        for p in w.params:
            print(f"    --param {p.name}=N   small {p.small}, large {p.large}: {p.doc}")
    return 0


def register(sub) -> None:
    p = sub.add_parser("workloads", help="list the workload suite (goemu run --workload NAME)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_workloads)
