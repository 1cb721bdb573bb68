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

import sys
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "shared"))
import gen_ops  # (the generator shared with tests/gc/gen_programs.py)
from gen_ops import NSLOTS, PTR, Func, Program, slot

FRAME_SIZES = (64, 120, 136, 1000, 3900, 4096, 5000)
ALLOC_SIZES = (8, 16, 24, 32, 48, 64, 100, 128, 256, 512)
NGLOBALS = 4


def _kinds(d: gen_ops.Draw) -> list[str]:
    kinds = ["alloc", "alloc", "drop", "copy", "use", "use", "gstore", "gload", "gclear", "gc", "gc"]
    if d.known:
        kinds.append("fstore")
    if d.i + 1 < d.nfuncs and d.ncalls < 2:
        kinds += ["call", "call"]
    return kinds


def _end_func(rng, d: gen_ops.Draw, fn: Func) -> None:
    if d.i and rng.random() < 0.5:
        fn.retax = rng.randrange(NSLOTS)


def _end_program(rng, funcs: list[Func]) -> None:
    funcs[0].ops.append(("gc",))
    # main reads one global after its last collection, and leaves another untouched
    funcs[0].ops.append(("gload", rng.randrange(NGLOBALS), 0))


def _prologue(arch: str, fn: Func) -> list[str]:
    """Zero the whole frame (no stale word of an earlier frame is ever scanned), print SP."""
    if arch == "amd64":
        return ["mov rcx, 0", f"z_{fn.name}:", "mov qword ptr [rsp + rcx], 0", "add rcx, 8",
                f"cmp rcx, {fn.frame}", f"jl z_{fn.name}",
                "mov qword ptr [rsp], rsp", "call runtime.printhex", "mov qword ptr [rsp], 0"]
    return ["mov r0, #0", "mov r1, #4", f"ldr r2, ={fn.frame + 4}", f"z_{fn.name}:", "str r0, [sp, r1]",
            "add r1, r1, #4", "cmp r1, r2", f"blt z_{fn.name}",
            "mov r0, sp", "str r0, [sp, #4]", "bl runtime.printhex", "mov r1, #0", "str r1, [sp, #4]"]


def _epilogue(arch: str, fn: Func) -> list[str]:
    if arch == "amd64":
        return [f"mov rax, {slot(arch, fn.retax)}" if fn.retax is not None else "mov rax, 0"]
    return [f"ldr r0, {slot(arch, fn.retax)}" if fn.retax is not None else "mov r0, #0"]


SPEC = gen_ops.Spec(
    seed_prefix="leaks:", nfuncs=(2, 5), nops=(5, 14), alloc_sizes=ALLOC_SIZES, nglobals=NGLOBALS,
    frame=lambda rng, i, ps: (max(64, rng.choice(FRAME_SIZES) // ps * ps), 0),
    kinds=_kinds, end_func=_end_func, end_program=_end_program,
    globals=lambda arch: [f"GLOBL gptrs, ${NGLOBALS * PTR[arch]}"],
    prologue=_prologue, epilogue=_epilogue)


def generate(seed: int, arch: str) -> Program:
    return gen_ops.generate(SPEC, seed, arch)


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
