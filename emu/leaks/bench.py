"""make bench: what the dead-root detector costs against a plain run.

The repeated-leak workload (emu/workloads: every round builds a list on a new
stack segment, returns its head through lessstack and collects, so m0.cret is
a dead root at every collection) sized to ``cfg.insns`` and ten times that,
on both architectures: the plain run (``goemu run``), then ``goemu leaks`` on
the same program (the watched run plus the replay), as a ratio."""
from __future__ import annotations

import time


def dead_roots(cfg) -> list:
    from ..bench import ARCHES, Row, _leak_workload
    from .core import leaks
    rows = []
    for arch in ARCHES:
        for insns in (cfg.insns, 10 * cfg.insns):
            unit, rounds, n, plain_s = _leak_workload(arch, insns)
            t = time.perf_counter()
            res = leaks(arch, "buggy", unit, f"leak{rounds}", budget=4 * insns)
            dt = time.perf_counter() - t
            dead = sum(len(c.dead) for c in res.collections)
            rows.append(Row(f"leaks: {n / 1e6:.1f}M insns", arch, f"{dt / plain_s:.2f}x a plain run",
                            f"plain {plain_s:.1f} s; leaks {dt:.1f} s = watched run {res.seconds['run']:.1f} s + "
                            f"replay {res.seconds['replay']:.1f} s; {len(res.collections)} collections, {dead} "
                            f"dead roots, {res.watch_callbacks} watch callbacks, at most {res.watched_peak} "
                            f"words watched"))
    return rows
