"""Text for ``goemu leaks``: per collection, each dead root with its origin and
next access; a summary per root location; buggy and fixed side by side."""
from __future__ import annotations

from ..present import table
from .core import Access, CollectionResult, LeaksResult, LocationSummary, RootVerdict


def _insn(a: Access) -> str:
    return f"#{a.index} {a.where}  {a.text}"


def _objects(n: int) -> str:
    return f"{n} object{'s' if n != 1 else ''}"


def _bytes(values: list[int]) -> str:
    if not values:
        return "-"
    lo, hi = min(values), max(values)
    return f"{hi}" if lo == hi else f"{lo}..{hi}"


def verdict_lines(r: RootVerdict) -> list[str]:
    head = f"{r.name} at {r.addr:#x} = {r.value:#x}"
    if r.value != r.base:
        head += f" (interior +{r.value - r.base:#x} of {r.base:#x})"
    if r.live:
        if r.how == "collector":
            return [f"  live {head}: followed by the collector itself"]
        return [f"  live {head}: read at {_insn(r.next)}" if r.next else f"  live {head}"]
    pins = (f"alone pins {r.freed_bytes} bytes ({_objects(r.freed_objects)})" if r.freed_bytes
            else "pins nothing alone (its object is also held elsewhere)")
    out = [f"  DEAD {head} -> object of {r.object_size} bytes; {pins}"]
    out.append(f"       stored by  {_insn(r.origin)}" if r.origin else
               "       stored by  (initial data: no store before this collection)")
    if r.how == "overwritten":
        out.append(f"       next       overwritten at {_insn(r.next)}"
                   + (f"  (value {r.next.value:#x})" if r.next.value is not None else ""))
    else:
        out.append("       next       none until exit")
    return out


def collection_text(c: CollectionResult, all_roots: bool) -> list[str]:
    dead = c.dead
    line = (f"collection {c.index} at #{c.position} {c.where}: {len(c.roots)} root words hold objects, "
            f"{len(c.live)} live, {len(dead)} dead")
    if dead:
        line += (f"; zeroing every dead one would free {c.dead_freed_bytes} bytes "
                 f"({_objects(c.dead_freed_objects)})")
    out = [line]
    for r in sorted(dead, key=lambda r: (-r.freed_bytes, r.addr)):
        out += verdict_lines(r)
    if all_roots:
        for r in c.live:
            out += verdict_lines(r)
    return out


def summary_rows(res: LeaksResult) -> list[list[str]]:
    n = len(res.collections)
    return [[s.name, s.kind, f"{len(s.dead_at)} of {n}", _bytes(s.bytes_pinned), ", ".join(s.origins)]
            for s in res.summary()]


def result_text(res: LeaksResult, all_roots: bool = False, shown: int = 5) -> str:
    n = len(res.collections)
    with_dead = [c for c in res.collections if c.dead]
    out = [(f"== {res.program} on {res.arch}/{res.variant}: {res.instructions} instructions, exit status "
            f"{res.exit_status}, {n} collection{'s' if n != 1 else ''}, dead roots at {len(with_dead)}")]
    cols = res.collections if all_roots else with_dead[:shown]
    for c in cols:
        out += collection_text(c, all_roots)
    if not all_roots and len(with_dead) > shown:
        out.append(f"... {len(with_dead) - shown} more collections with dead roots (--all shows every one)")
    rows = summary_rows(res)
    if rows:
        out.append("summary: each root location dead at some collection, and the bytes it alone pinned")
        out.append(_indent(table(rows, ["location", "kind", "dead at", "bytes pinned", "stored by"])))
    elif not n:
        out.append("no collection ran: nothing to check (the program never calls runtime.gc)")
    else:
        out.append("no dead roots: every root word holding an object was read again")
    return "\n".join(out)


def _indent(text: str) -> str:
    return "\n".join("  " + ln for ln in text.splitlines())


def _cell(s: LocationSummary | None, n: int) -> str:
    if s is None:
        return "-"
    return f"dead at {len(s.dead_at)} of {n}, {_bytes(s.bytes_pinned)} bytes"


def side_by_side(buggy: LeaksResult, fixed: LeaksResult) -> str:
    """Each dead root location of either variant: how often and how much, buggy | fixed."""
    a = {s.name: s for s in buggy.summary()}
    b = {s.name: s for s in fixed.summary()}
    names = list(a) + [k for k in b if k not in a]
    rows = [[k, _cell(a.get(k), len(buggy.collections)), _cell(b.get(k), len(fixed.collections))] for k in names]
    head = f"== {buggy.program} on {buggy.arch}: dead roots, buggy (efacb2a1) vs fixed (89b075cc)"
    if not rows:
        return head + "\n  none on either variant"
    gone = [k for k in a if k not in b]
    came = [k for k in b if k not in a]
    out = [head, _indent(table(rows, ["location", "buggy", "fixed"]))]
    if gone:
        out.append(f"  dead on buggy only (the fix removes it): {', '.join(gone)}")
    if came:
        out.append(f"  dead on fixed only: {', '.join(came)}")
    return "\n".join(out)


def comparison_json(buggy: LeaksResult, fixed: LeaksResult) -> dict:
    a = {s.name: s for s in buggy.summary()}
    b = {s.name: s for s in fixed.summary()}
    names = list(a) + [k for k in b if k not in a]

    def cell(s, res):
        return None if s is None else {"dead": len(s.dead_at), "collections": len(res.collections),
                                        "max_bytes": max(s.bytes_pinned, default=0)}
    return {"program": buggy.program, "arch": buggy.arch,
            "locations": [{"name": k, "buggy": cell(a.get(k), buggy), "fixed": cell(b.get(k), fixed)}
                          for k in names],
            "buggy_only": [k for k in a if k not in b], "fixed_only": [k for k in b if k not in a]}
