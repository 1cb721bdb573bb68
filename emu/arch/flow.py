"""Control-flow facts of one instruction, shared by the architectures.

Each architecture's ``flow.py`` maps a Capstone instruction (detail on) to a
``Flow``: what kind of transfer it is, its static target when the
instruction names one, and where execution continues if it is not taken.
``flow_of(arch_name)`` returns that architecture's classifier.
"""
from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass

KINDS = ("none", "cond", "jump", "call", "ret", "indirect_jump", "indirect_call")


@dataclass(frozen=True)
class Flow:
    kind: str                  # one of KINDS; a conditionally executed transfer is "cond"
    target: int | None         # static target (direct transfers), else None
    fallthrough: int           # the next instruction's address
    taken_kind: str = ""       # for "cond": what the transfer is when taken (jump, call, ret, ...)


# The cycle model's coarser view (emu.cycles.insn.CONTROL_KINDS, traps aside):
# how an instruction ends a basic block.  A conditional transfer is "cond" when
# it would jump, and keeps its kind when it calls or returns.
_CONTROL = {"none": None, "jump": "jump", "indirect_jump": "indirect", "call": "call",
            "indirect_call": "call", "ret": "ret"}
_COND_CONTROL = {"jump": "cond", "indirect_jump": "cond", "call": "call", "indirect_call": "call",
                 "ret": "ret"}


def control_kind(flow: Flow) -> str | None:
    """The block-ending kind of ``flow`` (None: not a transfer)."""
    if flow.kind == "cond":
        return _COND_CONTROL[flow.taken_kind]
    return _CONTROL[flow.kind]


def flow_of(arch_name: str) -> Callable[[object], Flow]:
    """The classifier of one architecture (``emu/arch/<arch>/flow.py``)."""
    return importlib.import_module(f"emu.arch.{arch_name}.flow").classify


def align_bits(arch_name: str) -> int:
    """Low address bits that are always zero in instruction addresses
    (predictor tables index with the bits above them)."""
    return importlib.import_module(f"emu.arch.{arch_name}.flow").ALIGN_BITS
