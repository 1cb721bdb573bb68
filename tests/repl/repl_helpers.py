"""Shared helpers of the REPL tests."""
import io
import re
from pathlib import Path

from emu.repl import run_repl

RET = {"amd64": "rax", "arm": "r0"}
# instructions from lessstack's entry to just past its store of AX/R0 into m->cret
PAST_STORE = {"amd64": 2, "arm": 1}
STORE = {"amd64": "mov qword ptr [rbx + 0x38], rax", "arm": "str r0, [r9, #0x20]"}


def batch(tmp_path: Path, arch: str, variant: str, script: str, program: str | None = None) -> str:
    f = tmp_path / f"script-{arch}-{variant}.gdb"
    f.write_text(script)
    out = io.StringIO()
    rc = run_repl(arch, variant, program, batch_file=str(f), out=out)
    text = out.getvalue()
    failed = any(l.startswith(("error:", "internal error:")) for l in text.splitlines())
    assert rc == (1 if failed else 0), (rc, text)      # batch mode: 1 when a command failed
    return text


def values(out: str) -> list[int]:
    """Every `$ = 0x...` printed, in order."""
    return [int(v, 16) for v in re.findall(r"^\$ = (0x[0-9a-f]+)", out, re.MULTILINE)]


