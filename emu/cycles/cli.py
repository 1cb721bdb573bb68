"""`goemu calibrate`: the cycle model against llvm-mca, per basic block."""
from __future__ import annotations

import json

from .. import present
from ..arch import ARCH_NAMES
from .calibrate import MAPE_TARGET, ArchCalibration, calibrate


def register(sub) -> None:
    p = sub.add_parser("calibrate", help="compare the cycle model with llvm-mca on every stub/runtime_c block")
    p.add_argument("--arch", choices=ARCH_NAMES, help="default: both")
    p.add_argument("--variant", choices=("buggy", "fixed"), default="buggy",
                   help="which runtime_c build to take the blocks from (default buggy)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--all", action="store_true",
                   help="also measure blocks left with one instruction (skipped by default)")
    p.add_argument("--dynamic", action="store_true",
                   help="instead: the executed instruction streams of five workloads against llvm-mca "
                   "(one pipeline across blocks, penalties set aside), and the block calibration "
                   "weighted by executions")
    p.set_defaults(func=cmd_calibrate)


def render(c: ArchCalibration) -> str:
    rows = [[b.func, f"{b.addr:#x}", str(b.size), str(b.insns), f"{b.model:.2f}", f"{b.mca:.2f}",
             f"{b.error_pct:+.1f}"] for b in c.blocks]
    out = [f"{c.arch} ({c.core}, runtime {c.variant}): llvm-mca {' '.join(c.mca_args)}",
           present.table(rows, ["function", "block", "bytes", "insns", "model", "llvm-mca", "error %"])]
    dropped = ", ".join(f"{m} x{n}" for m, n in sorted(c.dropped_unsupported.items())) or "none"
    unknown = ", ".join(f"{k} x{n}" for k, n in sorted(c.unknown.items())) or "none"
    out.append(f"{c.functions} functions, {c.blocks_total} blocks: {len(c.blocks)} measured, "
               f"{c.skipped_short} too short; terminators dropped: {c.dropped_terminators}; "
               f"refused by llvm-mca and dropped: {dropped}; default-class instructions: {unknown}")
    return "\n".join(out)


def render_dynamic(c) -> str:
    from .dynamic import STREAM_TARGET, WEIGHTED_TARGET
    rows = [[s.workload, str(s.instructions), str(s.taken_removed),
             ", ".join(f"{m} x{n}" for m, n in sorted(s.refused.items())) or "-",
             f"{s.model:.1f}", f"{s.mca:.1f}", f"{s.error_pct:+.1f}", f"{s.mca_raw:.1f}"] for s in c.streams]
    m, x = sum(s.model for s in c.streams), sum(s.mca for s in c.streams)
    rows.append(["overall", str(sum(s.instructions for s in c.streams)), "", "", f"{m:.1f}", f"{x:.1f}",
                 f"{c.overall_pct:+.1f}", f"{sum(s.mca_raw for s in c.streams):.1f}"])
    out = [(f"{c.arch} ({c.core}): executed streams, taken branches removed, all predicted, all L1 hits; "
            f"llvm-mca {' '.join(c.mca_args)}"),
           present.table(rows, ["workload", "insns", "taken removed", "refused by llvm-mca (dropped both sides)",
                                "goemu", "llvm-mca", "error %", "llvm-mca as written"]),
           (f"worst stream error {c.worst_pct:.1f}% (target <= {STREAM_TARGET:.0f}%); block calibration "
            f"weighted by executions: {c.weighted_pct:.1f}% over {c.weighted_blocks} blocks that ran "
            f"(target <= {WEIGHTED_TARGET:.0f}%)")]
    out.append("(llvm-mca: the stream as the core runs it -- emu/arch/<arch>/timing.py mca_stream, e.g. "
               "amd64 PUSH/POP as the stack engine executes them; 'as written': every instruction verbatim)")
    if c.unmodelled:
        out.append(f"blocks llvm-mca cannot model ({len(c.unmodelled)}; checked against the TRM's "
                   "load/store-multiple timings instead, tests/cycles/test_cycles_pipeline.py):")
        for f, a, bad in c.unmodelled:
            out.append(f"  {f} {a:#x}: {'; '.join(bad)}")
    return "\n".join(out)


def cmd_calibrate(ns) -> int:
    if ns.dynamic:
        from .dynamic import calibrate_dynamic
        res = [calibrate_dynamic(a) for a in ([ns.arch] if ns.arch else ARCH_NAMES)]
        ok = all(c.ok for c in res)
        if ns.json:
            print(json.dumps({"ok": ok, "arches": [c.to_json() for c in res]}, indent=2))
        else:
            print("\n\n".join(render_dynamic(c) for c in res))
        return 0 if ok else 1
    results = [calibrate(a, ns.variant, include_short=ns.all) for a in ([ns.arch] if ns.arch else ARCH_NAMES)]
    ok = all(c.mape <= MAPE_TARGET for c in results)
    if ns.json:
        print(json.dumps({"target_pct": MAPE_TARGET, "ok": ok, "arches": [c.to_json() for c in results]}, indent=2))
        return 0 if ok else 1
    for c in results:
        print(render(c))
        print()
    for c in results:
        verdict = "ok" if c.mape <= MAPE_TARGET else "ABOVE TARGET"
        print(f"MAPE {c.arch:6} {c.mape:6.2f}%  (target <= {MAPE_TARGET:.0f}%, {len(c.blocks)} blocks)  {verdict}")
    return 0 if ok else 1
