"""Build everything a machine runs: runtime_c, the asm/ stubs, a program.

The data path: runtime_c is compiled (cached) and its layouts read from
DWARF; the goasm units (asm/<arch>/*.s plus the user's program) are expanded
with 6l/5l prologues and laid out in the text region; the C objects are
linked by loader/ against those addresses; then every function is assembled
for real at its address and checked by Capstone.  The result is an Image:
bytes per region, symbols, and per-function frame facts for the unwinder.
"""
from __future__ import annotations

import bisect
import re
from dataclasses import dataclass, field
from functools import lru_cache

from loader import link, read_object
from loader.link import Image as CImage

from .arch import get_arch
from .arch.base import Arch
from .asm.assemble import assemble, assemble_checked
from .asm.expand import expand_function
from .asm.program import check_program, require_main
from .asm.source import DataDecl, Function, Unit, parse_file
from .build import ASM_DIR, compile_runtime
from .errors import AssemblyError
from .layout import Layouts, read_layouts


@dataclass
class FuncInfo:
    """A goasm function at its final address, with what unwinding needs."""
    name: str
    addr: int
    size: int
    frame: int            # declared $frame
    args: int
    nosplit: bool
    frame_size: int       # bytes below the entry SP once allocated (amd64: frame; arm: autosize)
    fp_offset: int
    body_start: int       # first address at which the frame exists (the end of the split prologue)
    unframed: frozenset[int]   # epilogue addresses where the frame is gone again
    file: str
    line: int
    runtime: bool         # from asm/, not the user's program
    lines: list[tuple[int, str, int, str, str]] = field(default_factory=list)  # (addr, file, line, origin, disasm)

    def frame_allocated(self, pc: int) -> bool:
        return self.body_start <= pc and pc not in self.unframed

    @property
    def end(self) -> int:
        return self.addr + self.size


@dataclass
class Image:
    arch: Arch
    variant: str
    layouts: Layouts
    c_image: CImage
    functions: dict[str, FuncInfo]
    data: dict[str, tuple[int, int]]             # GLOBL name -> (addr, size)
    symbols: dict[str, int]
    chunks: list[tuple[str, int, bytes, str]]    # (region name, addr, bytes, perms)
    _starts: list[int] = field(default_factory=list)
    _funcs_sorted: list[FuncInfo] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._funcs_sorted = sorted(self.functions.values(), key=lambda f: f.addr)
        self._starts = [f.addr for f in self._funcs_sorted]

    def func_at(self, pc: int) -> FuncInfo | None:
        i = bisect.bisect_right(self._starts, pc) - 1
        if i >= 0 and pc < self._funcs_sorted[i].end:
            return self._funcs_sorted[i]
        return None

    def symbolize(self, addr: int) -> str | None:
        """``name+0x10`` for code and data, goasm or C; None if nothing covers it."""
        f = self.func_at(addr)
        if f:
            return f.name if addr == f.addr else f"{f.name}+{addr - f.addr:#x}"
        for name, (a, size) in self.data.items():
            if a <= addr < a + max(size, 1):
                return name if addr == a else f"{name}+{addr - a:#x}"
        return self.c_image.symbolize(addr)

    def code_functions(self, runtime_only: bool = False) -> list[tuple[str, int, int]]:
        """Every function with code, goasm and C, as (name, addr, size) sorted by
        address (a C symbol at the address of a goasm function is left out).
        ``runtime_only``: without the user's program."""
        out = [(f.name, f.addr, f.size) for f in self.functions.values() if f.runtime or not runtime_only]
        seen = {a for _, a, _ in out}
        for s in self.c_image.symbol_table:
            if s.type == "func" and s.size > 0 and s.addr not in seen:
                out.append((s.name, s.addr, s.size))
                seen.add(s.addr)
        return sorted(out, key=lambda t: (t[1], t[0]))

    def lookup(self, name: str) -> int:
        """Address of a symbol; ``runtime·x`` / ``runtime.x`` also find ``x``."""
        name = name.replace("·", ".")
        for cand in (name, name.removeprefix("runtime.")):
            if cand in self.symbols:
                return self.symbols[cand]
        raise KeyError(name)

    def line_at(self, pc: int) -> tuple[str, int, str] | None:
        f = self.func_at(pc)
        if f:
            for a, file, line, origin, _ in f.lines:
                if a == pc:
                    return file, line, origin
        return None

    def root_ranges(self) -> list[tuple[str, int, int]]:
        """Go 1.0's data+bss roots: the runtime's data and bss, skipping the
        heap metadata (runtime·mheap), and the program's globals."""
        out: list[tuple[str, int, int]] = []
        mheap = next((s for s in self.c_image.symbol_table if s.name == "mheap"), None)
        for seg in self.c_image.segments:
            if seg.name not in ("data", "bss"):
                continue
            lo, hi = seg.addr, seg.end
            if mheap and lo <= mheap.addr < hi:
                out.append((seg.name, lo, mheap.addr))
                out.append((seg.name, mheap.addr + mheap.size, hi))
            else:
                out.append((seg.name, lo, hi))
        for name, (a, size) in sorted(self.data.items(), key=lambda kv: kv[1][0]):
            out.append(("data", a, a + size))
        return [r for r in out if r[2] > r[1]]


