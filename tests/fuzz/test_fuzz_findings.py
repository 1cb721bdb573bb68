"""What the fuzzers found, kept as regression tests.

Fixed here (emu/asm, the trace reader): an empty NOSPLIT function reached
Keystone as no text and came back as "cannot assemble: None" without a file
(test_empty_function_is_refused_with_its_line).

Fixed in the debugger: reading unmapped memory while evaluating or printing
let Unicorn's UcError escape and the REPL exit 70; it is now one error line
("Cannot access memory at address ...") and the session goes on (a batch
with a failed command exits 1)."""
from __future__ import annotations

import io

import pytest

from emu.arch import get_arch
from emu.asm.expand import expand_function
from emu.asm.source import parse_text
from emu.errors import AssemblyError


@pytest.mark.parametrize("arch", ["amd64", "arm"])
def test_empty_function_is_refused_with_its_line(arch):
    unit = parse_text("// x\nTEXT A, NOSPLIT, $0\n", "e.s")
    with pytest.raises(AssemblyError) as ei:
        expand_function(unit.functions[0], get_arch(arch), {}, {})
    assert (ei.value.file, ei.value.line) == ("e.s", 2) and "no instructions" in str(ei.value)


@pytest.mark.parametrize("cmd", ["p *0", "p *(Stktop*)0", "p m.curg.sched.pc"])
def test_repl_print_of_unmapped_memory_is_an_error_line(cmd, tmp_path):
    from emu.repl import run_repl
    f = tmp_path / "cmds"
    f.write_text(cmd + "\np 1\n")
    out = io.StringIO()
    rc = run_repl("amd64", "buggy", None, str(f), out=out)
    text = out.getvalue()
    from emu.repl import BATCH_FAILED
    assert rc == BATCH_FAILED and "Cannot access memory at address" in text and "(goemu) p 1" in text
