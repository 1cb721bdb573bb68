"""Calibration of the cycle model against llvm-mca.

Every function of the stubs (asm/<arch>) and of runtime_c is split into basic
blocks (recursive descent from the entry, so literal pools are never
decoded; a block ends at a branch, call, return or trap, and a new one starts
at every direct branch target).  Each block is measured twice under the same
assumptions - all cache hits, the block looped back to back:

* the model: ``CoreModel.steady_state``, the slope of completion time
  between iteration 100 and 200;
* llvm-mca (``-mcpu=sandybridge`` / ``-mcpu=cortex-a9``): the same slope,
  ``(TotalCycles(200 iterations) - TotalCycles(100 iterations)) / 100``, so
  that neither side counts the pipeline fill and drain of the first and last
  iteration.  (BlockRThroughput is not used: it ignores dependencies.)

What is compared is the same instruction list on both sides: the block's
terminating branch/call/return/trap is dropped (a looped block has no exit),
and so is any instruction llvm-mca refuses (it cannot schedule ARM LDM/STM/
PUSH/POP on Cortex-A9, for instance); dropped mnemonics are counted.
Blocks left with fewer than two instructions are skipped unless asked for:
a lone instruction measures one table row, not the scheduling.

llvm-mca runs once per architecture and iteration count, with every block
in one input as ``# LLVM-MCA-BEGIN``/``# LLVM-MCA-END`` regions and
``-json`` output.  The binary is ``$GOEMU_LLVM_MCA`` or ``llvm-mca`` on PATH;
when missing, ``ToolMissing`` says how to install it.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections import Counter
from dataclasses import dataclass, field

from ..errors import GoemuError, ToolMissing
from .insn import InsnInfo
from .model import CoreModel


def mca_args(arch: str) -> list[str]:
    """llvm-mca's target flags for the core of ``arch`` (emu/arch/<arch>/timing.py MCA_ARGS)."""
    import importlib
    return list(importlib.import_module(f"emu.arch.{arch}.timing").MCA_ARGS)

ITERATIONS = (100, 200)
MAPE_TARGET = 15.0
INSTALL_HINT = "install LLVM (Debian/Ubuntu: apt-get install llvm) or set GOEMU_LLVM_MCA to the llvm-mca binary"


@dataclass
class Block:
    func: str
    addr: int
    size: int                      # bytes, terminator included
    insns: list                    # Capstone instructions measured
    infos: list[InsnInfo]
    terminator: str | None         # text of the dropped terminating control instruction


@dataclass
class BlockResult:
    func: str
    addr: int
    size: int
    insns: int
    model: float
    mca: float
    error_pct: float
    text: list[str] = field(default_factory=list)

    def to_json(self) -> dict:
        return {"func": self.func, "addr": self.addr, "size": self.size, "insns": self.insns,
                "model": round(self.model, 3), "llvm_mca": round(self.mca, 3),
                "error_pct": round(self.error_pct, 2), "text": self.text}


@dataclass
class ArchCalibration:
    arch: str
    variant: str
    core: str
    mca_args: list[str]
    blocks: list[BlockResult]
    mape: float
    functions: int
    blocks_total: int
    skipped_short: int             # blocks with fewer than 2 instructions left (not measured)
    dropped_terminators: int
    dropped_unsupported: Counter   # mnemonic -> instructions dropped because llvm-mca refused them
    unknown: Counter               # class keys that fell into the model's default class
    unmodelled: list = field(default_factory=list)   # (func, addr, [refused instruction texts])

    def worst(self, n: int = 5) -> list[BlockResult]:
        return sorted(self.blocks, key=lambda b: -abs(b.error_pct))[:n]

    def to_json(self) -> dict:
        return {"arch": self.arch, "variant": self.variant, "core": self.core, "llvm_mca_args": self.mca_args,
                "method": "steady-state cycles/iteration, slope between 100 and 200 iterations",
                "mape_pct": round(self.mape, 2), "target_pct": MAPE_TARGET, "functions": self.functions,
                "blocks_total": self.blocks_total, "blocks_measured": len(self.blocks),
                "skipped_short": self.skipped_short, "dropped_terminators": self.dropped_terminators,
                "dropped_unsupported": dict(sorted(self.dropped_unsupported.items())),
                "unknown_classes": dict(sorted(self.unknown.items())),
                "unmodelled_by_llvm_mca": [{"func": f, "addr": a, "refused": r} for f, a, r in self.unmodelled],
                "blocks": [b.to_json() for b in self.blocks]}


