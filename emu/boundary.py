"""The one error boundary: every exception becomes a message and an exit code.

The CLI (``goemu ...``), the trace tools, the REPL and the GDB stub all end
here, so an error reads the same and exits with the same status wherever it
happens.  ``EXIT_CODES`` is the contract the README's table copies (and a test
checks row by row):

    0    success (``goemu run PROGRAM``: the program exited with status 0)
    1    the input is wrong: assembly, link or load error, a damaged trace, a
         program that exited with a non-zero status; ``goemu diff``: the traces differ
    2    an emulated fault or runtime throw; ``goemu diff``: trouble (like diff(1))
    3    the instruction budget ran out
    64   bad usage: an unknown option, subcommand, choice or a malformed number
    66   an input file cannot be read (missing, a directory, not text)
    69   an external tool goemu needs is not installed
    70   an internal error: a bug in goemu (please report it)
    74   an output file cannot be written
    130  interrupted (Ctrl-C)

Nothing here imports the emulator: the trace tools' child processes stay light.
"""
from __future__ import annotations

import argparse
import errno
import json
import os
import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TextIO

from .errors import EmulationError, GoemuError, OutputError, UsageError

EXIT_OK, EXIT_ERROR, EXIT_FAULT, EXIT_BUDGET = 0, 1, 2, 3
EXIT_USAGE, EXIT_NOINPUT, EXIT_UNAVAILABLE, EXIT_INTERNAL, EXIT_IOERR, EXIT_INTERRUPT = 64, 66, 69, 70, 74, 130
DIFF_SAME, DIFF_DIFFERENT, DIFF_TROUBLE = 0, 1, 2

EXIT_CODES: dict[int, str] = {
    EXIT_OK: "success",
    EXIT_ERROR: "assembly, link, load or trace-format error; a program's non-zero exit; diff: traces differ",
    EXIT_FAULT: "emulated fault or runtime throw; diff: trouble",
    EXIT_BUDGET: "instruction budget exhausted",
    EXIT_USAGE: "bad usage",
    EXIT_NOINPUT: "an input file cannot be read",
    EXIT_UNAVAILABLE: "a required external tool is missing",
    EXIT_INTERNAL: "internal error (a bug in goemu)",
    EXIT_IOERR: "an output file cannot be written",
    EXIT_INTERRUPT: "interrupted",
}

_READ_ERRNOS = {errno.ENOENT, errno.EISDIR, errno.ENOTDIR, errno.EACCES, errno.ELOOP, errno.ENAMETOOLONG}


@dataclass
class Outcome:
    """What an exception means to a user."""
    exit_code: int
    error_class: str
    message: str                     # the first line
    detail: str                      # the whole text for a terminal (registers, backtrace, usage)
    location: dict = field(default_factory=dict)
    internal: bool = False

    def to_json(self) -> dict:
        return {"error": {"class": self.error_class, "message": self.message,
                          "location": self.location, "exit_code": self.exit_code}}


def location(exc: BaseException) -> dict:
    """Where the error is, from the attributes the error classes carry:
    file/line (assembly, link), path/record/offset (traces, input files),
    pc/symbol/address (emulation), object/section/offset (ELF loading)."""
    loc: dict = {}
    for attr in ("file", "line", "symbol", "path", "record", "offset", "obj", "section", "chain",
                 "address", "pc"):
        v = getattr(exc, attr, None)
        if v is None or v == [] or (attr == "symbol" and not isinstance(v, str)):
            continue
        loc[attr] = v
    if isinstance(exc, OSError) and exc.filename and "path" not in loc:
        loc["path"] = str(exc.filename)
    return loc


def _verbose(e: EmulationError) -> str:
    text = ""
    if e.registers:
        text += "\n  registers: " + " ".join(f"{k}={v:#x}" for k, v in e.registers.items())
    if e.backtrace:
        text += "\n  backtrace (newest first):"
        for i, f in enumerate(e.backtrace):
            seg = f" seg {f.segment}" if f.segment else ""
            note = f"  [{f.note}]" if f.note else ""
            text += f"\n    #{i:<3} {f.pc:#x} in {f.symbol}  sp={f.sp:#x}{seg}{note}"
    return text


def outcome(exc: BaseException, prog: str = "goemu") -> Outcome:
    """Classify any exception (never raises)."""
    try:
        return _outcome(exc, prog)
    except Exception as inner:  # noqa: BLE001 - a broken __str__ must not escape the boundary
        return Outcome(EXIT_INTERNAL, type(exc).__name__, f"{prog}: internal error while reporting "
                       f"{type(exc).__name__}: {type(inner).__name__}", "", {}, True)


