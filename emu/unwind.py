"""Backtraces across stack segments, the way Go 1.0's traceback walked them,
correct at every instruction of a split and an unsplit.

A frame's return PC is found from its function's declared frame (the
architecture says where: above the frame on amd64, at 0(SP) on ARM).  When
the return PC is lessstack, the frame was the first on its segment: the
caller is resumed from the segment's Stktop gobuf and the walk moves to the
older segment.  The Stktop chain used for a walk always starts at the
segment that holds the walk's SP, so a chain that newstack has already
pushed, or oldstack not yet popped, is never crossed twice.

While the runtime switches stacks, the goroutine's frames are found from
the runtime's own state, by where the pc is:

- split (morestack and its trampolines, reflectcall, newstack and the C it
  calls on g0, gogocall): the function growing its stack resumes at
  m->morepc and its caller at m->morebuf.  Until morestack has stored them,
  they are read where morestack reads them: the stack (amd64) or R3/LR (ARM).
- unsplit (lessstack, oldstack and the C it calls, gogo): the caller resumes
  at the gobuf of the Stktop being left -- the head of the chain until
  oldstack pops it, afterwards the one the ``unsplit`` event recorded.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from .errors import Frame

if TYPE_CHECKING:
    from .machine import Machine

GROWING = "growing its stack"
RETURNING = "returning to the older segment (Stktop gobuf)"

_SPLIT_STUBS = ("morestack", "reflectcall")      # and morestack00 ... morestack_n
# The register runtime.new & co. keep their frame's SP in while they run C
# on an aligned SP (asm/amd64/entries.s, asm/arm/entries.s).
C_CALL_SP = {"amd64": "rbx", "arm": "r4"}
_UNSPLIT_STUBS = ("lessstack", "gogo")


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
    return _sp_on_g0(mc, mc.sp)


def _sp_on_g0(mc: Machine, sp: int) -> bool:
    g0 = mc.g0
    lo = mc.field("G", g0, "stackguard") - mc.layouts.constants.get("StackGuard", 0)
    return lo <= sp <= mc.field("G", g0, "stackbase")


def _goroutine(mc: Machine) -> int:
    g = mc.g
    if g == mc.g0 or not g or _sp_on_g0(mc, mc.sp):
        return mc.field("M", mc.m, "curg")
    return g


def _fname(mc: Machine, pc: int) -> str | None:
    f = mc.image.func_at(pc)
    if f is not None:
        return f.name
    sym = mc.image.c_image.symbolize(pc)
    return sym.partition("+")[0] if sym else None


def _is_split_stub(name: str | None) -> bool:
    return name is not None and (name.startswith("morestack") or name == "reflectcall")


class _Chain:
    """A goroutine's Stktop chain with each segment's bounds, so that a walk
    can start at the segment holding an SP."""

    def __init__(self, mc: Machine, g: int):
        self.mc = mc
        self.tops = segment_chain(mc, g) if g else []
        SG = mc.layouts.constants.get("StackGuard", 0)
        self.bounds = []            # (lo, hi) per chain entry, newest first
        guard = mc.field("G", g, "stackguard") if g else 0
        for top in self.tops:
            self.bounds.append((guard - SG, top + mc.layouts["Stktop"].size))
            guard = mc.field("Stktop", top, "stackguard")
        # physical segment numbers: a reflectcall that found room put its
        # Stktop on the same segment (free == 0) and allocated none
        n = len(self.tops)
        self.phys = [0] * n
        p = 1
        for i in range(n - 1, -1, -1):
            if i < n - 1 and mc.field("Stktop", self.tops[i], "free") != 0:
                p += 1
            self.phys[i] = p

    def index_of(self, sp: int) -> int:
        """Index in the chain of the segment holding sp (0 if none does).  The
        tightest one wins: a reflectcall Stktop on the caller's segment makes a
        smaller segment inside it, and while newstack links a new Stktop before
        it moves g->stackguard the head's bounds briefly span both."""
        best, size = 0, None
        for i, (lo, hi) in enumerate(self.bounds):
            if lo <= sp < hi and (size is None or hi - lo < size):
                best, size = i, hi - lo
        return best

    def from_sp(self, sp: int) -> list[int]:
        return self.tops[self.index_of(sp):]


