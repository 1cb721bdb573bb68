"""make bench rows for the debugger's inspection side (registered in emu/bench.py).

- ``bt``: a full backtrace of a recursion D frames deep (64-byte frames, so
  the stack crosses a segment boundary every few dozen frames), at two depths:
  milliseconds per backtrace and per frame.  A cost per frame that grows with
  the depth would be a bug (the Stktop chain is read once per backtrace).
- ``watch $reg``: a software watchpoint on a register checks it before every
  instruction (a Python hook): the hot-split workload run to its exit with
  and without one, at two sizes, instructions per second and the ratio.
"""
from __future__ import annotations

import time

# a register the hot-split workload never writes (so the watch costs without stopping)
QUIET = "$r9"    # on both architectures (ARM: R9 is m)


def _bt_row(arch: str, depth: int, Row):
    from .arch import get_arch
    from .debugger import new_debugger
    from .run import load_program
    text = get_arch(arch).program("deep").replace("DEPTH", str(depth))
    d = new_debugger(arch, "buggy", load_program(None, text=text, name="deep.s"), budget=50_000_000)
    d.add_break("bottom")
    st = d.cont()
    assert st.reason == "breakpoint", st
    frames = d.backtrace(limit=1 << 20)
    segs = len({f.segment for f in frames})
    reps = 20
    t = time.perf_counter()
    for _ in range(reps):
        d.backtrace(limit=1 << 20)
    dt = (time.perf_counter() - t) / reps
    return Row(f"debugger: bt of {len(frames)} frames", arch, f"{dt * 1e3:.2f} ms",
               f"{dt / len(frames) * 1e6:.1f} us/frame; {segs} segments")


def _watch_rows(arch: str, calls: int, Row):
    from .bench import _hot_machine
    from .debugger import Debugger
    out = []
    res = {}
    for label, expr in (("no watchpoint", None), (f"watch {QUIET}", QUIET)):
        d = Debugger(_hot_machine(arch, calls))
        if expr:
            d.add_watch(expr)
        t = time.perf_counter()
        stops = 0
        while True:
            st = d.cont()
            if st.reason != "watchpoint":
                break
            stops += 1
        dt = time.perf_counter() - t
        assert st.reason == "exited", st
        res[label] = dt
        out.append((label, d.n, dt, stops))
    base = out[0][2]
    return [Row(f"debugger: cont, {label}", arch, f"{n / dt / 1e6:.3f} M insns/s",
                f"hot-split {calls} calls: {n} insns; {dt / base:.1f}x the time without; {stops} stops")
            for label, n, dt, stops in out]


