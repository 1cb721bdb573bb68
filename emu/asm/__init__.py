"""goasm: Go-style assembly files, assembled by Keystone and checked by Capstone.

A file holds TEXT functions (with their frame size, argument size and
NOSPLIT flag, as Go's assembler declares them), labels, instructions in the
architecture's native syntax (Intel on amd64, UAL on ARM), and GLOBL/DATA
declarations.  The linker's work that 6l and 5l did -- the split-stack
prologue, frame allocation, RET expansion, FP references -- happens here.
"""
from .source import DataDecl, Function, Statement, Unit, parse_file, parse_text

__all__ = ["DataDecl", "Function", "Statement", "Unit", "parse_file", "parse_text"]
