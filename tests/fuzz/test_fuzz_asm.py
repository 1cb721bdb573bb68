"""Fuzzing the assembly front end: any text goes through parse -> expand ->
assemble -> Capstone check and either gives code or a GoemuError with a
location -- never another exception (which the CLI would turn into exit 70)."""
from __future__ import annotations

import pytest
from fuzz_support import EXAMPLES, FUZZ, Tally
from hypothesis import given, settings
from hypothesis import strategies as st

from emu.arch import get_arch
from emu.asm.assemble import assemble_checked
from emu.asm.expand import expand_function
from emu.asm.source import parse_text
from emu.errors import AssemblyError, GoemuError
from emu.image import build_image

NAMES = st.sampled_from(["main", "f", "g", "x", "buf", "loop", "runtime·new", "runtime.printint", "r1", "rbx",
                         "m_cret", "FP", "nosuch", "StackGuard", "lessstack", "a.b", "_", "ptr"])
NUMS = st.one_of(st.integers(-2**40, 2**40).map(str), st.integers(0, 2**34).map(hex),
                 st.sampled_from(["-4", "-8", "0", "4096", "0x", "1e3", "--1", "08"]))
REGS = {"amd64": ["rax", "rbx", "rsp", "rcx", "eax", "al", "r15", "rip", "FP"],
        "arm": ["r0", "r1", "sp", "lr", "pc", "r11", "r9", "r10", "FP"]}
MNEM = {"amd64": ["mov", "add", "call", "jmp", "je", "lea", "push", "pop", "ret", "cmp", "nop", "ud2", "syscall"],
        "arm": ["mov", "ldr", "str", "add", "bl", "b", "beq", "cmp", "push", "pop", "bx", "svc", "ldrd", "strd"]}


def operand(arch: str):
    reg = st.sampled_from(REGS[arch])
    mem = {"amd64": st.tuples(reg, NUMS).map(lambda t: f"qword ptr [{t[0]}+{t[1]}]"),
           "arm": st.tuples(reg, NUMS).map(lambda t: f"[{t[0]}, #{t[1]}]")}[arch]
    return st.one_of(reg, NUMS, NUMS.map(lambda n: f"#{n}"), NAMES, NAMES.map(lambda n: f"${n}"),
                     NAMES.map(lambda n: f"={n}"), mem, st.just("[FP]"), st.just("[FP+8]"), st.just("[FP, #4]"))


def instruction(arch: str):
    return st.tuples(st.sampled_from(MNEM[arch]), st.lists(operand(arch), max_size=3)).map(
        lambda t: "\t" + t[0] + (" " + ", ".join(t[1]) if t[1] else ""))


def line(arch: str):
    flags = st.sampled_from(["", "NOSPLIT, ", "7, ", "BOGUS, ", "NOSPLIT|DUPOK, "])
    return st.one_of(
        st.tuples(NAMES, flags, NUMS, NUMS).map(lambda t: f"TEXT {t[0]}, {t[1]}${t[2]}-{t[3]}"),
        st.tuples(NAMES, flags, NUMS).map(lambda t: f"TEXT {t[0]}, {t[1]}${t[2]}"),
        st.tuples(NAMES, NUMS).map(lambda t: f"GLOBL {t[0]}, ${t[1]}"),
        st.tuples(NAMES, NUMS, st.sampled_from(["1", "2", "3", "4", "8"]), st.one_of(NUMS, NAMES)).map(
            lambda t: f"DATA {t[0]}+{t[1]}/{t[2]}, ${t[3]}"),
        NAMES.map(lambda n: f"{n}:"),
        instruction(arch), instruction(arch), instruction(arch),
        st.just("\tRET"), st.just("// a comment"), st.just(""),
        st.text(max_size=40),                                    # anything at all
    )


def program(arch: str):
    return st.lists(line(arch), max_size=12).map(lambda ls: "\n".join(ls) + "\n")


def _front_end(arch_name: str, text: str, tally: Tally) -> None:
    arch = get_arch(arch_name)
    try:
        unit = parse_text(text, "fuzz.s")
        for fn in unit.functions:
            stmts, _exp, _ = expand_function(fn, arch, {"m_cret": 0x38, "StackGuard": 256}, {"buf": 0x1000})
            assemble_checked(stmts, arch.regions["text"].base, arch)
        tally("assembled")
    except AssemblyError as e:
        assert e.file == "fuzz.s" and (e.line is None or e.line >= 1), e
        tally("AssemblyError")
    except GoemuError as e:
        tally(type(e).__name__)


@pytest.mark.parametrize("arch", ["amd64", "arm"])
def test_fuzz_front_end(arch):
    tally = Tally(f"asm front end ({arch})")

    @FUZZ
    @given(program(arch))
    def prop(text):
        _front_end(arch, text, tally)
    prop()
    tally.write()
    assert sum(tally.outcomes.values()) >= 1


@pytest.mark.slow
@pytest.mark.parametrize("arch", ["amd64", "arm"])
def test_fuzz_link(arch):
    """Whole programs through build_image (the runtime linked in): typed errors or an image.
    Each example assembles the whole runtime (about a second), so a tenth of the budget."""
    tally = Tally(f"build_image ({arch})")

    @settings(FUZZ, max_examples=max(4, EXAMPLES // 10))
    @given(st.lists(line(arch), max_size=6))
    def prop(lines):
        text = "TEXT main, $16-0\n" + "\n".join(lines) + "\n\tRET\n"
        try:
            build_image(arch, "buggy", parse_text(text, "fuzz.s"))
            tally("built")
        except GoemuError as e:
            tally(type(e).__name__)
    prop()
    tally.write()
