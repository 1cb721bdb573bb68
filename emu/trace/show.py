"""``goemu trace-show``: print records readably, find one by index, text or first write."""
from __future__ import annotations

import re
from typing import Iterator

from .diff import Symbolizer
from .native import NativeReader, Record


def format_record(r: Record, sy: Symbolizer, ptr: int) -> str:
    regs = " ".join(f"{k}={v:#x}" for k, v in r.regs.items())
    mem = " ".join(f"{'W' if k == 'w' else 'R'}[{sy.addr(a)}]{s}={int.from_bytes(d, 'little'):#x}"
                   for k, a, s, d in r.mem)
    ev = "".join(f"\n          <{k}> {d}" for k, d in r.events)
    return (f"#{r.index:<7} {r.pc:#x} {r.sym:<24} {r.bytes.hex():<16} {r.text}"
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
        if rx and not rx.search(f"{r.sym} {r.text} {' '.join(k for k, _ in r.events)}"):
            continue
        yield r


def show(path: str, start: int = 0, grep: str | None = None, first_write: int | None = None,
         limit: int | None = None) -> Iterator[str]:
    with NativeReader(path) as rd:
        sy = Symbolizer(rd.header)
        ptr = rd.header.get("ptrsize", 8)
        n = 0
        for r in select(rd, start, grep, first_write):
            yield format_record(r, sy, ptr)
            n += 1
            if limit is not None and n >= limit:
                return
