"""A stand-in core model for the cycle tests: 1 cycle per instruction,
tiny caches and round penalties, so numbers are easy to reason about."""
from __future__ import annotations

from dataclasses import dataclass

from emu.cycles.pipeline import Config, Op, Pipeline


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

    def ops_of(self, insns) -> tuple[Op, ...]:
        """Each instruction one dispatch slot on a 1-wide core: 1 cycle each
        (``per_insn`` > 1: the first instruction of an idle pipeline still 1)."""
        return tuple(Op(slots=self.per, flags=0, reads=0, addr=0, writes=0, base=0, latency=0) for _ in insns)

    def pipeline(self) -> Pipeline:
        return Pipeline(self.config)

    config = Config(width=1, window=0, nports=1, sync_ports=0, rsp_bit=0)

    def block_cost(self, insns) -> FakeBlockCost:
        per = tuple(self.per for _ in insns)
        return FakeBlockCost(sum(per), per)
