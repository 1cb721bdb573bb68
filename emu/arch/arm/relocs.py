"""ARM (AArch32, ARM state) relocation recipes: AAELF32, REL objects.

REL objects carry no explicit addend: each recipe decodes the implicit addend
from the field it is about to overwrite (the whole word for data, imm24 for
branches, imm4:imm12 for MOVW/MOVT).  Formulas quote the AAELF32 table: S is
the symbol's address, A the addend, P the address of the place, T the Thumb
bit of the target.  An undefined weak reference is 0, except that a branch
to it goes to the next instruction and a PC-relative word gets S = P.
goemu's runtime is compiled in ARM state, so T is 0 and a
branch to an odd (Thumb) address is refused rather than turned into BLX.
"""
from __future__ import annotations

from elftools.elf.enums import ENUM_RELOC_TYPE_ARM

from loader.recipe import Recipe, Site, sign_extend, table

# Every ARM relocation type's name, for messages (also the ones without a recipe).
NAMES: dict[int, str] = {v: k for k, v in ENUM_RELOC_TYPE_ARM.items() if isinstance(v, int)}


class R_ARM_NONE(Recipe):
    """No relocation: nothing is read or written."""
    number, name, size, width = 0, "R_ARM_NONE", 0, 0

    def apply(self, data: bytearray, site: Site, s: int, addend: int | None,
              undefined_weak: bool = False) -> None:
        return None


class R_ARM_ABS32(Recipe):
    """Data word: (S + A) | T.  32 bits, signed or unsigned."""
    number, name, width, signedness = 2, "R_ARM_ABS32", 32, "either"

    def formula(self, s: int, a: int, p: int) -> int:
        return s + a


class R_ARM_REL32(Recipe):
    """Data word: ((S + A) | T) - P.  32 bits, signed or unsigned (wraps in a
    32-bit address space by design, but never beyond it)."""
    number, name, width, signedness = 3, "R_ARM_REL32", 32, "either"
    weak_target = "place"

    def formula(self, s: int, a: int, p: int) -> int:
        return s + a - p


class _Branch24(Recipe):
    """B/BL imm24: the byte offset ((S + A) | T) - P is stored >> 2 in a signed
    24-bit field (so +-32 MiB), and must be a multiple of 4."""
    width, signedness, shift, exact = 24, "signed", 2, True
    weak_target = "next"  # AAELF32: a branch to an undefined weak falls through

    def formula(self, s: int, a: int, p: int) -> int:
        return s + a - p

    def read_addend(self, word: int) -> int:
        return sign_extend(word & 0xFFFFFF, 24) << 2

    def encode(self, word: int, field: int) -> int:
        return (word & 0xFF000000) | field


class R_ARM_CALL(_Branch24):
    """BL: ((S + A) | T) - P, stored as a signed 24-bit word offset."""
    number, name = 28, "R_ARM_CALL"


class R_ARM_JUMP24(_Branch24):
    """B<cond> (tail calls): ((S + A) | T) - P, stored as a signed 24-bit word offset."""
    number, name = 29, "R_ARM_JUMP24"


class R_ARM_PREL31(Recipe):
    """Unwind-table word: ((S + A) | T) - P in the low 31 bits (signed);
    bit 31 is kept from the original word."""
    number, name, width, signedness = 42, "R_ARM_PREL31", 31, "signed"
    weak_target = "place"

    def formula(self, s: int, a: int, p: int) -> int:
        return s + a - p


class _MovImm16(Recipe):
    """MOVW/MOVT imm16, split as imm4 (bits 19:16) : imm12 (bits 11:0).  The
    REL addend is that imm16, sign-extended."""
    width = 16

    def formula(self, s: int, a: int, p: int) -> int:
        return s + a

    def read_addend(self, word: int) -> int:
        return sign_extend(((word >> 4) & 0xF000) | (word & 0xFFF), 16)

    def encode(self, word: int, field: int) -> int:
        return (word & 0xFFF0F000) | ((field & 0xF000) << 4) | (field & 0xFFF)


class R_ARM_MOVW_ABS_NC(_MovImm16):
    """MOVW: (S + A) | T, low 16 bits (NC: no overflow check on the half, but
    S + A must still be a 32-bit value)."""
    number, name, truncate = 43, "R_ARM_MOVW_ABS_NC", True


class R_ARM_MOVT_ABS(_MovImm16):
    """MOVT: S + A, high 16 bits ((S + A) >> 16); S + A must be a 32-bit value."""
    number, name, shift, signedness = 44, "R_ARM_MOVT_ABS", 16, "either"


RELOCS: dict[int, Recipe] = table(
    R_ARM_NONE, R_ARM_ABS32, R_ARM_REL32, R_ARM_CALL, R_ARM_JUMP24,
    R_ARM_PREL31, R_ARM_MOVW_ABS_NC, R_ARM_MOVT_ABS,
)
