"""Shared helpers for the runtime tests (imported by the other test_runtime_* files).

Everything a test expects is computed here from the rules in
Go 1.0's sources (src/pkg/runtime/runtime.h, stack.h and proc.c, src/cmd/6l/pass.c, src/cmd/5l/noop.c): struct sizes,
the stack constants, which morestack entry 6l picks, what 5l passes in R1/R2,
how newstack sizes a segment and where it leaves the SP.  None of it is read
back from goemu (the layouts it reads from DWARF are what is under test), so a
test compares goemu's behaviour with an independent account of Go 1.0's.

The few tests at the bottom pin the helpers themselves to examples worked out
by hand from those rules, so that a mistake here cannot silently make both sides agree.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from emu.run import finish, load_program, new_machine

PROGRAMS = Path(__file__).parent / "programs"
ARCHES = ("amd64", "arm")
VARIANTS = ("buggy", "fixed")

# Reference section 2 (sizes) and section 3 (stack.h constants, StackSystem = 0 off Windows).
PTR = {"amd64": 8, "arm": 4}
SIZEOF_STKTOP = {"amd64": 72, "arm": 36}
STACK_GUARD = 256
STACK_MIN = 4096
STACK_EXTRA = 1024
STACK_BIG = 4096
STACK_SMALL = 128
PAGE = 4096

BUDGET = 20_000_000


# ---------------------------------------------------------------- running programs
def program_path(name: str, arch: str) -> Path:
    return PROGRAMS / f"{name}_{arch}.s"


def machine(arch: str, variant: str, name: str, budget: int = BUDGET, **globals_: int):
    """A booted machine running programs/<name>_<arch>.s, with the named GLOBLs
    (``sel``, ``low``, ...) set to the given values before it starts."""
    mc = new_machine(arch, variant, load_program(program_path(name, arch)), budget)
    for g, value in globals_.items():
        addr, size = mc.image.data[g]
        mc.write(addr, (value & ((1 << 8 * size) - 1)).to_bytes(size, "little"))
    return mc


def run(mc, name: str = "<test>"):
    mc.run()
    return finish(mc, name)


def pattern(arch: str, i: int) -> int:
    """P(i), the argument words the programs fill big blocks with; T(i) = P(i) + 0x100000."""
    return (i + 1) * (0x100000001 if arch == "amd64" else 0x10001) + 0x10


def signed(value: int, arch: str) -> int:
    bits = 8 * PTR[arch]
    value &= (1 << bits) - 1
    return value - (1 << bits) if value >> (bits - 1) else value


def words(mc, addr: int, n: int) -> list[int]:
    p = PTR[mc.arch.name]
    raw = mc.read(addr, n * p)
    return [int.from_bytes(raw[i * p:(i + 1) * p], "little") for i in range(n)]


def mstats(mc) -> dict[str, int]:
    return mc.struct("MStats", mc.image.symbols["mstats"])


def stack_freelist(mc) -> list[int]:
    """The FixedStack segments on m0's stack FixAlloc free list, most recently freed first."""
    fa = mc.image.symbols["stackfixalloc"]
    out, v = [], mc.field("FixAlloc", fa, "list")
    while v and len(out) < 1 << 20:
        out.append(v)
        v = mc.read_ptr(v)
    return out


def segment_home_ok(mc, stk: int, size: int) -> bool:
    """Where Go 1.0's stackalloc puts a segment of ``size`` bytes: FixedStack
    segments come from the M's FixAlloc (SysAlloc memory, the "stacks" region,
    page-aligned chunks of 32); larger ones are heap blocks in the arena, which
    the collector never takes for objects (FlagNoGC: no allocated bit)."""
    import numpy as np

    from emu.heap import Heap
    if size == mc.layouts.constants["FixedStack"]:
        return stk % 4096 == 0 and mc.arch.regions["stacks"].contains(stk)
    return (mc.arch.regions["arena"].contains(stk) and stk % 8 == 0
            and not Heap(mc).bases(np.array([stk, stk + size - 1], dtype=np.uint64)).any())


# ---------------------------------------------------------------- the rules, in Python
def amd64_entry(frame: int, args: int) -> tuple[str, int | None]:
    """6l's morestack entry for a split-checked TEXT $frame-args, and the AX it
    loads first (None when it loads nothing).  Reference section 5, step 3."""
    const1 = (frame + 160) & ~7 if frame + 160 + args > 4096 else 0
    const2 = args
    if const1 == 0 and const2 == 0:
        return "morestack00", None
    if const2 == 0:
        return "morestack10", const1
    if const1 == 0 and const2 % 8 == 0 and const2 <= 48:
        return f"morestack{const2}", None
    if const1 == 0:
        return "morestack01", const2
    return "morestack11", (const2 << 32) | const1


