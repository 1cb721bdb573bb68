"""Backtraces across stack segments, the way Go 1.0's traceback walked them.

A frame's return PC is found from its function's declared frame (the
architecture says where: above the frame on amd64, at 0(SP) on ARM).  When
the return PC is lessstack, the frame was the first on its segment: the
caller is resumed from the segment's Stktop gobuf and the walk moves to the
older segment.  On g0 (newstack, oldstack and the C they call) the walk
starts again in the goroutine: from m->morepc / m->morebuf during a split,
or from the Stktop during an unsplit.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from .errors import Frame

if TYPE_CHECKING:
    from .machine import Machine


def segment_chain(mc: Machine, g: int) -> list[int]:
    """Stktop addresses of g's segments, newest first."""
    out = []
    top = mc.field("G", g, "stackbase")
    while top and len(out) < 100000:
        out.append(top)
        top = mc.field("Stktop", top, "stackbase")
    return out


def on_g0(mc: Machine) -> bool:
    """Running on the scheduler stack: g is g0, or sp is inside g0's stack.
    The second test matters on ARM, where the C half (newstack, oldstack)
    may use R10 -- g -- as a scratch register while it runs on g0."""
    g = mc.g
    if g == mc.g0 or not g:
        return True
    g0 = mc.g0
    lo = mc.field("G", g0, "stackguard") - mc.layouts.constants.get("StackGuard", 0)
    return lo <= mc.sp <= mc.field("G", g0, "stackbase")


def backtrace(mc: Machine, limit: int = 64) -> list[Frame]:
    frames: list[Frame] = []
    pc, sp = mc.pc, mc.sp
    lr = mc.reg(mc.arch.link_register) if mc.arch.link_register else None
    if on_g0(mc):
        frames.append(Frame(pc, sp, mc.symbolize(pc), None, "on g0"))
        curg = mc.field("M", mc.m, "curg")
        if not curg:
            return frames
        # Which way across the boundary: newstack before it switched, oldstack after.
        phase = _phase(mc)
        stktops = segment_chain(mc, curg)
        if phase == "split":
            morepc = mc.field("M", mc.m, "morepc")
            bsp = mc.field("M", mc.m, "morebuf.sp")
            frames.append(Frame(morepc, bsp, mc.symbolize(morepc), len(stktops), "growing its stack"))
            pc, sp, lr = mc.field("M", mc.m, "morebuf.pc"), bsp, None
        else:
            # oldstack: until it moves g->stackbase back, the segment being left
            # is still the head of the chain; afterwards its Stktop (which
            # holds the resume point) is known only from the unsplit event.
            ev = _last(mc, "unsplit")
            top = ev.detail.get("stktop") if ev else None
            if top and (not stktops or stktops[0] != top):
                pc, sp, lr = mc.field("Stktop", top, "gobuf.pc"), mc.field("Stktop", top, "gobuf.sp"), None
            elif stktops:
                top = stktops[0]
                pc, sp, lr = mc.field("Stktop", top, "gobuf.pc"), mc.field("Stktop", top, "gobuf.sp"), None
                stktops = stktops[1:]
            else:
                return frames
        return frames + walk(mc, pc, sp, lr, stktops, limit - len(frames), innermost=False)
    f = mc.image.func_at(pc)
    tops = segment_chain(mc, mc.g)
    if f is not None and f.name == "lessstack" and tops:
        # In lessstack the returning frame is gone and the caller is the
        # Stktop's gobuf: the segment's own frames have all returned.
        head = Frame(pc, sp, mc.symbolize(pc), len(tops), "returning to the older segment (Stktop gobuf)")
        return [head] + walk(mc, mc.field("Stktop", tops[0], "gobuf.pc"),
                             mc.field("Stktop", tops[0], "gobuf.sp"), None, tops[1:], limit - 1,
                             innermost=False)
    return walk(mc, pc, sp, lr, tops, limit, innermost=True)


def _phase(mc: Machine) -> str:
    ev = _last(mc, "split", "unsplit")
    return ev.kind if ev else "split"


def _last(mc: Machine, *kinds: str):
    for ev in reversed(mc.events):
        if ev.kind in kinds:
            return ev
    return None


def walk(mc: Machine, pc: int, sp: int, lr: int | None, stktops: list[int], limit: int,
         innermost: bool) -> list[Frame]:
    """Frames from (pc, sp) outwards, crossing segment boundaries through the
    given Stktop chain (innermost first) when a frame returns into lessstack.
    ``lr`` is ARM's link register for a leaf that has not saved it yet."""
    img = mc.image
    less = img.symbols["lessstack"]
    goexit = img.symbols["goexit"]
    out: list[Frame] = []
    seg = len(stktops)
    while len(out) < limit:
        f = img.func_at(pc)
        out.append(Frame(pc, sp, mc.symbolize(pc), seg))
        if f is None or f.name == "goexit":
            break
        ret, csp = mc.arch.unwind(f.frame_size, f.frame_allocated(pc), sp, lr if innermost else None,
                                  mc.read_ptr)
        innermost = False
        if ret == less and stktops:
            top = stktops[0]
            out[-1].note = f"first frame of segment {seg}; returns through lessstack"
            ret, csp = mc.field("Stktop", top, "gobuf.pc"), mc.field("Stktop", top, "gobuf.sp")
            stktops = stktops[1:]
            seg -= 1
        if ret == goexit:
            out.append(Frame(ret, csp, "goexit", seg))
            break
        if not ret:
            break
        pc, sp, lr = ret, csp, None
    return out

