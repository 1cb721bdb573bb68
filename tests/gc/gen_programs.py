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

import random
from dataclasses import dataclass, field

FRAME_SIZES = (64, 120, 136, 1000, 3900, 4096, 5000)
ALLOC_SIZES = (8, 16, 24, 32, 48, 64, 100, 128, 200, 256, 512, 1000, 2048)
NSLOTS = 4
NGLOBALS = 6
NINTERIOR = 4                   # GLOBL ginterior: interior pointers only
PTR = {"amd64": 8, "arm": 4}


@dataclass
class Func:
    name: str
    frame: int
    args: int
    ops: list = field(default_factory=list)
    retax: int | None = None        # slot left in AX/R0 at RET


@dataclass
class Program:
    seed: int
    arch: str
    funcs: list[Func]
    text: str = ""
    nallocs: int = 0
    sizes: list[int] = field(default_factory=list)       # requested size of allocation k
    gc_live: list[set[int]] = field(default_factory=list)  # live allocation ids at each gc
    gc_nallocs: list[int] = field(default_factory=list)   # allocations done before each gc
    gc_interior_only: list[set[int]] = field(default_factory=list)  # live only through an interior pointer


def generate(seed: int, arch: str) -> Program:
    rng = random.Random(f"{arch}:{seed}")
    ps = PTR[arch]
    nfuncs = rng.randint(2, 6)
    funcs = []
    for i in range(nfuncs):
        frame = (rng.choice(FRAME_SIZES) + rng.choice((-8, 0, 0, 8))) // ps * ps
        args = rng.choice((0, 0, 2 * ps)) if i else 0
        funcs.append(Func("main" if i == 0 else f"f{i}", frame, args))
    for i, fn in enumerate(funcs):
        known: dict[int, int] = {}          # slot -> size of the object it surely holds
        ncalls = 0
        for _ in range(rng.randint(4, 14)):
            kinds = ["alloc", "alloc", "drop", "copy", "gstore", "gload", "gclear", "gc"]
            if known:
                kinds += ["fstore", "fstore", "fload", "ginterior", "ginterior"]
            kinds += ["gintclear"]
            if i + 1 < nfuncs and ncalls < 2:
                kinds += ["call", "call"]
            k = rng.choice(kinds)
            j = rng.randrange(NSLOTS)
            if k == "alloc":
                size = rng.choice(ALLOC_SIZES)
                fn.ops.append(("alloc", j, size))
                known[j] = size
            elif k == "drop":
                fn.ops.append(("drop", j))
                known.pop(j, None)
            elif k == "copy":
                d = rng.randrange(NSLOTS)
                fn.ops.append(("copy", j, d))
                if j in known:
                    known[d] = known[j]
                else:
                    known.pop(d, None)
            elif k == "gstore":
                fn.ops.append(("gstore", j, rng.randrange(NGLOBALS)))
            elif k == "gload":
                fn.ops.append(("gload", rng.randrange(NGLOBALS), j))
                known.pop(j, None)
            elif k == "gclear":
                fn.ops.append(("gclear", rng.randrange(NGLOBALS)))
            elif k == "ginterior":
                src = rng.choice(sorted(known))
                fn.ops.append(("ginterior", src, rng.randrange(1, known[src]), rng.randrange(NINTERIOR)))
            elif k == "gintclear":
                fn.ops.append(("gintclear", rng.randrange(NINTERIOR)))
            elif k == "gc":
                fn.ops.append(("gc",))
            elif k == "call":
                fn.ops.append(("call", rng.randrange(i + 1, nfuncs)))
                ncalls += 1
            elif k in ("fstore", "fload"):
                src = rng.choice(sorted(known))
                off = rng.randrange(known[src] // ps) * ps
                if k == "fstore":
                    fn.ops.append(("fstore", src, off, j))
                else:
                    fn.ops.append(("fload", src, off, j))
                    known.pop(j, None)
        if rng.random() < 0.15:
            fn.ops.append(("gc",))
        if rng.random() < 0.6:
            fn.retax = rng.randrange(NSLOTS)
    prog = Program(seed, arch, funcs)
    # make sure main collects at least once at the end
    funcs[0].ops.append(("gc",))
    prog.text = emit(prog)
    simulate(prog)
    return prog


# -- emission ---------------------------------------------------------------------------------
def emit(prog: Program) -> str:
    out = [f"// generated: seed {prog.seed} arch {prog.arch}", f"GLOBL gptrs, ${NGLOBALS * PTR[prog.arch]}",
           f"GLOBL ginterior, ${NINTERIOR * PTR[prog.arch]}"]
    for fn in prog.funcs:
        out.append(f"TEXT {fn.name}, ${fn.frame}-{fn.args}")
        body = _amd64 if prog.arch == "amd64" else _arm
        out += ["\t" + x for x in body(fn)]
        out.append("")
    return "\n".join(out) + "\n"


def _amd64(fn: Func) -> list[str]:
    s = lambda j: f"qword ptr [rsp + {16 + 8 * j}]"
    o = [f"mov {s(j)}, 0" for j in range(NSLOTS)]
    for op in fn.ops:
        k = op[0]
        if k == "alloc":
            _, j, size = op
            o += [f"mov qword ptr [rsp], {size}", "call runtime.new", "mov rax, qword ptr [rsp + 8]",
                  f"mov {s(j)}, rax", "mov qword ptr [rsp], rax", "call runtime.printhex",
                  "mov qword ptr [rsp], 0", "mov qword ptr [rsp + 8], 0"]
        elif k == "drop":
            o.append(f"mov {s(op[1])}, 0")
        elif k == "copy":
            o += [f"mov rax, {s(op[1])}", f"mov {s(op[2])}, rax"]
        elif k == "gstore":
            o += [f"mov rax, {s(op[1])}", "mov rcx, $gptrs", f"mov qword ptr [rcx + {8 * op[2]}], rax"]
        elif k == "gload":
            o += ["mov rcx, $gptrs", f"mov rax, qword ptr [rcx + {8 * op[1]}]", f"mov {s(op[2])}, rax"]
        elif k == "gclear":
            o += ["mov rcx, $gptrs", f"mov qword ptr [rcx + {8 * op[1]}], 0"]
        elif k == "ginterior":
            _, src, off, g = op
            o += [f"mov rax, {s(src)}", f"add rax, {off}", "mov rcx, $ginterior", f"mov qword ptr [rcx + {8 * g}], rax"]
        elif k == "gintclear":
            o += ["mov rcx, $ginterior", f"mov qword ptr [rcx + {8 * op[1]}], 0"]
        elif k == "fstore":
            _, src, off, j = op
            o += [f"mov rax, {s(src)}", f"mov rcx, {s(j)}", f"mov qword ptr [rax + {off}], rcx"]
        elif k == "fload":
            _, src, off, j = op
            o += [f"mov rax, {s(src)}", f"mov rax, qword ptr [rax + {off}]", f"mov {s(j)}, rax"]
        elif k == "call":
            o.append(f"call f{op[1]}")
        elif k == "gc":
            o.append("call runtime.gc")
    if fn.retax is not None:
        o.append(f"mov rax, {s(fn.retax)}")
    o.append("RET")
    return o


def _arm(fn: Func) -> list[str]:
    s = lambda j: f"[sp, #{12 + 4 * j}]"
    o = ["mov r1, #0"] + [f"str r1, {s(j)}" for j in range(NSLOTS)]
    for op in fn.ops:
        k = op[0]
        if k == "alloc":
            _, j, size = op
            o += [f"mov r0, #{size}", "str r0, [sp, #4]", "bl runtime.new", "ldr r0, [sp, #8]",
                  f"str r0, {s(j)}", "str r0, [sp, #4]", "bl runtime.printhex",
                  "mov r1, #0", "str r1, [sp, #4]", "str r1, [sp, #8]"]
        elif k == "drop":
            o += ["mov r1, #0", f"str r1, {s(op[1])}"]
        elif k == "copy":
            o += [f"ldr r0, {s(op[1])}", f"str r0, {s(op[2])}"]
        elif k == "gstore":
            o += [f"ldr r0, {s(op[1])}", "ldr r1, =gptrs", f"str r0, [r1, #{4 * op[2]}]"]
        elif k == "gload":
            o += ["ldr r1, =gptrs", f"ldr r0, [r1, #{4 * op[1]}]", f"str r0, {s(op[2])}"]
        elif k == "gclear":
            o += ["ldr r1, =gptrs", "mov r0, #0", f"str r0, [r1, #{4 * op[1]}]"]
        elif k == "ginterior":
            _, src, off, g = op
            o += [f"ldr r0, {s(src)}", f"ldr r1, ={off}", "add r0, r0, r1", "ldr r1, =ginterior",
                  f"str r0, [r1, #{4 * g}]"]
        elif k == "gintclear":
            o += ["ldr r1, =ginterior", "mov r0, #0", f"str r0, [r1, #{4 * op[1]}]"]
        elif k == "fstore":
            _, src, off, j = op
            o += [f"ldr r0, {s(src)}", f"ldr r1, {s(j)}", f"str r1, [r0, #{off}]"]
        elif k == "fload":
            _, src, off, j = op
            o += [f"ldr r0, {s(src)}", f"ldr r0, [r0, #{off}]", f"str r0, {s(j)}"]
        elif k == "call":
            o.append(f"bl f{op[1]}")
        elif k == "gc":
            o.append("bl runtime.gc")
    if fn.retax is not None:
        o.append(f"ldr r0, {s(fn.retax)}")
    o.append("RET")
    return o


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
