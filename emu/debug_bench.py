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
