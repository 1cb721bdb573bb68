"""``goemu trace-show``: print records readably, find one by index, text or first write."""
from __future__ import annotations

import re
from collections.abc import Iterator

from ..errors import UsageError
from .diff import Symbolizer
from .native import NativeReader, Record

_BRANCH = re.compile(r"^(call|jmp|j[a-z]+|bl|blx|b|b[a-z]{2}|bl[a-z]{2}|cbz|cbnz|loop\w*)$")
_HEXNUM = re.compile(r"(?<![\w.])0x[0-9a-fA-F]+")


def _branch_text(text: str, sy: Symbolizer) -> str:
    """A direct branch's target as gdb shows it: ``call 0x600ef0 <newstack>``."""
    head, _, rest = text.partition(" ")
    if not _BRANCH.match(head.lower()) or not rest:
        return text
    return head + " " + _HEXNUM.sub(lambda m: f"{m.group(0)} <{n}>" if (n := sy.code(int(m.group(0), 16)))
                                    else m.group(0), rest, count=1)


def _value(v, sy: Symbolizer, key: str = "") -> str:
    """An event detail value for people: addresses in hex with their symbol, sizes in decimal."""
    if isinstance(v, bool) or not isinstance(v, int):
        return str(v)
    if key in ("argsize", "framesize", "size", "status", "index", "heap_before", "heap_after", "levels") \
            or 0 <= v < 4096:
        return str(v)
    name = sy.code(v) or (sy.addr(v) if sy.addr(v) != f"{v:#x}" else None)
    return f"{v:#x}" + (f" <{name}>" if name else "")


def format_event(kind: str, detail, sy: Symbolizer) -> list[str]:
    """One event as lines: ``<split> framesize=4256 argsize=0 morepc=0x4003e3 <main+0x13> ...``;
    a collection lists each freed and retained object with its root chain."""
    if kind == "gc" and isinstance(detail, dict) and isinstance(detail.get("report"), dict):
        rep = detail["report"]
        lines = [(f"<gc> collection {rep.get('index')}: heap {rep.get('heap_before')} -> {rep.get('heap_after')} "
                 f"bytes; freed {len(rep.get('freed', []))}, retained {len(rep.get('retained', []))}")]
        for o in rep.get("retained", []):
            lines.append(f"    retained {_value(o.get('addr'), sy)} ({o.get('size')} bytes) via {o.get('path')}")
        for o in rep.get("freed", []):
            lines.append(f"    freed    {_value(o.get('addr'), sy)} ({o.get('size')} bytes)")
        return lines
    if isinstance(detail, dict):
        return [f"<{kind}> " + " ".join(f"{k}={_value(v, sy, k)}" for k, v in detail.items())]
    return [f"<{kind}> {_value(detail, sy)}" if detail is not None else f"<{kind}>"]


def _code_note(v: int, sy: Symbolizer, r: Record | None = None) -> str:
    """`` <symbol+offset>`` after a value that points into code (a return address in lr or
    on the stack), as gdb's ``x/a`` names it; nothing for other values.  The address after the
    record's own instruction (what a call saves) is named after the caller, even when the call
    is its function's last instruction (``oldstack+0x98``, not the next function)."""
    if r is not None and r.bytes and v == r.pc + len(r.bytes):
        return f" <{sy.return_address(v, r.pc)}>"
    name = sy.code(v) if v >= 4096 else None
    return f" <{name}>" if name else ""


def format_record(r: Record, sy: Symbolizer, ptr: int) -> str:
    """One record the way the REPL shows an instruction (``0x4003e3 <leak+0x13>``, branch targets
    named), then the registers it changed and its memory accesses (values that point into code
    named after it), its events, one per line."""
    regs = " ".join(f"{k}={v:#x}{_code_note(v, sy, r)}" for k, v in r.regs.items())
    mem = " ".join(f"{'W' if k == 'w' else 'R'}[{sy.addr(a)}]{s}={(v := int.from_bytes(d, 'little')):#x}"
                   + (_code_note(v, sy, r) if s == ptr else "")
                   for k, a, s, d in r.mem)
    ev = "".join(f"\n          {line}" for k, d in r.events for line in format_event(k, d, sy))
    cyc = ""
    if r.cycles is not None:
        cyc = f"  [{r.cycles:>3} cyc {r.phase}{', ' + r.within if r.within else ''}]"
    where = f"{r.pc:#x} <{r.sym}>"
    return (f"#{r.index:<7} {where:<36} {r.bytes.hex():<16} {_branch_text(r.text, sy):<36}{cyc}".rstrip()
            + (f"\n          {regs}" if regs else "") + (f"\n          {mem}" if mem else "") + ev)


def select(reader: NativeReader, start: int = 0, grep: str | None = None,
           first_write: int | None = None) -> Iterator[Record]:
    rx = re.compile(grep) if grep else None
    for r in reader:
        if r.index < start:
            continue
        if first_write is not None:
            if any(a <= first_write < a + s for a, s, _ in r.writes):
                yield r
                return
            continue
        if rx and not rx.search(f"{r.sym} {r.text} {' '.join(f'<{k}>' for k, _ in r.events)}"
                                f" {r.phase or ''} {r.within or ''}"):
            continue
        yield r


def resolve_address(header: dict, what: int | str) -> int:
    """An address given as a number (``0x...``, decimal) or a data name of the header (``m0.cret``)."""
    if isinstance(what, int):
        return what
    for addr, _size, name in header.get("data_names", []):
        if name == what:
            return addr
    try:
        return int(what, 0)
    except ValueError:
        raise UsageError(f"not an address or a known data name: {what!r}") from None


def show(path: str, start: int = 0, grep: str | None = None, first_write: int | str | None = None,
         limit: int | None = None) -> Iterator[str]:
    with NativeReader(path) as rd:
        if first_write is not None:
            first_write = resolve_address(rd.header, first_write)
        sy = Symbolizer(rd.header)
        ptr = rd.header.get("ptrsize", 8)
        for n, r in enumerate(select(rd, start, grep, first_write), 1):
            yield format_record(r, sy, ptr)
            if limit is not None and n >= limit:
                return
