"""The relocation recipes in isolation: field encodings and range limits."""
from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from emu.arch.amd64.relocs import RELOCS as AMD64
from emu.arch.arm.relocs import RELOCS as ARM
from emu.errors import RelocationOverflow
from loader.recipe import Recipe, Site, fits, sign_extend

SITE = Site("t.o", ".text", 0, 0)
I32 = st.integers(-(1 << 31), (1 << 31) - 1)
U32 = st.integers(0, (1 << 32) - 1)


def run(recipe: Recipe, before: bytes, s: int, addend: int | None, p: int = 0) -> bytes:
    data = bytearray(before)
    recipe.apply(data, Site("t.o", ".text", 0, p), s, addend)
    return bytes(data)


def test_tables_are_keyed_by_their_own_numbers() -> None:
    for table in (AMD64, ARM):
        for number, recipe in table.items():
            assert recipe.number == number and recipe.__doc__ and recipe.name in repr(recipe)
    assert {1, 2, 4, 10, 11, 24} <= set(AMD64) and {2, 3, 28, 29, 42, 43, 44} <= set(ARM)


def test_fits_boundaries() -> None:
    assert fits(-(1 << 31), 32, "signed") and not fits(1 << 31, 32, "signed")
    assert fits((1 << 32) - 1, 32, "unsigned") and not fits(-1, 32, "unsigned")
    assert fits(-(1 << 31), 32, "either") and fits((1 << 32) - 1, 32, "either")
    assert not fits(1 << 32, 32, "either") and not fits(-(1 << 31) - 1, 32, "either")
    assert sign_extend(0xFFFFFE, 24) == -2 and sign_extend(0x7FFFFF, 24) == 0x7FFFFF


@given(s=st.integers(0, (1 << 33)), a=I32, p=st.integers(0, 1 << 33))
def test_amd64_pc32_stores_exact_value_or_raises(s: int, a: int, p: int) -> None:
    value = s + a - p
    if fits(value, 32, "signed"):
        out = run(AMD64[2], b"\0" * 4, s, a, p)
        assert int.from_bytes(out, "little", signed=True) == value
    else:
        with pytest.raises(RelocationOverflow):
            run(AMD64[2], b"\0" * 4, s, a, p)


def test_amd64_32_vs_32s() -> None:
    assert run(AMD64[10], bytes(4), 0x8000_0000, 0) == b"\0\0\0\x80"
    with pytest.raises(RelocationOverflow, match="R_X86_64_32S: value 0x80000000 does not fit signed 32"):
        run(AMD64[11], bytes(4), 0x8000_0000, 0)
    assert run(AMD64[11], bytes(4), 0x10, -0x20) == (-0x10).to_bytes(4, "little", signed=True)
    with pytest.raises(RelocationOverflow, match="value -0x10 does not fit unsigned 32"):
        run(AMD64[10], bytes(4), 0x10, -0x20)


def test_amd64_64_and_pc64() -> None:
    assert run(AMD64[1], bytes(8), 0x1_2345_6789, 8) == (0x1_2345_6791).to_bytes(8, "little")
    assert run(AMD64[24], bytes(8), 0x1000, 0, 0x3000) == (-0x2000).to_bytes(8, "little", signed=True)


def test_write_outside_section_refused() -> None:
    with pytest.raises(Exception, match="runs past the end"):
        AMD64[1].apply(bytearray(4), SITE, 0, 0)


@given(target=st.integers(-(1 << 23), (1 << 23) - 1), p=st.integers(0, 1 << 30).map(lambda x: x * 4))
def test_arm_call_encodes_the_branch_target(target: int, p: int) -> None:
    s = p + 8 + target * 4
    if s < 0:
        return
    out = run(ARM[28], (0xEBFFFFFE).to_bytes(4, "little"), s, None, p)  # bl . (A = -8)
    insn = int.from_bytes(out, "little")
    assert insn >> 24 == 0xEB
    assert p + 8 + (sign_extend(insn, 24) << 2) == s


def test_arm_jump24_keeps_the_condition() -> None:
    out = run(ARM[29], (0x1AFFFFFE).to_bytes(4, "little"), 0x2000, None, 0x1000)  # bne .
    insn = int.from_bytes(out, "little")
    assert insn >> 24 == 0x1A and 0x1000 + 8 + (sign_extend(insn, 24) << 2) == 0x2000


@given(s=U32, a=st.integers(-(1 << 15), (1 << 15) - 1))
def test_arm_movw_movt_pair_builds_s_plus_a(s: int, a: int) -> None:
    """movw r0, #A ; movt r0, #A (REL addends in imm4:imm12) -> r0 = S + A."""
    imm = a & 0xFFFF
    movw = 0xE3000000 | ((imm >> 12) << 16) | (imm & 0xFFF)
    movt = 0xE3400000 | ((imm >> 12) << 16) | (imm & 0xFFF)
    value = s + a
    if not fits(value, 32, "either"):
        with pytest.raises(RelocationOverflow):
            run(ARM[44], movt.to_bytes(4, "little"), s, None)
        return
    lo = int.from_bytes(run(ARM[43], movw.to_bytes(4, "little"), s, None), "little")
    hi = int.from_bytes(run(ARM[44], movt.to_bytes(4, "little"), s, None), "little")
    assert lo & 0xFFF0F000 == 0xE3000000 and hi & 0xFFF0F000 == 0xE3400000
    assert (imm16(hi) << 16 | imm16(lo)) == value & 0xFFFFFFFF


def imm16(insn: int) -> int:
    """The imm4:imm12 immediate of a MOVW/MOVT."""
    return ((insn >> 4) & 0xF000) | (insn & 0xFFF)


def test_arm_abs32_rel32_prel31_read_the_word() -> None:
    assert run(ARM[2], (12).to_bytes(4, "little"), 0x1000, None) == (0x100C).to_bytes(4, "little")
    assert run(ARM[3], (4).to_bytes(4, "little"), 0x1000, None, 0x3000) == \
        (-0x1FFC).to_bytes(4, "little", signed=True)
    out = int.from_bytes(run(ARM[42], (0x80000010).to_bytes(4, "little"), 0x1000, None, 0x2000), "little")
    assert out >> 31 == 1 and sign_extend(out, 31) == 0x1000 + 0x10 - 0x2000
    with pytest.raises(RelocationOverflow, match="R_ARM_PREL31"):
        run(ARM[42], bytes(4), 0x4000_0000, None, 0)


def test_undefined_weak_targets() -> None:
    """AAELF32: a branch to an undefined weak falls through to the next
    instruction; a PC-relative word resolves to the place (S - P + A = A)."""
    data = bytearray((0xEBFFFFFE).to_bytes(4, "little"))
    ARM[28].apply(data, Site("t.o", ".text", 0, 0x1000), 0, None, undefined_weak=True)
    assert int.from_bytes(data, "little") == 0xEBFFFFFF  # bl . + 4
    word = bytearray((8).to_bytes(4, "little"))
    ARM[3].apply(word, Site("t.o", ".data", 0, 0x1000), 0, None, undefined_weak=True)
    assert int.from_bytes(word, "little") == 8
    word = bytearray(4)
    ARM[2].apply(word, Site("t.o", ".data", 0, 0x1000), 0x55, None, undefined_weak=True)
    assert word == bytes(4)
