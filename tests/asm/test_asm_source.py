"""goasm parser and expander: syntax, errors with file:line, and the 6l/5l
split-stack prologues.

The prologue expectations are computed here from the linkers' rules as
Go 1.0's src/cmd/6l/pass.c and src/cmd/5l/noop.c apply them (StackSmall = 128, StackBig = 4096;
amd64: small/large/huge checks and the morestack trampoline table; arm:
autosize = frame + 4, one morestack entry with R1/R2/R3), never pasted from
goemu's output.  They are checked twice: on the statements
``arch.expand(FuncDecl(...))`` returns, and on the Capstone disassembly of a
built Image (what actually runs), with call targets resolved to symbols and
ARM literal loads resolved through the pool.
"""
from __future__ import annotations

import re

import pytest

from emu.arch import get_arch
from emu.arch.base import FuncDecl
from emu.asm.assemble import assemble
from emu.asm.expand import decl_of, expand_function, is_leaf
from emu.asm.source import parse_text
from emu.errors import AssemblyError
from emu.image import build_image

AMD64, ARM = get_arch("amd64"), get_arch("arm")
StackSmall, StackBig = 128, 4096       # stack.h
ARM_COND = "eq|ne|cs|hs|cc|lo|mi|pl|vs|vc|hi|ls|ge|lt|gt|le|al"
NUM = r"-?(?:0x[0-9a-fA-F]+|\d+)"


def parse_err(src: str, file: str = "p.s") -> AssemblyError:
    with pytest.raises(AssemblyError) as info:
        parse_text(src, file)
    return info.value


# --------------------------------------------------------------------------
# Parsing.

def test_text_declarations() -> None:
    src = """// a comment line
TEXT plain, $16-8          // trailing comment
\tmov rax, qword ptr [FP]
loop:
\tRET

TEXT runtime·new(SB), $1024-$16
\tRET
TEXT flagged, NOSPLIT, $0
\tret
TEXT seven, 7, $-4
\tbx lr
TEXT noprof, NOPROF|DUPOK, $8-0
TEXT four, 4, $0-0
"""
    unit = parse_text(src, "decl.s")
    fns = {f.name: f for f in unit.functions}
    assert list(fns) == ["plain", "runtime.new", "flagged", "seven", "noprof", "four"]
    p = fns["plain"]
    assert (p.frame, p.args, p.nosplit, p.file, p.line) == (16, 8, False, "decl.s", 2)
    assert [(s.text, s.file, s.line, s.origin) for s in p.body] == [
        ("mov rax, qword ptr [FP]", "decl.s", 3, "source"),
        ("loop:", "decl.s", 4, "source"),
        ("RET", "decl.s", 5, "source")]
    assert (fns["runtime.new"].frame, fns["runtime.new"].args, fns["runtime.new"].line) == (1024, 16, 7)
    assert fns["flagged"].nosplit and fns["flagged"].args == 0
    assert fns["seven"].nosplit and fns["seven"].frame == -4
    assert not fns["noprof"].nosplit and fns["noprof"].body == []
    assert fns["four"].nosplit                       # textflag bit 4 is NOSPLIT
    assert p.where == "decl.s:2"


def test_globl_and_data() -> None:
    src = """GLOBL tab, $24
DATA tab+0/8, $10
DATA tab+8/4, $0x20
DATA tab+12/1, $-1
DATA tab/2, $7
GLOBL runtime·ptr(SB), $8
DATA runtime·ptr+0/8, $runtime·new
TEXT f, $0
\tRET
"""
    unit = parse_text(src, "data.s")
    d = {x.name: x for x in unit.data}
    assert (d["tab"].size, d["tab"].file, d["tab"].line) == (24, "data.s", 1)
    assert d["tab"].inits == [(0, 8, "10", 2), (8, 4, "0x20", 3), (12, 1, "-1", 4), (0, 2, "7", 5)]
    assert d["runtime.ptr"].inits == [(0, 8, "runtime.new", 7)]
    assert [f.name for f in unit.functions] == ["f"]