# -- llvm-mca ------------------------------------------------------------------

def find_llvm_mca() -> str:
    env = os.environ.get("GOEMU_LLVM_MCA")
    if env:
        path = shutil.which(env)
        if not path:
            raise ToolMissing(f"GOEMU_LLVM_MCA={env} is not an executable llvm-mca; {INSTALL_HINT}", "llvm-mca")
        return path
    for name in ["llvm-mca"] + [f"llvm-mca-{v}" for v in range(20, 12, -1)]:
        path = shutil.which(name)
        if path:
            return path
    raise ToolMissing(f"llvm-mca not found: {INSTALL_HINT}", "llvm-mca")


_ABS_TARGET = re.compile(r"^#?0x[0-9a-f]+$")


def mca_text(arch: str, insn) -> str:
    """The instruction as llvm-mca's assembler takes it.  A direct branch's
    absolute target becomes a symbol: llvm-mca rejects ``jne 0x6003e4`` in
    Intel syntax (and then silently leaves the instruction out)."""
    if insn.mnemonic[:1] in ("j", "b", "c") and _ABS_TARGET.match(insn.op_str):
        return f"{insn.mnemonic} .Ltarget"
    return f"{insn.mnemonic} {insn.op_str}".strip()


def _render(arch: str, blocks: list[tuple[str, list]]) -> tuple[str, dict[int, tuple[int, int]]]:
    """The llvm-mca input, and line number -> (block index, insn index).  Each
    block is written as the core runs it (``emu.arch.<arch>.timing.mca_stream``:
    e.g. amd64 PUSH/POP as the stack engine executes them)."""
    import importlib
    timing = importlib.import_module(f"emu.arch.{arch}.timing")
    lines, where = [], {}
    for bi, (name, insns) in enumerate(blocks):
        lines.append(f"# LLVM-MCA-BEGIN {name}")
        for text, ii in timing.mca_stream(insns, lambda i: mca_text(arch, i)):
            lines.append(text)
            where[len(lines)] = (bi, ii)
        lines.append("# LLVM-MCA-END")
    return "\n".join(lines) + "\n", where


MCA_ERROR_LINE = re.compile(r"^<stdin>:(\d+):\d+: error:", re.MULTILINE)
_NOTE_INSN = re.compile(r"note: instruction:\s*(.*)$", re.MULTILINE)


def invoke_llvm_mca(mca: str, arch: str, text: str, iterations: int, timeout: int,
                    what: str) -> subprocess.CompletedProcess:
    """llvm-mca run on the assembly ``text`` (JSON on stdout); a missing tool
    or a run longer than ``timeout`` seconds on ``what`` is a typed error."""
    try:
        return subprocess.run([mca, *mca_args(arch), f"-iterations={iterations}", "-json", "-"], input=text,
                              capture_output=True, text=True, timeout=timeout, check=False)
    except FileNotFoundError:
        raise ToolMissing(f"llvm-mca not found at {mca}: {INSTALL_HINT}", "llvm-mca")
    except subprocess.TimeoutExpired:
        raise GoemuError(f"llvm-mca took longer than {timeout} s on {what}")


def run_llvm_mca(mca: str, arch: str, blocks: list[tuple[str, list]], iterations: int):
    """Run llvm-mca on all blocks; return (list of TotalCycles per block) or
    (None, mnemonic llvm-mca refused)."""
    text, where = _render(arch, blocks)
    proc = invoke_llvm_mca(mca, arch, text, iterations, 120, f"{len(blocks)} {arch} blocks")
    m = MCA_ERROR_LINE.search(proc.stderr)      # (llvm-mca may leave a bad line out and still succeed)
    if m and int(m.group(1)) in where:
        bi, ii = where[int(m.group(1))]
        return None, blocks[bi][1][ii].mnemonic
    if proc.returncode != 0:
        m = _NOTE_INSN.search(proc.stderr)
        if m:
            return None, m.group(1).split()[0]
        raise GoemuError(f"llvm-mca failed on the {arch} blocks: {proc.stderr.strip().splitlines()[:1]}")
    data = json.loads(proc.stdout)
    regions = {r["Name"]: r["SummaryView"] for r in data["CodeRegions"]}
    return [regions[name]["TotalCycles"] for name, _ in blocks], None


# -- blocks --------------------------------------------------------------------

def _functions(image) -> list[tuple[str, int, int]]:
    return image.code_functions(runtime_only=True)


