"""6l/5l's stack check: a chain of NOSPLIT functions must fit in StackLimit.

A split-checked function guarantees, once its frame is allocated, at least
StackLimit = StackGuard - StackSmall bytes (128) below its frame (the
constants of Go 1.0's src/pkg/runtime/stack.h).  Whatever it calls without a split check -- the return address a
call pushes, each NOSPLIT callee's frame, their own calls -- must fit in
that.  The linkers (``dostkcheck`` in ld/lib.c) refused a program whose
NOSPLIT chains could use more, naming the chain; so does goemu, before the
program runs, instead of letting the runtime's throw catch it later (or not
at all: a NOSPLIT overrun can corrupt the segment below without a fault).

Followed: direct calls (and tail jumps) by name from the program's NOSPLIT
functions to functions of the program or of the runtime's assembly.  A
split-checked callee ends the chain (it checks for itself, calling morestack:
one more return address); a runtime function counts its own frame;
indirect calls and C functions are not followed.  A NOSPLIT function that can
reach itself is refused: its stack use has no bound.
"""
from __future__ import annotations

from ..arch.base import Arch
from ..errors import LinkError
from .expand import decl_of
from .source import Function, Unit, canonical


def _targets(fn: Function, arch: Arch, known: set[str]) -> list[tuple[str, bool]]:
    """(callee, is_call) for each direct call or tail jump to a known function."""
    out = []
    for st in fn.body:
        head, _, rest = st.text.partition(" ")
        target = canonical(rest.strip().split(",")[0].strip()) if rest else ""
        if target not in known:
            continue
        if arch.is_call(head):
            out.append((target, True))
        elif arch.is_jump(head):
            out.append((target, False))
    return out


def check_stack(program: Unit, runtime: list[Unit], arch: Arch, consts: dict[str, int]) -> None:
    """Raise LinkError naming the chain when a NOSPLIT chain of ``program`` can use
    more than StackLimit bytes below a split-checked caller's frame."""
    limit = consts.get("StackGuard", 256) - consts.get("StackSmall", 128)
    callsize = 0 if arch.link_register else arch.ptrsize     # a call pushes the return address (amd64)
    funcs: dict[str, tuple[Function, bool]] = {f.name: (f, True) for u in runtime for f in u.functions}
    funcs.update({f.name: (f, False) for f in program.functions})
    known = set(funcs)
    frames: dict[str, int] = {}

    def frame(fn: Function) -> int:
        if fn.name not in frames:
            frames[fn.name] = arch.expand(decl_of(fn, arch), consts).frame_size
        return frames[fn.name]

    memo: dict[str, tuple[int, list[tuple[str, int]]]] = {}

    def worst(name: str, path: list[str]) -> tuple[int, list[tuple[str, int]]]:
        """Most stack used from ``name``'s entry, and the chain [(function, bytes it adds)]."""
        fn, runtime_fn = funcs[name]
        if not fn.nosplit:
            return callsize, [(f"{name} (split check: its call to morestack)", callsize)]
        if runtime_fn:
            return frame(fn), [(name, frame(fn))]
        if name in memo:
            return memo[name]
        if name in path:
            loop = " -> ".join(path[path.index(name):] + [name])
            raise LinkError(f"NOSPLIT function {name} can call itself ({loop}): its stack use has no bound "
                            "and nothing checks it; drop NOSPLIT from one of them", fn.file, fn.line, name,
                            path[path.index(name):] + [name])
        best, chain = 0, []
        for callee, is_call in _targets(fn, arch, known):
            used, sub = worst(callee, path + [name])
            used += callsize if is_call else 0
            if used > best:
                best, chain = used, ([(f"call {callee}", callsize)] if is_call and callsize else []) + sub
        memo[name] = (frame(fn) + best, [(name, frame(fn))] + chain)
        return memo[name]

    for fn in program.functions:
        if not fn.nosplit:
            continue
        used, chain = worst(fn.name, [])
        total = callsize + used
        if total > limit:
            steps = ([f"call {fn.name} +{callsize}"] if callsize else []) + [f"{n} +{b}" for n, b in chain]
            raise LinkError(f"NOSPLIT stack overflow: {total} bytes below a split-checked caller's frame, "
                            f"more than StackLimit ({limit}): {' -> '.join(steps)}; give {fn.name} a split "
                            "check (drop NOSPLIT) or a smaller frame", fn.file, fn.line, fn.name,
                            [n for n, _ in chain])