@pytest.mark.parametrize("src,line,needle", [
    ("TEXT f\n", 1, "malformed TEXT"),
    ("TEXT f, $abc\n", 1, "malformed TEXT"),
    ("\n\nTEXT f, BOGUS, $0\n", 3, "unknown TEXT flag"),
    ("GLOBL x\n", 1, "malformed GLOBL"),
    ("GLOBL x, $8\nDATA x+0/3, $1\n", 2, "malformed DATA"),
    ("GLOBL x, $8\nDATA x+0/8\n", 2, "malformed DATA"),
    ("DATA x+0/8, $1\n", 1, "before its GLOBL"),
    ("GLOBL x, $4\n\nDATA x+0/8, $1\n", 3, "outside its 4 bytes"),
    ("GLOBL x, $8\nGLOBL x, $8\n", 2, "declared twice"),
    ("\tmov rax, rbx\n", 1, "outside a TEXT"),
    ("// header\n\nfoo:\n", 3, "outside a TEXT"),
    ("TEXT f, $0\n\tRET\nGLOBL x, $8\n\tret\n", 4, "outside a TEXT"),   # GLOBL ends the function
    ("TEXT f, $0\n\tRET\nTEXT g, $0\n\tRET\nTEXT f, $8\n", 5, "defined twice"),
])
def test_parse_errors_name_file_and_line(src: str, line: int, needle: str) -> None:
    e = parse_err(src, "bad.s")
    assert (e.file, e.line) == ("bad.s", line)
    assert str(e).startswith(f"bad.s:{line}: ") and needle in str(e)
    assert e.text is not None


@pytest.mark.parametrize("arch,frame", [(AMD64, 129), (AMD64, 12), (ARM, 6)])
def test_frame_must_be_word_multiple(arch, frame: int) -> None:
    unit = parse_text(f"// x\nTEXT f, ${frame}-0\n\tRET\n", "fr.s")
    with pytest.raises(AssemblyError) as info:
        expand_function(unit.functions[0], arch, {}, {})
    assert (info.value.file, info.value.line) == ("fr.s", 2)


def test_data_errors_at_build_time() -> None:
    src = "GLOBL x, $8\nDATA x+0/4, $nosuch\nTEXT main, $0\n\tRET\n"
    with pytest.raises(AssemblyError) as info:
        build_image("amd64", "buggy", parse_text(src, "d.s"))
    assert (info.value.file, info.value.line) == ("d.s", 2)
    src = "GLOBL x, $8\n\n\nDATA x+0/1, $300\nTEXT main, $0\n\tRET\n"
    with pytest.raises(AssemblyError) as info:
        build_image("amd64", "buggy", parse_text(src, "d.s"))
    assert (info.value.file, info.value.line) == ("d.s", 4) and "does not fit" in str(info.value)


# --------------------------------------------------------------------------
# Expanding: symbols, constants, FP, numbers.

def _expand(src: str, arch, consts=None, symbols=None, name: str | None = None):
    unit = parse_text(src, "x.s")
    fn = unit.functions[0] if name is None else next(f for f in unit.functions if f.name == name)
    return expand_function(fn, arch, consts or {}, symbols or {})


@pytest.mark.parametrize("arch,src,line", [
    (AMD64, "TEXT f, NOSPLIT, $0\n\tnop\n\tmov rax, $nosuch\n\tRET\n", 3),
    (AMD64, "TEXT f, NOSPLIT, $0\n\tmov rax, $runtime·nosuch\n", 2),
    (ARM, "TEXT f, NOSPLIT, $-4\n\tmov r0, r1\n\tmov r0, r1\n\tldr r0, =nosuch\n", 4),
])
def test_unknown_symbol_in_dollar(arch, src: str, line: int) -> None:
    with pytest.raises(AssemblyError) as info:
        _expand(src, arch, symbols={"known": 0x1234})
    assert (info.value.file, info.value.line) == ("x.s", line)
    assert "unknown symbol" in str(info.value)


def test_substitution_and_folding() -> None:
    consts = {"g_sched": 32, "gobuf_sp": 0, "gobuf_pc": 8, "HcExit": 5}
    syms = {"buf": 0x800000, "runtime.new": 0x400000, "mallocgc": 0x600180}
    src = """TEXT f, NOSPLIT, $24-16
\tmov rax, $buf
\tmov qword ptr [rax + g_sched + gobuf_pc], rbx
\tmov eax, HcExit
\tcall runtime·new
\tcall mallocgc
\tmov rdi, qword ptr [FP]
\tmov rdi, qword ptr [FP + 8]
\tmov rcx, 10
\tand rsp, -16
here:
\tjmp here
\tRET
"""
    stmts, _, labels = _expand(src, AMD64, consts, syms)
    body = [s.text for s in stmts if s.origin == "source"]
    assert labels == {"here"}
    norm = [re.sub(r"\s+", " ", t) for t in body]
    assert norm == [
        "mov rax, 0x800000",
        "mov qword ptr [rax + 0x28], rbx",           # 32 + 8 folded
        "mov eax, 0x5",
        "call 0x400000",
        "call 0x600180",
        "mov rdi, qword ptr [rsp + 0x20]",           # FP = rsp + frame + 8
        "mov rdi, qword ptr [rsp + 0x28]",
        "mov rcx, 0xa",                              # decimals become hex
        "and rsp, -0x10",
        "here:",
        "jmp here",
    ]
    assert [s.text for s in stmts if s.origin == "epilogue"] == ["add rsp, 0x18", "ret"]
    assert all(s.file == "x.s" for s in stmts)
    assert [s.line for s in stmts if s.origin == "source"] == list(range(2, 13))


