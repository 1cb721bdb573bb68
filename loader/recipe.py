"""The shared machinery behind the per-architecture relocation tables.

Each relocation type is one small :class:`Recipe` subclass (in the style of
angr/cle): the ABI formula in :meth:`Recipe.formula` and in the docstring, the
width and signedness of the field it fills, and, for instruction-embedded
fields, how to read an implicit addend and how to splice a value into the
instruction.  :meth:`Recipe.apply` does the rest the same way for every type,
so that range checking can never be forgotten by one of them: a value that
does not fit raises :class:`~emu.errors.RelocationOverflow`, it is never
wrapped.

The tables themselves live in ``emu/arch/<arch>/relocs.py`` as
``RELOCS: dict[int, Recipe]``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Literal

from emu.errors import LoaderError, RelocationOverflow

Signedness = Literal["signed", "unsigned", "either"]
# What an undefined weak reference means to a relocation type: address 0,
# the place itself (so S - P + A = A), or the next instruction (branches).
WeakTarget = Literal["zero", "place", "next"]


@dataclass(frozen=True)
class Site:
    """Where a relocation is applied: used for P and for error messages."""
    obj: str
    section: str
    offset: int
    address: int


def fits(value: int, width: int, signedness: Signedness) -> bool:
    """Whether ``value`` is representable in ``width`` bits.

    ``either`` accepts anything representable as signed *or* unsigned (the
    rule for data words whose meaning depends on the reader, like lld's
    checkIntUInt): e.g. 32-bit: -2**31 .. 2**32-1."""
    lo_signed, hi_signed = -(1 << (width - 1)), (1 << (width - 1)) - 1
    hi_unsigned = (1 << width) - 1
    if signedness == "signed":
        return lo_signed <= value <= hi_signed
    if signedness == "unsigned":
        return 0 <= value <= hi_unsigned
    return lo_signed <= value <= hi_unsigned


def sign_extend(value: int, bits: int) -> int:
    """Interpret the low ``bits`` bits of ``value`` as a two's-complement number."""
    value &= (1 << bits) - 1
    return value - (1 << bits) if value >> (bits - 1) else value


class Recipe:
    """One relocation type.  Subclasses set the class attributes and override
    :meth:`formula`; instruction fields also override :meth:`read_addend` and
    :meth:`encode`.

    The stored field is ``formula(S, A, P) >> shift``.  ``exact`` says the
    shifted-out bits must be zero (branch targets).  ``truncate`` marks the
    ``*_NC`` types, whose ABI definition keeps only the low ``width`` bits: the
    whole value must still fit the ``size``-byte container, so nothing is
    silently lost beyond what the ABI asks for.  ``weak_target`` gives S
    for a weak reference nothing defines (AAELF32: branches go to the next
    instruction, PC-relative values resolve to the place; otherwise 0)."""

    number: ClassVar[int]
    name: ClassVar[str]
    size: ClassVar[int] = 4
    width: ClassVar[int] = 32
    signedness: ClassVar[Signedness] = "either"
    shift: ClassVar[int] = 0
    exact: ClassVar[bool] = False
    truncate: ClassVar[bool] = False
    weak_target: ClassVar[WeakTarget] = "zero"

    def formula(self, s: int, a: int, p: int) -> int:
        """The ABI formula before any shift: S symbol, A addend, P place."""
        raise NotImplementedError

    def read_addend(self, word: int) -> int:
        """The implicit (REL) addend held in the little-endian container ``word``."""
        return sign_extend(word, self.width)

    def encode(self, word: int, field: int) -> int:
        """``word`` with ``field`` (already masked to ``width`` bits) spliced in."""
        mask = (1 << self.width) - 1
        return (word & ~mask) | field

    def apply(self, data: bytearray, site: Site, s: int, addend: int | None,
              undefined_weak: bool = False) -> None:
        """Patch ``data`` (the placed section) at ``site.offset``.

        ``addend`` is None for REL objects: it is then decoded from the bytes.
        ``undefined_weak`` says S belongs to a weak reference nothing defines;
        S is then chosen by the ``weak_target`` class attribute."""
        off = site.offset
        if off < 0 or off + self.size > len(data):
            raise LoaderError(f"{self.name} at 0x{off:x} runs past the end of the section "
                              f"(0x{len(data):x} bytes)", obj=site.obj, section=site.section,
                              offset=off, reloc_type=self.name)
        word = int.from_bytes(data[off:off + self.size], "little")
        a = self.read_addend(word) if addend is None else addend
        if undefined_weak:
            s = {"zero": 0, "place": site.address, "next": site.address + self.size}[self.weak_target]
        field = self._field(self.formula(s, a, site.address), site)
        data[off:off + self.size] = self.encode(word, field).to_bytes(self.size, "little")

    def _field(self, value: int, site: Site) -> int:
        """Check ``value`` and reduce it to the bits stored in the field."""
        if self.exact and value & ((1 << self.shift) - 1):
            raise LoaderError(f"{self.name}: value 0x{value:x} is not a multiple of "
                              f"{1 << self.shift}", obj=site.obj, section=site.section,
                              offset=site.offset, reloc_type=self.name)
        if self.truncate:
            self._check(value, self.size * 8, "either", site)
        shifted = value >> self.shift
        if not self.truncate:
            self._check(shifted, self.width, self.signedness, site)
        return shifted & ((1 << self.width) - 1)

    def _check(self, value: int, width: int, signedness: Signedness, site: Site) -> None:
        """Raise RelocationOverflow unless ``value`` fits."""
        if fits(value, width, signedness):
            return
        shown = f"-0x{-value:x}" if value < 0 else f"0x{value:x}"
        err = RelocationOverflow(
            f"{self.name}: value {shown} does not fit {signedness} {width} bits",
            obj=site.obj, section=site.section, offset=site.offset, reloc_type=self.name)
        err.value, err.width = value, width  # type: ignore[attr-defined]
        raise err

    def __repr__(self) -> str:
        return f"<{self.name} ({self.number})>"


def table(*recipes: type[Recipe]) -> dict[int, Recipe]:
    """Build a RELOCS table keyed by relocation number (duplicates are a bug)."""
    out: dict[int, Recipe] = {}
    for cls in recipes:
        assert cls.number not in out, f"duplicate relocation number {cls.number}"
        out[cls.number] = cls()
    return out
