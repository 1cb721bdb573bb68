"""What every architecture module provides, as data and small functions.

Each architecture lives in one folder (emu/arch/amd64, emu/arch/arm): its
registers, memory map, calling conventions, how g and m are reached, the
split-stack prologue its linker inserted, how a frame is unwound, and its
relocation recipes.  The machine, the assembler, the collector and the REPL
read this object and contain no architecture-specific branches of their own.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Region:
    """A named range of emulated memory."""
    name: str
    base: int
    size: int
    perms: str = "rw-"

    @property
    def end(self) -> int:
        return self.base + self.size

    def contains(self, addr: int) -> bool:
        return self.base <= addr < self.end


@dataclass(frozen=True)
class FuncDecl:
    """A TEXT declaration: what the linker needs to build the prologue."""
    name: str
    frame: int          # declared frame size ($frame); -4 on ARM means "no frame, no LR save"
    args: int           # declared argument+result size
    nosplit: bool
    leaf: bool = False  # calls nothing (ARM: a leaf with a zero frame gets no prologue at all)


@dataclass
class Expansion:
    """What the architecture adds around a function body."""
    prologue: list[str]
    epilogue: list[str]        # replaces each RET
    frame_size: int            # bytes the function's own frame occupies below the entry SP
    fp_offset: int             # 0(FP) is SP + fp_offset once the frame is allocated
    fp_register: str           # the register FP references are rewritten to
    prologue_end_index: int    # statements before this index run before the frame exists


@dataclass(frozen=True, eq=False)
class Arch:
    name: str                   # "amd64" or "arm"
    ptrsize: int
    uc_arch: int
    uc_mode: int
    cs_arch: int
    cs_mode: int
    ks_arch: int
    ks_mode: int
    elf_machine: str
    regs: dict[str, int]        # register name -> unicorn id, in display order
    pc: str
    sp: str
    ret: str                    # AX/R0: the register lessstack saves into m->cret
    flags: str
    hypercall_nr: str           # register holding the hypercall number
    hypercall_args: tuple[str, ...]
    regions: dict[str, Region]
    fs_base: int | None         # amd64: TLS base (g at -16, m at -8); None on ARM
    g_loc: tuple[str, object] = ("reg", "")   # ("mem", addr) or ("reg", name)
    m_loc: tuple[str, object] = ("reg", "")
    link_register: str | None = None          # ARM: lr; amd64: None (return PC on the stack)
    unwind: Callable[..., tuple[int, int]] | None = None
    crash_addresses: dict[int, str] = field(default_factory=dict)
    expand: Callable[[FuncDecl, dict[str, int]], Expansion] | None = None
    pad: bytes = b""            # filler between functions (a trap)
    reg_aliases: dict[str, str] = field(default_factory=dict)
    mnemonic_aliases: dict[str, str] = field(default_factory=dict)
    # How far the PC has already moved past the hypercall instruction when
    # Unicorn's hook runs (ARM's interrupt hook sees the PC after the svc;
    # amd64's syscall hook sees the syscall itself).
    hypercall_pc_advance: int = 0
    # The Unicorn instruction id hooked for hypercalls (amd64: syscall); None:
    # the hypercall arrives as an interrupt (ARM's svc), see ``on_interrupt``.
    hypercall_insn: int | None = None
    # on_interrupt(machine, intno): a CPU exception or interrupt (int3, svc,
    # undefined instruction): run the hypercall or raise the machine's error.
    on_interrupt: Callable[..., None] | None = None
    # The register gdb's $fp names (amd64: rbp; ARM: r11).
    frame_pointer: str = ""
    # The register runtime.new & co. keep their frame's SP in while they run C
    # on an aligned SP (asm/<arch>/entries.s).
    c_call_sp: str = ""
    # split_caller(machine, stub, pc, sp, lr) -> (morepc, f's SP, (caller pc, caller SP)):
    # in morestack (or a trampoline) before its switch to g0's stack, the
    # function growing its stack and its caller, from where morestack reads them.
    split_caller: Callable[..., tuple[int, int, tuple[int, int]]] | None = None
    # Image layout, first pass: symbols not placed yet sit this far past the
    # text base, far enough that every reference gets its longest encoding.
    far_placeholder: int = 0x1000000
    # Source mnemonics (lower case, matched whole) that call, and that jump
    # unconditionally: "is this a call?" for the assembler's leaf test, the
    # linker's NOSPLIT stack check and the debugger's next/finish.
    call_mnemonics: str = ""
    jump_mnemonics: str = ""
    # rewrite_fp(text, expansion, fold) -> (text, instructions before it): FP memory
    # operands of a source line rewritten to the frame register (emu/asm/expand.py);
    # ``fp_syntax`` is how the source writes one, for the error message.
    rewrite_fp: Callable[..., tuple[str, list[str]]] | None = None
    fp_syntax: str = ""
    # How Keystone's output is checked against the source (emu/asm/verify.py).
    asm_rules: AsmRules = field(default_factory=lambda: AsmRules())
    # The registers Tenet's trace reader knows, in its order (goemu trace --format tenet).
    tenet_regs: tuple[str, ...] = ()

    def is_call(self, mnemonic: str) -> bool:
        """Whether the instruction ``mnemonic`` (any case) calls."""
        return re.fullmatch(self.call_mnemonics, mnemonic.lower()) is not None

    def is_jump(self, mnemonic: str) -> bool:
        """Whether ``mnemonic`` jumps unconditionally (a tail call when it names a function)."""
        return re.fullmatch(self.jump_mnemonics, mnemonic.lower()) is not None

    @property
    def arch_dir(self) -> Path:
        """This architecture's folder (emu/arch/<name>)."""
        return Path(__file__).resolve().parent / self.name

    def program(self, name: str) -> str:
        """The text of a goasm program shipped for this architecture,
        ``emu/arch/<name>/programs/<name>.s`` (benchmarks and generators
        fill in its ``{placeholders}`` with ``str.format``)."""
        return (self.arch_dir / "programs" / f"{name}.s").read_text()


class AsmRules:
    """How one architecture's Keystone output is compared with its source
    (emu/asm/verify.py): the defaults change nothing."""

    def configure(self, cs) -> None:
        """Set options of the Capstone disassembler used for the comparison."""

    def mnemonic(self, m: str) -> str:
        """A lower-case mnemonic in the spelling the comparison uses (before aliases)."""
        return m

    def stack_op(self, mnem: str, ops: str) -> tuple[str, str]:
        """One spelling for an instruction written two ways (ARM's one-register push/pop)."""
        return mnem, ops

    def addresses(self, toks: list[object]) -> list[object]:
        """Memory operands' tokens in one canonical order."""
        return toks

    def literal(self, ops: str) -> bool:
        """Whether the source operand loads a literal that ``check_literal`` verifies."""
        return False

    def check_literal(self, st, got, code: bytes, base: int, want_m: str, ops: str, mnemonic, tokens) -> None:
        """Raise AssemblyError unless ``got`` loads the literal of ``ops``."""

    def pc_relative(self, want_m: str, got_m: str, got, have: list[object]) -> tuple[str, list[object]]:
        """Capstone's spelling of a PC-relative address taken back to the source's."""
        return got_m, have

    def narrow_immediates(self, got) -> frozenset[tuple[int, int]] | None:
        """(bits, value mod 2**bits) of each immediate narrower than 64 bits;
        None: every number is 32-bit."""
        return None

    def sizes_match(self, ops: str, got_ops: str) -> bool:
        """Whether the operand sizes the source spelled out are the ones assembled."""
        return True