def test_arm_fp_and_literals() -> None:
    src = "TEXT f, NOSPLIT, $8-8\n\tldr r0, [FP]\n\tldr r1, [FP, #4]\n\tldr r2, =buf\n\tRET\n"
    stmts, exp, _ = _expand(src, ARM, symbols={"buf": 0x400000})
    body = [s.text for s in stmts if s.origin == "source"]
    # autosize 12; FP = sp + autosize + 4
    assert body == ["ldr r0, [sp, #0x10]", "ldr r1, [sp, #0x14]", "ldr r2, =0x400000"]
    assert (exp.frame_size, exp.fp_offset) == (12, 16)


def test_arm_fp_beyond_12_bits() -> None:
    """5l goes through REGTMP (R11) when an FP offset does not fit 12 bits."""
    src = "TEXT f, NOSPLIT, $8188-16\n\tldr r0, [FP, #12]\n\tRET\n"
    stmts, exp, _ = _expand(src, ARM)
    body = [s.text for s in stmts if s.origin == "source"]
    off = 8192 + 4 + 12                                  # autosize + 4 + 12
    assert exp.fp_offset == 8196
    assert body == [f"ldr r11, ={off:#x}", "add r11, sp, r11", "ldr r0, [r11]"]


def test_fp_outside_memory_operand() -> None:
    with pytest.raises(AssemblyError) as info:
        _expand("TEXT f, NOSPLIT, $0\n\tnop\n\tmov rax, FP\n", AMD64)
    assert info.value.line == 3 and "FP" in str(info.value)


def test_duplicate_function_across_units() -> None:
    for src, needle in [("TEXT main, $0\n\tRET\n\nTEXT gosave, $0\n\tRET\n", "first at asm/amd64/stack.s:"),
                        ("TEXT mallocgc, $0\n\tRET\n", "runtime_c")]:
        with pytest.raises(AssemblyError) as info:
            build_image("amd64", "buggy", parse_text(src, "dup.s"))
        assert info.value.file == "dup.s" and needle in str(info.value)
        assert info.value.line == (4 if "gosave" in src else 1)


# --------------------------------------------------------------------------
# Keystone rejecting a line: the error names that line.

@pytest.mark.parametrize("arch,bad", [(AMD64, "frobnicate rax, rbx"), (AMD64, "mov rax, [rbx + rcx * 3]"),
                                      (ARM, "frobnicate r0, r1"), (ARM, "ldr r0, [r1, #0x2000]")])
def test_keystone_rejection_names_its_line(arch, bad: str) -> None:
    """A 5-line function whose 4th line is invalid; a label used before it
    (Keystone's error has no line: goemu retries each statement alone)."""
    if arch is AMD64:
        lines = ["TEXT f, NOSPLIT, $0-0", "\tjmp done", "done:", f"\t{bad}", "\tRET"]
    else:
        lines = ["TEXT f, NOSPLIT, $-4", "\tb done", "done:", f"\t{bad}", "\tRET"]
    unit = parse_text("\n".join(lines) + "\n", "five.s")
    stmts, _, _ = expand_function(unit.functions[0], arch, {}, {})
    with pytest.raises(AssemblyError) as info:
        assemble(stmts, arch.regions["text"].base, arch)
    assert (info.value.file, info.value.line) == ("five.s", 4), str(info.value)
    assert bad.split()[0] in str(info.value)
    # and through build_image, as a user's program
    with pytest.raises(AssemblyError) as info:
        build_image(arch.name, "buggy", unit)
    assert (info.value.file, info.value.line) == ("five.s", 4), str(info.value)


def test_unknown_call_target_names_its_line() -> None:
    unit = parse_text("TEXT main, $0\n\tnop\n\tcall nosuch_function\n\tRET\n", "u.s")
    with pytest.raises(AssemblyError) as info:
        build_image("amd64", "buggy", unit)
    assert (info.value.file, info.value.line) == ("u.s", 3)


