"""The bad-input corpus, part 3: command lines and REPL commands; and the
README's exit-status table, row by row, against the one error boundary."""
from __future__ import annotations

import io
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from emu import boundary
from emu.cli import main
from emu.errors import GoemuError

ROOT = Path(__file__).resolve().parents[2]
LEAK = str(ROOT / "emu" / "demos" / "leak_amd64.s")

# (id, argv, exit status, text in the message); every one is a usage error unless said otherwise
COMMAND_LINES = [
    ("no-subcommand", [], 64, "required: command"),
    ("unknown-subcommand", ["bogus"], 64, "invalid choice: 'bogus'"),
    ("unknown-option", ["run", "--frob"], 64, "unrecognized arguments: --frob"),
    ("arch-mips", ["run", "--arch", "mips"], 64, "invalid choice: 'mips'"),
    ("variant-bogus", ["run", "--variant", "bogus"], 64, "invalid choice: 'bogus'"),
    ("max-insns-word", ["run", "--max-insns", "abc"], 64, "'abc' is not a number"),
    ("max-insns-negative", ["run", "--max-insns", "-5"], 64, "'-5': must be at least 1"),
    ("max-insns-zero", ["run", "--max-insns", "0"], 64, "must be at least 1"),
    ("max-insns-missing", ["run", "--max-insns"], 64, "expected one argument"),
    ("gc-report-arch", ["gc-report", "--arch", "x86"], 64, "invalid choice: 'x86'"),
    ("plot-rounds-zero", ["plot", "--rounds", "0"], 64, "must be at least 1"),
    ("trace-no-output", ["trace"], 64, "required: -o/--output"),
    ("trace-format", ["trace", "-o", "x.gtr", "--format", "json"], 64, "invalid choice: 'json'"),
    ("trace-max-insns", ["trace", "-o", "x.gtr", "--max-insns", "-1"], 64, "must be at least 1"),
    ("trace-budget", ["trace", "-o", "x.gtr", "--budget", "0"], 64, "must be at least 1"),
    ("trace-arch", ["trace", "-o", "x.gtr", "--arch", "riscv"], 64, "invalid choice"),
    ("trace-from-unknown", ["trace", "-o", "{tmp}/x.gtr", "--from", "nosuch"], 64, "unknown symbol 'nosuch'"),
    ("trace-output-dir-missing", ["trace", "-o", "{tmp}/no/such/dir/x.gtr"], 74, "cannot write: no folder"),
    ("trace-output-is-dir", ["trace", "-o", "{tmp}"], 74, "is a directory"),
    ("trace-program-missing", ["trace", "{tmp}/nope.s", "-o", "{tmp}/x.gtr"], 66, "No such file"),
    ("diff-one-file", ["diff", "a.gtr"], 64, "required: b"),
    ("diff-missing", ["diff", "{tmp}/a.gtr", "{tmp}/b.gtr"], 2, "cannot read trace"),
    ("diff-html-dir-missing", ["diff", "a", "b", "--html", "{tmp}/no/x.html"], 74, "no folder"),
    ("show-from-negative", ["trace-show", "x.gtr", "--from", "-1"], 64, "must be 0 or more"),
    ("show-limit-zero", ["trace-show", "x.gtr", "-n", "0"], 64, "must be at least 1"),
    ("show-index-word", ["trace-show", "x.gtr", "--index", "five"], 64, "not a number"),
    ("show-grep-bad-regex", ["trace-show", "{tmp}/t.gtr", "--grep", "("], 64, "bad regular expression"),
    ("show-first-write-unknown", ["trace-show", "{tmp}/t.gtr", "--first-write", "m0.nosuch"], 64,
     "not an address or a known data name"),
    ("repl-arch", ["repl", "--arch", "mips"], 64, "invalid choice"),
    ("run-program-missing", ["run", "{tmp}/nope.s"], 66, "No such file"),
    ("run-program-dir", ["run", "{tmp}"], 66, "Is a directory"),
]


