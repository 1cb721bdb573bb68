"""Errors a user sees: where an assembly error is, and what a crash looks like.

programs/badinsn_<arch>.s and badsym_<arch>.s carry one line marked `// BAD`;
the AssemblyError must name that file and line.  programs/fault_<arch>.s
dereferences nil two segments deep (main -> outer -> inner, 4096-byte frames):
the MemoryFault must carry the faulting pc, symbol+offset, instruction text,
registers, and a backtrace that crosses both segment boundaries.
"""
from __future__ import annotations

import pytest
from test_runtime_support import ARCHES, call_sites, machine, marked_line, program_path, run

from emu.errors import AssemblyError, MemoryFault
from emu.run import load_program, new_machine


@pytest.mark.parametrize("kind", ["badinsn", "badsym"])
@pytest.mark.parametrize("arch", ARCHES)
def test_assembly_error_names_file_and_line(arch, kind):
    path = program_path(kind, arch)
    line = marked_line(path, "BAD")
    with pytest.raises(AssemblyError) as ei:
        new_machine(arch, "buggy", load_program(path))
    err = ei.value
    assert f"{path}:{line}" in str(err)
    assert (err.file, err.line) == (str(path), line)
    bad_word = path.read_text().splitlines()[line - 1].split()[1].rstrip(",")
    assert bad_word in str(err)                    # the offending source text is shown


@pytest.mark.parametrize("arch", ARCHES)
def test_nil_dereference_two_segments_deep(arch):
    mc = machine(arch, "buggy", "fault")
    path = program_path("fault", arch)
    line = marked_line(path, "FAULT")
    inner = mc.image.functions["inner"]
    [(fault_pc, _f, _l, _o, fault_text)] = [ln for ln in inner.lines if ln[2] == line]
    [(_c, ret_outer)] = call_sites(mc, "main", "outer")
    [(_c, ret_inner)] = call_sites(mc, "outer", "inner")
    with pytest.raises(MemoryFault) as ei:
        run(mc)
    err = ei.value
    assert err.pc == fault_pc
    assert err.symbol == f"inner+{fault_pc - inner.addr:#x}"
    assert err.insn == fault_text
    assert err.address == 0 and "nil dereference" in str(err)
    assert f"{fault_pc:#x}" in str(err) and err.symbol in str(err)
    regs = err.registers
    assert regs[mc.arch.pc] == fault_pc
    assert regs["rax" if arch == "amd64" else "r0"] == 0
    assert regs[mc.arch.sp] == mc.sp
    # The backtrace: inner on the third segment, outer on the second, main on the first.
    bt = err.backtrace
    names = [f.symbol.split("+")[0] for f in bt]
    assert names[:3] == ["inner", "outer", "main"]
    inner_f, outer_f, main_f = bt[:3]
    assert (inner_f.segment, outer_f.segment, main_f.segment) == (3, 2, 1)
    assert inner_f.pc == fault_pc and inner_f.sp == regs[mc.arch.sp]
    # Each caller frame resumes where the call into the next segment returns.
    assert outer_f.pc == ret_inner and main_f.pc == ret_outer
    assert "goexit" in names
