"""``goemu trace-show``: print records readably, find one by index, text or first write."""
from __future__ import annotations

import re
from collections.abc import Iterator

from ..errors import UsageError
from .diff import Symbolizer
from .native import NativeReader, Record


def format_record(r: Record, sy: Symbolizer, ptr: int) -> str:
    regs = " ".join(f"{k}={v:#x}" for k, v in r.regs.items())
    mem = " ".join(f"{'W' if k == 'w' else 'R'}[{sy.addr(a)}]{s}={int.from_bytes(d, 'little'):#x}"
                   for k, a, s, d in r.mem)
    ev = "".join(f"\n          <{k}> {d}" for k, d in r.events)
    cyc = ""
    if r.cycles is not None:
        cyc = f"  [{r.cycles:>3} cyc {r.phase}{', ' + r.within if r.within else ''}]"
    return (f"#{r.index:<7} {r.pc:#x} {r.sym:<24} {r.bytes.hex():<16} {r.text:<36}{cyc}"
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
