"""What the cycle model needs to know about one instruction, independent of
the architecture: produced by ``emu.arch.<arch>.timing.classify`` from a
Capstone instruction (detail on), consumed by ``emu.cycles.model``."""
from __future__ import annotations

from dataclasses import dataclass

# Control-flow kinds that end a basic block.
CONTROL_KINDS = ("jump", "cond", "indirect", "call", "ret", "trap")


@dataclass(frozen=True)
class InsnInfo:
    addr: int
    size: int
    text: str                       # "mnemonic op_str" as Capstone prints it
    key: str                        # looked up in the core's [mnemonics] table
    reads: frozenset[str]           # registers the operation reads ("flags" for the flags)
    addr_reads: frozenset[str]      # registers read to form a memory address
    writes: frozenset[str]          # registers the operation (or the load) writes
    base_writes: frozenset[str] = frozenset()   # address write-back (ready after the AGU)
    load: bool = False
    store: bool = False
    nregs: int = 1                  # registers moved by a load/store (LDM/STM/LDRD/PUSH/POP)
    load_kind: str = "word"         # "word", or a kind the core's [memory] load_latency_<kind> names
    agu: int = 0                    # ARM: cycles on the core's in-order address unit ([memory] agu_ports; 0: none)
    fast_src: bool = False          # ARM: a load whose result may be fast-forwarded
    fast_dst: bool = False          # ARM: a data-processing op that can take a fast-forwarded load
    has_imm: bool = False           # an immediate operand (amd64 macro-fusion rule)
    stack_engine: bool = False      # amd64 PUSH/POP/CALL/RET: RSP updated by the front end's stack engine
    control: str | None = None      # one of CONTROL_KINDS, or None
    target: int | None = None       # direct branch/call target