# --------------------------------------------------------------------------
# amd64 prologues (6l dostkoff).  Both the expander's text and Capstone's
# text are read into abstract operations.

def amd64_op(text: str, symbol_of=lambda a: a) -> tuple:
    t = re.sub(r"\s+", " ", text.strip().lower())
    pats = [
        (rf"^mov rcx, qword ptr fs:\[({NUM})\]$", lambda m: ("load_g", int(m[1], 0) % (1 << 64))),
        (r"^cmp (rsp|rax), qword ptr \[rcx\]$", lambda m: ("cmp", m[1])),
        (rf"^lea rax, \[rsp - ({NUM})\]$", lambda m: ("lea", int(m[1], 0))),
        (r"^ja (\S+)$", lambda m: ("ja", m[1])),
        (rf"^mov eax, ({NUM})$", lambda m: ("eax", int(m[1], 0))),
        (rf"^(?:mov|movabs) rax, ({NUM})$", lambda m: ("rax", int(m[1], 0))),
        (r"^call (\S+)$", lambda m: ("call", symbol_of(m[1]))),
        (rf"^sub rsp, ({NUM})$", lambda m: ("sub", int(m[1], 0))),
        (rf"^add rsp, ({NUM})$", lambda m: ("add", int(m[1], 0))),
        (r"^ret$", lambda m: ("ret",)),
    ]
    for pat, f in pats:
        if m := re.match(pat, t):
            return f(m)
    raise AssertionError(f"unexpected prologue/epilogue instruction {text!r}")


def amd64_expected(frame: int, args: int, nosplit: bool) -> tuple[list[tuple], list[tuple]]:
    """6l's prologue from the rules (Go 1.0's src/cmd/6l/pass.c), with 'L' for the
    JHI target, which must be the instruction right after the call."""
    pro: list[tuple] = []
    if not nosplit:
        pro.append(("load_g", (1 << 64) - 16))            # g = -16(FS) on ELF
        if frame <= StackSmall:
            pro += [("cmp", "rsp"), ("ja", "L")]
        elif frame < StackBig:
            pro += [("lea", frame - StackSmall), ("cmp", "rax"), ("ja", "L")]
        # huge: no compare at all
        const1 = (frame + 160) & ~7 if frame + 160 + args > StackBig else 0
        const2 = args
        if const1 == 0 and const2 == 0:
            pro.append(("call", "morestack00"))
        elif const2 == 0:
            pro += [("eax", const1), ("call", "morestack10")]
        elif const1 == 0 and const2 % 8 == 0 and const2 <= 48:
            pro.append(("call", f"morestack{const2}"))
        elif const1 == 0:
            pro += [("eax", const2), ("call", "morestack01")]
        else:
            pro += [("rax", const2 << 32 | const1), ("call", "morestack11")]
    if frame:
        pro.append(("sub", frame))
    epi = ([("add", frame)] if frame else []) + [("ret",)]
    return pro, epi


# (frame, args, nosplit, what the rules give, worked out by hand)
AMD64_CASES = [
    (0, 0, False, "small, morestack00"),
    (8, 0, False, "small, morestack00"),
    (128, 0, False, "small (<= 128), morestack00"),
    (136, 0, False, "large: lea rax, [rsp - 8]"),
    (0, 8, False, "morestack8"),
    (16, 16, False, "morestack16"),
    (64, 24, False, "morestack24"),
    (200, 32, False, "morestack32"),
    (1000, 40, False, "morestack40"),
    (1024, 48, False, "morestack48 (runtime.new)"),
    (0, 56, False, "args 56 > 48: mov eax, 56; morestack01"),
    (504, 64, False, "mov eax, 64; morestack01"),
    (3936, 0, False, "3936+160+0 = 4096, not > 4096: morestack00"),
    (3944, 0, False, "4104 > 4096: eax = 4104; morestack10"),
    (3904, 40, False, "4104 > 4096: const1 = 4064; rax = 40<<32|4064; morestack11"),
    (3928, 8, False, "4096: not >: morestack8"),
    (4088, 0, False, "large (< 4096): lea rax, [rsp - 3960]; eax = 4248"),
    (4096, 0, False, "huge: no compare; eax = 4256; morestack10"),
    (5000, 24, False, "huge: rax = 24<<32 | 5160; morestack11"),
    (70000, 0, False, "huge: eax = 70160"),
    (16, 8, True, "NOSPLIT: no check, only sub rsp, 16"),
    (0, 0, True, "NOSPLIT leaf: nothing"),
]