@pytest.fixture(scope="module")
def small_trace(tmp_path_factory):
    d = tmp_path_factory.mktemp("cli")
    assert main(["trace", "-o", str(d / "t.gtr"), "--max-insns", "50", "--no-cycles"]) == 0
    return d


@pytest.mark.parametrize("case", COMMAND_LINES, ids=[c[0] for c in COMMAND_LINES])
def test_command_line(case, small_trace, capsys):
    _id, argv, status, text = case
    argv = [a.replace("{tmp}", str(small_trace)) for a in argv]
    assert main(argv) == status
    out = capsys.readouterr()
    assert text in out.err, out.err
    assert "Traceback" not in out.err
    if status == 64:
        assert out.err.startswith("usage: goemu") or "UsageError" in out.err
    # and with --json: one error object on stdout, same status
    if "--json" not in argv and argv and argv[0] in ("run", "diff", "gc-report"):
        assert main(argv + ["--json"]) == status
        e = json.loads(capsys.readouterr().out)["error"]
        assert e["exit_code"] == status and text in e["message"]


def test_run_help_says_the_default_variant(capsys):
    assert main(["run", "--help"]) == 0
    assert "default: buggy" in " ".join(capsys.readouterr().out.split())


@pytest.mark.parametrize("argv,status", [
    (["run", "--arch", "mips"], 64),
    (["bogus"], 64),
    (["run", "/nonexistent/prog.s"], 66),
])
def test_real_executable(argv, status):
    """The installed entry point, in a child process: the status and no traceback."""
    p = subprocess.run([sys.executable, "-m", "emu.cli", *argv], capture_output=True, text=True, timeout=120,
                       cwd=ROOT)
    assert p.returncode == status, p.stderr
    assert "Traceback" not in p.stderr and p.stderr.strip()


# -- REPL commands: each bad one is one "error:" line and the session goes on ---------------------

REPL_BAD = [
    ("frobnicate", "undefined command"),
    ("b nosuch", "no symbol \"nosuch\""),
    ("tbreak nosuch+0x4", "nosuch"),
    ("x/zz 0", "cannot access memory at address 0x0"),
    ("x/-1x $rsp", "count must be positive"),
    ("x/4x 0xdeadbeef", "cannot access memory"),
    ("p $nosuch", "no register"),
    ("p m.nosuch", "no field"),
    ("p m.cret.x", "not a structure"),
    ("p *(Nosuch*)0", "no symbol \"nosuch\""),
    ("p $rax +", "missing operand"),
    ("p (((", "((("),
    ("si abc", "expected a count"),
    ("si -1", "positive"),
    ("si 0x", "expected a count"),
    ("rsi abc", "expected a count"),
    ("goto -5", "positive"),
    ("delete 99", "no breakpoint number 99"),
    ("watch", "argument required"),
    ("source /nonexistent/cmds", "cannot read"),
    ("why zzz", "zzz"),
    ("info frob", "undefined info command"),
]


@pytest.fixture(scope="module")
def repl_transcript(tmp_path_factory):
    from emu.repl import run_repl
    d = tmp_path_factory.mktemp("repl")
    cmds = d / "cmds"
    cmds.write_text("\n".join(c for c, _ in REPL_BAD) + "\np $rip\n")
    out = io.StringIO()
    rc = run_repl("amd64", "buggy", None, str(cmds), out=out)
    return rc, out.getvalue()


@pytest.mark.parametrize("cmd,text", REPL_BAD, ids=[c for c, _ in REPL_BAD])
def test_repl_bad_command(cmd, text, repl_transcript):
    from emu.repl import BATCH_FAILED
    rc, transcript = repl_transcript
    assert rc == BATCH_FAILED          # every command ran, and a failed one makes the batch fail
    blocks = re.split(r"^\(goemu\) ", transcript, flags=re.MULTILINE)
    block = next(b for b in blocks if b.startswith(cmd + "\n"))
    lines = block.splitlines()[1:]
    assert len(lines) == 1 and lines[0].startswith("error: ") and text.lower() in lines[0].lower(), block
    assert "internal error" not in transcript and "Traceback" not in transcript
    assert blocks[-1].startswith("p $rip\n") and "0x" in blocks[-1]      # the session went on