def backtrace(mc: Machine, limit: int = 64) -> list[Frame]:
    pc, sp = mc.pc, mc.sp
    lr = mc.reg(mc.arch.link_register) if mc.arch.link_register else None
    name = _fname(mc, pc)
    g = _goroutine(mc)
    chain = _Chain(mc, g)
    g0_sp = _sp_on_g0(mc, sp) or not mc.g or (mc.g == mc.g0 and not g)
    here = Frame(pc, sp, mc.symbolize(pc), None if g0_sp else _phys(chain, sp), "on g0" if g0_sp else "")
    if not g:
        return [here] if g0_sp else walk(mc, pc, sp, lr, [], limit, innermost=True)

    phase = None
    if _is_split_stub(name) or name in ("newstack", "gogocall"):
        phase = "split"
    elif name in _UNSPLIT_STUBS or name == "oldstack":
        phase = "unsplit"
    elif g0_sp:
        phase = _phase(mc)
    if phase is None:
        if name is not None and mc.image.func_at(pc) is None:
            here.note = "C code on the goroutine's stack: its callers are not known"
            return [here]
        return walk(mc, pc, sp, lr, chain.from_sp(sp), limit, innermost=True, chain=chain)

    if phase == "split":
        if name == "reflectcall" and mc.g != mc.g0 and not g0_sp:
            # before its switch to g0, reflectcall is an ordinary NOSPLIT frame
            return walk(mc, pc, sp, lr, chain.from_sp(sp), limit, innermost=True, chain=chain)
        if _is_split_stub(name) and name != "reflectcall" and not g0_sp:
            grow, caller = _split_from_registers(mc, name, pc, sp, lr)
            grow.segment = _phys(chain, grow.sp)
        else:
            m = mc.m
            morepc, bsp = mc.field("M", m, "morepc"), mc.field("M", m, "morebuf.sp")
            reflect = mc.field("M", m, "moreframesize") == 1
            fsp = bsp if reflect or mc.arch.name != "amd64" else bsp - mc.arch.ptrsize
            grow = Frame(morepc, fsp, mc.symbolize(morepc), _phys(chain, fsp),
                         GROWING + (" (reflectcall: not entered yet)" if reflect else ""))
            caller = (mc.field("M", m, "morebuf.pc"), bsp)
        if here.segment is not None and name == "gogocall":
            here.note = "switching to the new segment"
        frames = [here, grow]
        cpc, csp = caller
        return frames + walk(mc, cpc, csp, None, chain.from_sp(csp), limit - len(frames), innermost=False,
                             chain=chain)

    # unsplit: the caller resumes at the gobuf of the Stktop being left
    top = _leaving(mc, chain, name)
    if top is None:
        return [here]
    rpc, rsp = mc.field("Stktop", top, "gobuf.pc"), mc.field("Stktop", top, "gobuf.sp")
    if not g0_sp:
        here.note = RETURNING
    return [here] + walk(mc, rpc, rsp, None, chain.from_sp(rsp), limit - 1, innermost=False, chain=chain)


def _phys(chain: _Chain, sp: int) -> int | None:
    if not chain.tops:
        return None
    return chain.phys[chain.index_of(sp)]


def _split_from_registers(mc: Machine, name: str, pc: int, sp: int, lr: int | None):
    """In morestack (or a trampoline) before the switch to g0's stack: the
    function growing its stack and its caller, from where morestack reads
    them."""
    ps = mc.arch.ptrsize
    if mc.arch.name == "amd64":
        # 0(SP): the return into f; 8(SP): f's return into its caller.
        # morestack8..48 push one word before jumping to morestack_n, which pops it
        # (after loading m, as Go's morestack<> did).
        f = mc.image.func_at(pc)
        pushed = name[9:] in ("8", "16", "24", "32", "40", "48") and pc != f.addr
        if name == "morestack_n":
            pushed = pc <= next(ln[0] for ln in f.lines if ln[4].startswith("pop"))
        extra = ps if pushed else 0
        morepc = mc.read_ptr(sp + extra)
        fsp = sp + extra + ps
        caller = (mc.read_ptr(fsp), fsp + ps)
    else:
        # LR: the return into f; R3: f's LR (its return into its caller); SP: f's SP.
        # morestack reuses R3 for the argument pointer once m->morebuf.pc holds it.
        morepc, fsp = lr, sp
        f = mc.image.func_at(pc)
        reused = name == "morestack" and pc > next(ln[0] for ln in f.lines if ln[4].startswith("add r3, sp"))
        caller = (mc.field("M", mc.m, "morebuf.pc") if reused else mc.reg("r3"), sp)
    return Frame(morepc, fsp, mc.symbolize(morepc), None, GROWING), caller


