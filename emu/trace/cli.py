"""CLI subcommands: ``goemu trace``, ``goemu diff``, ``goemu trace-show``."""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from ..arch import ARCH_NAMES
from ..boundary import DIFF_TROUBLE, Context, UsageParser, count, guard, positive_int, writable
from ..errors import UsageError

DEMOS = Path(__file__).resolve().parent.parent / "demos"


def register(subparsers) -> None:
    p = subparsers.add_parser("trace", help="record a register trace of a run")
    p.add_argument("program", nargs="?", help="goasm program (default: the built-in leak demo)")
    p.add_argument("--arch", default="amd64", choices=ARCH_NAMES)
    p.add_argument("--variant", default="buggy", choices=["buggy", "fixed"])
    p.add_argument("-o", "--output", required=True, type=writable, metavar="FILE")
    from ..workloads.cli import add_options
    add_options(p)
    p.add_argument("--format", default="native", choices=["native", "tenet"])
    p.add_argument("--from", dest="from_sym", metavar="SYMBOL",
                   help="start recording at the first entry to SYMBOL (its first instruction is record 0)")
    p.add_argument("--to", dest="to_sym", metavar="SYMBOL",
                   help="stop at the first entry to SYMBOL after recording started (that instruction is "
                        "not recorded) and end the run there")
    p.add_argument("--max-insns", type=positive_int, metavar="N", help="stop after recording N instructions")
    p.add_argument("--budget", type=positive_int, default=None, metavar="N", help="emulation instruction budget")
    p.add_argument("--no-cycles", action="store_true",
                   help="record without the cycle model (native records otherwise carry cycles and phase)")
    p.add_argument("--cache-model", action="store_true",
                   help="cycles include L1D/L2 misses of every load and store (slower)")
    p.set_defaults(handler=cmd_trace)

    d = subparsers.add_parser("diff", help="align two native traces and show what differs (README: --json)",
                              description="Exit status: 0 the traces are identical, 1 they differ, 2 trouble "
                                          "(a file that cannot be read, a damaged trace, traces of two "
                                          "architectures), like diff(1).")
    d.add_argument("a")
    d.add_argument("b")
    d.add_argument("--json", action="store_true", help="machine-readable output")
    d.add_argument("--html", metavar="OUT", type=writable,
                   help="also write a side-by-side HTML page: both runs' collections, every hunk, every "
                        "aligned stretch folded (README: Traces)")
    d.add_argument("--color", action="store_true", help="colour even when stdout is not a tty")
    d.add_argument("--expand", action="store_true",
                   help="print every hunk in full (no folding of repeated hunks) and list every aligned "
                        "instruction whose registers were renamed")
    d.set_defaults(handler=cmd_diff, trouble_exit=DIFF_TROUBLE)

    s = subparsers.add_parser("trace-show", help="print records of a native trace")
    s.add_argument("file")
    s.add_argument("--from", dest="start", type=count, default=0, metavar="N", help="start at record N")
    s.add_argument("--index", type=count, metavar="N", help="only record N (the same as --from N -n 1)")
    s.add_argument("--grep", metavar="EXPR",
                   help="only records matching this regex (over symbol+offset, instruction text, events)")
    s.add_argument("--first-write", metavar="ADDR",
                   help="the first record (from --from on) that writes ADDR: a number or a data name (m0.cret)")
    s.add_argument("-n", "--limit", type=positive_int, default=None, help="print at most this many records")
    s.set_defaults(handler=cmd_show)


def cmd_trace(args) -> int:
    from ..machine import DEFAULT_BUDGET
    from ..run import load_program, new_machine
    from .record import record
    path = args.program or str(DEMOS / f"leak_{args.arch}.s")
    from ..workloads.cli import workload_unit
    unit = workload_unit(args) or load_program(path)
    from ..asm.program import check_program_stack
    check_program_stack(unit, args.arch, args.variant)      # 6l/5l's NOSPLIT stack check
    mc = new_machine(args.arch, args.variant, unit, args.budget or DEFAULT_BUDGET)

    def addr(sym):
        if sym is None:
            return None
        try:
            return mc.image.lookup(sym)
        except KeyError:
            raise UsageError(f"unknown symbol {sym!r}") from None
    account = None
    if args.format == "native" and not args.no_cycles:
        from ..cycles.account import CycleAccount
        account = CycleAccount(mc, caches=args.cache_model)
    rec = record(mc, args.output, args.format, os.path.basename(path), addr(args.from_sym),
                 addr(args.to_sym), args.max_insns, account=account)
    why = {"to": f", stopped at {args.to_sym}", "max": ", --max-insns reached"}.get(rec.done_reason, "")
    if args.from_sym and rec.count == 0:
        why = f", {args.from_sym} was never reached"
    print(f"{rec.count} instructions recorded to {args.output} ({args.format}{why})", file=sys.stderr)
    return 0


def cmd_diff(args) -> int:
    from .diff import diff, format_html, format_text
    res = diff(args.a, args.b)
    if args.html:
        Path(args.html).write_text(format_html(res))
    if args.json:
        print(json.dumps(res.to_json(), indent=1, default=str))
    else:
        sys.stdout.write(format_text(res, color=args.color or sys.stdout.isatty(), fold=not args.expand))
    return 0 if res.identical else 1


def cmd_show(args) -> int:
    import re

    from .show import show
    if args.grep is not None:
        try:
            re.compile(args.grep)
        except re.error as e:
            raise UsageError(f"--grep: bad regular expression {args.grep!r}: {e}") from None
    start, limit = args.start, args.limit
    if args.index is not None:
        start, limit = args.index, 1
    n = 0
    for line in show(args.file, start, args.grep, args.first_write, limit):
        print(line)
        n += 1
    if not n and (args.first_write is not None or args.index is not None):
        what = f"writes {args.first_write}" if args.first_write is not None else f"has index {args.index}"
        print(f"no record {what}", file=sys.stderr)
        return 1
    return 0


def main(argv=None) -> int:
    """Stand-alone entry (``python -m emu.trace.cli``); ``goemu`` wires ``register`` into emu/cli.py."""
    argv = sys.argv[1:] if argv is None else list(argv)
    ctx = Context(json_out="--json" in argv)

    def go() -> int:
        ap = UsageParser(prog="goemu")
        register(ap.add_subparsers(dest="cmd", required=True))
        args = ap.parse_args(argv)
        ctx.trouble = getattr(args, "trouble_exit", None)
        return args.handler(args)
    return guard(go, ctx)


if __name__ == "__main__":
    sys.exit(main())
