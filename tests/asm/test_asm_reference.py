"""Keystone's bytes for every asm/ stub, compared with a reference assembler.

Keystone 0.9.2 miscompiles some inputs silently (README, "Keystone's
traps"), and goemu's own Capstone check (emu/asm/verify.py) compares text,
so a shared blind spot could pass both.  This test takes the bytes goemu
actually maps (the "text" chunk of a built Image, at each function's final
address) and compares them with what LLVM's integrated assembler -- zig's
clang, a pip dependency, so CI needs nothing else -- makes of the very same
expanded statements (``emu.asm.expand.expand_function``).

Both runtime variants are checked (same stubs, different C addresses), plus
tests/asm/fixtures/prologues_<arch>.s, user functions covering every prologue
shape.  How the reference is built (one zig cc and one ld.lld run per image,
cached per test process in a session tmp dir):
- all functions go in ONE section, each preceded by ``.org`` at its offset in
  the text chunk, so the layout is goemu's and the reference does its own
  branch relaxation.  (Keystone knows every address and encodes ``jmp
  morestack_n`` from morestack8 in two bytes; LLVM does the same only when
  it can see the target, i.e. in the same section.)  If a reference function
  is longer than Keystone's, the next ``.org`` fails and the error names it;
- a function's local labels get a ``__f<i>`` suffix (every split-checked
  function has the same prologue label);
- a numeric branch/call target (``call 0x600180``, ``bllo 0x10140``) becomes
  the label ``goemu_fn_<j>`` if it is the start of a goasm function, otherwise
  an undefined symbol that ``ld.lld --defsym`` gives that value (LLVM rejects
  numeric branch targets in Intel syntax); ``ld.lld --section-start`` puts
  the section at the text chunk's base address;
- ARM literal loads (``ldr rX, =v``): Keystone puts one pool word per load,
  in source order, not deduplicated, right after the function's last
  instruction (test_keystone_pool_layout checks that).  LLVM 22 would turn
  ``ldr rX, =v`` into a movw when v fits 16 bits and deduplicates its pool,
  so the reference spells that pool out: ``ldr rX, .Lgoemu_lit<k>``, then
  after the last instruction ``.ltorg`` (empty) and the words.  The ldr's
  PC offset is still LLVM's.

Documented encoding choice (the only one in the stubs): on amd64 Keystone
encodes ``mov`` between rax/eax/ax/al and an absolute memory operand (no base,
no index; with or without fs:) in the moffs form (A0-A3 with a 64-bit
address, "movabs"); LLVM 22 picks ModRM+SIB with a 32-bit displacement.  Both
address the same byte (fs_base + offset; test_moffs_form_is_equivalent
decodes both with Capstone and compares the text).  Because the two forms
differ in length, which would shift every later byte, the reference is asked
for the moffs form explicitly (``movabs``) and everything is still compared
byte for byte.  No other difference is tolerated.
"""
from __future__ import annotations

import re
import subprocess
import sys
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import capstone
import pytest
from elftools.elf.elffile import ELFFile

from emu.arch import get_arch
from emu.asm.assemble import assemble
from emu.asm.expand import expand_function
from emu.asm.source import Statement, parse_file
from emu.image import build_image, runtime_units

ARCHES = ("amd64", "arm")
FIXTURES = Path(__file__).parent / "fixtures"
VARIANTS = ("buggy", "fixed")   # same stubs; the C runtime (call targets) differs

_ZIG_TARGET = {
    "amd64": ["-target", "x86_64-freestanding-none"],
    "arm": ["-target", "arm-freestanding-eabi", "-mcpu=cortex_a15"],
}
_HEADER = {
    "amd64": [".intel_syntax noprefix"],
    "arm": [".syntax unified", ".arm"],
}
_PROGBITS = {"amd64": "@progbits", "arm": "%progbits"}

_CONDS = "eq|ne|cs|hs|cc|lo|mi|pl|vs|vc|hi|ls|ge|lt|gt|le|al"
_BRANCH = {
    "amd64": re.compile(r"^(call|jmp|j[a-z]{1,4})\s+(0x[0-9a-fA-F]+|\d+)$"),
    "arm": re.compile(rf"^((?:b|bl|blx)(?:{_CONDS})?)\s+#?(0x[0-9a-fA-F]+|\d+)$"),
}
_LITERAL = re.compile(r"^(ldr(?:" + _CONDS + r")?)\s+(\w+)\s*,\s*=\s*(-?0x[0-9a-fA-F]+|-?\d+)$")


# --------------------------------------------------------------------------
# Building the reference.

@dataclass
class Func:
    index: int
    name: str
    addr: int
    keystone: bytes          # from the Image's text chunk
    stmts: list[Statement]   # expanded, exactly what Keystone was given
    runtime: bool


