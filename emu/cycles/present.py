"""Text for cycle results (the core returns data; this turns it into tables)."""
from __future__ import annotations

from .account import PHASES, CycleResult

RAS_NOTE = "a function started by gogocall returns to lessstack, an address no call pushed"


def _table(rows: list[list[str]], header: list[str], right: set[int]) -> str:
    widths = [max(len(r[i]) for r in rows + [header]) for i in range(len(header))]

    def line(r: list[str]) -> str:
        return "  ".join(c.rjust(w) if i in right else c.ljust(w)
                         for i, (c, w) in enumerate(zip(r, widths))).rstrip()
    return "\n".join([line(header), line(["-" * w for w in widths])] + [line(r) for r in rows])


def _mean(records, phase: str | None = None) -> str:
    if not records:
        return "-"
    vals = [r.cycles if phase is None else r.phases.get(phase, 0) for r in records]
    return f"{sum(vals) / len(vals):.1f}" if any(vals) else "-"


def cycles_summary(c: CycleResult) -> str:
    out = [(f"cycles ({c.core} model, {c.arch}): {c.total} cycles, {c.instructions} instructions, "
           f"CPI {c.cpi:.3f}")]
    rows = []
    for p in PHASES:
        cyc = c.phases.get(p, 0)
        pct = 100.0 * cyc / c.total if c.total else 0.0
        rows.append([p, str(cyc), f"{pct:.1f}%", str(c.phase_instructions.get(p, 0)),
                     _mean(c.splits, p), _mean(c.unsplits, p)])
    rows.append(["total", str(c.total), "100.0%" if c.total else "0.0%", str(c.instructions),
                 _mean(c.splits), _mean(c.unsplits)])
    out.append(_table(rows, ["phase", "cycles", "%", "insns", "per split", "per unsplit"], {1, 2, 3, 4, 5}))
    out.append(f"{len(c.splits)} splits, {len(c.unsplits)} unsplits (per split: morestack entry to "
               "gogocall's jump; per unsplit: lessstack entry to gogo's jump)")
    mis = []
    for k, n in c.mispredicts.items():
        if c.branches.get(k):
            name = "ret (RAS)" if k == "ret" else k
            mis.append(f"{name} {n}/{c.branches[k]}")
    out.append("mispredicts (wrong/executed): " + (", ".join(mis) or "none") +
               f"; {c.penalties.get('mispredict', 0)} penalty cycles")
    ras_unsplit = sum(r.mispredicts.get("ret", 0) for r in c.unsplits)
    if c.unsplits:
        out.append(f"lessstack's return: {ras_unsplit} RAS mispredicts in {len(c.unsplits)} unsplits "
                   f"({RAS_NOTE}); return stack underflows {c.ras['underflows']}, "
                   f"overflows {c.ras['overflows']}")
    if c.caches:
        levels = ", ".join(f"{k} {v['misses']} misses/{v['hits'] + v['misses']} accesses"
                           for k, v in c.caches.items())
        extra = "" if c.dcache else " (data caches off: --cache-model)"
        out.append(f"caches: {levels}{extra}; penalty cycles: icache {c.penalties.get('icache', 0)}, "
                   f"dcache {c.penalties.get('dcache', 0)}")
    out.append("gc: runtime.gc's own instructions only; the collector runs in Python and costs 0 cycles")
    return "\n".join(out)
