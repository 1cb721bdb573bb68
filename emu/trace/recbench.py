"""What trace recording costs at two sizes of run (``make bench``, measurement
``trace_sizes``): the hot-split workload (every call splits and unsplits) at
about 10^5 and 10^6 instructions (10^7 with GOEMU_BENCH_BIG=1), each run on raw
Unicorn, plainly, and recorded in the native format by the C recorder, without
and with cycles (the C cycle account), all in one process; the Python recorder
(the reference) at the smallest size only.

Wall time (the C recorder's chunks are compressed by a second thread), and the
recording thread's CPU time, which is what the emulation and the C hooks
cost without the compression."""
from __future__ import annotations

import os
import time


def _hot(arch: str, calls: int):
    from ..bench import _hot_machine
    return _hot_machine(arch, calls)


def _calls_for(arch: str, insns: int) -> int:
    probe = _hot(arch, 200)
    probe.run()
    return max(20, int(200 * insns / probe.icount))


def _record(arch: str, calls: int, path: str, native: bool, cycles: bool = False) -> tuple[float, float, int, int]:
    """(wall s, this thread's CPU s, records, bytes)."""
    from ..cycles.account import CycleAccount
    from .native import NativeWriter
    from .record import Recorder
    mc = _hot(arch, calls)
    f = open(path, "wb")  # noqa: SIM115 - closed by the recorder's sink
    acct = CycleAccount(mc) if cycles else None
    rec = Recorder(mc, NativeWriter(f), "hotsplit_hot.s", account=acct, native=native).attach()
    t, c = time.perf_counter(), time.thread_time()
    rec.run()
    wall, cpu = time.perf_counter() - t, time.thread_time() - c
    return wall, cpu, rec.count, os.path.getsize(path)


def _raw(arch: str, calls: int, insns: int) -> tuple[float, float]:
    """(wall s, CPU s) of the workload on bare Unicorn (emu.bench's raw run)."""
    mc = _hot(arch, calls)
    for h in mc.hooks.handles():
        if h.kind in ("block", "at") or h.native:
            mc.hooks.remove(h)
    t, c = time.perf_counter(), time.thread_time()
    mc.uc.emu_start(mc.pc, 0, 0, insns + 10_000)
    return time.perf_counter() - t, time.thread_time() - c


def trace_sizes(cfg) -> list:
    from ..bench import ARCHES, Row
    sizes = [100_000, 1_000_000] + ([10_000_000] if os.environ.get("GOEMU_BENCH_BIG") else [])
    rows = []
    for arch in ARCHES:
        for size in sizes:
            calls = _calls_for(arch, size)
            ref = _hot(arch, calls)
            t = time.perf_counter()
            ref.run()
            plain_s = time.perf_counter() - t
            insns = ref.icount
            raw_s, raw_cpu = _raw(arch, calls, insns)
            path = os.path.join(cfg.tmp, f"trace-sizes-{arch}.native")
            for cycles in (False, True):
                wall, cpu, n, nbytes = _record(arch, calls, path, True, cycles)
                assert n == insns, (n, insns)
                if not cycles:
                    wall_c = wall
                what = "with cycles" if cycles else "--no-cycles"
                target = "" if cycles else " (target >= 10%)"
                rows.append(Row(f"trace {what} (C recorder), {insns / 1e6:.2f}M insns", arch,
                                f"{insns / wall / 1e6:.3f} M insns/s",
                                f"{raw_s / wall:.1%} of raw{target}; CPU of the recording thread "
                                f"{raw_cpu / cpu:.1%} of raw's; raw {raw_s * 1e3:.0f} ms, plain {plain_s * 1e3:.0f} "
                                f"ms ({raw_s / plain_s:.1%}), trace {wall * 1e3:.0f} ms; {nbytes / n:.2f} B/insn"))
            if size == sizes[0]:
                wall_py, _cpu, _n, _b = _record(arch, calls, path, False)
                rows.append(Row(f"trace (Python recorder), {insns / 1e6:.2f}M insns", arch,
                                f"{insns / wall_py / 1e6:.3f} M insns/s",
                                f"{raw_s / wall_py:.2%} of raw; the reference (a Python hook per instruction); "
                                f"the C recorder is {wall_py / wall_c:.1f}x faster"))
            os.remove(path)
    return rows
