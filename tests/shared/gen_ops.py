"""One generator of seeded goasm programs over an op table, for the collector's oracle
(tests/gc/gen_programs.py) and the root detector's (tests/leaks/gen_roots.py).

A program is a DAG of functions (f_i calls only f_j, j > i; main is f_0), each with NSLOTS
pointer slots in its frame.  A ``Spec`` says how many functions and operations, how frames
and argument sizes are drawn, which operations a function may draw at each step, what every
function does on entry and before RET, and how a function and the program end.  ``OPS`` is
the op table: for each operation, how its operands are drawn and the code it emits on each
architecture.  Each test module keeps its own model of what the program does; the model
interprets the same op tuples that are emitted here.
"""
from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field

NSLOTS = 4
PTR = {"amd64": 8, "arm": 4}


@dataclass
class Func:
    name: str
    frame: int
    args: int = 0
    ops: list = field(default_factory=list)
    retax: int | None = None        # slot left in AX/R0 at RET (the m->cret pattern)


@dataclass
class Program:
    seed: int
    arch: str
    funcs: list[Func]
    text: str = ""
    # filled by tests/gc/gen_programs.py's simulate()
    nallocs: int = 0
    sizes: list[int] = field(default_factory=list)       # requested size of allocation k
    gc_live: list[set[int]] = field(default_factory=list)  # live allocation ids at each gc
    gc_nallocs: list[int] = field(default_factory=list)   # allocations done before each gc
    gc_interior_only: list[set[int]] = field(default_factory=list)  # live only through an interior pointer


@dataclass
class Draw:
    """What an operation's operands are drawn from, while one function is generated."""
    rng: random.Random
    spec: Spec
    ps: int
    i: int                          # this function's number
    nfuncs: int
    known: dict[int, int] = field(default_factory=dict)   # slot -> size of the object it surely holds
    ncalls: int = 0


def _slot(arch: str, j: int) -> str:
    return f"qword ptr [rsp + {16 + 8 * j}]" if arch == "amd64" else f"[sp, #{12 + 4 * j}]"


# -- the op table: operands drawn after (kind, slot j); code per architecture ----------------------
def _d_alloc(d: Draw, j: int):
    size = d.rng.choice(d.spec.alloc_sizes)
    d.known[j] = size
    return ("alloc", j, size)


def _d_copy(d: Draw, j: int):
    dst = d.rng.randrange(NSLOTS)
    if j in d.known:
        d.known[dst] = d.known[j]
    else:
        d.known.pop(dst, None)
    return ("copy", j, dst)