def _leaving(mc: Machine, chain: _Chain, name: str | None) -> int | None:
    """The Stktop of the segment an unsplit is leaving."""
    if name == "lessstack" or name == "oldstack" and mc.pc == mc.image.symbols.get("oldstack"):
        return chain.tops[0] if chain.tops else None
    ev = _last(mc, "unsplit")
    top = ev.detail.get("stktop") if ev else None
    if top:
        return top
    return chain.tops[0] if chain.tops else None


def _phase(mc: Machine) -> str:
    ev = _last(mc, "split", "unsplit")
    return ev.kind if ev else "split"


def _last(mc: Machine, *kinds: str):
    """The latest runtime event of these kinds that happened before the
    current instruction (an event is emitted by a hook on the instruction it
    names: stopped before that instruction, it has not happened yet)."""
    now = mc.position()
    for ev in reversed(mc.events):
        if ev.kind in kinds and ev.icount < now:
            return ev
    return None


def _in_transition(mc: Machine) -> bool:
    name = _fname(mc, mc.pc)
    return (_is_split_stub(name) or name in ("newstack", "gogocall", "oldstack") or name in _UNSPLIT_STUBS
            or on_g0(mc))


def _is_code(mc: Machine, pc: int) -> bool:
    return mc.image.func_at(pc) is not None or mc.image.c_image.symbolize(pc) is not None


def walk(mc: Machine, pc: int, sp: int, lr: int | None, stktops: list[int], limit: int,
         innermost: bool, chain: _Chain | None = None) -> list[Frame]:
    """Frames from (pc, sp) outwards, crossing segment boundaries through the
    given Stktop chain (innermost first) when a frame returns into lessstack.
    ``lr`` is ARM's link register for a leaf that has not saved it yet."""
    if chain is None and innermost and pc == mc.pc and sp == mc.sp and _in_transition(mc):
        # a caller that walks from the live registers (the collector naming
        # stack words) in the middle of a split or unsplit: the goroutine's
        # frames are the ones backtrace finds from the runtime's state
        return [f for f in backtrace(mc, limit) if f.segment is not None]
    img = mc.image
    less = img.symbols["lessstack"]
    goexit = img.symbols["goexit"]
    out: list[Frame] = []
    seg = len(stktops)
    phys = (chain.phys[len(chain.tops) - len(stktops)] if chain is not None and stktops
            and len(stktops) <= len(chain.tops) else seg) or None
    while len(out) < limit:
        f = img.func_at(pc)
        out.append(Frame(pc, sp, mc.symbolize(pc), phys))
        if f is None or f.name == "goexit":
            break
        ret, csp = mc.arch.unwind(f.frame_size, f.frame_allocated(pc), sp, lr if innermost else None,
                                  mc.read_ptr)
        if innermost and not _is_code(mc, ret) and f.frame_allocated(pc):
            # a runtime entry calling C moves SP off its frame for the call and
            # keeps the frame's SP in a callee-saved register (asm/<arch>/entries.s)
            saved = mc.reg(C_CALL_SP[mc.arch.name])
            r2, c2 = mc.arch.unwind(f.frame_size, True, saved, None, mc.read_ptr)
            if _is_code(mc, r2) and saved != sp:
                ret, csp, sp = r2, c2, saved
                out[-1].sp = sp
        innermost = False
        if ret == less and stktops:
            top = stktops[0]
            fast = mc.field("Stktop", top, "free") == 0 and len(stktops) > 1
            out[-1].note = (f"first frame above reflectcall's Stktop on segment {phys} (no new segment); "
                            "returns through lessstack" if fast else
                            f"first frame of segment {phys}; returns through lessstack")
            ret, csp = mc.field("Stktop", top, "gobuf.pc"), mc.field("Stktop", top, "gobuf.sp")
            stktops = stktops[1:]
            seg -= 1
            if chain is not None and stktops:
                phys = chain.phys[len(chain.tops) - len(stktops)]
            else:
                phys = seg or None
        if ret == goexit:
            if len(out) < limit:
                out.append(Frame(ret, csp, "goexit", phys))
            break
        if not ret or not _is_code(mc, ret):
            if ret:
                out[-1].note = (out[-1].note + "; " if out[-1].note else "") + \
                    f"cannot unwind further (return address {ret:#x} is not code)"
            break
        pc, sp, lr = ret, csp, None
    return out