@dataclass
class Reference:
    arch: str
    funcs: dict[str, Func]
    ref: dict[str, bytes]    # function name -> reference bytes at its address
    source: str              # the reference .s text


# mov between the accumulator and an absolute memory operand (see the docstring)
_ACC = r"(?:rax|eax|ax|al)"
_ABSMEM = r"(?:(?:qword|dword|word|byte)\s+ptr\s+)?(?:[cdefgs]s:)?\[\s*-?(?:0x[0-9a-fA-F]+|\d+)\s*\]"
_MOFFS = re.compile(rf"^mov\s+(?:{_ACC}\s*,\s*{_ABSMEM}|{_ABSMEM}\s*,\s*{_ACC})$")


def _rename(text: str, labels: set[str], i: int) -> str:
    """Give function i's local labels a unique suffix."""
    for lab in labels:
        text = re.sub(rf"(?<![\w.]){re.escape(lab)}(?![\w.])", f"{lab}__f{i}", text)
    return text


def reference_source(arch: str, funcs: list[Func], base: int) -> tuple[str, dict[str, int], dict[int, str]]:
    """The reference .s text, the --defsym values it needs, and which function
    each source line belongs to (for assembler errors)."""
    lines = list(_HEADER[arch]) + [f'.section goemu_text,"ax",{_PROGBITS[arch]}']
    owner: dict[int, str] = {}
    starts = {fn.addr: fn.index for fn in funcs}
    defsyms: dict[str, int] = {}
    for fn in funcs:
        i = fn.index
        labels = {s.text[:-1] for s in fn.stmts if s.text.endswith(":")}
        # the .org belongs to the previous function: it fails if that one overflowed
        lines.append(f"  .org {fn.addr - base:#x}")
        if i:
            owner[len(lines)] = funcs[i - 1].name
        lines.append(f"goemu_fn_{i}:")
        pool: list[str] = []
        for st in fn.stmts:
            text = _rename(st.text, labels, i)
            if m := _BRANCH[arch].match(text):
                target = int(m.group(2), 0)
                if target in starts:
                    sym = f"goemu_fn_{starts[target]}"
                else:
                    sym = f"goemu_abs_{target:x}"
                    defsyms[sym] = target
                text = f"{m.group(1)} {sym}"
            elif arch == "arm" and (m := _LITERAL.match(text)):
                lab = f".Lgoemu_lit{len(pool)}__f{i}"
                pool.append(f"{lab}: .word {int(m.group(3), 0) & 0xFFFFFFFF:#x}")
                text = f"{m.group(1)} {m.group(2)}, {lab}"
            elif arch == "amd64" and _MOFFS.match(text):
                text = "movabs" + text[3:]
            lines.append(text if text.endswith(":") else f"  {text}")
            owner[len(lines)] = fn.name
        if arch == "arm":
            lines.append("  .ltorg")
            lines += pool
        lines.append(f"goemu_end_{i}:")
        owner[len(lines)] = fn.name
    return "\n".join(lines) + "\n", defsyms, owner


def _run(cmd: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)


def assemble_reference(arch: str, funcs: list[Func], base: int, workdir: Path) -> tuple[dict[str, bytes], str]:
    """Assemble with zig's clang, link with zig's ld.lld at ``base``, and
    return each function's bytes (from goemu_fn_<i> to goemu_end_<i>)."""
    src, defsyms, owner = reference_source(arch, funcs, base)
    workdir.mkdir(parents=True, exist_ok=True)
    s, o, elf = workdir / f"ref_{arch}.s", workdir / f"ref_{arch}.o", workdir / f"ref_{arch}.elf"
    s.write_text(src)
    out = _run([sys.executable, "-m", "ziglang", "cc", "-c", "-g0", *_ZIG_TARGET[arch], str(s), "-o", str(o)])
    if out.returncode:
        culprits = sorted({owner.get(int(n), "?") for n in re.findall(r"\.s:(\d+):\d+: error", out.stderr)})
        raise AssertionError(f"the reference assembler rejected the expanded code of {culprits} "
                             f"(an .org error: that function is longer than Keystone's):\n{out.stderr}")
    link = [sys.executable, "-m", "ziglang", "ld.lld", "-e", "0", "--image-base=0", "--no-rosegment",
            f"--section-start=goemu_text={base:#x}", "-o", str(elf), str(o)]
    link += [f"--defsym={k}={v:#x}" for k, v in sorted(defsyms.items())]
    out = _run(link)
    if out.returncode:
        raise AssertionError(f"reference link failed: {' '.join(link)}\n{out.stdout}{out.stderr}")
    result: dict[str, bytes] = {}
    with open(elf, "rb") as f:
        e = ELFFile(f)
        sec = e.get_section_by_name("goemu_text")
        assert sec is not None and sec["sh_addr"] == base
        data = sec.data()
        syms = {sym.name: sym["st_value"] for sym in e.get_section_by_name(".symtab").iter_symbols()}
    for fn in funcs:
        lo, hi = syms[f"goemu_fn_{fn.index}"], syms[f"goemu_end_{fn.index}"]
        assert lo == fn.addr, f"{fn.name}: reference placed at {lo:#x}, not {fn.addr:#x}"
        result[fn.name] = data[lo - base:hi - base]
    return result, src