def debugger(cfg) -> list:
    from .bench import ARCHES, Row
    rows = []
    small = max(2000, cfg.insns // 500)
    for arch in ARCHES:
        for depth in (100, 1000):
            rows.append(_bt_row(arch, depth, Row))
        for calls in (small // 4, small):
            rows += _watch_rows(arch, calls, Row)
    return rows


# -- history at scale (emu/history.py) -----------------------------------------------------------
HOT_INSNS_PER_CALL = 250          # hot-split, depth 20: about 354 (amd64) / 305 (ARM) per call: a lower bound


def _hot_debugger(arch: str, insns: int):
    from .debugger import new_debugger
    from .workloads.registry import get
    w = get("hot-split")
    params = w.resolve("small", {"calls": insns // HOT_INSNS_PER_CALL + 1000})
    return new_debugger(arch, "buggy", w.program(arch, params), budget=w.budget(params))


def _history_child(arch: str, insns: int, rc_span: int) -> dict:
    """In a fresh process (so that its peak RSS is the history's run): goto
    ``insns`` into hot-split, then reverse-stepi latency; optionally a
    reverse-continue back across ``rc_span`` instructions."""
    import resource
    import statistics
    d = _hot_debugger(arch, insns)
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    t, c = time.perf_counter(), time.process_time()
    d.goto(insns)
    goto_s, goto_cpu = time.perf_counter() - t, time.process_time() - c
    lat, lat_cpu = [], []
    for _ in range(7):
        t, c = time.perf_counter(), time.process_time()
        d.reverse_stepi(1)
        lat.append(time.perf_counter() - t)
        lat_cpu.append(time.process_time() - c)
    # a position far from the present (the thinned part): its cost is the gap re-executed
    info = d.history.info()
    far = {}
    if rc_span:
        # a breakpoint hit once, at the start: reverse-continue searches back across the span
        first = d.mc.image.symbols["main"]
        d.add_break(f"{first:#x}")
        t, c = time.perf_counter(), time.process_time()
        st = d.reverse_continue()
        far = {"rc_s": time.perf_counter() - t, "rc_cpu": time.process_time() - c, "rc_from": insns - 7,
               "rc_to": d.n, "rc_reason": st.reason}
    return {"goto_s": goto_s, "goto_cpu": goto_cpu, "insns": insns, "rsi_ms": statistics.median(lat[1:]) * 1e3,
            "rsi_cpu_ms": statistics.median(lat_cpu[1:]) * 1e3,
            "rsi_first_ms": lat[0] * 1e3, "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "rss0_mb": rss0 / 1024, "count": info.count, "hist_mb": info.bytes / (1 << 20),
            "gap": info.largest_gap, "thinned": info.thinned, **far}


def _child(arch: str, insns: int, rc_span: int = 0) -> dict:
    import json
    import subprocess
    import sys
    res = subprocess.run([sys.executable, "-m", "emu.debug_bench", arch, str(insns), str(rc_span)],
                         capture_output=True, text=True, check=False)
    if res.returncode != 0:
        raise RuntimeError(f"history bench child failed: {res.stderr.strip()[-2000:]}")
    return json.loads(res.stdout.strip().splitlines()[-1])


def _hook_cost(arch: str, insns: int, Row) -> list:
    """What finding dirty pages costs: hot-split run by the engine alone, with
    the dirty-page write hook, and under the debugger (hook + a snapshot every
    10^4 instructions), CPU seconds (the machine is shared: wall time is noisy)."""
    from .history import DirtyPages
    out = {}
    for label in ("engine alone", "with the dirty-page hook", "debugger goto (hook + snapshots)"):
        keep = None
        d = _hot_debugger(arch, insns) if label.startswith("debugger") else None
        if d is None:
            from .run import new_machine
            from .workloads.registry import get
            w = get("hot-split")
            params = w.resolve("small", {"calls": insns // HOT_INSNS_PER_CALL + 1000})
            mc = new_machine(arch, "buggy", w.program(arch, params), budget=w.budget(params))
            keep = DirtyPages(mc) if "hook" in label else None
        c = time.process_time()
        if d is not None:
            d.goto(insns)
        else:
            mc.engine.run(insns, boundary=10_000, on_boundary=lambda: None)
        out[label] = time.process_time() - c
        del keep                        # the hook's state lives as long as the run
    base = out["engine alone"]
    return [Row(f"history: {label}, {insns:.0e} insns", arch, f"{insns / dt / 1e6:.2f} M insns/s",
                f"{dt:.2f} s CPU; {dt / base:.2f}x the engine alone") for label, dt in out.items()]


def history(cfg) -> list:
    """reverse-stepi latency at 10^6, 10^7, 10^8 instructions into hot-split
    (target <= 50 ms), reverse-continue across 10^7 (target <= 2 s), and the
    peak RSS of the process with its history at 10^8 and 10^9 (bound: 2 GiB).
    ``--quick``: 10^9 is left out."""
    import os

    from .bench import ARCHES, Row
    sizes = [10**6, 10**7, 10**8]
    if cfg.insns >= 1_000_000 and not os.environ.get("GOEMU_BENCH_NO_1E9"):
        sizes.append(10**9)
    rows = []
    for arch in ARCHES:
        for n in (2 * 10**6, 10**7):
            rows += _hook_cost(arch, n, Row)
        for n in sizes:
            r = _child(arch, n, rc_span=10**7 if n == 10**7 else 0)
            rows.append(Row(f"history: goto {n:.0e}", arch, f"{r['goto_s']:.1f} s",
                            f"{r['goto_cpu']:.1f} s CPU; {n / r['goto_s'] / 1e6:.2f} M insns/s with snapshots; "
                            f"{r['count']} snapshots kept, {r['thinned']} thinned, largest gap {r['gap']}"))
            if n <= 10**8:
                rows.append(Row(f"history: reverse-stepi at {n:.0e}", arch, f"{r['rsi_ms']:.1f} ms",
                                f"{r['rsi_cpu_ms']:.1f} ms CPU; median of 6 (first {r['rsi_first_ms']:.1f} ms); "
                                f"target <= 50 ms"))
            if n >= 10**8:
                rows.append(Row(f"history: RSS at {n:.0e}", arch, f"{r['rss_mb']:.0f} MB",
                                f"history {r['hist_mb']:.0f} MiB (estimated), process at start "
                                f"{r['rss0_mb']:.0f} MB; bound 2 GiB"))
            if "rc_s" in r:
                rows.append(Row("history: reverse-continue across 1e7", arch, f"{r['rc_s']:.2f} s",
                                f"{r['rc_cpu']:.2f} s CPU; from {r['rc_from']} back to {r['rc_to']} ({r['rc_reason']}); target <= 2 s"))
    return rows


if __name__ == "__main__":
    import json
    import sys
    print(json.dumps(_history_child(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))))
