"""The collector's consistency checks, as mgc0.c's: a Stktop chain whose
bounds do not hold (sp below the segment's bottom, or the Stktop below sp)
throws "scanstack" after printing "scanstack inconsistent: ..."; a goroutine
in an unexpected state throws "mark - bad status".  Each is a RuntimeThrow with
the usual fault report, at runtime.gc's hypercall, and nothing is swept."""
from __future__ import annotations

import re

import pytest

from emu.errors import RuntimeThrow
from emu.run import load_program, new_machine

# the program's own runtime.gc calls only (GOGC=off; tests/gc/conftest.py)
pytestmark = pytest.mark.usefixtures("gogc_off")

ARCHES = ("amd64", "arm")

# main -> deep (4096-byte frame: a new segment) -> deeper (another) -> runtime.gc
PROGRAM = {
    "amd64": """
TEXT main, $64-0
	call deep
	RET
TEXT deep, $4096-0
	call deeper
	RET
TEXT deeper, $4096-0
	mov qword ptr [rsp], 48
	call runtime.new
	call runtime.gc
	RET
""",
    "arm": """
TEXT main, $64-0
	bl deep
	RET
TEXT deep, $4096-0
	bl deeper
	RET
TEXT deeper, $4096-0
	mov r0, #48
	str r0, [sp, #4]
	bl runtime.new
	bl runtime.gc
	RET
""",
}


def run_corrupted(arch: str, corrupt):
    """Run PROGRAM; corrupt(mc, stktops) runs just before the collection."""
    mc = new_machine(arch, "fixed", load_program(None, text=PROGRAM[arch], name="checks.s"))
    inner = mc.gc_handler
    seen = {}

    def handler(m, sp):
        tops = []
        top = m.field("G", m.g, "stackbase")
        while top:
            tops.append(top)
            top = m.field("Stktop", top, "stackbase")
        seen["tops"] = tops
        seen["heap"] = m.read(m.image.symbols["mheap"], m.layouts["MHeap"].size)
        seen["pc"] = m.pc
        corrupt(m, tops)
        return inner(m, sp)
    mc.gc_handler = handler
    with pytest.raises(RuntimeThrow) as ei:
        mc.run()
    return mc, ei.value, seen


def write_word(mc, addr: int, value: int) -> None:
    mc.write(addr, value.to_bytes(mc.arch.ptrsize, "little"))


def check_report(mc, err, seen, msg: str):
    printed = mc.output[-1] if mc.output else None
    assert err.reason == f"runtime throw: {msg}" + (f" (after printing: {printed})" if printed else "")
    # the usual fault report: where, registers, a backtrace through the segments
    sym = mc.image.symbolize(err.pc) or ""
    assert sym.startswith("runtime.gc"), sym
    assert err.pc == seen["pc"] - (mc.arch.hypercall_pc_advance or 0)
    assert err.registers and err.backtrace
    assert any(f.symbol.startswith("deeper") for f in err.backtrace)
    # nothing was swept, no report was made
    assert mc.read(mc.image.symbols["mheap"], mc.layouts["MHeap"].size) == seen["heap"]
    assert not mc.gc_reports


@pytest.mark.parametrize("arch", ARCHES)
def test_scanstack_sp_below_segment(arch):
    """The newest Stktop's saved sp (where the older segment resumes) is moved
    below that segment's bottom: segment #1 (mgc0.c counts from the newest, 0)."""
    def corrupt(mc, tops):
        guard = mc.field("Stktop", tops[0], "stackguard")
        bottom = guard - mc.layouts.constants["StackGuard"]
        write_word(mc, tops[0] + mc.layouts["Stktop"].offset("gobuf.sp"), bottom - 64)
        corrupt.bottom = bottom
    mc, err, seen = run_corrupted(arch, corrupt)
    assert len(seen["tops"]) >= 3
    check_report(mc, err, seen, "scanstack")
    line = mc.output[-1]
    m = re.fullmatch(r"scanstack inconsistent: g1#1 sp=(0x[0-9a-f]+) not in \[(0x[0-9a-f]+),(0x[0-9a-f]+)\]",
                     line)
    assert m, line
    assert int(m.group(1), 16) == corrupt.bottom - 64
    assert int(m.group(2), 16) == corrupt.bottom
    assert int(m.group(3), 16) == seen["tops"][1]


@pytest.mark.parametrize("arch", ARCHES)
def test_scanstack_stktop_below_sp(arch):
    """The chain's next Stktop (stackbase link) points below the sp saved for that
    segment: stk < sp."""
    def corrupt(mc, tops):
        sp1 = mc.field("Stktop", tops[0], "gobuf.sp")
        write_word(mc, tops[0] + mc.layouts["Stktop"].offset("stackbase"), sp1 - 256)
        corrupt.sp1 = sp1
    mc, err, seen = run_corrupted(arch, corrupt)
    check_report(mc, err, seen, "scanstack")
    m = re.fullmatch(r"scanstack inconsistent: g1#1 sp=(0x[0-9a-f]+) not in \[0x[0-9a-f]+,(0x[0-9a-f]+)\]",
                     mc.output[-1])
    assert m, mc.output[-1]
    assert int(m.group(1), 16) == corrupt.sp1
    assert int(m.group(2), 16) == corrupt.sp1 - 256


@pytest.mark.parametrize("arch", ARCHES)
def test_mark_bad_status(arch):
    """A goroutine on allg in a state mark() did not expect (Gmoribund)."""
    def corrupt(mc, tops):
        C = mc.layouts.constants
        status = mc.layouts["G"].offset("status")
        size = next(f.size for f in mc.layouts["G"].leaves if f.path == "status")
        mc.write(mc.g + status, C["Gmoribund"].to_bytes(size, "little"))
    mc, err, seen = run_corrupted(arch, corrupt)
    check_report(mc, err, seen, "mark - bad status")
    assert mc.output[-1] == f"unexpected G.status {mc.layouts.constants['Gmoribund']}"


@pytest.mark.parametrize("arch", ARCHES)
def test_consistent_chain_collects(arch):
    """Control: the same program with the chain untouched collects normally."""
    mc = new_machine(arch, "fixed", load_program(None, text=PROGRAM[arch], name="checks.s"))
    mc.run()
    (rep,) = mc.gc_reports
    assert rep.roots_scanned >= 3
