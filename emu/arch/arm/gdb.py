"""What gdb's remote protocol needs to know about 32-bit ARM: the target
description's features and registers, in the order of the `g` packet.

Each register is (gdb name, bits, goemu register, gdb type, group).  gdb's
ARM back end needs org.gnu.gdb.arm.core (r0-r12, sp, lr, pc, cpsr).
"""
from __future__ import annotations

GDB_ARCH = "armv7"   # strd, ldrd, movw...: the instructions 5l and the C compiler emit

FEATURES: list[tuple[str, list[tuple[str, int, str | None, str, str]]]] = [
    ("org.gnu.gdb.arm.core",
     [(f"r{i}", 32, f"r{i}", "uint32", "general") for i in range(13)]
     + [("sp", 32, "sp", "data_ptr", "general"), ("lr", 32, "lr", "int", "general"),
        ("pc", 32, "pc", "code_ptr", "general"), ("cpsr", 32, "cpsr", "int", "general")]),
]

# gdb's ARM back end treats watchpoints as "non-steppable": the stub reports
# the hit before the accessing instruction executes, and gdb steps over it
# itself (forwards or backwards) with the watchpoints removed.
NONSTEPPABLE_WATCHPOINTS = True
# Z0/Z1 "kind": 4 = an ARM instruction, 2 = Thumb, 3 = Thumb-2 32-bit.
BREAK_KINDS = (2, 3, 4)
# e_flags of the ELF file goemu writes for gdb's symbols: EABI version 5.
ELF_FLAGS = 0x05000000
# Mapping symbol at the start of each code section: ARM (not Thumb) code.
CODE_MAPPING_SYMBOL = "$a"
