"""Running a program end to end, returning data (the CLI presents it)."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .asm.source import Unit, parse_file, parse_text
from .image import build_image
from .machine import DEFAULT_BUDGET, Event, Machine


@dataclass
class RunResult:
    arch: str
    variant: str
    program: str
    instructions: int
    splits: int
    unsplits: int
    segments_allocated: int
    segments_freed: int
    exit_status: int | None
    output: list[str]
    cret: int                       # m0.cret when the program exited
    events: Sequence[Event] = field(default_factory=list)   # the run's EventLog (emu/eventlog.py)
    gcs: list = field(default_factory=list)
    cycles: object | None = None    # emu.cycles.account.CycleResult when run with cycles=True

    def to_json(self) -> dict:
        out = {
            "arch": self.arch, "variant": self.variant, "program": self.program,
            "instructions": self.instructions, "splits": self.splits, "unsplits": self.unsplits,
            "segments_allocated": self.segments_allocated, "segments_freed": self.segments_freed,
            "exit_status": self.exit_status, "output": self.output, "m_cret": self.cret,
            "gcs": [g.to_json() for g in self.gcs],
        }
        if self.cycles is not None:
            out["cycles"] = self.cycles.to_json()
        return out


def load_program(path: str | Path | None, text: str | None = None, name: str = "<program>") -> Unit | None:
    if text is not None:
        return parse_text(text, name)
    if path is None:
        return None
    return parse_file(path)


def new_machine(arch: str, variant: str, program: Unit | None, budget: int = DEFAULT_BUDGET,
                collector: bool = True) -> Machine:
    """A booted machine with the collector attached (runtime.gc runs it)."""
    mc = Machine(build_image(arch, variant, program), budget)
    if collector:
        from .gc import attach
        attach(mc)
    return mc


def finish(mc: Machine, program: str) -> RunResult:
    stats = mc.struct("MStats", mc.image.symbols["mstats"])
    from .gc import reports_of
    return RunResult(
        arch=mc.arch.name, variant=mc.image.variant, program=program, instructions=mc.icount,
        splits=mc.events.count("split"), unsplits=mc.events.count("unsplit"),
        segments_allocated=stats["nstackalloc"], segments_freed=stats["nstackfree"],
        exit_status=mc.exit_status, output=list(mc.output), cret=mc.field("M", mc.m0, "cret"),
        events=mc.events.copy(), gcs=reports_of(mc))    # an EventLog: no Event object per event


def run_program(arch: str, variant: str, program: Unit | None, budget: int = DEFAULT_BUDGET,
                name: str = "<program>", cycles: bool = False, cache_model: bool = False,
                core=None) -> RunResult:
    """Run to exit.  ``cycles``: account cycles with the core model (``core``,
    default the architecture's own); ``cache_model`` also sends every load
    and store through the data caches (implies ``cycles``)."""
    mc = new_machine(arch, variant, program, budget)
    account = None
    if cycles or cache_model:
        from .cycles.account import CycleAccount
        account = CycleAccount(mc, core, caches=cache_model).attach()
    mc.run()
    res = finish(mc, name)
    if account is not None:
        res.cycles = account.result()
    return res