def _read(image, addr: int, n: int) -> bytes:
    for _name, base, data, _perms in image.chunks:
        if base <= addr and addr + n <= base + len(data):
            return data[addr - base:addr - base + n]
    raise GoemuError(f"no image bytes at {addr:#x}+{n}")


def function_blocks(core: CoreModel, name: str, addr: int, size: int, code: bytes) -> list[Block]:
    """Basic blocks of one function, by recursive descent from its entry."""
    by_addr = {}
    for insn in core.disassemble(code, addr):
        by_addr[insn.address] = insn
    leaders = {addr}
    reached: set[int] = set()
    todo = [addr]
    while todo:
        pc = todo.pop()
        while pc in by_addr and pc not in reached:
            reached.add(pc)
            insn = by_addr[pc]
            info = core.info(insn)
            nxt = pc + insn.size
            if info.control:
                if info.target is not None and addr <= info.target < addr + size and info.control != "call":
                    leaders.add(info.target)
                    todo.append(info.target)
                if info.control in ("cond", "call"):
                    leaders.add(nxt)
                    todo.append(nxt)
                break
            pc = nxt
    blocks = []
    for lead in sorted(leaders):
        pc, insns, term = lead, [], None
        while pc in reached:
            insn = by_addr[pc]
            info = core.info(insn)
            if info.control:
                term = insn
                break
            insns.append(insn)
            pc += insn.size
            if pc in leaders:
                break
        end = (term.address + term.size) if term is not None else pc
        blocks.append(Block(name, lead, end - lead, insns, [core.info(i) for i in insns],
                            f"{term.mnemonic} {term.op_str}".strip() if term is not None else None))
    return blocks


def image_blocks(arch: str, variant: str = "buggy", core: CoreModel | None = None):
    from ..image import build_image
    core = core or CoreModel.for_arch(arch)
    image = build_image(arch, variant)
    funcs = _functions(image)
    blocks = []
    for name, addr, size in funcs:
        blocks.extend(function_blocks(core, name, addr, size, _read(image, addr, size)))
    return funcs, blocks


# -- the comparison --------------------------------------------------------------

def calibrate(arch: str, variant: str = "buggy", include_short: bool = False) -> ArchCalibration:
    mca = find_llvm_mca()
    core = CoreModel.for_arch(arch)
    funcs, blocks = image_blocks(arch, variant, core)
    dropped: Counter = Counter()
    refused: set[str] = set()
    min_len = 1 if include_short else 2
    for _attempt in range(64):
        kept = []
        for b in blocks:
            insns = [i for i in b.insns if i.mnemonic not in refused]
            if len(insns) >= min_len:
                kept.append((b, insns))
        named = [(f"b{k}", insns) for k, (_b, insns) in enumerate(kept)]
        totals = {}
        bad = None
        for it in ITERATIONS:
            cycles, bad = run_llvm_mca(mca, arch, named, it)
            if bad:
                break
            totals[it] = cycles
        if bad is None:
            break
        if bad in refused:
            raise GoemuError(f"llvm-mca keeps refusing {bad!r} on {arch}")
        refused.add(bad)
    else:
        raise GoemuError(f"llvm-mca refused too many different instructions on {arch}")
    unmodelled = []
    for b in blocks:
        bad = [f"{i.mnemonic} {i.op_str}".strip() for i in b.insns if i.mnemonic in refused]
        for i in b.insns:
            if i.mnemonic in refused:
                dropped[i.mnemonic] += 1
        if bad:
            unmodelled.append((b.func, b.addr, bad))
    core.unknown.clear()
    results = []
    lo, hi = ITERATIONS
    for k, (b, insns) in enumerate(kept):
        mca_ss = (totals[hi][k] - totals[lo][k]) / (hi - lo)
        model_ss = core.steady_state(insns)
        err = (model_ss - mca_ss) / mca_ss * 100 if mca_ss else 0.0
        results.append(BlockResult(b.func, b.addr, b.size, len(insns), model_ss, mca_ss, err,
                                   [f"{i.mnemonic} {i.op_str}".strip() for i in insns]))
    mape = sum(abs(r.error_pct) for r in results) / len(results) if results else 0.0
    short = sum(1 for b in blocks if len([i for i in b.insns if i.mnemonic not in refused]) < min_len)
    return ArchCalibration(arch, variant, core.name, mca_args(arch), results, mape, len(funcs), len(blocks),
                           short, sum(1 for b in blocks if b.terminator), dropped, Counter(core.unknown),
                          unmodelled)