def runtime_units(arch: Arch) -> list[Unit]:
    return [parse_file(p, f"asm/{arch.name}/{p.name}") for p in sorted((ASM_DIR / arch.name).glob("*.s"))]


@lru_cache(maxsize=8)
def _runtime_parts(arch_name: str, variant: str):
    objs = compile_runtime(arch_name, variant)
    return read_layouts(objs, arch_name), [read_object(str(o)) for o in objs]


def _layout_data(decls: list[DataDecl], base: int, limit: int) -> dict[str, tuple[int, int]]:
    out: dict[str, tuple[int, int]] = {}
    addr = base
    for d in decls:
        addr = (addr + 7) & ~7
        if addr + d.size > limit:
            raise AssemblyError(f"globals exceed the {limit - base:#x}-byte data region", d.file, d.line)
        out[d.name] = (addr, d.size)
        addr += d.size
    return out


def _data_bytes(decls: list[DataDecl], placed: dict[str, tuple[int, int]], base: int,
                symbols: dict[str, int]) -> bytes:
    if not decls:
        return b""
    end = max(a + s for a, s in placed.values())
    buf = bytearray(end - base)
    for d in decls:
        a, _ = placed[d.name]
        for off, width, value, line in d.inits:
            try:
                v = symbols[value] if value in symbols else int(value, 0)
            except ValueError:
                raise AssemblyError(f"DATA value {value!r} is neither a number nor a symbol",
                                    d.file, line) from None
            if not -(1 << (8 * width - 1)) <= v < (1 << (8 * width)):
                raise AssemblyError(f"DATA value {v:#x} does not fit {width} bytes", d.file, line)
            buf[a - base + off:a - base + off + width] = (v & ((1 << 8 * width) - 1)).to_bytes(width, "little")
    return bytes(buf)