@cache
def reference(arch_name: str, program: str | None, workdir: str, variant: str = "buggy") -> Reference:
    """Build the Image (optionally with a fixture program), expand every goasm
    function again and assemble it with the reference; cached per process."""
    arch = get_arch(arch_name)
    unit = parse_file(FIXTURES / program, f"tests/asm/fixtures/{program}") if program else None
    im = build_image(arch_name, variant, unit)
    consts = im.layouts.zasm()
    base, text = next((a, b) for name, a, b, _ in im.chunks if name == "text")
    assert base == arch.regions["text"].base
    units = runtime_units(arch) + ([unit] if unit else [])
    funcs: list[Func] = []
    for u in units:
        for fn in u.functions:
            info = im.functions[fn.name]
            stmts, _, _ = expand_function(fn, arch, consts, im.symbols)
            code = text[info.addr - base: info.addr - base + info.size]
            funcs.append(Func(len(funcs), fn.name, info.addr, code, stmts, info.runtime))
    ref, src = assemble_reference(arch_name, funcs, base, Path(workdir) / f"{program or 'runtime'}-{variant}")
    return Reference(arch_name, {f.name: f for f in funcs}, ref, src)


@pytest.fixture(scope="session")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(tmp_path_factory.mktemp("asm-reference"))


# --------------------------------------------------------------------------
# Comparing.

@cache
def _cs(arch_name: str) -> capstone.Cs:
    a = get_arch(arch_name)
    cs = capstone.Cs(a.cs_arch, a.cs_mode)
    if arch_name == "arm":
        cs.syntax = capstone.CS_OPT_SYNTAX_NOREGNAME
    return cs


def _listing(arch: str, code: bytes, addr: int) -> str:
    rows = [f"  {i.address:#x}: {i.bytes.hex():<22} {i.mnemonic} {i.op_str}"
            for i in _cs(arch).disasm(code, addr)]
    return "\n".join(rows) or "  (nothing decodes)"


def compare(arch: str, name: str, addr: int, ks: bytes, ref: bytes, stmts: list[Statement]) -> None:
    """Byte for byte; on a difference show both listings and the source."""
    if ks == ref:
        return
    where = next((k for k in range(min(len(ks), len(ref))) if ks[k] != ref[k]), min(len(ks), len(ref)))
    src = "\n".join(f"  {s.file}:{s.line}: {s.text}" for s in stmts)
    pytest.fail(f"{arch} {name}: Keystone's bytes differ from the reference assembler's at "
                f"{addr + where:#x} (Keystone {len(ks)} bytes, reference {len(ref)})\n"
                f"Keystone:\n{_listing(arch, ks, addr)}\n"
                f"reference:\n{_listing(arch, ref, addr)}\n"
                f"expanded source:\n{src}", pytrace=False)


# --------------------------------------------------------------------------
# The tests.

def _runtime_names(arch_name: str) -> list[str]:
    return [fn.name for u in runtime_units(get_arch(arch_name)) for fn in u.functions]


def _program_names(arch_name: str) -> list[str]:
    unit = parse_file(FIXTURES / f"prologues_{arch_name}.s")
    return [fn.name for fn in unit.functions]


@pytest.mark.parametrize("arch", ARCHES)
def test_every_stub_is_covered(arch: str, workdir: str) -> None:
    """The parametrised list below is exactly the Image's runtime functions."""
    ref = reference(arch, None, workdir)
    im_runtime = {n for n, f in ref.funcs.items() if f.runtime}
    assert im_runtime == set(_runtime_names(arch))
    assert len(im_runtime) >= (20 if arch == "amd64" else 12)
    assert set(ref.ref) == set(ref.funcs)


@pytest.mark.parametrize("arch,variant,name",
                         [(a, v, n) for a in ARCHES for v in VARIANTS for n in _runtime_names(a)])
def test_stub_matches_reference(arch: str, variant: str, name: str, workdir: str) -> None:
    ref = reference(arch, None, workdir, variant)
    fn = ref.funcs[name]
    assert fn.runtime
    assert fn.keystone, f"{name}: no bytes in the text chunk"
    compare(arch, name, fn.addr, fn.keystone, ref.ref[name], fn.stmts)


