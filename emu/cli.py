"""goemu's command line: parse, call the core, present.  No emulator logic here."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from . import present
from .arch import ARCH_NAMES
from .asm.program import check_program_stack
from .boundary import Context, UsageParser, guard, positive_int, writable
from .engine import ENGINES
from .machine import DEFAULT_BUDGET, set_default_engine
from .run import RunResult, load_program, run_program

DEMO_DIR = Path(__file__).resolve().parent / "demos"
DEMOS = {"leak": "the object's address left in AX/R0",
         "interior": "an interior pointer (+24) left in AX/R0",
         "list": "the head of a 4-node list left in AX/R0"}


def demo_program(name: str, arch: str):
    return load_program(DEMO_DIR / f"{name}_{arch}.s")


def _common(p: argparse.ArgumentParser, program: bool = True) -> None:
    if program:
        p.add_argument("program", nargs="?", help="goasm file (default: the built-in demos)")
    p.add_argument("--arch", choices=ARCH_NAMES, help="default: both for demos, amd64 for a program")
    p.add_argument("--variant", choices=("buggy", "fixed"),
                   help="runtime before (buggy) or after (fixed) commit 89b075cc; default: buggy for a "
                        "program, both for the demos")
    p.add_argument("--max-insns", type=positive_int, default=DEFAULT_BUDGET, metavar="N",
                   help=f"instruction budget (default {DEFAULT_BUDGET})")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    if program:
        from .workloads.cli import add_options
        add_options(p)


def _cycle_opts(ns) -> dict:
    cache = bool(getattr(ns, "cache_model", False))
    return {"cycles": bool(getattr(ns, "cycles", False)) or cache, "cache_model": cache}


def _runs(ns) -> list[tuple[str, RunResult]]:
    """The program on one arch/variant, or the demos on every requested pair."""
    if getattr(ns, "workload", None):
        from .workloads.cli import run_workload
        res, ns.workload_run = run_workload(ns, **_cycle_opts(ns))
        return [("program", res)]
    if ns.program:
        unit = load_program(ns.program)
        arch, variant = ns.arch or "amd64", ns.variant or "buggy"
        check_program_stack(unit, arch, variant)        # 6l/5l's NOSPLIT stack check
        return [("program", run_program(arch, variant, unit, ns.max_insns, name=ns.program,
                                        **_cycle_opts(ns)))]
    out = []
    for demo in (ns.demos if hasattr(ns, "demos") else ["leak"]):
        for arch in ([ns.arch] if ns.arch else ARCH_NAMES):
            for variant in ([ns.variant] if ns.variant else ("buggy", "fixed")):
                out.append((demo, run_program(arch, variant, demo_program(demo, arch), ns.max_insns,
                                              name=f"demo:{demo}", **_cycle_opts(ns))))
    return out


def _leak_rows(results: list[tuple[str, RunResult]]) -> list[list[str]]:
    rows = []
    for _demo, r in results:
        freed = sum(len(g.freed) for g in r.gcs)
        retained = [o for g in r.gcs[-1:] for o in g.retained]
        leaked = [o for o in retained if not (o.root or "").startswith("data runtime·allg")]
        roots = ", ".join(sorted({o.root for o in leaked if o.root})) or "-"
        rows.append([r.arch, r.variant, str(r.instructions), str(r.splits), str(r.unsplits),
                     str(freed + len(leaked)), str(freed), str(len(leaked)), str(sum(o.size for o in leaked)), roots])
    return rows


def cmd_run(ns) -> int:
    if ns.gc_report:
        return cmd_gc_report(ns)
    single = ns.program or ns.workload
    if not single:
        ns.demos = list(DEMOS)
    results = _runs(ns)
    wl = getattr(ns, "workload_run", None)
    if ns.json:
        if single:
            out = results[0][1].to_json()
            if wl:
                out["workload"] = wl.to_json(results[0][1])
            print(json.dumps(out, indent=2))
        else:
            print(json.dumps({"demos": [dict(demo=d, **r.to_json()) for d, r in results]}, indent=2))
        return 0 if not single or results[0][1].exit_status == 0 else 1
    if single:
        print(present.run_summary(results[0][1]))
        if results[0][1].cycles is not None:
            from .cycles.present import cycles_summary
            print(cycles_summary(results[0][1].cycles))
        if wl:
            print(wl.line(results[0][1]))
            return 0 if results[0][1].exit_status == 0 and wl.ok(results[0][1]) else 1
        return 0 if results[0][1].exit_status == 0 else 1
    header = ["arch", "variant", "insns", "splits", "unsplits", "objects", "freed", "retained",
              "retained bytes", "root of each retained object"]
    print("The m->cret leak (Go 1.0, Feb 2012): a function on a new stack segment allocates an object\n"
          "and returns with its address still in AX/R0; lessstack saves that into m->cret; the caller\n"
          "drops every reference; the collector runs.  (The goroutine's own G, held by runtime·allg,\n"
          "is live and not counted.)\n")
    for demo, what in DEMOS.items():
        rows = _leak_rows([(d, r) for d, r in results if d == demo])
        print(f"-- {demo}: {what}")
        print(present.table(rows, header))
        print()
    print("buggy (efacb2a1): oldstack passes m->cret to gogo and leaves it set -> the object stays alive.\n"
          "fixed (89b075cc): oldstack clears m->cret -> the object is freed.")
    for demo, r in results:
        if r.cycles is not None:
            from .cycles.present import cycles_summary
            print(f"\n-- {demo} on {r.arch}/{r.variant}")
            print(cycles_summary(r.cycles))
    return 0


def cmd_gc_report(ns) -> int:
    if not ns.program and not ns.workload:
        ns.demos = ["leak"]
    results = _runs(ns)
    if ns.json:
        print(json.dumps([{"arch": r.arch, "variant": r.variant, "program": r.program,
                           "gcs": [g.to_json() for g in r.gcs]} for _d, r in results], indent=2))
        return 0
    for _d, r in results:
        print(f"### {r.program} on {r.arch}/{r.variant}: {len(r.gcs)} collection(s)")
        for g in r.gcs:
            print(present.gc_report(g, r.arch))
        print()
    return 0


def cmd_plot(ns) -> int:
    from .plot import plot_leak_workload
    path = plot_leak_workload(ns.output, rounds=ns.rounds, archs=[ns.arch] if ns.arch else list(ARCH_NAMES))
    print(f"wrote {path}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = UsageParser(prog="goemu", description="Go 1.0's segmented stacks and the m->cret "
                                "leak, executed on emulated amd64 and ARM")
    sub = p.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run", help="run a program (or the built-in leak demos)")
    _common(r)
    r.add_argument("--gc-report", action="store_true", help="print every collection's report")
    r.add_argument("--cycles", action="store_true",
                   help="account cycles with the core model: per phase, per split/unsplit, mispredicts")
    r.add_argument("--cache-model", action="store_true",
                   help="with --cycles, also model the data caches on every load and store (slower)")
    r.set_defaults(func=cmd_run)
    g = sub.add_parser("gc-report", help="run and print every collection's report")
    _common(g)
    g.set_defaults(func=cmd_gc_report)
    pl = sub.add_parser("plot", help="PNG of live heap bytes per collection, buggy vs fixed")
    pl.add_argument("-o", "--output", default="leak.png", type=writable)
    pl.add_argument("--rounds", type=positive_int, default=24)
    pl.add_argument("--arch", choices=ARCH_NAMES)
    pl.set_defaults(func=cmd_plot)
    for mod in ("emu.repl", "emu.trace.cli", "emu.cycles.cli", "emu.cycles.hotsplit",
                "emu.workloads.cli", "emu.leaks.cli", "emu.gdbstub"):
        try:
            module = __import__(mod, fromlist=["register"])
        except ModuleNotFoundError as e:
            if not (e.name and (mod == e.name or mod.startswith(e.name + "."))):
                raise       # a real import error inside the module must not be hidden
            continue
        if hasattr(module, "register"):
            module.register(sub)
    for name in ("run", "gc-report", "plot", "repl", "trace"):
        if name in sub.choices:
            sub.choices[name].add_argument(
                "--engine", choices=ENGINES, action=_EngineOption,
                help="native: goemu's C hooks (default); python: the reference Python hooks")
    for name in ("run", "gc-report", "plot", "repl", "trace", "leaks", "gdbserver"):
        if name in sub.choices:
            sub.choices[name].add_argument(
                "--gogc", metavar="N|off", action=_GogcOption,
                help="the program's GOGC: collect when an allocation takes the heap N%% past its size "
                     "after the last collection (default $GOGC, else 100); off: only runtime.gc collects")
    return p


class _GogcOption(argparse.Action):
    """--gogc: every Machine this command boots gives its program that GOGC (emu/gc.py)."""

    def __call__(self, parser, namespace, values, option_string=None):
        from .errors import UsageError
        from .gc import parse_gogc, set_default_gogc
        try:
            parse_gogc(values, "--gogc")
        except UsageError as e:
            raise argparse.ArgumentError(None, str(e)) from None
        set_default_gogc(values)
        setattr(namespace, self.dest, values)


class _EngineOption(argparse.Action):
    """--engine: every Machine this command makes uses that engine."""

    def __call__(self, parser, namespace, values, option_string=None):
        set_default_engine(values)
        setattr(namespace, self.dest, values)


def main(argv: list[str] | None = None) -> int:
    """Parse, run, and turn every error into one message and an exit code (emu/boundary.py)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    ctx = Context(json_out="--json" in argv)    # known before parsing: a usage error is JSON too

    def go() -> int:
        ns = build_parser().parse_args(argv)
        ctx.json_out = bool(getattr(ns, "json", False))
        ctx.trouble = getattr(ns, "trouble_exit", None)
        handler = getattr(ns, "func", None) or ns.handler
        return int(handler(ns) or 0)
    return guard(go, ctx)


if __name__ == "__main__":
    sys.exit(main())
