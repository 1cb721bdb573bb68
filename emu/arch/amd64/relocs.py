"""x86-64 relocation recipes (System V psABI, RELA: explicit addends).

Only what ``-fno-pic`` freestanding C needs: goemu links without a GOT or
PLT, so a PLT32 call simply branches straight to the symbol.  Formulas quote
the psABI table: S is the symbol's address, A the addend, P the address of
the field being relocated.
"""
from __future__ import annotations

from elftools.elf.enums import ENUM_RELOC_TYPE_x64

from loader.recipe import Recipe, Site, table

# Every x86-64 relocation type's name, for messages (also the ones without a recipe).
NAMES: dict[int, str] = {v: k for k, v in ENUM_RELOC_TYPE_x64.items() if isinstance(v, int)}


class R_X86_64_NONE(Recipe):
    """No relocation: nothing is read or written."""
    number, name, size, width = 0, "R_X86_64_NONE", 0, 0

    def apply(self, data: bytearray, site: Site, s: int, addend: int | None,
              undefined_weak: bool = False) -> None:
        return None


class R_X86_64_64(Recipe):
    """word64: S + A.  Any 64-bit pattern is a valid absolute value."""
    number, name, size, width, signedness = 1, "R_X86_64_64", 8, 64, "either"

    def formula(self, s: int, a: int, p: int) -> int:
        return s + a


class R_X86_64_PC32(Recipe):
    """word32: S + A - P, sign-extended by the CPU, so it must fit signed 32 bits."""
    number, name, size, width, signedness = 2, "R_X86_64_PC32", 4, 32, "signed"

    def formula(self, s: int, a: int, p: int) -> int:
        return s + a - p


class R_X86_64_PLT32(R_X86_64_PC32):
    """word32: L + A - P; with no PLT, L is S: the same as PC32 (signed 32 bits)."""
    number, name = 4, "R_X86_64_PLT32"


class R_X86_64_32(Recipe):
    """word32: S + A, which must zero-extend to the 64-bit value (unsigned 32)."""
    number, name, size, width, signedness = 10, "R_X86_64_32", 4, 32, "unsigned"

    def formula(self, s: int, a: int, p: int) -> int:
        return s + a


class R_X86_64_32S(Recipe):
    """word32: S + A, which must sign-extend to the 64-bit value (signed 32)."""
    number, name, size, width, signedness = 11, "R_X86_64_32S", 4, 32, "signed"

    def formula(self, s: int, a: int, p: int) -> int:
        return s + a


class R_X86_64_PC64(Recipe):
    """word64: S + A - P (signed 64 bits)."""
    number, name, size, width, signedness = 24, "R_X86_64_PC64", 8, 64, "signed"

    def formula(self, s: int, a: int, p: int) -> int:
        return s + a - p


RELOCS: dict[int, Recipe] = table(
    R_X86_64_NONE, R_X86_64_64, R_X86_64_PC32, R_X86_64_PLT32,
    R_X86_64_32, R_X86_64_32S, R_X86_64_PC64,
)
