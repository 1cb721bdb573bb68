"""Seeded generator of goasm programs with a precise liveness model, plus the
shared checks of the collector tests (tests/gc/test_gc_*.py).

A generated program is a DAG of functions (f_i calls only f_j, j > i; main is
the root) with frame sizes around the split thresholds.  Each function has
NSLOTS pointer slots in its frame (zeroed on entry) and a list of operations:
allocate into a slot (runtime.new, the address printed with runtime.printhex),
drop a slot, copy slots, store/load/clear GLOBL pointers, store/load pointers
in object fields, call a child, run runtime.gc, and optionally return with a
slot's value left in AX/R0 (the m->cret pattern), and store interior pointers
(an object's address plus 1..size-1 bytes, aligned or not) into a second
global array that is only ever cleared: the object must stay alive through them.

The Python model interprets the same operations, so it knows, at every
runtime.gc, exactly which allocations (by allocation index k = k-th printed
address) are reachable from live frame slots and globals.  The program keeps
no log of addresses in memory: such a log would itself be a root.
"""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "shared"))
import gen_ops  # (the generator shared with tests/leaks/gen_roots.py)
from gen_ops import NSLOTS, PTR, Func, Program, slot

FRAME_SIZES = (64, 120, 136, 1000, 3900, 4096, 5000)
ALLOC_SIZES = (8, 16, 24, 32, 48, 64, 100, 128, 200, 256, 512, 1000, 2048)
NGLOBALS = 6
NINTERIOR = 4                   # GLOBL ginterior: interior pointers only


def _frame(rng, i: int, ps: int) -> tuple[int, int]:
    frame = (rng.choice(FRAME_SIZES) + rng.choice((-8, 0, 0, 8))) // ps * ps
    return frame, (rng.choice((0, 0, 2 * ps)) if i else 0)


def _kinds(d: gen_ops.Draw) -> list[str]:
    kinds = ["alloc", "alloc", "drop", "copy", "gstore", "gload", "gclear", "gc"]
    if d.known:
        kinds += ["fstore", "fstore", "fload", "ginterior", "ginterior"]
    kinds += ["gintclear"]
    if d.i + 1 < d.nfuncs and d.ncalls < 2:
        kinds += ["call", "call"]
    return kinds


def _end_func(rng, d: gen_ops.Draw, fn: Func) -> None:
    if rng.random() < 0.15:
        fn.ops.append(("gc",))
    if rng.random() < 0.6:
        fn.retax = rng.randrange(NSLOTS)


def _end_program(rng, funcs: list[Func]) -> None:
    funcs[0].ops.append(("gc",))       # make sure main collects at least once at the end


def _prologue(arch: str, fn: Func) -> list[str]:
    """Zero the slots (only them: the rest of the frame is the callees' argument area)."""
    if arch == "amd64":
        return [f"mov {slot(arch, j)}, 0" for j in range(NSLOTS)]
    return ["mov r1, #0"] + [f"str r1, {slot(arch, j)}" for j in range(NSLOTS)]


def _epilogue(arch: str, fn: Func) -> list[str]:
    if fn.retax is None:
        return []
    return [f"mov rax, {slot(arch, fn.retax)}" if arch == "amd64" else f"ldr r0, {slot(arch, fn.retax)}"]


SPEC = gen_ops.Spec(
    seed_prefix="", nfuncs=(2, 6), nops=(4, 14), alloc_sizes=ALLOC_SIZES, nglobals=NGLOBALS,
    ninterior=NINTERIOR, frame=_frame, kinds=_kinds, end_func=_end_func, end_program=_end_program,
    globals=lambda arch: [f"GLOBL gptrs, ${NGLOBALS * PTR[arch]}", f"GLOBL ginterior, ${NINTERIOR * PTR[arch]}"],
    prologue=_prologue, epilogue=_epilogue)


def generate(seed: int, arch: str) -> Program:
    prog = gen_ops.generate(SPEC, seed, arch)
    simulate(prog)
    return prog