# The same cases' decisive numbers, by hand, independent of amd64_expected:
AMD64_BY_HAND = {
    (136, 0): ("lea", 8), (3944, 0): ("eax", 4104), (3904, 40): ("rax", (40 << 32) | 4064),
    (4088, 0): ("eax", 4248), (4096, 0): ("eax", 4256), (5000, 24): ("rax", (24 << 32) | 5160),
    (0, 56): ("eax", 56), (70000, 0): ("eax", 70160),
}


def _check_amd64_ja(ops: list[tuple]) -> list[tuple]:
    """Replace the ja target by 'L' after checking it is the instruction right
    after the trampoline call (6l: the JHI lands on the frame allocation)."""
    out = list(ops)
    for k, op in enumerate(ops):
        if op[0] == "ja":
            call = next(j for j in range(k, len(ops)) if ops[j][0] == "call")
            assert op[1] == ("after", call), f"ja lands on {op[1]}, not after the call at {call}"
            out[k] = ("ja", "L")
    return out


@pytest.mark.parametrize("frame,args,nosplit,why", AMD64_CASES)
def test_amd64_prologue_expansion(frame: int, args: int, nosplit: bool, why: str) -> None:
    exp = AMD64.expand(FuncDecl("f", frame, args, nosplit), {})
    pro_text = exp.prologue
    labels = [t[:-1] for t in pro_text if t.endswith(":")]
    instrs = [t for t in pro_text if not t.endswith(":")]
    ops = [amd64_op(t) for t in instrs]
    # resolve the ja label to the position it labels
    if any(op[0] == "ja" for op in ops):
        assert len(labels) == 1
        pos = sum(1 for t in pro_text[:pro_text.index(labels[0] + ":")] if not t.endswith(":"))
        ops = [("ja", ("after", pos - 1)) if op == ("ja", labels[0].lower()) else op for op in ops]
        ops = _check_amd64_ja(ops)
    want_pro, want_epi = amd64_expected(frame, args, nosplit)
    assert ops == want_pro, why
    assert [amd64_op(t) for t in exp.epilogue] == want_epi
    assert (exp.frame_size, exp.fp_offset, exp.fp_register) == (frame, frame + 8, "rsp")
    # statements before prologue_end_index run before the frame exists
    assert [t for t in pro_text[exp.prologue_end_index:] if not t.endswith(":")] == \
        ([f"sub rsp, {frame:#x}"] if frame else [])
    if (frame, args) in AMD64_BY_HAND:
        assert AMD64_BY_HAND[(frame, args)] in ops
    if (frame, args) == (4088, 0):
        assert ("lea", 3960) in ops


@pytest.mark.parametrize("frame,args,rounded", [(0, 12, 16), (4096, 4, 8), (0, 44, 48)])
def test_amd64_args_rounded_up_to_8(frame: int, args: int, rounded: int) -> None:
    exp = AMD64.expand(FuncDecl("f", frame, args, False), {})
    ops = [amd64_op(t) for t in exp.prologue if not t.endswith(":")]
    want, _ = amd64_expected(frame, rounded, False)
    assert [o for o in ops if o[0] != "ja"] == [o for o in want if o[0] != "ja"]


# --------------------------------------------------------------------------
# ARM prologues (5l noops).

def _signed(v: int) -> int:
    return v - (1 << 32) if v & 0x80000000 else v


