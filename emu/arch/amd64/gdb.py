"""What gdb's remote protocol needs to know about amd64: the target
description's features and registers, in the order of the `g` packet.

Each register is (gdb name, bits, goemu register or None, gdb type, group).
None: a register goemu does not model (segment selectors, x87); it reads as
zero and writes to it are ignored.  gdb's i386 back end requires the whole
org.gnu.gdb.i386.core feature (x87 included) and takes fs_base/gs_base from
org.gnu.gdb.i386.segments.
"""
from __future__ import annotations

GDB_ARCH = "i386:x86-64"

_GPR = ["rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp", "rsp"] + [f"r{i}" for i in range(8, 16)]
_TYPES = {"rbp": "data_ptr", "rsp": "data_ptr"}

FEATURES: list[tuple[str, list[tuple[str, int, str | None, str, str]]]] = [
    ("org.gnu.gdb.i386.core",
     [(r, 64, r, _TYPES.get(r, "int64"), "general") for r in _GPR]
     + [("rip", 64, "rip", "code_ptr", "general"), ("eflags", 32, "rflags", "int32", "general")]
     + [(s, 32, None, "int32", "general") for s in ("cs", "ss", "ds", "es", "fs", "gs")]
     + [(f"st{i}", 80, None, "i387_ext", "float") for i in range(8)]
     + [(f, 32, None, "int", "float")
        for f in ("fctrl", "fstat", "ftag", "fiseg", "fioff", "foseg", "fooff", "fop")]),
    ("org.gnu.gdb.i386.segments",
     [("fs_base", 64, "fs_base", "int", "general"), ("gs_base", 64, None, "int", "general")]),
]

# x86 watchpoints trigger after the accessing instruction has executed.
NONSTEPPABLE_WATCHPOINTS = False
# Z0/Z1 "kind": the breakpoint instruction's length (int3).
BREAK_KINDS = (1,)
# e_flags of the ELF file goemu writes for gdb's symbols.
ELF_FLAGS = 0
# Mapping symbols marking code in that file (ARM's $a); none on x86.
CODE_MAPPING_SYMBOL = None