# -- the liveness model -----------------------------------------------------------------------
def simulate(prog: Program) -> None:
    funcs = prog.funcs
    glob: list[int | None] = [None] * NGLOBALS
    gint: list[int | None] = [None] * NINTERIOR
    fields: dict[int, dict[int, int | None]] = {}
    frames: list[list[int | None]] = []

    def live(interior: bool = True) -> set[int]:
        todo = [v for fr in frames for v in fr if v is not None] + \
            [v for v in glob + (gint if interior else []) if v is not None]
        seen: set[int] = set()
        while todo:
            v = todo.pop()
            if v in seen:
                continue
            seen.add(v)
            todo += [w for w in fields.get(v, {}).values() if w is not None]
        return seen

    def run(i: int) -> None:
        fr: list[int | None] = [None] * NSLOTS
        frames.append(fr)
        for op in funcs[i].ops:
            k = op[0]
            if k == "alloc":
                fr[op[1]] = prog.nallocs
                prog.sizes.append(op[2])
                prog.nallocs += 1
            elif k == "drop":
                fr[op[1]] = None
            elif k == "copy":
                fr[op[2]] = fr[op[1]]
            elif k == "gstore":
                glob[op[2]] = fr[op[1]]
            elif k == "gload":
                fr[op[2]] = glob[op[1]]
            elif k == "gclear":
                glob[op[1]] = None
            elif k == "ginterior":
                gint[op[3]] = fr[op[1]]
            elif k == "gintclear":
                gint[op[1]] = None
            elif k == "fstore":
                _, src, off, j = op
                fields.setdefault(fr[src], {})[off] = fr[j]
            elif k == "fload":
                _, src, off, j = op
                fr[j] = fields.get(fr[src], {}).get(off)
            elif k == "call":
                run(op[1])
            elif k == "gc":
                prog.gc_live.append(live())
                prog.gc_interior_only.append(prog.gc_live[-1] - live(interior=False))
                prog.gc_nallocs.append(prog.nallocs)
        frames.pop()

    run(0)


# -- shared checks ----------------------------------------------------------------------------
def check_paths(mc, report) -> list[str]:
    """Every retained object's chain must match memory at collection time:
    step 0 is the root word (at root_addr), each step's word holds its value,
    each value lies inside the next object of the chain, each later step's word
    lies inside the previous object, and the chain ends at the object."""
    errs = []
    for o in report.retained:
        where = f"{o.addr:#x} {o.path_text()}"
        if not o.path or o.root is None:
            errs.append(f"{where}: no path/root")
            continue
        if o.path[0].addr != o.root_addr:
            errs.append(f"{where}: root_addr {o.root_addr:#x} != step0 {o.path[0].addr:#x}")
        targets = getattr(o, "_targets", None) or [(o.addr, o.size)] * len(o.path)
        for i, st in enumerate(o.path):
            word = mc.read_ptr(st.addr)
            if word != st.value:
                errs.append(f"{where}: step {i} word at {st.addr:#x} is {word:#x}, path says {st.value:#x}")
            ta, tsz = targets[i]
            if not ta <= st.value < ta + tsz:
                errs.append(f"{where}: step {i} value {st.value:#x} outside {ta:#x}+{tsz}")
            if i:
                pa, psz = targets[i - 1]
                if not pa <= st.addr < pa + psz:
                    errs.append(f"{where}: step {i} word {st.addr:#x} outside parent {pa:#x}+{psz}")
                if st.where != f"+{st.addr - pa:#x}" and not st.where.startswith("."):
                    errs.append(f"{where}: step {i} named {st.where}, offset {st.addr - pa:#x}")
        if targets[-1] != (o.addr, o.size):
            errs.append(f"{where}: chain ends at {targets[-1]}")
    return errs


