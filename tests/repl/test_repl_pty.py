"""The interactive REPL driven through a real pseudo-terminal: the prompt,
history across sessions (up-arrow recalls) and tab completion."""
import os
import pty
import re
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07|\x1b[=>]|\r")


def _controlling_tty():
    # a session of its own with the pty as controlling terminal, so that
    # Ctrl-C reaches the REPL as SIGINT as in a real terminal
    import fcntl
    import termios
    os.setsid()
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


PROMPT_AFTER = r"[\s\S]*\(goemu\)"     # ... and then the next prompt


class Term:
    def __init__(self, args, env):
        self.master, slave = pty.openpty()
        os.set_blocking(self.master, False)
        self.p = subprocess.Popen([sys.executable, "-m", "emu.repl", *args], stdin=slave, stdout=slave,
                                  stderr=slave, cwd=ROOT, env=env, close_fds=True,
                                  preexec_fn=_controlling_tty)
        os.close(slave)
        self.buf = ""

    def read_until(self, pattern: str, timeout: float = 15.0, squash: bool = False) -> str:
        """Wait for ``pattern`` on the screen; ``squash``: ignore whitespace (the
        line editor redraws a completed word in pieces, with cursor moves)."""
        end = time.time() + timeout
        while time.time() < end:
            text = re.sub(r".\x08", "", ANSI.sub("", self.buf))   # a backspace erases the char before it
            if squash:
                text = re.sub(r"\s+", "", text)
            if re.search(pattern, text):
                return text
            r, _, _ = select.select([self.master], [], [], 0.1)
            if r:
                try:
                    data = os.read(self.master, 65536).decode("utf-8", "replace")
                except OSError:
                    break
                # answer prompt_toolkit's cursor-position request like a terminal
                if "\x1b[6n" in data:
                    os.write(self.master, b"\x1b[1;1R")
                self.buf += data
        raise AssertionError(f"timed out waiting for {pattern!r}; screen:\n{ANSI.sub('', self.buf)[-2000:]}")

    def send(self, s: str) -> None:
        os.write(self.master, s.encode())

    def mark(self) -> None:
        self.buf = ""

    def close(self) -> None:
        try:
            self.send("\x15quit\r")
            self.p.wait(timeout=10)
        finally:
            if self.p.poll() is None:
                self.p.kill()
            os.close(self.master)


@pytest.fixture
def env(tmp_path):
    e = dict(os.environ, TERM="xterm", GOEMU_HISTORY=str(tmp_path / "hist"), COLUMNS="120", LINES="40")
    return e


def test_repl_pty_prompt_completion_history(env, tmp_path):
    t = Term(["--arch", "amd64", "--variant", "buggy"], env)
    try:
        t.read_until(r"\(goemu\)")
        # tab completion of a symbol
        t.mark()
        t.send("b lessst\t")
        t.read_until(r"blessstack", squash=True)
        t.send("\r")
        # each command's output, then the next prompt: keys typed before the line
        # editor is back in raw mode would reach it as cooked input (a Tab as a Tab)
        t.read_until(r"Breakpoint 1 at 0x[0-9a-f]+ <lessstack>" + PROMPT_AFTER)
        t.mark()
        t.send("c\r")
        t.read_until(r"Breakpoint 1, 0x[0-9a-f]+ <lessstack>" + PROMPT_AFTER)
        # tab completion of a command and of a struct field
        t.mark()
        t.send("p m.cu\t")
        t.read_until(r"pm\.curg", squash=True)
        t.send("\r")
        t.read_until(r"\$ = \(G \*\) 0x" + PROMPT_AFTER)
        t.mark()
        t.send("p m.cret\r")
        t.read_until(r"\$ = 0x" + PROMPT_AFTER)
        # up-arrow recalls the previous command
        t.mark()
        t.send("\x1b[A")
        t.read_until(r"p m\.cret")
        t.send("\r")
        t.read_until(r"\$ = 0x" + PROMPT_AFTER)
        t.mark()
        t.send("frob\r")
        t.read_until(r"error: undefined command")
    finally:
        t.close()
    hist = (tmp_path / "hist").read_text()
    assert "b lessstack" in hist and "p m.cret" in hist
    # history survives into the next session
    t = Term(["--arch", "arm", "--variant", "fixed"], env)
    try:
        t.read_until(r"\(goemu\)")
        # newest first: quit, frob, p m.cret -- one key at a time, each recall seen
        # on the screen before the next key (three keys in one write can reach the
        # line editor before it has switched the terminal to raw mode)
        # (the editor redraws only what changed, so look for the recalled text alone)
        for recalled in (r"quit", r"frob", r"pm\.cret"):
            t.mark()
            t.send("\x1b[A")
            t.read_until(recalled, squash=True)
        t.send("\x15")          # clear the line
        t.mark()
        t.send("until-un\t")
        t.read_until(r"until-unsplit", squash=True)
        t.send("\r")
        t.read_until(r"<lessstack>")
    finally:
        t.close()


def test_repl_pty_ctrl_c_interrupts_continue(env, tmp_path):
    prog = tmp_path / "spin.s"
    prog.write_text("TEXT main, $16-0\nspin:\n\tjmp spin\n\tRET\n")
    t = Term([str(prog), "--arch", "amd64", "--max-insns", "2000000000"], env)
    try:
        t.read_until(r"\(goemu\)")
        t.mark()
        for _ in range(2):
            t.mark()
            t.send("c\r")
            # the command has started (and the line editor has let go of the
            # terminal) once it says so; the loop never ends by itself, so only
            # Ctrl-C stops it (how far it got depends on when Ctrl-C arrives)
            t.read_until(r"Continuing\.")
            t.send("\x03")
            t.read_until(r"Program interrupted at 0x[0-9a-f]+ <\w+(\+0x[0-9a-f]+)?>  \[insn \d+\]")
        t.mark()
        t.send("p $rip\r")
        t.read_until(r"\$ = 0x")
    finally:
        t.close()


LONG = """GLOBL never, $8
TEXT main, $16-0
	mov rcx, 100000000
loop:
	dec rcx
	jnz loop
	RET
"""


def test_repl_pty_ctrl_c_interrupts_reverse_continue(env, tmp_path):
    """Ctrl-C during a search backwards over two million instructions of
    history for a watchpoint that never triggers.  The search costs at least
    as much as the forward run that made the history, so it is still running
    when Ctrl-C arrives; without Ctrl-C it would end at the history start."""
    prog = tmp_path / "long.s"
    prog.write_text(LONG)
    t = Term([str(prog), "--arch", "amd64"], env)
    try:
        t.read_until(r"\(goemu\)")
        t.mark()
        t.send("si 2000000\r")
        t.read_until(r"\[insn 2000000\]", timeout=120)
        t.mark()
        t.send("watch never\r")
        t.read_until(r"Hardware watchpoint 1: never")
        t.mark()
        t.send("rc\r")
        t.read_until(r"Continuing backwards\.")
        t.send("\x03")
        screen = t.read_until(r"Program interrupted at 0x[0-9a-f]+ <main\+0x[0-9a-f]+>  \[insn \d+\]",
                              timeout=120)
        assert "No more reverse-execution history" not in screen
        # where the search had got to: anywhere from the end (Ctrl-C before the
        # first interval was searched) back, but not the start of the history
        n = int(re.findall(r"Program interrupted at .*\[insn (\d+)\]", screen)[-1])
        assert 0 < n <= 2_000_000
        t.mark()
        t.send("p $rip\r")
        t.read_until(r"\$ = 0x")
    finally:
        t.close()