def build_image(arch_name: str, variant: str, program: Unit | None = None) -> Image:
    """Compile, assemble, link and check; raise GoemuError subclasses on any problem."""
    arch = get_arch(arch_name)
    layouts, c_objs = _runtime_parts(arch_name, variant)
    consts = layouts.zasm()
    if program is not None:
        check_program(program, arch, consts)
    units = runtime_units(arch) + ([program] if program else [])
    funcs: list[tuple[Function, bool]] = []
    seen: dict[str, Function] = {}
    c_names = {s.name for o in c_objs for s in o.symbols if s.binding != "local" and s.section is not None}
    for i, unit in enumerate(units):
        is_rt = program is None or i < len(units) - 1
        for fn in unit.functions:
            if fn.name in seen or fn.name in c_names:
                other = seen.get(fn.name)
                where = f" (first at {other.where})" if other else " (a runtime_c function)"
                raise AssemblyError(f"function {fn.name} is already defined{where}", fn.file, fn.line)
            seen[fn.name] = fn
            funcs.append((fn, is_rt))
    decls = [d for u in units for d in u.data]
    data_region = arch.regions["data"]
    placed = _layout_data(decls, data_region.base, data_region.end)

    text = arch.regions["text"]
    # Pass 1: sizes, with every symbol at a far placeholder (longest encodings).
    names = list(seen) + list(placed) + sorted(c_names)
    far = arch.far_placeholder
    sizes: dict[str, int] = {}
    addrs: dict[str, int] = {}
    for _ in range(4):
        cursor = text.base
        for fn, _rt in funcs:
            addrs[fn.name] = cursor
            cursor = (cursor + sizes.get(fn.name, 0) + 15) & ~15
        if cursor > text.end:
            raise AssemblyError(f"program text exceeds the {text.size:#x}-byte text region")
        provisional = {n: text.base + far + 16 * k for k, n in enumerate(names)}
        provisional.update(addrs)
        changed = False
        for fn, _rt in funcs:
            stmts, _, _ = expand_function(fn, arch, consts, provisional)
            n = len(assemble(stmts, addrs[fn.name], arch))
            if n > sizes.get(fn.name, 0):
                sizes[fn.name] = n
                changed = True
        if not changed:
            break

    goasm_syms = dict(addrs)
    goasm_syms.update({n: a for n, (a, _) in placed.items()})
    c_image = link(c_objs, arch.regions["runtime"].base, externals=goasm_syms)
    symbols = dict(c_image.symbols)
    symbols.update(goasm_syms)

    # Pass 2: real addresses, Capstone-checked, padded to the reserved size.
    infos: dict[str, FuncInfo] = {}
    code = bytearray()
    for fn, is_rt in funcs:
        stmts, exp, _ = expand_function(fn, arch, consts, symbols)
        body, insns = assemble_checked(stmts, addrs[fn.name], arch)
        if len(body) > sizes[fn.name]:
            raise AssemblyError(f"{fn.name} grew between passes ({sizes[fn.name]} -> {len(body)} bytes)",
                                fn.file, fn.line)
        off = addrs[fn.name] - text.base
        code.extend(arch.pad * ((off - len(code)) // len(arch.pad)))
        code.extend(body)
        infos[fn.name] = _func_info(fn, is_rt, addrs[fn.name], len(body), exp, stmts, insns)
    if program is not None:
        require_main(program)
    chunks = [("text", text.base, bytes(code), "r-x")]
    if placed:
        chunks.append(("data", data_region.base, _data_bytes(decls, placed, data_region.base, symbols), "rw-"))
    for seg in c_image.segments:
        chunks.append((f"runtime.{seg.name}", seg.addr, bytes(seg.bytes), seg.perms))
    return Image(arch, variant, layouts, c_image, infos, placed, symbols, chunks)


def _func_info(fn: Function, is_rt: bool, addr: int, size: int, exp, stmts, insns) -> FuncInfo:
    # Statement index -> address: insns lists (addr, stmt, text) for instructions only.
    by_stmt = {id(st): a for a, st, _ in insns}
    instr_stmts = [s for s in stmts if not s.text.endswith(":")]
    n_pro = len([t for t in exp.prologue if not t.endswith(":")])
    body_start = insns[n_pro][0] if n_pro < len(insns) else addr + size
    unframed = set()
    for i, st in enumerate(instr_stmts):
        prev = instr_stmts[i - 1] if i > 0 else None
        if st.origin == "epilogue" and prev is not None and prev.origin == "epilogue" \
                and re.match(r"\s*add\s+(rsp|sp)\b", prev.text):
            unframed.add(by_stmt[id(st)])   # amd64's ret after add rsp (ARM's ldr pc, [sp], r11 still has it)
    morepc_stmts = [s for s in stmts if s.origin == "prologue"]
    del morepc_stmts
    lines = [(a, st.file, st.line, st.origin, text) for a, st, text in insns]
    return FuncInfo(fn.name, addr, size, fn.frame, fn.args, fn.nosplit, exp.frame_size, exp.fp_offset,
                    body_start, frozenset(unframed), fn.file, fn.line, is_rt, lines)
