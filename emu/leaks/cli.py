"""``goemu leaks [PROGRAM | --workload NAME] --arch A --variant buggy|fixed|both [--json]``."""
from __future__ import annotations

import json
from pathlib import Path

from ..arch import ARCH_NAMES
from ..errors import UsageError
from ..machine import DEFAULT_BUDGET

DEMOS = ("leak", "interior", "list")
DEMO_DIR = Path(__file__).resolve().parent.parent / "demos"


def _workload_options(p) -> None:
    try:
        from ..workloads.cli import add_options  # the workload suite, when this build has it
    except ImportError:
        p.add_argument("--workload", metavar="NAME", help="a workload of the suite (`goemu workloads`)")
        p.add_argument("--size", default="small", help="the workload's parameter set (default small)")
        p.add_argument("--param", action="append", metavar="NAME=VALUE", help="set one workload parameter")
        return
    add_options(p)


def register(sub) -> None:
    p = sub.add_parser("leaks", help="dead roots: root words that keep objects alive but are never read again")
    p.add_argument("program", nargs="?", help="goasm file (default: the built-in leak demos)")
    _workload_options(p)
    p.add_argument("--arch", choices=ARCH_NAMES, help="default: both for the demos, amd64 otherwise")
    p.add_argument("--variant", choices=("buggy", "fixed", "both"), default="both",
                   help="runtime before (buggy) or after (fixed) commit 89b075cc, or both side by side "
                        "(default both)")
    p.add_argument("--max-insns", type=int, default=DEFAULT_BUDGET, metavar="N",
                   help=f"instruction budget (default {DEFAULT_BUDGET})")
    p.add_argument("--all", action="store_true",
                   help="print every collection with every root word (live ones too); JSON: every root")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=cmd_leaks)


def _targets(ns) -> list[tuple[str, str, object, int]]:
    """(name, arch, unit, budget) for each program and architecture asked for."""
    from ..run import load_program
    archs = [ns.arch] if ns.arch else None
    if ns.program and ns.workload:
        raise UsageError("give either a program file or --workload, not both")
    if ns.workload:
        try:
            from ..workloads import get, parse_params
        except ImportError:
            raise UsageError("this build has no workload suite (emu/workloads)") from None
        w = get(ns.workload)
        params = w.resolve(ns.size, parse_params(ns.param))
        budget = max(ns.max_insns, w.budget(params)) if hasattr(w, "budget") else ns.max_insns
        return [(f"workload:{w.name}", a, w.program(a, params), budget) for a in (archs or ["amd64"])]
    if ns.param:
        raise UsageError("--param applies to --workload only")
    if ns.program:
        unit = load_program(ns.program)
        return [(ns.program, a, unit, ns.max_insns) for a in (archs or ["amd64"])]
    return [(f"demo:{d}", a, load_program(DEMO_DIR / f"{d}_{a}.s"), ns.max_insns)
            for d in DEMOS for a in (archs or ARCH_NAMES)]


def cmd_leaks(ns) -> int:
    from .core import leaks
    from .present import comparison_json, result_text, side_by_side
    variants = ("buggy", "fixed") if ns.variant == "both" else (ns.variant,)
    runs, comparisons, texts = [], [], []
    for name, arch, unit, budget in _targets(ns):
        res = {v: leaks(arch, v, unit, name, budget) for v in variants}
        runs += [r.to_json(ns.all) for r in res.values()]
        if ns.variant == "both":
            comparisons.append(comparison_json(res["buggy"], res["fixed"]))
        if not ns.json:
            parts = [result_text(r, ns.all) for r in res.values()]
            if ns.variant == "both":
                parts.append(side_by_side(res["buggy"], res["fixed"]))
            texts.append("\n\n".join(parts))
    if ns.json:
        out: dict = {"runs": runs}
        if ns.variant == "both":
            out["comparisons"] = comparisons
        print(json.dumps(out, indent=2))
    else:
        print("\n\n".join(texts))
    return 0