# -- the exit-status table: README == boundary.EXIT_CODES, and each row happens ------------------

def readme_table() -> dict[int, str]:
    text = (ROOT / "README.md").read_text()
    sec = text[text.index("| status | meaning |"):]
    rows = {}
    for line in sec.splitlines()[2:]:
        if not line.startswith("|"):
            break
        status, meaning = [c.strip() for c in line.strip("|").split("|", 1)]
        rows[int(status)] = meaning
    return rows


def test_readme_table_is_the_boundary_contract():
    assert sorted(readme_table()) == sorted(boundary.EXIT_CODES)


class Boom(GoemuError):
    pass


def _raising(exc):
    def handler(_ns):
        raise exc
    return handler


def _row_cases(tmp_path):
    prog = tmp_path / "p.s"
    fault = tmp_path / "f.s"
    fault.write_text("TEXT main, $0-0\n\tmov rax, 0\n\tmov rax, qword ptr [rax]\n\tRET\n")
    loop = tmp_path / "l.s"
    loop.write_text("TEXT main, $0-0\nl:\n\tjmp l\n\tRET\n")
    prog.write_text("TEXT main, $0-0\n\tcall nowhere\n\tRET\n")
    return {
        0: (["run", LEAK, "--arch", "amd64", "--variant", "fixed"], None),
        1: (["run", str(prog)], None),
        2: (["run", str(fault)], None),
        3: (["run", str(loop), "--max-insns", "5000"], None),
        64: (["run", "--arch", "mips"], None),
        66: (["run", str(tmp_path / "missing.s")], None),
        69: (["run", LEAK], _raising(__import__("emu.errors", fromlist=["ToolMissing"]).ToolMissing(
            "llvm-mca is not installed: apt-get install llvm", "llvm-mca"))),
        70: (["run", LEAK], _raising(KeyError("oops"))),
        74: (["plot", "-o", str(tmp_path / "no" / "leak.png")], None),
        130: (["run", LEAK], _raising(KeyboardInterrupt())),
    }


@pytest.mark.parametrize("status", sorted(boundary.EXIT_CODES))
def test_exit_status_row(status, tmp_path, capsys, monkeypatch):
    argv, handler = _row_cases(tmp_path)[status]
    if handler is not None:
        from emu import cli
        monkeypatch.setattr(cli, "cmd_run", handler)
    assert main(argv) == status
    err = capsys.readouterr().err
    assert "Traceback" not in err
    if status == 70:
        assert "internal error: KeyError" in err and "GOEMU_DEBUG" in err
    if status not in (0,):
        assert err.strip(), "an error status always comes with a message"


def test_internal_error_traceback_only_on_request(monkeypatch, capsys):
    from emu import cli
    monkeypatch.setattr(cli, "cmd_run", _raising(ValueError("bug")))
    monkeypatch.setenv("GOEMU_DEBUG", "1")
    assert main(["run", LEAK]) == 70
    assert "Traceback" in capsys.readouterr().err


def test_one_line_for_the_repl():
    """boundary.one_line: the single line a REPL or GDB stub shows for any exception."""
    from emu.errors import AssemblyError
    assert boundary.one_line(AssemblyError("bad", "p.s", 3, "mov")) == "AssemblyError: p.s:3: bad"
    assert boundary.one_line(KeyError("x")) == "internal error: KeyError: 'x'"
    assert boundary.one_line(KeyboardInterrupt()) == "interrupted"
    assert boundary.one_line(FileNotFoundError(2, "No such file or directory", "f")) == \
        "FileNotFoundError: f: No such file or directory"


def test_no_exit_2_from_argparse_anywhere():
    """Every parser goemu builds is the boundary's: argparse's own exit 2 cannot happen."""
    from emu.cli import build_parser
    parser = build_parser()
    subs = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    for name, sub in subs.choices.items():
        assert isinstance(sub, boundary.UsageParser), name
