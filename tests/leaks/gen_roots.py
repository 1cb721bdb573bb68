"""Seeded goasm programs whose root words' futures are known.

A program is a DAG of functions (f_i calls only f_j, j > i; main is f_0), each
with NSLOTS pointer slots in its frame.  Every function zeroes its whole frame
on entry (so no stale word of an earlier frame is ever scanned), then prints
its SP (so the test knows where its slots are), then runs a list of operations:
allocate into a slot (the address printed), drop a slot, copy a slot, read a
slot, store a slot into a global, load a global, clear a global, store a slot
into an object field, call a child, collect; and it may return with a slot's
value left in AX/R0 (the m->cret pattern: on buggy, lessstack stores it in
m0.cret when the return crosses a segment boundary).

``model(prog)`` interprets the same operations into a log of reads and writes
of every slot and global, so for each collection it knows which root words
hold an object and whether the program reads each of them again (live) or
writes it / leaves it (frame returned, program exited) before any read (dead).
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field

FRAME_SIZES = (64, 120, 136, 1000, 3900, 4096, 5000)
ALLOC_SIZES = (8, 16, 24, 32, 48, 64, 100, 128, 256, 512)
NSLOTS = 4
NGLOBALS = 4
PTR = {"amd64": 8, "arm": 4}


@dataclass
class Func:
    name: str
    frame: int
    ops: list = field(default_factory=list)
    retax: int | None = None


@dataclass
class Program:
    seed: int
    arch: str
    funcs: list[Func]
    text: str = ""


def generate(seed: int, arch: str) -> Program:
    rng = random.Random(f"leaks:{arch}:{seed}")
    ps = PTR[arch]
    nfuncs = rng.randint(2, 5)
    funcs = []
    for i in range(nfuncs):
        frame = max(64, rng.choice(FRAME_SIZES) // ps * ps)
        funcs.append(Func("main" if i == 0 else f"f{i}", frame))
    for i, fn in enumerate(funcs):
        known: dict[int, int] = {}
        ncalls = 0
        for _ in range(rng.randint(5, 14)):
            kinds = ["alloc", "alloc", "drop", "copy", "use", "use", "gstore", "gload", "gclear", "gc", "gc"]
            if known:
                kinds.append("fstore")
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
            elif k == "use":
                fn.ops.append(("use", j))
            elif k == "gstore":
                fn.ops.append(("gstore", j, rng.randrange(NGLOBALS)))
            elif k == "gload":
                fn.ops.append(("gload", rng.randrange(NGLOBALS), j))
                known.pop(j, None)
            elif k == "gclear":
                fn.ops.append(("gclear", rng.randrange(NGLOBALS)))
            elif k == "fstore":
                src = rng.choice(sorted(known))
                fn.ops.append(("fstore", src, rng.randrange(known[src] // ps) * ps, j))
            elif k == "call":
                fn.ops.append(("call", rng.randrange(i + 1, nfuncs)))
                ncalls += 1
            elif k == "gc":
                fn.ops.append(("gc",))
        if i and rng.random() < 0.5:
            fn.retax = rng.randrange(NSLOTS)
    funcs[0].ops.append(("gc",))
    # main reads one global after its last collection, and leaves another untouched
    funcs[0].ops.append(("gload", rng.randrange(NGLOBALS), 0))
    prog = Program(seed, arch, funcs)
    prog.text = emit(prog)
    return prog


# -- emission ---------------------------------------------------------------------------------
def emit(prog: Program) -> str:
    out = [f"// generated: seed {prog.seed} arch {prog.arch}", f"GLOBL gptrs, ${NGLOBALS * PTR[prog.arch]}"]
    body = _amd64 if prog.arch == "amd64" else _arm
    for fn in prog.funcs:
        out.append(f"TEXT {fn.name}, ${fn.frame}-0")
        out += ["\t" + x for x in body(fn)]
        out.append("")
    return "\n".join(out) + "\n"


def _amd64(fn: Func) -> list[str]:
    s = lambda j: f"qword ptr [rsp + {16 + 8 * j}]"
    o = ["mov rcx, 0", f"z_{fn.name}:", "mov qword ptr [rsp + rcx], 0", "add rcx, 8",
         f"cmp rcx, {fn.frame}", f"jl z_{fn.name}",
         "mov qword ptr [rsp], rsp", "call runtime.printhex", "mov qword ptr [rsp], 0"]
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
        elif k == "use":
            o.append(f"mov rax, {s(op[1])}")
        elif k == "gstore":
            o += [f"mov rax, {s(op[1])}", "mov rcx, $gptrs", f"mov qword ptr [rcx + {8 * op[2]}], rax"]
        elif k == "gload":
            o += ["mov rcx, $gptrs", f"mov rax, qword ptr [rcx + {8 * op[1]}]", f"mov {s(op[2])}, rax"]
        elif k == "gclear":
            o += ["mov rcx, $gptrs", f"mov qword ptr [rcx + {8 * op[1]}], 0"]
        elif k == "fstore":
            _, src, off, j = op
            o += [f"mov rax, {s(src)}", f"mov rcx, {s(j)}", f"mov qword ptr [rax + {off}], rcx"]
        elif k == "call":
            o.append(f"call f{op[1]}")
        elif k == "gc":
            o.append("call runtime.gc")
    o.append(f"mov rax, {s(fn.retax)}" if fn.retax is not None else "mov rax, 0")
    o.append("RET")
    return o


def _arm(fn: Func) -> list[str]:
    s = lambda j: f"[sp, #{12 + 4 * j}]"
    o = ["mov r0, #0", "mov r1, #4", f"ldr r2, ={fn.frame + 4}", f"z_{fn.name}:", "str r0, [sp, r1]",
         "add r1, r1, #4", "cmp r1, r2", f"blt z_{fn.name}",
         "mov r0, sp", "str r0, [sp, #4]", "bl runtime.printhex", "mov r1, #0", "str r1, [sp, #4]"]
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
        elif k == "use":
            o.append(f"ldr r0, {s(op[1])}")
        elif k == "gstore":
            o += [f"ldr r0, {s(op[1])}", "ldr r1, =gptrs", f"str r0, [r1, #{4 * op[2]}]"]
        elif k == "gload":
            o += ["ldr r1, =gptrs", f"ldr r0, [r1, #{4 * op[1]}]", f"str r0, {s(op[2])}"]
        elif k == "gclear":
            o += ["ldr r1, =gptrs", "mov r0, #0", f"str r0, [r1, #{4 * op[1]}]"]
        elif k == "fstore":
            _, src, off, j = op
            o += [f"ldr r0, {s(src)}", f"ldr r1, {s(j)}", f"str r1, [r0, #{off}]"]
        elif k == "call":
            o.append(f"bl f{op[1]}")
        elif k == "gc":
            o.append("bl runtime.gc")
    o.append(f"ldr r0, {s(fn.retax)}" if fn.retax is not None else "mov r0, #0")
    o.append("RET")
    return o


# -- the model ----------------------------------------------------------------------------------
@dataclass
class Expected:
    """One root word holding an object at one collection."""
    loc: tuple                 # ("g", i) or ("s", frame instance, j)
    obj: int                   # allocation id it holds
    live: bool                 # read again before any write (and, for a slot, before its frame returns)
    writer: str                # the function whose store put the value there


@dataclass
class Model:
    prints: list               # ("sp", inst) or ("alloc", id), in output order
    frames: dict               # inst -> function name
    gcs: list                  # per collection: list[Expected]
    graphs: list               # per collection: {obj: set(obj)}, the objects' fields
    nallocs: list              # per collection: allocations done before it


def model(prog: Program) -> Model:
    funcs = {f.name: f for f in prog.funcs}
    log: list = []                        # ("r"|"w", loc, value, func) / ("ret", inst) / ("gc", k)
    prints: list = []
    frames: dict = {}
    glob = [None] * NGLOBALS
    objf: dict[int, dict[int, int]] = {}  # obj -> {offset: obj}
    snaps: list = []                      # per gc: (roots {loc: obj}, writers {loc: func}, graph)
    writer: dict = {}
    nalloc = [0]

    def run(name: str) -> None:
        fn = funcs[name]
        inst = len(frames)
        frames[inst] = name
        slots = [None] * NSLOTS
        for j in range(NSLOTS):
            log.append(("w", ("s", inst, j), None, name))
        prints.append(("sp", inst))

        def rd(j):
            log.append(("r", ("s", inst, j), slots[j], name))
            return slots[j]

        def wr(j, v):
            slots[j] = v
            writer[("s", inst, j)] = name
            log.append(("w", ("s", inst, j), v, name))
        for op in fn.ops:
            k = op[0]
            if k == "alloc":
                a = nalloc[0]
                nalloc[0] += 1
                objf[a] = {}
                prints.append(("alloc", a))
                wr(op[1], a)
            elif k == "drop":
                wr(op[1], None)
            elif k == "copy":
                wr(op[2], rd(op[1]))
            elif k == "use":
                rd(op[1])
            elif k == "gstore":
                v = rd(op[1])
                glob[op[2]] = v
                writer[("g", op[2])] = name
                log.append(("w", ("g", op[2]), v, name))
            elif k == "gload":
                log.append(("r", ("g", op[1]), glob[op[1]], name))
                wr(op[2], glob[op[1]])
            elif k == "gclear":
                glob[op[1]] = None
                log.append(("w", ("g", op[1]), None, name))
            elif k == "fstore":
                _, src, off, j = op
                o, v = rd(src), rd(j)
                if v is None:
                    objf[o].pop(off, None)
                else:
                    objf[o][off] = v
            elif k == "call":
                run(f"f{op[1]}")
            elif k == "gc":
                roots = {("g", i): v for i, v in enumerate(glob) if v is not None}
                # every frame on the stack: the instances entered and not yet returned
                for (kind, *rest), v in list(live_slots.items()):
                    if v is not None:
                        roots[(kind, *rest)] = v
                log.append(("gc", len(snaps)))
                snaps.append((roots, {k: writer.get(k) for k in roots},
                              {o: set(f.values()) for o, f in objf.items()}, nalloc[0]))
            live_slots.update({("s", inst, j): slots[j] for j in range(NSLOTS)})
        if fn.retax is not None:
            rd(fn.retax)
        for j in range(NSLOTS):
            live_slots.pop(("s", inst, j), None)
        log.append(("ret", inst))

    live_slots: dict = {}
    run("main")
    gcs, graphs, nallocs = [], [], []
    for k, (roots, writers, graph, n) in enumerate(snaps):
        at = log.index(("gc", k))
        out = []
        for loc, obj in roots.items():
            live = False
            for ev in log[at + 1:]:
                if ev[0] == "ret" and loc[0] == "s" and ev[1] == loc[1]:
                    break
                if ev[0] in ("r", "w") and ev[1] == loc:
                    live = ev[0] == "r"
                    break
            out.append(Expected(loc, obj, live, writers[loc] or "?"))
        gcs.append(out)
        graphs.append(graph)
        nallocs.append(n)
    return Model(prints, frames, gcs, graphs, nallocs)


def reachable(seeds, graph) -> set:
    seen, todo = set(), list(seeds)
    while todo:
        o = todo.pop()
        if o in seen:
            continue
        seen.add(o)
        todo += graph.get(o, ())
    return seen
