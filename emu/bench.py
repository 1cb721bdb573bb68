"""make bench: what goemu's instrumentation and its traces cost.

The bench is a list of named measurements (``MEASUREMENTS``); each is a
function ``f(cfg) -> list[Row]`` and all rows print as one table, so a new
measurement is one function added to the list.

- ``run``: sum(1..N) recursively (64-byte frames, so the recursion crosses a
  segment boundary every few dozen calls) on raw Unicorn (the same machine
  with every hook removed) and on goemu's normal run (instruction counting,
  runtime events, hypercalls): instructions per second and the ratio.
- ``trace record``: the repeated-leak workload (emu/workloads/leak.py) sized to at
  least ``cfg.insns`` executed instructions (1M; 250k with ``--quick`` or
  GOEMU_BENCH_QUICK=1), recorded in the native and the Tenet format:
  instructions per second and bytes per million instructions.
- ``layers``: the hot-split workload (emu/cycles/hotsplit.py: every call
  splits and unsplits) sized to ``cfg.insns`` and to ten times that, run on
  raw Unicorn (without and with an instruction count) and then with each layer
  of goemu's instrumentation: the plain run, the cycle model, the cycle model
  with data caches, trace recording without and with cycles.
- ``trace diff``: buggy vs fixed traces of that workload diffed in a child
  process that imports only the trace reader and the diff: wall time and the
  child's peak RSS (VmHWM), for the first quarter of the records and for all
  of them.  Memory is bounded if the peak barely grows with 4x the
  records.

Numbers go in the README with the machine.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass

from .arch import ARCH_NAMES as ARCHES


@dataclass
class Config:
    insns: int = 1_000_000          # trace workload size (executed instructions, at least)
    sum_n: int = 20000              # recursion depth of the run-overhead workload
    tmp: str = ""


@dataclass
class Row:
    measurement: str
    arch: str
    result: str
    detail: str = ""


def _machine(arch: str, n: int):
    from .arch import get_arch
    from .run import load_program, new_machine
    text = get_arch(arch).program("sum").format(n=n)
    return new_machine(arch, "buggy", load_program(None, text=text, name=f"sum{n}.s"))


def _raw_seconds(raw, insns: int, count: bool = True, clock=time.perf_counter) -> float:
    """Time ``raw`` (a fresh machine) on bare Unicorn: every block and address hook
    removed, only the hypercall/fault hooks the program needs to exit are kept.
    ``count``: pass Unicorn an instruction count (more than the program runs), which
    makes Unicorn add its own code hook on every instruction; without it the run is
    Unicorn's fastest, and the program's exit stops it."""
    for h in raw.hooks.handles():
        if h.kind in ("block", "at") or h.native:
            raw.hooks.remove(h)
    t = clock()
    raw.uc.emu_start(raw.pc, 0, 0, insns + 10_000 if count else 0)
    return clock() - t


def measure(arch: str, n: int = 20000) -> dict:
    mc = _machine(arch, n)
    t = time.perf_counter()
    mc.run()
    goemu_s = time.perf_counter() - t
    insns = mc.icount
    assert mc.output == [str(n * (n + 1) // 2 & ((1 << 8 * mc.arch.ptrsize) - 1))], mc.output
    raw_s = _raw_seconds(_machine(arch, n), insns, count=False)
    return {"arch": arch, "insns": insns, "splits": sum(e.kind == "split" for e in mc.events),
            "raw_ips": insns / raw_s, "goemu_ips": insns / goemu_s, "ratio": raw_s / goemu_s}


def run_overhead(cfg: Config) -> list[Row]:
    rows = []
    for arch in ARCHES:
        r = measure(arch, cfg.sum_n)
        rows.append(Row("raw Unicorn", arch, f"{r['raw_ips'] / 1e6:.2f} M insns/s",
                        f"sum({cfg.sum_n}): {r['insns']} insns, {r['splits']} splits"))
        rows.append(Row("goemu run", arch, f"{r['goemu_ips'] / 1e6:.2f} M insns/s",
                        f"{1 / r['ratio']:.1f}x the time of raw Unicorn"))
    return rows


# -- traces -----------------------------------------------------------------------------
def _leak_unit(arch: str, rounds: int):
    from .run import load_program
    from .workloads import repeated_leak
    return load_program(None, text=repeated_leak(arch, rounds), name=f"leak{rounds}_{arch}.s")


def _leak_workload(arch: str, insns: int):
    """(unit, executed instructions, seconds of a plain run): the repeated leak with
    enough rounds to execute at least ``insns`` instructions."""
    from .run import new_machine
    probe = new_machine(arch, "buggy", _leak_unit(arch, 10))
    probe.run()
    rounds = math.ceil(insns * 1.02 / (probe.icount / 10))
    while True:
        unit = _leak_unit(arch, rounds)
        mc = new_machine(arch, "buggy", unit, budget=insns * 4)
        t = time.perf_counter()
        mc.run()
        dt = time.perf_counter() - t
        if mc.icount >= insns:
            return unit, rounds, mc.icount, dt
        rounds = math.ceil(rounds * insns * 1.02 / mc.icount)


def _record(arch: str, variant: str, unit, path: str, fmt: str) -> tuple[int, float]:
    from .run import new_machine
    from .trace.record import record
    mc = new_machine(arch, variant, unit, budget=50_000_000)
    t = time.perf_counter()
    rec = record(mc, path, fmt, os.path.basename(str(unit.file)))
    return rec.count, time.perf_counter() - t


def _peak_rss_kib() -> int:
    """This process's peak RSS.  Linux's ru_maxrss survives exec (a child started from a big
    parent reports the parent's size), so read VmHWM, which belongs to the new image."""
    try:
        with open("/proc/self/status") as f:
            for ln in f:
                if ln.startswith("VmHWM:"):
                    return int(ln.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _diff_child(a: str, b: str, limit: int) -> None:
    """Runs in a child process: diff the first ``limit`` records of a and b, print JSON."""
    from .trace.diff import diff_readers
    from .trace.native import NativeReader
    before = _peak_rss_kib()          # after the imports
    t = time.perf_counter()
    with NativeReader(a, limit) as A, NativeReader(b, limit) as B:
        res = diff_readers(A, B)
    dt = time.perf_counter() - t
    peak = _peak_rss_kib()
    print(json.dumps({"seconds": dt, "rss_before_kib": before, "rss_peak_kib": peak, "records": res.a["records"],
                      "aligned": res.aligned, "hunks": len(res.hunks) + res.dropped["hunks"]}))


def _diff(a: str, b: str, limit: int) -> dict:
    out = subprocess.run([sys.executable, "-m", "emu.bench", "--diff-child", a, b, str(limit)],
                         check=True, capture_output=True, text=True)
    return json.loads(out.stdout)


def traces(cfg: Config) -> list[Row]:
    rows = []
    for arch in ARCHES:
        unit, rounds, insns, plain_s = _leak_workload(arch, cfg.insns)
        rows.append(Row("leak workload, no trace", arch, f"{insns / plain_s / 1e6:.2f} M insns/s",
                        f"{rounds} rounds of leak+gc: {insns} insns"))
        paths = {}
        for fmt in ("native", "tenet"):
            p = paths[fmt] = os.path.join(cfg.tmp, f"{arch}-buggy.{fmt}")
            n, dt = _record(arch, "buggy", unit, p, fmt)
            size = os.path.getsize(p)
            rows.append(Row(f"trace record ({fmt})", arch, f"{n / dt / 1e3:.1f} k insns/s",
                            f"{size / n * 1e6 / 2**20:.2f} MiB per 1M insns ({size / n:.2f} B/insn; "
                            f"{n} records, {size / 2**20:.2f} MiB)"))
        os.remove(paths["tenet"])
        fixed = os.path.join(cfg.tmp, f"{arch}-fixed.native")
        _record(arch, "fixed", unit, fixed, "native")
        for limit in (cfg.insns // 4, cfg.insns):
            d = _diff(paths["native"], fixed, limit)
            grow = d["rss_peak_kib"] - d["rss_before_kib"]
            rows.append(Row(f"trace diff, {limit // 1000}k vs {limit // 1000}k", arch,
                            f"{d['seconds']:.1f} s, peak RSS {d['rss_peak_kib'] / 1024:.0f} MiB",
                            f"{d['records'] / d['seconds'] / 1e3:.0f} k records/s; +{grow / 1024:.1f} MiB over the "
                            f"child's start; {d['aligned']} aligned, {d['hunks']} hunks"))
        os.remove(paths["native"])
        os.remove(fixed)
    return rows


# -- layers of instrumentation on the hot-split workload ---------------------------------
def _hot_machine(arch: str, n: int):
    from .cycles.hotsplit import program
    from .run import load_program, new_machine
    return new_machine(arch, "buggy", load_program(None, text=program(arch, True, n), name="hotsplit_hot.s"),
                       budget=200_000_000)


@contextlib.contextmanager
def _engine(name: str):
    from .machine import default_engine, set_default_engine
    old = default_engine()
    set_default_engine(name)
    try:
        yield
    finally:
        set_default_engine(old)


def _best(make, setup, reps: int) -> float:
    """Best of ``reps`` CPU times (of the thread running the emulation) of a run of a
    fresh machine from ``make()`` with ``setup(mc)`` (a layer) attached."""
    best = math.inf
    for _ in range(reps):
        mc = make()
        extra = setup(mc) if setup else None
        t = time.thread_time()
        if hasattr(extra, "run"):            # a trace recorder runs the machine itself
            extra.run()
        else:
            mc.run()
        best = min(best, time.thread_time() - t)
    return best


LAYER_SIZES = (1, 10)                    # the layer table's two sizes of work, in units of cfg.insns


def layers(cfg: Config) -> list[Row]:
    """One workload (hot-split: every call splits and unsplits), instrumented
    layer by layer, at two sizes of work (``cfg.insns`` and ten times that);
    each layer's speed and its ratio to raw Unicorn, timed in the same run.

    Raw Unicorn is timed twice: without an instruction count (Unicorn's fastest,
    the baseline the targets are judged against) and with one (Unicorn then adds
    its own code hook on every instruction); both ratios are printed.  Times are
    CPU times of the thread running the emulation, best of 3 (best of 2 at the
    large size); the trace with cycles (a Python hook per instruction, ~15 s a
    run) and the Python reference engine are measured once, at the small size
    only."""
    from .cycles.account import CycleAccount
    from .trace.native import NativeWriter
    from .trace.record import Recorder
    rows = []
    for arch in ARCHES:
        probe = _hot_machine(arch, 200)
        probe.run()
        fixed = probe.icount
        probe2 = _hot_machine(arch, 400)
        probe2.run()
        per_call = (probe2.icount - fixed) / 200
        tpath = os.path.join(cfg.tmp, f"layers-{arch}.native")

        def recorder(mc, cycles, tpath=tpath):
            f = open(tpath, "wb")  # noqa: SIM115 - closed by the recorder's sink
            acct = CycleAccount(mc) if cycles else None
            return Recorder(mc, NativeWriter(f), "hotsplit_hot.s", account=acct).attach()

        for scale in LAYER_SIZES:
            large = scale > 1
            n = max(200, round(200 + (cfg.insns * scale - fixed) / per_call))
            reps = 2 if large else 3
            ref = _hot_machine(arch, n)
            ref.run()
            insns = ref.icount

            def make(n=n, arch=arch):
                return _hot_machine(arch, n)
            raw_free = min(_raw_seconds(make(), insns, False, time.thread_time) for _ in range(reps))
            raw_count = min(_raw_seconds(make(), insns, True, time.thread_time) for _ in range(reps))
            size = f"{insns / 1e6:.1f}M insns"
            rows.append(Row(f"layers, {size}: raw Unicorn (no hooks, no count)", arch,
                            f"{insns / raw_free / 1e6:.2f} M insns/s",
                            f"hot-split, {n} calls: {insns} insns; {raw_free * 1e3:.1f} ms: the baseline"))
            rows.append(Row(f"layers, {size}: raw Unicorn with a count", arch,
                            f"{insns / raw_count / 1e6:.2f} M insns/s",
                            f"{raw_count * 1e3:.1f} ms; Unicorn's count is a code hook on every instruction"))
            measured = [("goemu run", None, "instruction count, runtime events, hypercalls", 0.50),
                        ("goemu run --cycles", lambda mc: CycleAccount(mc).attach(),
                         "block costs, predictor, L1I/L2", 0.25),
                        ("goemu run --cycles --cache-model", lambda mc: CycleAccount(mc, caches=True).attach(),
                         "+ every load/store through L1D/L2", 0.10),
                        ("goemu trace --no-cycles", lambda mc: recorder(mc, False), "native format", 0.10)]
            if not large:
                measured.append(("goemu trace (with cycles)", lambda mc: recorder(mc, True),
                                 "native format + cycle columns", None))
            for label, setup, what, target in measured:
                dt = _best(make, setup, 1 if label == "goemu trace (with cycles)" else reps)
                share = raw_free / dt
                goal = "" if target is None else f" (target >= {target:.0%}: {'met' if share >= target else 'missed'})"
                rows.append(Row(f"layers, {size}: {label}", arch, f"{insns / dt / 1e6:.3f} M insns/s",
                                f"{dt * 1e3:.1f} ms; {share:.1%} of raw{goal}, {raw_count / dt:.1%} of raw with a "
                                f"count; {what}"))
            if not large:
                with _engine("python"):          # the reference engine (Python hooks), same workload
                    dt = _best(make, None, 1)
                rows.append(Row(f"layers, {size}: goemu run --engine python", arch,
                                f"{insns / dt / 1e6:.3f} M insns/s",
                                f"{dt * 1e3:.1f} ms; {raw_free / dt:.1%} of raw; the reference: Python block hook "
                                "and events"))
        if os.path.exists(tpath):
            os.remove(tpath)
    return rows


def alloc_costs(cfg: Config) -> list[Row]:
    """Instructions per allocation and per split at two sizes (emu/allocbench.py)."""
    from .allocbench import bench
    return bench(cfg)


def debugger(cfg: Config) -> list[Row]:
    from .debug_bench import debugger as rows
    return rows(cfg)


def history(cfg: Config) -> list[Row]:
    """The debugger's history at scale: emu/debug_bench.py (10^9 rows unless --quick)."""
    from .debug_bench import history as rows
    return rows(cfg)


def gc(cfg: Config) -> list[Row]:
    """The collector: emu/gcbench.py."""
    from .gcbench import gc_bench
    return gc_bench(cfg)


from .leaks.bench import dead_roots  # the dead-root detector's cost
from .native.cyclesbench import cycle_account  # the cycle account at two sizes of run
from .trace.recbench import trace_sizes  # the C trace recorder at two sizes of run

MEASUREMENTS = [run_overhead, layers, trace_sizes, traces, alloc_costs, gc, dead_roots, debugger, history]
MEASUREMENTS.insert(2, cycle_account)  # --cycles / --cache-model over the plain run, two sizes


def machine_line() -> str:
    model = platform.processor() or "cpu"
    try:
        with open("/proc/cpuinfo") as f:
            model = next((ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), model)
    except OSError:
        pass
    return f"machine: {model}, {os.cpu_count()} cores, {platform.machine()}, Python {platform.python_version()}"


def print_table(rows: list[Row]) -> None:
    cols = ("measurement", "arch", "result", "detail")
    w = [max(len(c), *(len(getattr(r, c)) for r in rows)) for c in cols]
    print("  ".join(c.ljust(n) for c, n in zip(cols, w)).rstrip())
    print("  ".join("-" * n for n in w))
    for r in rows:
        print("  ".join(getattr(r, c).ljust(n) for c, n in zip(cols, w)).rstrip())


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m emu.bench")
    ap.add_argument("--quick", action="store_true", default=bool(os.environ.get("GOEMU_BENCH_QUICK")),
                    help="trace workloads of 250k instructions instead of 1M")
    ap.add_argument("--only", help="run only the measurements whose name contains this")
    ap.add_argument("--diff-child", nargs=3, metavar=("A", "B", "LIMIT"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.diff_child:
        _diff_child(args.diff_child[0], args.diff_child[1], int(args.diff_child[2]))
        return
    cfg = Config(insns=250_000 if args.quick else 1_000_000)
    print(machine_line())
    rows: list[Row] = []
    t = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="goemu-bench-") as tmp:
        cfg.tmp = tmp
        for m in MEASUREMENTS:
            if args.only and args.only not in m.__name__:
                continue
            rows += m(cfg)
    print_table(rows)
    print(f"({time.perf_counter() - t:.0f} s)")


if __name__ == "__main__":
    main()