def arm_ops(texts: list[str], literal=None, symbol_of=lambda a: a) -> list[tuple]:
    """Read ARM prologue/epilogue instructions into abstract operations.
    r11 (REGTMP) loads are folded into the instruction that uses r11.
    ``literal(k, offset)`` resolves a Capstone `ldr rX, [pc, #off]`."""
    out: list[tuple] = []
    r11 = None
    for k, text in enumerate(texts):
        t = re.sub(r"\s+", " ", text.strip().lower()).replace("#", "")
        value = None
        if m := re.match(rf"^ldr({ARM_COND})? (r\d+), =({NUM})$", t):
            cond, reg, value = m[1] or "", m[2], int(m[3], 0)
        elif m := re.match(rf"^ldr({ARM_COND})? (r\d+), \[pc(?:, ({NUM}))?\]$", t):
            cond, reg, value = m[1] or "", m[2], literal(k, int(m[3] or "0", 0))
        elif m := re.match(rf"^mov({ARM_COND})? (r\d+), ({NUM})$", t):
            cond, reg, value = m[1] or "", m[2], int(m[3], 0)
        elif m := re.match(rf"^mvn({ARM_COND})? (r\d+), ({NUM})$", t):
            cond, reg, value = m[1] or "", m[2], ~int(m[3], 0)
        if value is not None:
            if reg == "r11":
                r11 = value
            else:
                out.append(("set", cond, reg, value & 0xFFFFFFFF))
            continue
        pats = [
            (r"^ldr r1, \[r10\]$", lambda m: ("load_guard",)),
            (r"^cmp (sp|r2), r1$", lambda m: ("cmp", m[1])),
            # 5l: MOVW $-autosize(SP), R2 is a pool load of -autosize into R11, then an add
            (r"^add r2, sp, r11$", lambda m, r11=r11: ("r2=sp-", -_signed(r11))),
            (rf"^mov({ARM_COND})? r3, lr$", lambda m: ("set", m[1] or "", "r3", "lr")),
            (rf"^bl({ARM_COND})? (\S+)$", lambda m: ("call", m[1] or "", symbol_of(m[2]))),
            (rf"^str lr, \[sp, -({NUM})\]!$", lambda m: ("save_lr", int(m[1], 0))),
            (r"^str lr, \[sp, r11\]!$", lambda m, r11=r11: ("save_lr", -_signed(r11))),
            (rf"^ldr pc, \[sp\], ({NUM}|r11)$",
             lambda m, r11=r11: ("pop_pc", r11 if m[1] == "r11" else int(m[1], 0))),
            (r"^pop \{pc\}$", lambda m: ("pop_pc", 4)),
            (r"^add pc, lr, (?:0x)?0$", lambda m: ("ret_lr",)),     # 5l's B (R14)
        ]
        for pat, f in pats:
            if m := re.match(pat, t):
                out.append(f(m))
                break
        else:
            raise AssertionError(f"unexpected ARM prologue/epilogue instruction {text!r}")
    return out


def arm_expected(frame: int, args: int, nosplit: bool, leaf: bool) -> tuple[list[tuple], list[tuple], int]:
    """5l's noops() from the rules; returns (prologue, epilogue, autosize)."""
    if frame < 0 or (frame == 0 and leaf):
        return [], [("ret_lr",)], 0                   # no LR save, no check
    autosize = frame + 4                              # the saved-LR slot
    pro: list[tuple] = []
    if not nosplit:
        if autosize < StackBig:
            pro.append(("load_guard",))
            if autosize < StackSmall:
                pro.append(("cmp", "sp"))
            else:
                pro += [("r2=sp-", autosize), ("cmp", "r2")]
            pro += [("set", "lo", "r1", autosize + 160), ("set", "lo", "r2", args),
                    ("set", "lo", "r3", "lr"), ("call", "lo", "morestack")]
        else:
            pro += [("set", "", "r1", autosize), ("set", "", "r2", args),
                    ("set", "", "r3", "lr"), ("call", "", "morestack")]
    pro.append(("save_lr", autosize))
    return pro, [("pop_pc", autosize)], autosize


# (frame, args, nosplit, leaf, what the rules give)
ARM_CASES = [
    (0, 0, False, True, "leaf, frame 0: no prologue at all"),
    (0, 4, True, True, "NOSPLIT leaf, frame 0: nothing"),
    (-4, 0, False, False, "$-4: nothing, even when it calls"),
    (-4, 8, True, True, "$-4 NOSPLIT"),
    (0, 0, False, False, "frame 0 that calls: autosize 4, small"),
    (8, 4, False, True, "a leaf with a frame still gets the check: autosize 12"),
    (120, 8, False, False, "autosize 124 < 128: cmp sp, r1"),
    (124, 12, False, False, "autosize 128: large, sub r2, sp, #128"),
    (252, 0, False, False, "autosize 256: encodable immediate"),
    (1024, 8, False, False, "autosize 1028: not an ARM immediate, via r11 (runtime.new)"),
    (4088, 4, False, False, "autosize 4092: still large; not an immediate"),
    (4092, 0, False, False, "autosize 4096: huge, unconditional, r1 = 4096 (no +160)"),
    (70000, 16, False, False, "autosize 70004: literal loads"),
    (8, 4, True, False, "NOSPLIT: only str lr, [sp, #-12]!"),
    (8188, 0, True, False, "NOSPLIT, autosize 8192: the LR save through r11"),
]

ARM_BY_HAND = {   # decisive numbers worked out by hand: (frame, args, nosplit, leaf) -> op
    (0, 0, False, False): ("save_lr", 4), (120, 8, False, False): ("set", "lo", "r1", 284),
    (124, 12, False, False): ("r2=sp-", 128), (1024, 8, False, False): ("set", "lo", "r1", 1188),
    (4088, 4, False, False): ("r2=sp-", 4092), (4092, 0, False, False): ("set", "", "r1", 4096),
    (70000, 16, False, False): ("set", "", "r1", 70004), (8, 4, True, False): ("save_lr", 12),
    (8, 4, False, True): ("set", "lo", "r1", 172),
}


