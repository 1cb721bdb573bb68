"""Batch sessions: break at lessstack, watch AX/R0 flow into m->cret, and see
oldstack clear it on `fixed` and keep it on `buggy`."""
import pytest
from repl_helpers import PAST_STORE, RET, values


@pytest.mark.parametrize("arch", ["amd64", "arm"])
@pytest.mark.parametrize("variant", ["buggy", "fixed"])
def test_repl_unsplit_cret(run_batch, arch, variant):
    script = f"""
b lessstack
c
p ${RET[arch]}
si {PAST_STORE[arch]}
p m.cret
b oldstack
c
p m.cret
finish
p m.cret
bt
stack
"""
    out = run_batch(arch, variant, script)
    assert "error:" not in out, out
    assert "Breakpoint 1, " in out and "<lessstack>" in out
    ax, cret_after_store, cret_in_oldstack, cret_resumed = values(out)
    assert ax != 0
    assert cret_after_store == ax          # lessstack stored AX/R0 in m->cret
    assert cret_in_oldstack == ax
    assert "Breakpoint 2, " in out and "<oldstack>" in out
    assert "Run till exit" in out
    if variant == "fixed":
        assert cret_resumed == 0           # oldstack cleared m->cret
    else:
        assert cret_resumed == ax          # the leak: the stale pointer stays
    assert "segment 1" in out and "Stktop @" in out and "first segment" in out


@pytest.mark.parametrize("arch", ["amd64", "arm"])
def test_repl_until_unsplit_and_gc_why(run_batch, arch):
    out = run_batch(arch, "buggy", f"""
until-unsplit
p ${RET[arch]}
until-unsplit
until-split
gc
""")
    assert "error:" not in out, out
    obj = values(out)[0]
    assert out.count("<lessstack>") >= 2
    assert "program exited with status 0" in out
    # the buggy runtime keeps the object alive through m0.cret
    out2 = run_batch(arch, "buggy", f"c\nwhy {obj:#x}\n")
    assert "error:" not in out2, out2
    assert "cret" in out2.split("why")[1]
    out3 = run_batch(arch, "fixed", f"c\nwhy {obj:#x}\n")
    assert "freed" in out3.split("why")[1]


def test_repl_errors_do_not_end_the_session(run_batch):
    out = run_batch("amd64", "buggy", """
frobnicate
p nosuchsym
b nosuchsym
x/4zz 0
delete 7
rsi 1
info breakpoints
si 3
p $rip
""")
    lines = [l for l in out.splitlines() if l.startswith("error:")]
    assert len(lines) == 6, out
    assert "Traceback" not in out
    assert "No breakpoints" in out
    assert "[insn 3]" in out


def test_repl_looking_commands(run_batch):
    out = run_batch("arm", "buggy", """
b leak+8
info breakpoints
c
p g.stackbase
p *stktop
p m
x/4xw $sp
x/2i $pc
x/1dg m0
disas
info registers
context
tbreak runtime.new
c
info breakpoints
""")
    assert "error:" not in out, out
    assert "<leak+0x8>" in out
    assert "(Stktop *)" in out and "gobuf.pc" in out
    assert "(M *)" in out and "cret" in out
    assert "Dump of assembler code for function leak" in out
    assert "── code" in out and "── g / m" in out
    assert "Temporary breakpoint 2" in out
    # the temporary breakpoint is gone once hit
    assert out.rstrip().splitlines()[-1].startswith("1 ")


def test_repl_error_paths_one_line_each(run_batch, tmp_path):
    out = run_batch("amd64", "buggy", f"""
b nosuchsym
x/4gx 0
p m.nosuchfield
rsi 999999999
rni
rc
watch m.nosuch
awatch
source {tmp_path / "missing.gdb"}
si 2
p $pc
""")
    assert "Traceback" not in out
    errors = [l for l in out.splitlines() if l.startswith("error:")]
    assert errors == [
        'error: No symbol "nosuchsym" in current context.',
        "error: Cannot access memory at address 0x0",
        "error: M has no field 'nosuchfield'",
        "error: no more reverse-execution history",
        "error: no more reverse-execution history",
        "error: no more reverse-execution history",
        "error: M has no field 'nosuch'",
        "error: argument required (expression to watch)",
        f"error: cannot read {tmp_path / 'missing.gdb'}: No such file or directory",
    ], out
    # every failing command printed exactly one line, and the session went on
    lines = out.splitlines()
    for i, l in enumerate(lines):
        if l.startswith("error:"):
            assert lines[i - 1].startswith("(goemu) ") and (i + 1 == len(lines) or lines[i + 1].startswith("(goemu) "))
    assert "[insn 2]" in out and out.rstrip().splitlines()[-1].startswith("$ = 0x")


@pytest.mark.parametrize("flag", ["--batch", "-x"])
def test_repl_batch_file_missing_is_a_usage_error(tmp_path, flag):
    import subprocess
    import sys
    from pathlib import Path
    root = Path(__file__).resolve().parents[2]
    missing = tmp_path / "nope.gdb"
    p = subprocess.run([sys.executable, "-m", "emu.cli", "repl", "--arch", "arm", flag, str(missing)],
                       cwd=root, capture_output=True, text=True, timeout=120, check=False)
    assert p.returncode == 64
    assert p.stdout == ""
    want = f"goemu repl: error: cannot read batch file {missing}: No such file or directory"
    assert p.stderr.strip().splitlines() == [want]
