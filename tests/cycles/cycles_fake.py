"""A stand-in core model for the cycle tests: 1 cycle per instruction,
tiny caches and round penalties, so numbers are easy to reason about."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FakeBlockCost:
    total: int
    per_insn: tuple[int, ...]


class FakeCore:
    name = "fake"

    def __init__(self, per_insn: int = 1, mispredict_penalty: int = 10, ras_entries: int = 8,
                 btb_entries: int = 64, bht_entries: int = 256):
        self.per = per_insn
        self.branch = {"mispredict_penalty": mispredict_penalty, "ras_entries": ras_entries,
                       "btb_entries": btb_entries, "bht_entries": bht_entries}
        self.caches = {"line": 64, "memory_latency": 100,
                       "l1i": {"size": 4096, "ways": 2, "latency": 1},
                       "l1d": {"size": 4096, "ways": 2, "latency": 2},
                       "l2": {"size": 32768, "ways": 4, "latency": 10}}

    def block_cost(self, insns) -> FakeBlockCost:
        per = tuple(self.per for _ in insns)
        return FakeBlockCost(sum(per), per)
