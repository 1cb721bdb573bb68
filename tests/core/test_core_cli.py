"""The CLI end to end: JSON schema, the demo table, errors without tracebacks."""
import json
import subprocess
import sys

import pytest

from emu.cli import main

ARM_PROG = """\
// sum of 1..n over split stacks, from the README's format
TEXT add3, $4096-16
	ldr r0, [FP]
	ldr r1, [FP, #4]
	add r0, r0, r1
	ldr r1, [FP, #8]
	add r0, r0, r1
	str r0, [FP, #12]
	RET

TEXT main, $32-0
	mov r0, #1
	str r0, [sp, #4]
	mov r0, #2
	str r0, [sp, #8]
	mov r0, #39
	str r0, [sp, #12]
	bl add3
	ldr r0, [sp, #16]
	str r0, [sp, #4]
	bl runtime.printint
	RET
"""


def test_run_json_schema(tmp_path, capsys):
    p = tmp_path / "prog.s"
    p.write_text(ARM_PROG)
    assert main(["run", str(p), "--arch", "arm", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    for key in ("arch", "variant", "instructions", "splits", "unsplits", "exit_status", "output", "gcs"):
        assert key in out
    assert out["arch"] == "arm" and out["output"] == ["42"] and out["exit_status"] == 0
    assert out["splits"] == out["unsplits"] >= 1


def test_demo_table_shows_cret_root(capsys):
    assert main(["run", "--arch", "amd64"]) == 0
    text = capsys.readouterr().out
    buggy = [line for line in text.splitlines() if line.startswith("amd64  buggy")]
    fixed = [line for line in text.splitlines() if line.startswith("amd64  fixed")]
    assert len(buggy) == 3 and all("m0.cret" in line for line in buggy)
    assert len(fixed) == 3 and not any("m0." in line for line in fixed)


def test_demo_json_gcs(capsys):
    assert main(["run", "--arch", "arm", "--variant", "buggy", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    leak = next(d for d in data["demos"] if d["demo"] == "leak")
    retained = leak["gcs"][-1]["retained"]     # the program's runtime.gc (the first: its first allocation)
    assert any(o["root"] == "m0.cret" and o["size"] == 48 for o in retained)


@pytest.mark.parametrize("text,needle", [
    ("TEXT main, $0-0\n\tbogus rax, 1\n\tRET\n", "prog.s:2"),
    ("TEXT main, $0\n\tmov rax, $nowhere\n\tRET\n", "prog.s:2"),
    ("\tmov rax, 1\n", "prog.s:1"),
])
def test_bad_program_is_a_clean_error(tmp_path, text, needle):
    p = tmp_path / "prog.s"
    p.write_text(text)
    r = subprocess.run([sys.executable, "-m", "emu.cli", "run", str(p)], capture_output=True, text=True)
    assert r.returncode != 0
    assert needle in r.stderr and "Traceback" not in r.stderr


def test_fault_reports_pc_symbol_and_backtrace(tmp_path):
    p = tmp_path / "prog.s"
    p.write_text("TEXT deep, $4096-0\n\txor eax, eax\n\tmov rax, qword ptr [rax]\n\tRET\n"
                 "TEXT main, $16-0\n\tcall deep\n\tRET\n")
    r = subprocess.run([sys.executable, "-m", "emu.cli", "run", str(p)], capture_output=True, text=True)
    assert r.returncode == 2, r.stderr
    assert "MemoryFault" in r.stderr and "nil dereference" in r.stderr and "deep+0x" in r.stderr
    assert "registers:" in r.stderr and "backtrace" in r.stderr
    assert "seg 2" in r.stderr and "seg 1" in r.stderr and "Traceback" not in r.stderr


def test_budget_is_enforced(tmp_path):
    p = tmp_path / "prog.s"
    p.write_text("TEXT main, $0-0\nspin:\n\tjmp spin\n")
    r = subprocess.run([sys.executable, "-m", "emu.cli", "run", str(p), "--max-insns", "100000"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 3 and "budget" in r.stderr


def test_closed_pipe_is_not_an_error(tmp_path):
    """`goemu trace-show t | head -1`: the reader goes away; goemu stops quietly with status 0."""
    trace = tmp_path / "t.gtr"
    r = subprocess.run([sys.executable, "-m", "emu.cli", "trace", "--no-cycles", "-o", str(trace)],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    p = subprocess.Popen([sys.executable, "-m", "emu.cli", "trace-show", str(trace)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert p.stdout.readline().startswith(b"#0")
    p.stdout.close()
    err = p.stderr.read().decode()
    assert p.wait(timeout=60) == 0
    assert "Broken pipe" not in err and "Traceback" not in err, err