def arm_autosize(frame: int, leaf: bool = False) -> int:
    """5l: autosize = frame + 4, except a leaf with no frame (or $-4): 0."""
    if frame < 0 or (frame == 0 and leaf):
        return 0
    return frame + 4


def more_sizes(arch: str, frame: int, args: int) -> tuple[int, int]:
    """(m->moreframesize, m->moreargsize) as newstack finds them after the
    prologue of a (non-leaf) TEXT $frame-args called morestack."""
    if arch == "amd64":
        const1 = (frame + 160) & ~7 if frame + 160 + args > 4096 else 0
        return const1, args
    autosize = arm_autosize(frame)
    return (autosize + 160 if autosize < STACK_BIG else autosize), args


def segment_bytes(framesize: int, argsize: int) -> int:
    """newstack step 5: the bytes it asks stackalloc for (= Stktop.free)."""
    return max(framesize + argsize + STACK_EXTRA, STACK_MIN)


def frame_below_entry(arch: str, frame: int) -> int:
    """Bytes a non-leaf TEXT $frame function moves SP down after its prologue."""
    return frame if arch == "amd64" else arm_autosize(frame)


def prologue_splits(arch: str, frame: int, sp_at_call: int, guard: int, leaf: bool = False) -> bool:
    """Whether a split-checked $frame function, called with SP = sp_at_call
    (the caller's SP, its arguments at 0(SP) / 4(SP)), calls morestack."""
    if arch == "amd64":
        sp = sp_at_call - 8                           # the CALL pushed the return PC
        if frame >= STACK_BIG:
            return True
        if frame <= STACK_SMALL:
            return not sp > guard                     # CMPQ SP, 0(CX); JHI skips
        return not sp - (frame - STACK_SMALL) > guard  # LEAQ -(frame-128)(SP); JHI skips
    autosize = arm_autosize(frame, leaf)
    if autosize == 0:
        return False                                  # no check at all
    if autosize >= STACK_BIG:
        return True
    if autosize < STACK_SMALL:
        return sp_at_call < guard                     # CMP R1, SP; BL.LO
    return sp_at_call - autosize < guard


def sp_after_split(arch: str, top: int, argsize: int) -> int:
    """SP at morepc on the new segment: newstack copies the arguments below
    the Stktop, then (ARM) a nil saved-LR slot; gogocall pushes lessstack on amd64."""
    sp = top - argsize
    return sp - 8 if arch == "amd64" else sp - 4


def fp_at_body(arch: str, top: int, argsize: int) -> int:
    """0(FP) of the first frame on a new segment: its arguments, just below the Stktop."""
    return top - argsize


# ---------------------------------------------------------------- code inspection
def prologue(mc, fn: str) -> list[tuple[int, str]]:
    return [(a, text) for a, _f, _l, origin, text in mc.image.functions[fn].lines if origin == "prologue"]


def branch_target(text: str) -> int | None:
    m = re.search(r"(?:call|bl\w*)\s+#?(0x[0-9a-f]+)$", text)
    return int(m.group(1), 16) if m else None


def morepc_of(mc, fn: str) -> int:
    """m->morepc for ``fn``: the address just after its prologue's call to morestack."""
    lines = mc.image.functions[fn].lines
    idx = [i for i, (_a, _f, _l, o, t) in enumerate(lines)
           if o == "prologue" and t.split()[0] in ("call", "bl", "bllo")]
    return lines[idx[-1] + 1][0]


def call_sites(mc, caller: str, callee: str | None = None) -> list[tuple[int, int]]:
    """(address of the call, its return address) for each call in ``caller``'s
    body, to ``callee`` if given (indirect calls count when callee is None)."""
    lines = mc.image.functions[caller].lines
    out = []
    want = mc.image.symbols[callee] if callee else None
    for i, (a, _f, _l, origin, text) in enumerate(lines):
        if origin != "source":
            continue
        mnem = text.split()[0]
        if mnem not in ("call", "bl", "blx"):
            continue
        if want is not None and branch_target(text) != want:
            continue
        nxt = lines[i + 1][0] if i + 1 < len(lines) else mc.image.functions[caller].end
        out.append((a, nxt))
    return out


