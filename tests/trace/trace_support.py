"""Shared by the trace tests: record a leak demo's trace (a module of its own, so
that tests import it by a name no other test folder's conftest shares)."""
from emu.run import load_program, new_machine
from emu.trace.cli import DEMOS
from emu.trace.record import record


def make_trace(path, arch, variant, fmt="native"):
    mc = new_machine(arch, variant, load_program(str(DEMOS / f"leak_{arch}.s")))
    return record(mc, str(path), fmt, f"leak_{arch}.s")