def _outcome(exc: BaseException, prog: str) -> Outcome:
    name = type(exc).__name__
    if isinstance(exc, KeyboardInterrupt):
        return Outcome(EXIT_INTERRUPT, name, "interrupted", f"{prog}: interrupted")
    if isinstance(exc, GoemuError):
        text = str(exc) or name
        first = text.splitlines()[0]
        detail = f"{prog}: {name}: {text}"
        if isinstance(exc, UsageError) and exc.usage:
            # argparse's own shape: the usage, then "goemu run: error: ..."
            detail = exc.usage.rstrip("\n") + f"\n{exc.prog or prog}: error: {text}"
            first = f"{exc.prog or prog}: {first}"
        if isinstance(exc, EmulationError):
            detail += _verbose(exc)
        return Outcome(int(exc.exit_code), name, first, detail, location(exc))
    if isinstance(exc, OSError):
        where = f"{exc.filename}: " if exc.filename else ""
        msg = f"{where}{exc.strerror or exc}"
        code = EXIT_NOINPUT if exc.errno in _READ_ERRNOS and not getattr(exc, "writing", False) else EXIT_IOERR
        return Outcome(code, name, msg, f"{prog}: {msg}", location(exc))
    if isinstance(exc, Exception):
        msg = f"internal error: {name}: {exc}".splitlines()[0]
        return Outcome(EXIT_INTERNAL, name, msg, f"{prog}: {msg}", location(exc), internal=True)
    return Outcome(EXIT_INTERNAL, name, f"internal error: {name}", f"{prog}: internal error: {name}", {}, True)


def report(exc: BaseException, *, json_out: bool = False, prog: str = "goemu", trouble: int | None = None,
           out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Print ``exc`` the one way goemu prints errors and return its exit code.

    Text goes to stderr; with ``json_out`` one JSON object goes to stdout
    (``{"error": {"class", "message", "location", "exit_code"}}``).
    ``trouble`` replaces every error status (``goemu diff`` exits 2 on trouble)."""
    out = out or sys.stdout
    err = err or sys.stderr
    o = outcome(exc, prog)
    if trouble is not None and o.exit_code not in (EXIT_OK, EXIT_INTERRUPT):
        o.exit_code = trouble
    if json_out:
        print(json.dumps(o.to_json(), default=str), file=out)
    else:
        print(o.detail, file=err)
    if o.internal:
        if os.environ.get("GOEMU_DEBUG"):
            traceback.print_exception(type(exc), exc, exc.__traceback__, file=err)
        elif not json_out:
            print(" " * len(prog) + "  (set GOEMU_DEBUG=1 for the Python traceback; please report it)", file=err)
    return o.exit_code


def one_line(exc: BaseException) -> str:
    """The one line the REPL (and the GDB stub) shows for a failed command:
    ``AssemblyError: prog.s:3: ...``, ``internal error: KeyError: 'x'``.  Never raises."""
    o = outcome(exc)
    if o.internal or isinstance(exc, KeyboardInterrupt):
        return o.message
    return f"{o.error_class}: {o.message}"


@dataclass
class Context:
    """How to report: set before the work starts, updated by it once known
    (``goemu diff`` sets ``trouble`` to 2 after its arguments are parsed)."""
    json_out: bool = False
    prog: str = "goemu"
    trouble: int | None = None


def guard(fn: Callable[[], int | None], ctx: Context | None = None) -> int:
    """Call ``fn`` and turn whatever it raises into a printed error and an exit code."""
    ctx = ctx or Context()
    try:
        return int(fn() or 0)
    except BrokenPipeError:
        # the reader went away (goemu ... | head): stop quietly, as cat does
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        except (OSError, ValueError):
            pass
        return EXIT_OK
    except SystemExit as e:             # --help: argparse's own exit
        return e.code if isinstance(e.code, int) else (EXIT_OK if e.code is None else EXIT_USAGE)
    except BaseException as e:  # noqa: BLE001 - the boundary: nothing gets past it
        return report(e, json_out=ctx.json_out, prog=ctx.prog, trouble=ctx.trouble)


class UsageParser(argparse.ArgumentParser):
    """argparse that raises UsageError (exit 64, usage printed) instead of exiting 2."""

    def error(self, message: str):  # type: ignore[override]
        e = UsageError(message)
        e.usage, e.prog = self.format_usage(), self.prog
        raise e


def writable(path: str) -> str:
    """Refuse an output path whose folder does not exist (before a long run, not after)."""
    from pathlib import Path
    parent = Path(path).parent
    if Path(path).is_dir():
        raise OutputError("cannot write: it is a directory", path)
    if not parent.is_dir():
        raise OutputError(f"cannot write: no folder {str(parent)!r}", path)
    return path


def _int(text: str, low: int, what: str) -> int:
    try:
        v = int(text, 0)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if v < low:
        raise argparse.ArgumentTypeError(f"{text!r}: must be {what}")
    return v


def positive_int(text: str) -> int:
    """An argparse type: 1, 2, ... (decimal or 0x hex)."""
    return _int(text, 1, "at least 1")


def count(text: str) -> int:
    """An argparse type: 0, 1, ... (decimal or 0x hex)."""
    return _int(text, 0, "0 or more")