def _d_field(kind: str):
    def draw(d: Draw, j: int):
        src = d.rng.choice(sorted(d.known))
        off = d.rng.randrange(d.known[src] // d.ps) * d.ps
        if kind == "fload":
            d.known.pop(j, None)
        return (kind, src, off, j)
    return draw


def _d_gload(d: Draw, j: int):
    d.known.pop(j, None)
    return ("gload", d.rng.randrange(d.spec.nglobals), j)


def _d_ginterior(d: Draw, j: int):
    src = d.rng.choice(sorted(d.known))
    return ("ginterior", src, d.rng.randrange(1, d.known[src]), d.rng.randrange(d.spec.ninterior))


def _d_call(d: Draw, j: int):
    d.ncalls += 1
    return ("call", d.rng.randrange(d.i + 1, d.nfuncs))


def _alloc(arch, op):
    _, j, size = op
    if arch == "amd64":
        return [f"mov qword ptr [rsp], {size}", "call runtime.new", "mov rax, qword ptr [rsp + 8]",
                f"mov {_slot(arch, j)}, rax", "mov qword ptr [rsp], rax", "call runtime.printhex",
                "mov qword ptr [rsp], 0", "mov qword ptr [rsp + 8], 0"]
    return [f"mov r0, #{size}", "str r0, [sp, #4]", "bl runtime.new", "ldr r0, [sp, #8]",
            f"str r0, {_slot(arch, j)}", "str r0, [sp, #4]", "bl runtime.printhex",
            "mov r1, #0", "str r1, [sp, #4]", "str r1, [sp, #8]"]


def _ptr_ops(amd64: Callable, arm: Callable) -> Callable:
    return lambda arch, op: amd64(lambda j: _slot(arch, j), op) if arch == "amd64" else \
        arm(lambda j: _slot(arch, j), op)


@dataclass(frozen=True)
class Op:
    draw: Callable[[Draw, int], tuple]
    emit: Callable[[str, tuple], list[str]]


OPS: dict[str, Op] = {
    "alloc": Op(_d_alloc, _alloc),
    "drop": Op(lambda d, j: (d.known.pop(j, None), ("drop", j))[1], _ptr_ops(
        lambda s, op: [f"mov {s(op[1])}, 0"],
        lambda s, op: ["mov r1, #0", f"str r1, {s(op[1])}"])),
    "copy": Op(_d_copy, _ptr_ops(
        lambda s, op: [f"mov rax, {s(op[1])}", f"mov {s(op[2])}, rax"],
        lambda s, op: [f"ldr r0, {s(op[1])}", f"str r0, {s(op[2])}"])),
    "use": Op(lambda d, j: ("use", j), _ptr_ops(
        lambda s, op: [f"mov rax, {s(op[1])}"],
        lambda s, op: [f"ldr r0, {s(op[1])}"])),
    "gstore": Op(lambda d, j: ("gstore", j, d.rng.randrange(d.spec.nglobals)), _ptr_ops(
        lambda s, op: [f"mov rax, {s(op[1])}", "mov rcx, $gptrs", f"mov qword ptr [rcx + {8 * op[2]}], rax"],
        lambda s, op: [f"ldr r0, {s(op[1])}", "ldr r1, =gptrs", f"str r0, [r1, #{4 * op[2]}]"])),
    "gload": Op(_d_gload, _ptr_ops(
        lambda s, op: ["mov rcx, $gptrs", f"mov rax, qword ptr [rcx + {8 * op[1]}]", f"mov {s(op[2])}, rax"],
        lambda s, op: ["ldr r1, =gptrs", f"ldr r0, [r1, #{4 * op[1]}]", f"str r0, {s(op[2])}"])),
    "gclear": Op(lambda d, j: ("gclear", d.rng.randrange(d.spec.nglobals)), _ptr_ops(
        lambda s, op: ["mov rcx, $gptrs", f"mov qword ptr [rcx + {8 * op[1]}], 0"],
        lambda s, op: ["ldr r1, =gptrs", "mov r0, #0", f"str r0, [r1, #{4 * op[1]}]"])),
    "ginterior": Op(_d_ginterior, _ptr_ops(
        lambda s, op: [f"mov rax, {s(op[1])}", f"add rax, {op[2]}", "mov rcx, $ginterior",
                       f"mov qword ptr [rcx + {8 * op[3]}], rax"],
        lambda s, op: [f"ldr r0, {s(op[1])}", f"ldr r1, ={op[2]}", "add r0, r0, r1", "ldr r1, =ginterior",
                       f"str r0, [r1, #{4 * op[3]}]"])),
    "gintclear": Op(lambda d, j: ("gintclear", d.rng.randrange(d.spec.ninterior)), _ptr_ops(
        lambda s, op: ["mov rcx, $ginterior", f"mov qword ptr [rcx + {8 * op[1]}], 0"],
        lambda s, op: ["ldr r1, =ginterior", "mov r0, #0", f"str r0, [r1, #{4 * op[1]}]"])),
    "fstore": Op(_d_field("fstore"), _ptr_ops(
        lambda s, op: [f"mov rax, {s(op[1])}", f"mov rcx, {s(op[3])}", f"mov qword ptr [rax + {op[2]}], rcx"],
        lambda s, op: [f"ldr r0, {s(op[1])}", f"ldr r1, {s(op[3])}", f"str r1, [r0, #{op[2]}]"])),
    "fload": Op(_d_field("fload"), _ptr_ops(
        lambda s, op: [f"mov rax, {s(op[1])}", f"mov rax, qword ptr [rax + {op[2]}]", f"mov {s(op[3])}, rax"],
        lambda s, op: [f"ldr r0, {s(op[1])}", f"ldr r0, [r0, #{op[2]}]", f"str r0, {s(op[3])}"])),
    "call": Op(_d_call, lambda arch, op: [f"call f{op[1]}" if arch == "amd64" else f"bl f{op[1]}"]),
    "gc": Op(lambda d, j: ("gc",), lambda arch, op: ["call runtime.gc" if arch == "amd64" else "bl runtime.gc"]),
}


@dataclass
class Spec:
    """How one family of programs is drawn and emitted (see the two callers)."""
    seed_prefix: str                                    # the RNG's seed is f"{prefix}{arch}:{seed}"
    nfuncs: tuple[int, int]
    nops: tuple[int, int]
    alloc_sizes: tuple[int, ...]
    nglobals: int
    frame: Callable[[random.Random, int, int], tuple[int, int]]    # (rng, i, ptrsize) -> (frame, args)
    kinds: Callable[[Draw], list[str]]                  # the operations one step may draw, with weights
    end_func: Callable[[random.Random, Draw, Func], None]
    end_program: Callable[[random.Random, list[Func]], None]
    globals: Callable[[str], list[str]]                 # GLOBL lines
    prologue: Callable[[str, Func], list[str]]
    epilogue: Callable[[str, Func], list[str]]
    ninterior: int = 0


def generate(spec: Spec, seed: int, arch: str) -> Program:
    rng = random.Random(f"{spec.seed_prefix}{arch}:{seed}")
    ps = PTR[arch]
    nfuncs = rng.randint(*spec.nfuncs)
    funcs = []
    for i in range(nfuncs):
        frame, args = spec.frame(rng, i, ps)
        funcs.append(Func("main" if i == 0 else f"f{i}", frame, args))
    for i, fn in enumerate(funcs):
        d = Draw(rng, spec, ps, i, nfuncs)
        for _ in range(rng.randint(*spec.nops)):
            k = rng.choice(spec.kinds(d))
            j = rng.randrange(NSLOTS)
            fn.ops.append(OPS[k].draw(d, j))
        spec.end_func(rng, d, fn)
    spec.end_program(rng, funcs)
    prog = Program(seed, arch, funcs)
    prog.text = emit(spec, prog)
    return prog


def emit(spec: Spec, prog: Program) -> str:
    out = [f"// generated: seed {prog.seed} arch {prog.arch}"] + spec.globals(prog.arch)
    for fn in prog.funcs:
        out.append(f"TEXT {fn.name}, ${fn.frame}-{fn.args}")
        body = spec.prologue(prog.arch, fn)
        for op in fn.ops:
            body += OPS[op[0]].emit(prog.arch, op)
        body += spec.epilogue(prog.arch, fn) + ["RET"]
        out += ["\t" + x for x in body]
        out.append("")
    return "\n".join(out) + "\n"


def slot(arch: str, j: int) -> str:
    """Slot j of the current frame as an operand."""
    return _slot(arch, j)
