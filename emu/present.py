"""Text presenters: turn results into what a person reads (errors: emu/boundary.py)."""
from __future__ import annotations

from .gc import GcReport
from .run import RunResult


def table(rows: list[list[str]], header: list[str]) -> str:
    widths = [max(len(str(r[i])) for r in rows + [header]) for i in range(len(header))]
    line = lambda r: "  ".join(str(c).ljust(w) for c, w in zip(r, widths)).rstrip()
    return "\n".join([line(header), line(["-" * w for w in widths])] + [line(r) for r in rows])


def run_summary(r: RunResult) -> str:
    out = list(r.output)
    out.append(f"[{r.arch}/{r.variant}] exit status {r.exit_status}; {r.instructions} instructions; "
               f"{r.splits} splits, {r.unsplits} unsplits; segments {r.segments_allocated} allocated, "
               f"{r.segments_freed} freed; m0.cret = {r.cret:#x}")
    for g in r.gcs:
        out.append(gc_line(g))
    return "\n".join(out)


def gc_line(g: GcReport) -> str:
    return (f"gc #{g.index} at insn {g.icount}: heap {g.heap_before} -> {g.heap_after} bytes; "
            f"freed {len(g.freed)}, retained {len(g.retained)}")


def gc_report(g: GcReport, arch: str = "") -> str:
    """Boehm-style back-pointer text for every retained object, then the freed ones.
    Retained bytes are summed per root first; a row's path shows at most
    gc.PATH_SHOWN links (the first and the last ones: ``why ADDR`` in the
    debugger gives the whole chain)."""
    from .gc import PATH_SHOWN, RetainedList
    lines = [f"== {gc_line(g)} ({g.roots_scanned} root ranges, {g.words_scanned} words scanned)",
             f"  triggered by {g.trigger_text()}"]
    if isinstance(g.retained, RetainedList) and len(g.retained):
        lines.append("  retained by root:")
        for name, count, nbytes in g.retained.by_root():
            lines.append(f"    {nbytes:>10} bytes in {count:>7} object{'s' if count != 1 else ' '}  {name}")
    for o in g.retained:
        lines.append(f"  retained {o.addr:#x} ({o.size} bytes): reachable via {o.levels} "
                     f"level{'s' if o.levels != 1 else ''} from root {o.root} at {o.root_addr:#x}")
        lines.append(f"      {o.path_text(PATH_SHOWN)}")
    for o in g.freed:
        lines.append(f"  freed    {o.addr:#x} ({o.size} bytes)")
    return "\n".join(lines)