@pytest.mark.parametrize("frame,args,nosplit,leaf,why", ARM_CASES)
def test_arm_prologue_expansion(frame: int, args: int, nosplit: bool, leaf: bool, why: str) -> None:
    exp = ARM.expand(FuncDecl("f", frame, args, nosplit, leaf), {})
    assert not any(t.endswith(":") for t in exp.prologue)
    want_pro, want_epi, autosize = arm_expected(frame, args, nosplit, leaf)
    assert arm_ops(exp.prologue) == want_pro, why
    assert arm_ops(exp.epilogue) == want_epi, why
    assert (exp.frame_size, exp.fp_offset, exp.fp_register) == (autosize, autosize + 4, "sp")
    assert arm_ops(exp.prologue[exp.prologue_end_index:]) == ([("save_lr", autosize)] if autosize else [])
    if (frame, args, nosplit, leaf) in ARM_BY_HAND:
        assert ARM_BY_HAND[(frame, args, nosplit, leaf)] in arm_ops(exp.prologue) + arm_ops(exp.epilogue)


def test_arm_args_rounded_up_to_4() -> None:
    exp = ARM.expand(FuncDecl("f", 8, 6, False, False), {})
    assert ("set", "lo", "r2", 8) in arm_ops(exp.prologue)


@pytest.mark.parametrize("branch", ["blt", "blo"])
def test_is_leaf_conditional_branches(branch: str) -> None:
    fn = parse_text(f"TEXT f, $0\n\tcmp r0, r1\n\t{branch} out\nout:\n\tRET\n", "l.s").functions[0]
    assert is_leaf(fn, ARM)


def test_is_leaf() -> None:
    def fn(body: str):
        return parse_text("TEXT f, $0\n" + body, "l.s").functions[0]
    assert is_leaf(fn("\tmov r0, #1\n\tRET\n"), ARM)
    assert is_leaf(fn("\tsvc #0\n\tRET\n"), ARM)
    assert is_leaf(fn("\tcmp r0, r1\n\tbls out\n\tble out\n\tbhi out\n\tb out\nout:\n\tbx lr\n"), ARM)
    assert not is_leaf(fn("\tbleq g\n\tRET\n"), ARM)
    assert not is_leaf(fn("\tblle g\n\tRET\n"), ARM)
    assert not is_leaf(fn("\tbl g\n\tRET\n"), ARM)
    assert not is_leaf(fn("\tbllo g\n\tRET\n"), ARM)
    assert not is_leaf(fn("\tblx r3\n\tRET\n"), ARM)
    assert not is_leaf(fn("\tcall g\n\tRET\n"), AMD64)
    d = decl_of(fn("\tbl g\n\tRET\n"), ARM)
    assert (d.frame, d.args, d.nosplit, d.leaf) == (0, 0, False, False)


# --------------------------------------------------------------------------
# The same rules on what actually runs: a built Image, disassembled.

AMD64_PROGRAM_CASES = [(f, a, n) for f, a, n, _ in AMD64_CASES if (f, a, n) != (0, 0, True)]
ARM_PROGRAM_CASES = [(f, a, n, leaf) for f, a, n, leaf, _ in ARM_CASES]


def _program(arch: str, cases) -> str:
    lines = []
    for k, case in enumerate(cases):
        frame, args, nosplit = case[:3]
        leaf = case[3] if len(case) > 3 else True
        flag = "NOSPLIT, " if nosplit else ""
        lines.append(f"TEXT f{k}, {flag}${frame}-{args}")
        if arch == "arm" and not leaf:
            lines.append("\tbl f0")
        lines.append("\tnop")
        lines.append("\tRET")
    lines += ["TEXT main, $0-0", "\tRET"]      # a program: the linker wants a main
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def images():
    return {
        "amd64": build_image("amd64", "buggy", parse_text(_program("amd64", AMD64_PROGRAM_CASES), "pa.s")),
        "arm": build_image("arm", "buggy", parse_text(_program("arm", ARM_PROGRAM_CASES), "pr.s")),
    }


def _names(im) -> dict[int, str]:
    return {a: n for n, a in im.symbols.items() if n in im.functions}