def marked_line(path: Path, marker: str) -> int:
    """The 1-based number of the line carrying ``// marker``."""
    for n, line in enumerate(path.read_text().splitlines(), 1):
        if re.search(rf"//\s*{re.escape(marker)}\b", line):
            return n
    raise AssertionError(f"{path} has no line marked {marker}")


# ---------------------------------------------------------------- observing splits
class SplitProbe:
    """Snapshots taken at each newstack entry (before it changes anything) and
    at each entry to a callee's body (its first instruction after the prologue)."""

    def __init__(self, mc, callee: str | None = None, at: int | None = None):
        self.mc = mc
        self.splits: list[dict] = []
        self.bodies: list[dict] = []
        mc.on("split", self._split)
        if callee is not None or at is not None:
            where = at if at is not None else mc.image.functions[callee].body_start
            mc.hooks.at(where, self._body)

    def _split(self, ev) -> None:
        mc = self.mc
        M = mc.struct("M", mc.m)
        g1 = M["curg"]
        self.splits.append({
            "event": ev.detail, "g": mc.g, "g1": g1,
            "stackbase": mc.field("G", g1, "stackbase"), "stackguard": mc.field("G", g1, "stackguard"),
            "morebuf.sp": M["morebuf.sp"], "morebuf.pc": M["morebuf.pc"], "morebuf.g": M["morebuf.g"],
            "moreargp": M["moreargp"], "morepc": M["morepc"],
            "moreframesize": M["moreframesize"], "moreargsize": M["moreargsize"],
            "nstackalloc": mstats(mc)["nstackalloc"],
        })

    def _body(self, _addr: int) -> None:
        mc = self.mc
        g = mc.g
        top = mc.field("G", g, "stackbase")
        self.bodies.append({
            "g": g, "sp": mc.sp, "stackbase": top, "stackguard": mc.field("G", g, "stackguard"),
            "stktop": mc.struct("Stktop", top), "nsplits": len(self.splits),
            "nstackalloc": mstats(mc)["nstackalloc"],
        })


class SpAt:
    """Records SP and g->stackguard each time execution reaches ``addr``."""

    def __init__(self, mc, addr: int):
        self.mc = mc
        self.seen: list[tuple[int, int]] = []
        mc.hooks.at(addr, self._hit)

    def _hit(self, _addr: int) -> None:
        mc = self.mc
        self.seen.append((mc.sp, mc.field("G", mc.g, "stackguard")))


# ---------------------------------------------------------------- the helpers' own tests
def test_amd64_entry_matches_reference_cases():
    # Reference section 5, step 3, case by case.
    assert amd64_entry(0, 0) == ("morestack00", None)
    assert amd64_entry(4096, 0) == ("morestack10", 4256)
    assert amd64_entry(16, 24) == ("morestack24", None)
    assert amd64_entry(16, 48) == ("morestack48", None)
    assert amd64_entry(16, 56) == ("morestack01", 56)
    assert amd64_entry(16, 12) == ("morestack01", 12)
    assert amd64_entry(4096, 8) == ("morestack11", (8 << 32) | 4256)
    # The +160 threshold: frame + 160 + args > 4096.
    assert amd64_entry(3936, 0) == ("morestack00", None)
    assert amd64_entry(3936, 8) == ("morestack11", (8 << 32) | 4096)


def test_arm_sizes_match_reference_cases():
    assert more_sizes("arm", 8, 4) == (12 + 160, 4)        # autosize < StackBig: +160
    assert more_sizes("arm", 4088, 8) == (4092 + 160, 8)
    assert more_sizes("arm", 4092, 8) == (4096, 8)          # autosize >= StackBig: no +160
    assert segment_bytes(172, 4) == 4096                    # raised to StackMin
    assert segment_bytes(4256, 24) == 4256 + 24 + 1024


@pytest.mark.parametrize("arch", ARCHES)
def test_prologue_model_edges(arch):
    g = 0x10000
    if arch == "amd64":
        assert prologue_splits(arch, 8, g + 8, g)           # SP == guard after the CALL: JHI not taken
        assert not prologue_splits(arch, 8, g + 16, g)
    else:
        assert not prologue_splits(arch, 8, g, g)           # SP == guard is not LO
        assert prologue_splits(arch, 8, g - 4, g)
        assert not prologue_splits(arch, 0, 0, g, leaf=True)