@pytest.mark.parametrize("arch,name", [(a, n) for a in ARCHES for n in _program_names(a)])
def test_prologue_fixture_matches_reference(arch: str, name: str, workdir: str) -> None:
    """User-program functions covering every prologue shape and trampoline
    (tests/asm/fixtures/prologues_<arch>.s), compared the same way."""
    ref = reference(arch, f"prologues_{arch}.s", workdir)
    fn = ref.funcs[name]
    assert not fn.runtime
    compare(arch, name, fn.addr, fn.keystone, ref.ref[name], fn.stmts)


@pytest.mark.parametrize("arch", ARCHES)
def test_reference_detects_a_wrong_byte(arch: str, workdir: str) -> None:
    """The comparison has teeth: flip one displacement byte of a stub that
    calls or branches elsewhere (Keystone's 'call lands 4 bytes too far' trap)
    and compare() must fail."""
    ref = reference(arch, None, workdir)
    name = "lessstack"
    fn = ref.funcs[name]
    bad = bytearray(fn.keystone)
    insns = list(_cs(arch).disasm(fn.keystone, fn.addr))
    call = next(i for i in insns if i.mnemonic in ("call", "b", "bl"))
    off = call.address - fn.addr
    if arch == "amd64":
        bad[off + 1] = (bad[off + 1] + 4) & 0xFF          # rel32 + 4
    else:
        bad[off] = (bad[off] + 1) & 0xFF                   # imm24 + 1 word
    with pytest.raises(pytest.fail.Exception, match="differ from the reference"):
        compare(arch, name, fn.addr, bytes(bad), ref.ref[name], fn.stmts)


def test_keystone_pool_layout() -> None:
    """The assumption behind the explicit reference pool: Keystone emits one
    word per `ldr rX, =v`, in order, undeduplicated, after the last
    instruction, and never turns a 16-bit value into movw."""
    text = ["ldr r0, =0x12345", "ldr r1, =0x12345", "ldr r2, =0x404", "bx lr"]
    code = assemble([Statement(t, "pool.s", n) for n, t in enumerate(text, 1)], 0x10000, get_arch("arm"))
    words = [int.from_bytes(code[i:i + 4], "little") for i in range(0, len(code), 4)]
    assert len(words) == 7
    assert [w & 0xFFFFF000 for w in words[:3]] == [0xE59F0000, 0xE59F1000, 0xE59F2000]
    assert words[3] == 0xE12FFF1E                      # bx lr
    assert words[4:] == [0x12345, 0x12345, 0x404]


def test_moffs_form_is_equivalent(tmp_path: Path) -> None:
    """The one encoding choice the reference is steered to: Keystone's moffs
    form of `mov acc, [abs]` / `mov [abs], acc` and LLVM's own ModRM+SIB form
    decode to the same instruction (Capstone text, modulo 'movabs'), and LLVM
    told `movabs` produces exactly Keystone's bytes."""
    forms = ["mov rax, qword ptr fs:[-0x10]", "mov qword ptr fs:[-0x10], rax",
             "mov eax, dword ptr fs:[-0x8]", "mov rax, qword ptr fs:[-0x8]"]
    assert all(_MOFFS.match(f) for f in forms)
    assert not _MOFFS.match("mov rbx, qword ptr fs:[-0x8]")
    assert not _MOFFS.match("mov rax, qword ptr [rbx + 0x8]")
    src = [".intel_syntax noprefix", ".text"]
    src += [f"  {f}" for f in forms] + [f"  movabs{f[3:]}" for f in forms]
    s, o = tmp_path / "moffs.s", tmp_path / "moffs.o"
    s.write_text("\n".join(src) + "\n")
    out = _run([sys.executable, "-m", "ziglang", "cc", "-c", "-g0", *_ZIG_TARGET["amd64"], str(s), "-o", str(o)])
    assert out.returncode == 0, out.stderr
    with open(o, "rb") as f:
        llvm = ELFFile(f).get_section_by_name(".text").data()
    insns = list(_cs("amd64").disasm(llvm, 0))
    assert len(insns) == 2 * len(forms)
    arch = get_arch("amd64")
    for k, form in enumerate(forms):
        plain, moffs = insns[k], insns[len(forms) + k]
        ks = assemble([Statement(form, "moffs.s", k + 1)], 0, arch)
        (ks_insn,) = _cs("amd64").disasm(ks, 0)
        text = {f"{i.mnemonic} {i.op_str}".replace("movabs", "mov") for i in (plain, moffs, ks_insn)}
        assert len(text) == 1, (form, text)
        assert plain.bytes != ks, f"LLVM now picks Keystone's form for {form}; the rewrite can go"
        assert bytes(moffs.bytes) == ks, (form, bytes(moffs.bytes).hex(), ks.hex())