@pytest.mark.parametrize("k", range(len(AMD64_PROGRAM_CASES)))
def test_amd64_prologue_in_image(images, k: int) -> None:
    frame, args, nosplit = AMD64_PROGRAM_CASES[k]
    im = images["amd64"]
    fi = im.functions[f"f{k}"]
    names = _names(im)
    pro = [(a, text) for a, _f, _l, origin, text in fi.lines if origin == "prologue"]
    epi = [text for _a, _f, _l, origin, text in fi.lines if origin == "epilogue"]
    ops = [amd64_op(t, lambda s: names.get(int(s, 0), s)) for _, t in pro]
    addrs = [a for a, _ in pro]
    for i, op in enumerate(ops):
        if op[0] == "ja":
            # the JHI lands right after the call: the frame allocation, morepc
            call = next(j for j in range(i, len(ops)) if ops[j][0] == "call")
            nxt = addrs[call + 1] if call + 1 < len(addrs) else fi.body_start
            assert int(op[1], 0) == nxt
            ops[i] = ("ja", "L")
    want_pro, want_epi = amd64_expected(frame, args, nosplit)
    assert ops == want_pro
    assert [amd64_op(t) for t in epi] == want_epi
    assert (fi.frame_size, fi.fp_offset, fi.nosplit) == (frame, frame + 8, nosplit)
    # the frame exists from the first body instruction on
    first_body = next(a for a, _f, _l, origin, _t in fi.lines if origin == "source")
    assert fi.body_start == first_body


@pytest.mark.parametrize("k", range(len(ARM_PROGRAM_CASES)))
def test_arm_prologue_in_image(images, k: int) -> None:
    frame, args, nosplit, leaf = ARM_PROGRAM_CASES[k]
    im = images["arm"]
    fi = im.functions[f"f{k}"]
    names = _names(im)
    base, text = next((a, b) for name, a, b, _ in im.chunks if name == "text")
    pro = [(a, t) for a, _f, _l, origin, t in fi.lines if origin == "prologue"]
    epi = [(a, t) for a, _f, _l, origin, t in fi.lines if origin == "epilogue"]

    def resolver(rows):
        def literal(i: int, off: int) -> int:
            at = rows[i][0] + 8 + off                    # ARM: PC reads 8 ahead
            assert fi.addr <= at < fi.end, "literal outside the function"
            return int.from_bytes(text[at - base:at - base + 4], "little")
        return literal

    def sym(s: str) -> str:
        return names.get(int(s, 0), s)

    want_pro, want_epi, autosize = arm_expected(frame, args, nosplit, leaf)
    assert arm_ops([t for _, t in pro], resolver(pro), sym) == want_pro
    assert arm_ops([t for _, t in epi], resolver(epi), sym) == want_epi
    assert (fi.frame_size, fi.fp_offset) == (autosize, autosize + 4)
    calls = [op for op in arm_ops([t for _, t in pro], resolver(pro), sym) if op[0] == "call"]
    assert all(c[2] == "morestack" for c in calls)


def test_runtime_new_prologue_in_image(images) -> None:
    """The one stub with a split check, per arch: runtime.new ($1024-16 on
    amd64, $1024-8 on arm) -- large frame, morestack16 / r1 = 1188 from the
    literal pool (not an ARM immediate, and 5l had no movw)."""
    im = images["amd64"]
    fi = im.functions["runtime.new"]
    assert fi.runtime and (fi.frame, fi.args) == (1024, 16)
    names = _names(im)
    ops = [amd64_op(t, lambda s: names.get(int(s, 0), s))
           for _a, _f, _l, o, t in fi.lines if o == "prologue"]
    assert ("lea", 1024 - 128) in ops and ("call", "morestack16") in ops
    im = images["arm"]
    fi = im.functions["runtime.new"]
    assert (fi.frame, fi.args, fi.frame_size) == (1024, 8, 1028)
    texts = [t for _a, _f, _l, o, t in fi.lines if o == "prologue"]
    pool = [t for t in texts if re.fullmatch(r"ldrlo r1, \[pc, #(0x[0-9a-f]+|\d+)\]", t)]
    assert len(pool) == 1 and not any(t.startswith("movw") for t in texts)
    [(a_ld, *_rest)] = [ln for ln in fi.lines if ln[4] == pool[0]]
    lit = a_ld + 8 + int(pool[0].rsplit("#", 1)[1][:-1], 0)
    [(base, code)] = [(b, c) for name, b, c, _p in im.chunks if name == "text"]
    assert int.from_bytes(code[lit - base:lit - base + 4], "little") == 1028 + 160
    assert any(re.fullmatch(r"movlo r2, #8", t) for t in texts)
