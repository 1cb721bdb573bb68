"""What every architecture module provides, as data and small functions.

Each architecture lives in one folder (emu/arch/amd64, emu/arch/arm): its
registers, memory map, calling conventions, how g and m are reached, the
split-stack prologue its linker inserted, how a frame is unwound, and its
relocation recipes.  The machine, the assembler, the collector and the REPL
read this object and contain no architecture-specific branches of their own.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field


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
    nop: bytes = b""
    pad: bytes = b""            # filler between functions (a trap)
    literal_pool: bool = False  # ARM: Keystone appends a literal pool after the code
    reg_aliases: dict[str, str] = field(default_factory=dict)
    mnemonic_aliases: dict[str, str] = field(default_factory=dict)
    # How far the PC has already moved past the hypercall instruction when
    # Unicorn's hook runs (ARM's interrupt hook sees the PC after the svc;
    # amd64's syscall hook sees the syscall itself).
    hypercall_pc_advance: int = 0
    # The registers Tenet's trace reader knows, in its order (goemu trace --format tenet).
    tenet_regs: tuple[str, ...] = ()