def run_checked(arch: str, variant: str, text: str, name: str = "gen.s", budget: int = 20_000_000):
    """Run with the path check applied at every collection; returns (result, errors)."""
    from emu.run import finish, load_program, new_machine
    mc = new_machine(arch, variant, load_program(None, text=text, name=name), budget)
    errs: list[str] = []
    crets = watch_cret(mc)

    def on_gc(ev):
        rep = ev.detail["report"]
        errs.extend(check_paths(mc, rep))
        cret, reach = crets[-1]
        via = {o.addr for o in rep.retained_via("m0.cret")}
        if not via <= reach:
            errs.append(f"gc #{rep.index}: retained via m0.cret {sorted(map(hex, via - reach))} "
                        f"not reachable from m0.cret={cret:#x}")
    mc.on("gc", on_gc)
    mc.run()
    return finish(mc, name), errs, mc


def allocated_objects(mc) -> list[tuple[int, int]]:
    """(base, size) of every allocated heap object, read from runtime_c's Go 1.0
    allocator in emulated memory with the DWARF layouts: a heap word starts an
    object when its bitAllocated bit is set in the GC bitmap below arena_start
    (bitmap word k, counting down from arena_start, covers heap words
    [k*WordsPerBitmapWord, (k+1)*WordsPerBitmapWord)); the object's size is its
    span's class size, or the whole span for a large object.  Written here, apart
    from emu/gc.py and emu/heap.py, so that the check below does not share the
    collector's code."""
    L = mc.layouts
    H, S = L["MHeap"], L["MSpan"]
    ps = mc.arch.ptrsize
    wpbw = L.constants["WordsPerBitmapWord"]
    mheap = mc.image.symbols["mheap"]
    arena_start = mc.read_uint(mheap + H.offset("arena_start"), ps)
    arena_used = mc.read_uint(mheap + H.offset("arena_used"), ps)
    nwords = (arena_used - arena_start) // ps
    class_to_size = mc.image.symbols["class_to_size"]
    out = []
    for k in range(-(-nwords // wpbw)):
        bitword = mc.read_uint(arena_start - (k + 1) * ps, ps)
        for j in range(wpbw):
            if not bitword >> j & 1:                      # bitAllocated: shift 0
                continue
            base = arena_start + (k * wpbw + j) * ps
            span = mc.read_uint(mheap + H.offset("map") + ((base - arena_start) >> 12) * ps, ps)
            sizeclass = mc.read_uint(span + S.offset("sizeclass"), 4)
            if sizeclass:
                size = mc.read_uint(class_to_size + 4 * sizeclass, 4)
            else:
                size = mc.read_uint(span + S.offset("npages"), ps) << 12
            out.append((base, size))
    return sorted(out)


def reachable_from(mc, value: int) -> set[int]:
    """Objects (bases) reachable from one word, walking the emulated heap as it is
    now (call before the sweep), independently of the collector: a word points to
    an object when it lies anywhere in [base, base + size) -- interior pointers
    included, one past the end excluded (that is the next object's base)."""
    import bisect
    objs = allocated_objects(mc)
    starts = [b for b, _ in objs]
    ps = mc.arch.ptrsize

    def containing(w: int) -> int | None:
        i = bisect.bisect_right(starts, w) - 1
        return objs[i][0] if i >= 0 and w < objs[i][0] + objs[i][1] else None
    size = dict(objs)
    seen: set[int] = set()
    todo = [b for b in [containing(value)] if b is not None]
    while todo:
        obj = todo.pop()
        if obj in seen:
            continue
        seen.add(obj)
        data = mc.read(obj, size[obj])
        words = [int.from_bytes(data[i:i + ps], "little") for i in range(0, len(data) - ps + 1, ps)]
        todo += [b for w in words if (b := containing(w)) is not None]
    return seen


def watch_cret(mc) -> list[tuple[int, set[int]]]:
    """Wrap the collector: before each collection record (m0.cret, objects reachable
    from it).  Returns the list that fills as collections run."""
    seen: list[tuple[int, set[int]]] = []
    inner = mc.gc_handler

    def handler(m, sp):
        cret = m.field("M", m.m0, "cret")
        seen.append((cret, reachable_from(m, cret)))
        return inner(m, sp)
    mc.gc_handler = handler
    return seen
