"""goemu's debugger REPL: gdb's command names over emu.debugger.Debugger.

The REPL holds no emulator logic: each command is a small function in a
registry that parses its arguments, calls the core and formats what it
returns.  ``--batch FILE`` runs commands from a file and prints what an
interactive session would show.
"""
from __future__ import annotations

import argparse
import os
import re
import signal
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from unicorn import UcError

from .arch import ARCH_NAMES
from .debugger import Debugger, DebuggerError, Stop, new_debugger
from .errors import GoemuError, UsageError
from .expr import MemoryError_, Value, track_memory_errors, value_int

PROMPT = "(goemu) "


@dataclass
class Command:
    name: str
    fn: Callable[[Session, str], None]
    aliases: tuple[str, ...] = ()
    help: str = ""
    args: str = ""             # what completes after it: "", "symbol", "expr", "command"


COMMANDS: dict[str, Command] = {}
ALIASES: dict[str, str] = {}


def command(name: str, aliases: tuple[str, ...] | list[str] = (), help: str = "", args: str = ""):
    """Register a REPL command (decorator)."""
    def deco(fn):
        c = Command(name, fn, tuple(aliases), help, args)
        COMMANDS[name] = c
        for a in aliases:
            ALIASES[a] = name
        return fn
    return deco


def lookup(word: str) -> Command:
    if word in COMMANDS:
        return COMMANDS[word]
    if word in ALIASES:
        return COMMANDS[ALIASES[word]]
    cands = sorted(n for n in COMMANDS if n.startswith(word))
    if len(cands) == 1:
        return COMMANDS[cands[0]]
    if cands:
        raise DebuggerError(f'ambiguous command "{word}": {", ".join(cands)}')
    raise DebuggerError(f'undefined command: "{word}".  Try "help".')


def error_line(e: BaseException) -> str:
    """The one line a failed command prints (the REPL's error boundary: every
    command's exception comes through here).  Memory the emulator cannot read
    is said as gdb says it; goemu's own errors by their message; anything
    else is an internal error, named, and the session goes on."""
    if isinstance(e, MemoryError_):
        return f"error: {e}"
    if isinstance(e, UcError):
        return f"error: Cannot access memory ({e})"
    if isinstance(e, KeyboardInterrupt):
        return "error: interrupted"
    if isinstance(e, (GoemuError, KeyError, ValueError, OSError)):
        msg = str(e).splitlines()[0] if str(e) else type(e).__name__
        return f"error: {msg}"
    first = str(e).splitlines()[0] if str(e) else ""
    return f"internal error: {type(e).__name__}" + (f": {first}" if first else "") + " (the session goes on)"


class Session:
    def __init__(self, dbg: Debugger, out: TextIO = sys.stdout, echo: bool = False):
        self.dbg = dbg
        self.mc = dbg.mc
        self.out = out
        self.echo = echo
        self.depth = 0
        self.failures = 0           # commands that failed (batch mode's exit status)
        self.last_failed = False
        self.last_line = ""         # what an empty line repeats
        self.repeat_line: str | None = None   # a command's own continuation (x, list)
        self.frame = 0              # the selected frame (up, down, frame N)
        self.displays: dict[int, tuple[str, str]] = {}   # number -> (format, expression)
        self._next_display = 1
        self.x_next: int | None = None
        self.x_fmt = ("x", 4)
        self.list_next: tuple[str, int] | None = None
        track_memory_errors(self.mc)

    def w(self, text: str = "") -> None:
        self.out.write(text + "\n")
        self.out.flush() if hasattr(self.out, "flush") else None

    def _on_sigint(self, *_a) -> None:
        """Ctrl-C during a command: emulation stops at the next chunk
        boundary; a second Ctrl-C interrupts Python work too (a long x, bt)."""
        if self.dbg._interrupt:
            raise KeyboardInterrupt
        self.dbg.interrupt()

    # -- dispatch ----------------------------------------------------------------------
    def execute(self, line: str, repeat: bool = False) -> bool:
        """Run one command line; False when the session should end.  With
        ``repeat`` (interactive sessions), an empty line repeats the last
        command as gdb does (``x`` and ``list`` continue where they stopped)."""
        line = line.strip()
        if not line and repeat and self.last_line:
            line = self.repeat_line or self.last_line
        if not line or line.startswith("#"):
            return True
        if self.echo:
            self.w(PROMPT + line)
        m = re.match(r"^(x|p|print|output|display|inspect|call)/(\S*)\s*(.*)$", line)
        if m:
            word, rest = m.group(1), "/" + m.group(2) + " " + m.group(3)
        else:
            word, _, rest = line.partition(" ")
        if word in ("quit", "q", "exit"):
            return False
        self.last_line, self.repeat_line = line, None
        old = None
        self.dbg.clear_interrupt()          # a Ctrl-C belongs to the command it interrupted
        self.last_failed = False
        try:
            cmd = lookup(word)
            if cmd.name in ("run", "delete", "source"):
                self.last_line = ""     # as gdb: these are not repeated by an empty line
            try:
                old = signal.signal(signal.SIGINT, self._on_sigint)
            except ValueError:       # not the main thread
                old = None
            cmd.fn(self, rest.strip())
        except BaseException as e:
            if isinstance(e, (SystemExit, GeneratorExit)):
                raise
            self.failures += 1
            self.last_failed = True
            self.w(error_line(e))
        finally:
            if old is not None:
                signal.signal(signal.SIGINT, old)
        return True

    # -- formatting helpers --------------------------------------------------------------
    def hexw(self, v: int) -> str:
        return f"{v:#0{2 + 2 * self.mc.arch.ptrsize}x}"

    def where(self, pc: int) -> str:
        return f"{pc:#x} <{self.mc.symbolize(pc)}>"

    def show_insn(self, pc: int | None = None) -> None:
        pc = self.mc.pc if pc is None else pc
        ins = self.mc.disasm(pc, 1)
        text = ins[0][1] if ins else "(cannot disassemble)"
        tgt = self.dbg.branch_target(text) if ins else None
        if tgt is not None:
            text += f" <{self.mc.symbolize(tgt)}>"
        self.w(f"=> {self.where(pc)}:\t{text}")

    def report(self, st: Stop) -> None:
        d = self.dbg
        if st.reason == "breakpoint":
            self.w(f"Breakpoint {st.bp.num}, {self.where(st.pc)}  [insn {st.icount}]")
        elif st.reason == "watchpoint":
            # gdb's shape; going back, Old is the later value and New the earlier one
            title = "Watchpoint" if st.bp.reg is not None else WATCH_TITLE[st.bp.kind]
            self.w(f"{title} {st.bp.num}: {st.bp.spec}")
            self.w()
            if st.access == "write" and st.old != st.new:
                self.w(f"Old value = {self.fmt_val(st.old)}")
                self.w(f"New value = {self.fmt_val(st.new)}")
            else:
                self.w(f"Value = {self.fmt_val(st.new if st.new is not None else st.old)}")
            verb = "written" if st.access == "write" else "read"
            if st.reverse:
                self.w(f"{verb} by the instruction below (going back: not executed yet)  [insn {st.icount}]")
            else:
                self.w(f"{verb} by {self.where(st.access_pc)}; now at {self.where(st.pc)}  [insn {st.icount}]")
        elif st.reason == "exited":
            self.w(f"[program exited with status {st.exit_status} after {st.icount} instructions]")
            return
        elif st.reason == "fault":
            self.w(f"Program stopped: {st.error}")
        elif st.reason == "interrupted":
            self.w(f"Program interrupted at {self.where(st.pc)}  [insn {st.icount}]")
        elif st.reason == "history-start":
            self.w("No more reverse-execution history.")
        elif st.reason == "finish" and st.reverse:
            self.w(f"Run back to the call; now at {self.where(st.pc)}  [insn {st.icount}]")
        elif st.reason == "finish":
            self.w(f"Run till exit; now at {self.where(st.pc)}  [insn {st.icount}]")
        elif st.reason == "until":
            self.w(f"Stopped at {self.where(st.pc)}  [insn {st.icount}]")
        elif st.reason == "budget":
            self.w(f"instruction budget spent at {self.where(st.pc)}  [insn {st.icount}]")
        else:
            self.w(f"[insn {st.icount}]")
        for bp in st.also:
            self.w(f"Breakpoint {bp.num}, {self.where(st.pc)}  [insn {st.icount}]")
        self.show_insn()
        d.mark_seen()
        self.frame = 0
        self.do_displays()

    def do_displays(self) -> None:
        for num, (fmt, expr) in sorted(self.displays.items()):
            try:
                if fmt.startswith(("i", "s")) or re.match(r"\d+[xduotacsibhwg]*$", fmt or "-"):
                    self.w(f"{num}: x/{fmt} {expr}")
                    _x(self, f"/{fmt} {expr}")
                else:
                    self.w(f"{num}: {('/' + fmt + ' ') if fmt else ''}{expr} = "
                           + format_value(self, self.dbg.evaluate(expr), fmt))
            except BaseException as e:
                if isinstance(e, (SystemExit, GeneratorExit)):
                    raise
                self.w(f"{num}: {expr} -- {error_line(e)}")

    def fmt_val(self, v: int | None) -> str:
        if v is None:
            return "?"
        return f"{v:#x}"


WATCH_TITLE = {"watch": "Hardware watchpoint", "rwatch": "Hardware read watchpoint",
               "awatch": "Hardware access (read/write) watchpoint"}


# -- running -----------------------------------------------------------------------------------
def _count(arg: str, default: int = 1) -> int:
    arg = arg.strip()
    if not arg:
        return default
    try:
        n = int(arg, 0)
    except ValueError:
        raise DebuggerError(f"expected a count, got {arg!r}") from None
    if n < 0:
        raise DebuggerError("count must be positive")
    return n


@command("run", aliases=("r",), help="run from the beginning to the next stop")
def _run(s: Session, arg: str) -> None:
    s.dbg.goto(0)
    s.w("Starting program from instruction 0.")
    s.report(s.dbg.cont())


@command("continue", aliases=("c", "cont"), help="continue to the next breakpoint, watchpoint or exit")
def _cont(s: Session, arg: str) -> None:
    s.dbg.check_running()
    s.w("Continuing.")
    s.report(s.dbg.cont())


@command("stepi", aliases=("si", "s", "step"),
         help="stepi [N]: execute N instructions (exactly).  This debugger works at the instruction level: "
              "s/step mean stepi")
def _si(s: Session, arg: str) -> None:
    s.report(s.dbg.stepi(_count(arg)))


@command("nexti", aliases=("ni", "n", "next"),
         help="nexti [N]: like stepi, stepping over calls (a split's morestack call, a call that returns "
              "through lessstack, lessstack's call of oldstack).  n/next mean nexti")
def _ni(s: Session, arg: str) -> None:
    s.report(s.dbg.nexti(_count(arg)))


@command("finish", aliases=("fin",),
         help="run until the selected function (frame #0, or the one up/frame selected) returns (across "
              "lessstack); in morestack or newstack: until the function that is growing its stack resumes "
              "on its new segment")
def _finish(s: Session, arg: str) -> None:
    s.report(s.dbg.finish(s.frame))


@command("until-split", help="run to the next morestack entry (a stack split)")
def _usplit(s: Session, arg: str) -> None:
    s.report(s.dbg.until_split())


@command("until-unsplit", help="run to the next lessstack entry (a stack unsplit)")
def _uunsplit(s: Session, arg: str) -> None:
    s.report(s.dbg.until_unsplit())


@command("reverse-stepi", aliases=("rsi", "rs", "reverse-step"),
         help="reverse-stepi [N]: go back N instructions (rs/reverse-step mean the same)")
def _rsi(s: Session, arg: str) -> None:
    s.report(s.dbg.reverse_stepi(_count(arg)))


@command("reverse-nexti", aliases=("rni", "rn", "reverse-next"),
         help="reverse-nexti [N]: go back, stepping over calls (rn/reverse-next mean the same)")
def _rni(s: Session, arg: str) -> None:
    s.report(s.dbg.reverse_nexti(_count(arg)))


@command("reverse-continue", aliases=("rc",),
         help="go back to the previous breakpoint or watchpoint hit (a watched store: its instruction)")
def _rc(s: Session, arg: str) -> None:
    if s.dbg.n == 0:
        raise DebuggerError("no more reverse-execution history")
    s.w("Continuing backwards.")
    s.report(s.dbg.reverse_continue())


@command("reverse-finish", help="go back to the call of the selected function (frame #0, or the one "
                                "up/frame selected); if the call is not in the history, stay here")
def _rfinish(s: Session, arg: str) -> None:
    s.report(s.dbg.reverse_finish(s.frame))


@command("goto", help="goto N: go to instruction number N (forward or back)")
def _goto(s: Session, arg: str) -> None:
    target = _count(arg, 0)
    s.dbg.goto(target, interruptible=True)
    s.report(s.dbg._stop("step" if s.dbg.n == target else "interrupted"))


# -- breakpoints -------------------------------------------------------------------------------
@command("break", aliases=("b", "br"), help="break SYM | SYM+OFF | ADDR", args="symbol")
def _break(s: Session, arg: str) -> None:
    arg = arg or f"{s.mc.pc:#x}"
    bp = s.dbg.add_break(arg)
    s.w(f"Breakpoint {bp.num} at {s.where(bp.addr)}")


@command("tbreak", help="tbreak SYM | SYM+OFF | ADDR: a breakpoint deleted when hit", args="symbol")
def _tbreak(s: Session, arg: str) -> None:
    bp = s.dbg.add_break(arg or f"{s.mc.pc:#x}", temporary=True)
    s.w(f"Temporary breakpoint {bp.num} at {s.where(bp.addr)}")


@command("watch", help="watch EXPR: stop after a write that changes it (m.cret, g.stackguard -- g is the "
                       "goroutine, not g0 --, a global, *ADDR, or a register: watch $rsp)",
         args="expr")
def _watch(s: Session, arg: str) -> None:
    if not arg:
        raise DebuggerError("argument required (expression to watch)")
    bp = s.dbg.add_watch(arg)
    if bp.reg is not None:
        s.w(f"Watchpoint {bp.num}: {arg} (register {bp.reg}: checked at every instruction, slow)")
    else:
        s.w(f"Hardware watchpoint {bp.num}: {arg} ({bp.size} bytes at {bp.addr:#x})")


@command("rwatch", help="rwatch EXPR: stop after a read of it", args="expr")
def _rwatch(s: Session, arg: str) -> None:
    if not arg:
        raise DebuggerError("argument required (expression to watch)")
    bp = s.dbg.add_watch(arg, kind="rwatch")
    s.w(f"Hardware read watchpoint {bp.num}: {arg} ({bp.size} bytes at {bp.addr:#x})")


@command("awatch", help="awatch EXPR: stop after a read or a write of it", args="expr")
def _awatch(s: Session, arg: str) -> None:
    if not arg:
        raise DebuggerError("argument required (expression to watch)")
    bp = s.dbg.add_watch(arg, kind="awatch")
    s.w(f"Hardware access (read/write) watchpoint {bp.num}: {arg} ({bp.size} bytes at {bp.addr:#x})")


@command("delete", aliases=("d",), help="delete [N...]: delete breakpoints (all without N)")
def _delete(s: Session, arg: str) -> None:
    if not arg:
        s.dbg.delete()
        return
    for a in arg.split():
        s.dbg.delete(_count(a))


@command("info", help="info breakpoints | registers [REG] | frame | display | symbol ADDR | line [ADDR] | "
                      "snapshots", args="info")
def _info(s: Session, arg: str) -> None:
    what, _, rest = arg.partition(" ")
    if not what:
        raise DebuggerError('"info" needs a subcommand: breakpoints, registers, frame, display, symbol, line, '
                            'snapshots')
    if "breakpoints".startswith(what) or "watchpoints".startswith(what):
        bps = s.dbg.breakpoints
        if not bps:
            s.w("No breakpoints or watchpoints.")
            return
        s.w("Num  Type            Address             Hits  What")
        for bp in bps.values():
            typ = {"break": "breakpoint", "tbreak": "breakpoint (temp)", "watch": "hw watchpoint",
                   "rwatch": "read watchpoint", "awatch": "acc watchpoint"}[bp.kind]
            s.w(f"{bp.num:<4} {typ:<15} {(bp.reg or s.hexw(bp.addr)):<19} {bp.hits:<5} "
                + (bp.spec if bp.is_watch else f"<{s.mc.symbolize(bp.addr)}>"))
    elif what in ("registers", "reg", "regs", "r", "all-registers"):
        _regs(s, rest)
    elif "snapshots".startswith(what):
        for line in s.dbg.history_lines():
            s.w(line)
    elif "symbol".startswith(what) and len(what) >= 2:
        if not rest.strip():
            raise DebuggerError("Argument required (address).")
        addr = s.dbg.eval(rest)
        sym = s.mc.image.symbolize(addr)
        if sym is None:
            s.w(f"No symbol matches {rest.strip()}.")
            return
        name, _, off = sym.partition("+")
        fb = s.dbg.function_bounds(addr)
        section = ".text" if fb is not None else ".data"
        s.w(f"{name}" + (f" + {int(off, 16)}" if off else "") + f" in section {section}")
    elif "frame".startswith(what):
        _info_frame(s)
    elif "display".startswith(what) and len(what) >= 2:
        if not s.displays:
            s.w("There are no auto-display expressions now.")
        for num, (fmt, expr) in sorted(s.displays.items()):
            s.w(f"{num}:   {('/' + fmt + ' ') if fmt else ''}{expr}")
    elif "line".startswith(what):
        pc = s.dbg.eval(rest) if rest.strip() else s.mc.pc
        ln = s.mc.image.line_at(pc)
        if ln is None:
            s.w(f"No line number information available for address {pc:#x} <{s.mc.symbolize(pc)}>")
        else:
            s.w(f'Line {ln[1]} of "{ln[0]}" is at address {pc:#x} <{s.mc.symbolize(pc)}>'
                + (f" ({ln[2]})" if ln[2] and ln[2] != "body" else ""))
    else:
        raise DebuggerError(f'undefined info command: "{what}"')


@command("registers", aliases=("regs",), help="registers [REG...]: show registers")
def _regs(s: Session, arg: str) -> None:
    regs, changed = s.dbg.changed_registers()
    names = [a.lstrip("$") for a in arg.split()] or list(regs)
    for n in names:
        if n not in regs:
            raise DebuggerError(f"invalid register `{n}'")
        v = regs[n]
        mark = "*" if n in changed else " "
        sym = s.mc.image.symbolize(v) if n in (s.mc.arch.pc,) else None
        s.w(f"{mark}{n:<8} {s.hexw(v)}  {v}" + (f"  <{sym}>" if sym else ""))


# -- looking -----------------------------------------------------------------------------------
_FMT_LETTERS = "xduotacfsiz"


def _fmt_int(s: Session, x: int, size: int, signed: bool, fmt: str) -> str:
    bits = 8 * max(size, 1)
    x &= (1 << bits) - 1
    sx = x - (1 << bits) if signed and x >> (bits - 1) else x
    if fmt == "x":
        return f"{x:#x}"
    if fmt == "z":
        return f"{x:#0{2 + 2 * size}x}"
    if fmt == "d":
        return str(x - (1 << bits) if x >> (bits - 1) else x)
    if fmt == "u":
        return str(x)
    if fmt == "o":
        return f"0{x:o}" if x else "0"
    if fmt == "t":
        return f"{x:b}"
    if fmt == "c":
        c = x & 0xff
        return f"{c - 256 if c > 127 else c} {_char(c)}"
    if fmt == "a":
        sym = s.mc.image.symbolize(x)
        return f"{x:#x}" + (f" <{sym}>" if sym else "")
    # no format: hex, then the decimal value as the type reads it
    return f"{x:#x} ({sx})"


def _char(c: int) -> str:
    esc = {0: "\\0", 7: "\\a", 8: "\\b", 9: "\\t", 10: "\\n", 11: "\\v", 12: "\\f", 13: "\\r", 39: "\\'",
           92: "\\\\"}
    if c in esc:
        return f"'{esc[c]}'"
    return f"'{chr(c)}'" if 32 <= c < 127 else f"'\\{c:03o}'"


def format_value(s: Session, v: Value, fmt: str = "") -> str:
    """One value as print shows it (a struct: one line per field, indented)."""
    mc = s.mc
    t = v.type
    if t.kind in ("struct", "array"):
        from .expr import struct_fields
        fields = struct_fields(mc, v)
        lines = [f"({t} *) {v.addr:#x} = {{"]
        arrays: dict[str, list[int]] = {}
        for k, val in fields.items():
            base = re.sub(r"\[\d+\]$", "", k)
            if base != k:
                arrays.setdefault(base, []).append(val)
        shown = set()
        for k, val in fields.items():
            base = re.sub(r"\[\d+\]$", "", k)
            if base != k and not any(arrays[base]):
                if base not in shown:
                    shown.add(base)
                    lines.append(f"  {base} = {{0 <repeats {len(arrays[base])} times>}}")
                continue
            lines.append(f"  {k} = " + (_fmt_int(s, val, s.mc.arch.ptrsize, False, fmt) if fmt else f"{val:#x}"))
        lines.append("}")
        return "\n".join(lines)
    x = value_int(mc, v)
    if t.kind == "func":
        return f"{{<text variable, no debug info>}} {x:#x} <{mc.symbolize(x)}>" if not fmt else \
            _fmt_int(s, x, t.size, False, fmt)
    if t.kind == "ptr":
        if fmt:
            return _fmt_int(s, x, t.size, False, fmt)
        sym = mc.image.symbolize(x) if x else None
        return f"({t}) {x:#x}" + (f" <{sym}>" if sym else "")
    if fmt:
        return _fmt_int(s, x, t.size, t.signed, fmt)
    if t.name == "code":
        return f"{x:#x} <{mc.symbolize(x)}>"
    return _fmt_int(s, x, t.size, t.signed, "")


def _split_fmt(arg: str) -> tuple[str, str]:
    fmt = ""
    if arg.startswith("/"):
        fmt, _, arg = arg[1:].partition(" ")
    return fmt, arg.strip()


@command("print", aliases=("p", "inspect", "call"),
         help="print[/FMT] EXPR: C-like expressions over $registers, globals (their value), m, g (the "
              "goroutine), m0, g0, curg, stktop and casts: p m->cret, p &m.cret, p *(Stktop*)$sp, "
              "p 0x10*4, p/x, p/t, p/d, p/o, p/c, p/a; p VAR = VALUE assigns", args="expr")
def _print(s: Session, arg: str) -> None:
    fmt, arg = _split_fmt(arg)
    if fmt and not re.fullmatch(r"[xduotacz]", fmt):
        raise DebuggerError(f"Undefined output format \"{fmt}\".")
    if not arg:
        raise DebuggerError("print needs an expression")
    v = s.dbg.evaluate(arg, s.frame)
    s.w("$ = " + format_value(s, v, fmt))


@command("output", help="output EXPR: print without '$ = '", args="expr")
def _output(s: Session, arg: str) -> None:
    fmt, arg = _split_fmt(arg)
    s.w(format_value(s, s.dbg.evaluate(arg, s.frame), fmt))


@command("set", help="set var EXPR = VALUE (memory, a register: set var $rax = 0, set var m->cret = 0); "
                     "the present becomes a new origin of history", args="expr")
def _set(s: Session, arg: str) -> None:
    word, _, rest = arg.partition(" ")
    if word in ("var", "variable"):
        arg = rest
    elif not arg:
        raise DebuggerError('"set" needs "var EXPR = VALUE"')
    s.dbg.set_var(arg)


_PER_LINE = {1: 8, 2: 8, 4: 4, 8: 2}


@command("x", help="x/NFU ADDR: examine memory as gdb does. F: x d u o t a c z (numbers), s (strings), "
                   "i (instructions); U: b h w g (1, 2, 4, 8 bytes; c and s default to b, a to the pointer "
                   "size); format and unit are remembered; 'x' alone continues", args="expr")
def _x(s: Session, arg: str) -> None:
    fmt, arg = _split_fmt(arg)
    m = re.fullmatch(r"(-?\d*)([xduotacfsizbhwg]*)", fmt)
    if not m:
        raise DebuggerError(f"Invalid number \"{fmt}\".")
    count = int(m.group(1) or 1)
    if count <= 0:
        raise DebuggerError("count must be positive")
    f, unit = s.x_fmt
    unit_given = None
    for ch in m.group(2):
        if ch in "bhwg":
            unit_given = {"b": 1, "h": 2, "w": 4, "g": 8}[ch]
        else:
            f = ch
    if unit_given:
        unit = unit_given
    elif f in "cs" and m.group(2):
        unit = 1
    elif f == "a":
        unit = s.mc.arch.ptrsize
    if arg:
        addr = s.dbg.eval(arg, s.frame)
    elif s.x_next is not None:
        addr = s.x_next
    else:
        addr = s.mc.sp
    if f == "i":
        ins = s.mc.disasm(addr, count)
        if not ins:
            raise MemoryError_(addr)
        for a, text, raw in ins:
            _insn_line(s, a, text)
        last = ins[-1]
        s.x_next = last[0] + len(last[2])
    elif f == "s":
        strs = s.dbg.strings(addr, count)
        for a, text in strs:
            s.w(f"{a:#x}" + _sym_suffix(s, a) + f':\t"{_cstr(text.encode("latin-1"))}"')
        s.x_next = strs[-1][0] + len(strs[-1][1]) + 1
    else:
        rows = s.dbg.examine(addr, count, unit)
        per = _PER_LINE[unit]
        vals = [v for _a, vs in rows for v in vs]
        for i in range(0, len(vals), per):
            chunk = vals[i:i + per]
            if f in ("x", "f"):
                txt = [f"{v:#0{2 + 2 * unit}x}" for v in chunk]
            else:
                txt = [_fmt_int(s, v, unit, True, f) for v in chunk]
            a = addr + i * unit
            s.w(f"{a:#x}" + _sym_suffix(s, a) + ":\t" + "\t".join(txt))
        s.x_next = addr + count * unit
    s.x_fmt = (f, unit)
    s.repeat_line = f"x/{count}{f}" + ("" if f in "is" else "bhwg"[[1, 2, 4, 8].index(unit)])


def _sym_suffix(s: Session, a: int) -> str:
    sym = s.mc.image.symbolize(a)
    return f" <{sym}>" if sym else ""


def _cstr(raw: bytes) -> str:
    out = []
    for c in raw:
        if c == 34:
            out.append('\\"')
        elif c == 92:
            out.append("\\\\")
        elif 32 <= c < 127:
            out.append(chr(c))
        else:
            out.append({10: "\\n", 9: "\\t", 13: "\\r"}.get(c, f"\\{c:03o}"))
    return "".join(out)


def _insn_line(s: Session, a: int, text: str, mark_pc: bool = True) -> None:
    mark = "=>" if mark_pc and a == s.mc.pc else "  "
    tgt = s.dbg.branch_target(text)
    if tgt is not None:
        text += f" <{s.mc.symbolize(tgt)}>"
    s.w(f"{mark} {a:#x} <{s.mc.symbolize(a)}>:\t{text}")


@command("disassemble", aliases=("disas",),
         help="disassemble [SYM|ADDR] [N]: the whole function (goasm or C) around pc or ADDR, branch and "
              "call targets named; with N: N instructions from ADDR", args="symbol")
def _disas(s: Session, arg: str) -> None:
    parts = arg.split()
    count = None
    if len(parts) > 1 and re.fullmatch(r"\d+|0x[0-9a-fA-F]+", parts[-1]):
        count = _count(parts[-1])
        parts = parts[:-1]
    addr = s.dbg.eval(" ".join(parts)) if parts else None
    if addr is None and s.frame:
        addr = s.dbg.backtrace()[s.frame].pc
    name, insns = s.dbg.disassemble(addr, count)
    s.w(f"Dump of assembler code for {'function ' if count is None else ''}{name}:")
    for a, text, _raw in insns:
        _insn_line(s, a, text)
    s.w("End of assembler dump.")


BT_LIMIT = 64


@command("backtrace", aliases=("bt", "where"),
         help="backtrace [N | full]: frames across stack segments (N: the innermost N; default: all, in "
              "pages of 64 with the count of the rest)")
def _bt(s: Session, arg: str) -> None:
    arg = arg.strip()
    limit = BT_LIMIT
    if arg in ("full", "-full"):
        limit = 1 << 20
    elif arg:
        limit = _count(arg)
    frames = s.dbg.backtrace(limit=1 << 20)
    for i, f in enumerate(frames[:limit]):
        s.w(_frame_line(s, i, f))
    if len(frames) > limit:
        s.w(f"(More stack frames follow: {len(frames) - limit} more; \"bt full\" shows them all)")


def _frame_line(s: Session, i: int, f) -> str:
    seg = f"seg {f.segment}" if f.segment is not None else "g0"
    return (f"#{i:<2} {f.pc:#x} in {f.symbol:<24} sp={f.sp:#x} [{seg}]" + (f"  ({f.note})" if f.note else ""))


def _select(s: Session, n: int) -> None:
    frames = s.dbg.backtrace(limit=n + 2)
    if n >= len(frames):
        raise DebuggerError("Initial frame selected; you cannot go up." if n > 0 and len(frames) <= s.frame + 1
                            else f"No frame at level {n}.")
    s.frame = n
    f = frames[n]
    s.w(_frame_line(s, n, f))
    _source_line(s, f.pc)


def _source_line(s: Session, pc: int) -> None:
    ln = s.mc.image.line_at(pc)
    if ln:
        text = _file_lines(s, ln[0])
        if text and 0 < ln[1] <= len(text):
            s.w(f"{ln[1]}\t{text[ln[1] - 1]}")


@command("frame", aliases=("f",), help="frame [N]: select frame N of the backtrace (default: show the selected)")
def _frame(s: Session, arg: str) -> None:
    _select(s, _count(arg, s.frame))


@command("up", help="up [N]: select the frame N levels outwards (the caller)")
def _up(s: Session, arg: str) -> None:
    n = _count(arg)
    frames = s.dbg.backtrace(limit=s.frame + n + 1)
    if s.frame + 1 >= len(frames):
        raise DebuggerError("Initial frame selected; you cannot go up.")
    _select(s, min(s.frame + n, len(frames) - 1))


@command("down", help="down [N]: select the frame N levels inwards (the callee)")
def _down(s: Session, arg: str) -> None:
    n = _count(arg)
    if s.frame == 0:
        raise DebuggerError("Bottom (innermost) frame selected; you cannot go down.")
    _select(s, max(0, s.frame - n))


def _info_frame(s: Session) -> None:
    frames = s.dbg.backtrace(limit=s.frame + 2)
    f = frames[s.frame]
    s.w(f"Stack level {s.frame}, frame at sp={f.sp:#x}:")
    seg = f"segment {f.segment}" if f.segment is not None else "g0 (the scheduler stack)"
    s.w(f" pc = {f.pc:#x} in {f.symbol}; on {seg}")
    fn = s.mc.image.func_at(f.pc)
    if fn is not None:
        s.w(f" function {fn.name}: ${fn.frame}-{fn.args}" + (" NOSPLIT" if fn.nosplit else "")
            + f", frame {'allocated' if fn.frame_allocated(f.pc) else 'not allocated yet'} "
            f"({fn.frame_size} bytes below its entry sp); {fn.file}:{fn.line}")
    if s.frame + 1 < len(frames):
        c = frames[s.frame + 1]
        s.w(f" saved pc = {c.pc:#x} <{c.symbol}>; called by frame at sp={c.sp:#x}")
    else:
        s.w(" outermost frame")
    if s.frame > 0:
        s.w(f" caller of frame at sp={frames[s.frame - 1].sp:#x}")
    if f.note:
        s.w(f" {f.note}")


# -- display -----------------------------------------------------------------------------------
@command("display", help="display[/FMT] EXPR: print EXPR (x/FMT for i, s or a count) after every stop; "
                         "display alone shows them all now", args="expr")
def _display(s: Session, arg: str) -> None:
    fmt, expr = _split_fmt(arg)
    if not expr:
        s.do_displays()
        return
    s.dbg.evaluate(expr)                # refuse a bad expression now
    num = s._next_display
    s._next_display += 1
    s.displays[num] = (fmt, expr)
    saved, s.displays = s.displays, {num: (fmt, expr)}
    try:
        s.do_displays()
    finally:
        s.displays = saved


@command("undisplay", help="undisplay [N...]: stop displaying (all without N)")
def _undisplay(s: Session, arg: str) -> None:
    if not arg.strip():
        s.displays.clear()
        return
    for a in arg.replace(",", " ").split():
        n = _count(a)
        if n not in s.displays:
            raise DebuggerError(f"Arguments must be display numbers: no display {n}")
        del s.displays[n]


# -- source ------------------------------------------------------------------------------------
def _file_lines(s: Session, file: str) -> list[str] | None:
    cache = s.__dict__.setdefault("_files", {})
    if file not in cache:
        root = Path(__file__).resolve().parent.parent
        text = None
        for cand in (Path(file), root / file, Path(__file__).resolve().parent / file):
            try:
                text = cand.read_text().splitlines()
                break
            except (OSError, UnicodeDecodeError):
                continue
        cache[file] = text
    return cache[file]


@command("list", aliases=("l",), help="list [SYM | FILE:LINE | LINE]: source lines of the goasm program or "
                                       "runtime around pc (or SYM); 'list' again continues", args="symbol")
def _list(s: Session, arg: str) -> None:
    arg = arg.strip()
    img = s.mc.image
    if not arg and s.list_next is not None:
        file, first = s.list_next
    else:
        if not arg:
            pc = s.dbg.backtrace(limit=s.frame + 1)[s.frame].pc if s.frame else s.mc.pc
            ln = img.line_at(pc)
            fn = img.func_at(pc)
            if ln is None and fn is None:
                raise DebuggerError(f"No line number information available for address {pc:#x} "
                                    f"<{s.mc.symbolize(pc)}> (C code of the runtime)")
            file, center = (ln[0], ln[1]) if ln else (fn.file, fn.line)
        elif re.fullmatch(r"\d+", arg):
            fn = img.func_at(s.mc.pc)
            if fn is None:
                raise DebuggerError("No current source file (pc is in C code).")
            file, center = fn.file, int(arg)
        elif ":" in arg and re.fullmatch(r".+:\d+", arg):
            file, _, ln = arg.rpartition(":")
            center = int(ln)
            known = {f.file for f in img.functions.values()}
            match = [k for k in known if k == file or k.endswith("/" + file)]
            if not match:
                raise DebuggerError(f'No source file named {file}.')
            file = match[0]
        else:
            addr = s.dbg.eval(arg)
            fn = img.func_at(addr)
            if fn is None:
                raise DebuggerError(f"No line number information for {arg} (not a goasm function)")
            ln = img.line_at(addr)
            file, center = (fn.file, fn.line) if addr == fn.addr or ln is None else (ln[0], ln[1])
        first = max(1, center - 5)
    text = _file_lines(s, file)
    if text is None:
        raise DebuggerError(f"cannot read source file {file}")
    if first > len(text):
        raise DebuggerError(f"Line number {first} out of range; \"{file}\" has {len(text)} lines.")
    last = min(len(text), first + 9)
    for n in range(first, last + 1):
        s.w(f"{n}\t{text[n - 1]}")
    s.list_next = (file, last + 1)
    s.repeat_line = "list"


@command("stack", help="the goroutine's stack segments: bounds, stackguard, Stktop, free space")
def _stack(s: Session, arg: str) -> None:
    segs = s.dbg.stack_segments()
    if not segs:
        s.w("no goroutine stack yet")
        return
    for sg in segs:
        cur = " (current)" if sg["current"] else ""
        s.w(f"segment {sg['index']}{cur}: [{sg['lo']:#x}, {sg['hi']:#x})  {sg['hi'] - sg['lo']} bytes")
        s.w(f"  stackguard={sg['stackguard']:#x}  stackbase={sg['stackbase']:#x}")
        if sg["sp"] is not None:
            free = sg["free"]
            s.w(f"  sp={sg['sp']:#x}" + (f"  free={free} bytes" if free is not None else ""))
        if sg["stktop"] and any(sg["fields"].values()):
            f = sg["fields"]
            s.w(f"  Stktop @ {sg['stktop']:#x}: "
                + "  ".join(f"{k}={v:#x}" for k, v in f.items() if k not in ("panic",)))
        else:
            s.w("  (first segment: no older segment)")


@command("context", aliases=("ctx",), help="registers (changed marked *), next instructions, stack top, g and m")
def _context(s: Session, arg: str) -> None:
    mc = s.mc
    regs, changed = s.dbg.changed_registers()
    s.w(f"── registers [insn {s.dbg.n}] " + "─" * 30)
    row = []
    for n, v in regs.items():
        row.append(f"{'*' if n in changed else ' '}{n}={v:#x}")
        if len(row) == 4:
            s.w("  ".join(row))
            row = []
    if row:
        s.w("  ".join(row))
    s.w("── code " + "─" * 40)
    for a, text, _raw in mc.disasm(mc.pc, 5):
        s.w(f"{'=>' if a == mc.pc else '  '} {a:#x} <{mc.symbolize(a)}>:\t{text}")
    s.w("── stack " + "─" * 39)
    for a, v in s.dbg.stack_words(6):
        sym = mc.image.symbolize(v)
        s.w(f"  {a:#x}: {s.hexw(v)}" + (f"  <{sym}>" if sym else ""))
    s.w("── g / m " + "─" * 39)
    g, m = mc.g, mc.m
    gname = "g0" if g == mc.g0 else "g"
    try:
        s.w(f"  {gname}={g:#x} stackguard={mc.field('G', g, 'stackguard'):#x} "
            f"stackbase={mc.field('G', g, 'stackbase'):#x}")
        s.w(f"  m={m:#x} cret={mc.field('M', m, 'cret'):#x} curg={mc.field('M', m, 'curg'):#x} "
            f"morepc={mc.field('M', m, 'morepc'):#x}")
    except Exception:  # noqa: BLE001 - before boot g/m may not be readable
        s.w(f"  g={g:#x} m={m:#x}")


# -- the collector ------------------------------------------------------------------------------
@command("gc", help="run a collection now and show its report")
def _gc(s: Session, arg: str) -> None:
    rep = s.dbg.gc()
    s.w(f"collection #{rep.index} at insn {rep.icount}: heap {rep.heap_before} -> {rep.heap_after} bytes, "
        f"{len(rep.freed)} freed, {len(rep.retained)} retained")
    for o in rep.retained:
        s.w(f"  kept  {o.addr:#x} ({o.size} bytes): {o.path_text()}")
    for o in rep.freed:
        s.w(f"  freed {o.addr:#x} ({o.size} bytes)")


@command("why", help="why ADDR: the root path keeping an object alive (last collection)", args="expr")
def _why(s: Session, arg: str) -> None:
    addr = s.dbg.eval(arg)
    kind, o, rep = s.dbg.why(addr)
    if kind == "freed":
        s.w(f"{o.addr:#x} ({o.size} bytes) was unreachable and freed by collection #{rep.index}")
        return
    s.w(f"{o.addr:#x} ({o.size} bytes) kept by collection #{rep.index} via root {o.root}"
        + (f" at {o.root_addr:#x}" if o.root_addr is not None else ""))
    s.w(f"  {o.path_text()}")


# -- session -----------------------------------------------------------------------------------
@command("source", help="source FILE: run commands from a file", args="file")
def _source(s: Session, arg: str) -> None:
    path = Path(os.path.expanduser(arg.strip()))
    if s.depth > 8:
        raise DebuggerError("source nested too deeply")
    try:
        lines = path.read_text().splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise DebuggerError(f"cannot read {path}: {getattr(e, 'strerror', None) or e}") from None
    s.depth += 1
    try:
        for line in lines:
            if not s.execute(line):
                break
    finally:
        s.depth -= 1


@command("help", aliases=("h",), help="help [COMMAND]", args="command")
def _help(s: Session, arg: str) -> None:
    if arg:
        c = lookup(arg.strip())
        al = f" (aliases: {', '.join(c.aliases)})" if c.aliases else ""
        s.w(f"{c.name}{al}: {c.help}")
        return
    s.w("goemu's debugger works at the instruction level: s/step mean stepi, n/next mean nexti.")
    s.w("An empty line repeats the last command (x and list continue).  Ctrl-C stops a long command.")
    s.w("")
    for name in sorted(COMMANDS):
        c = COMMANDS[name]
        head = name + (f" ({', '.join(c.aliases)})" if c.aliases else "")
        s.w(f"  {head:<38} {c.help}")


# -- completion --------------------------------------------------------------------------------
def completion_words(dbg: Debugger) -> list[str]:
    mc = dbg.mc
    words = set(mc.image.symbols)
    for name in ("m", "g", "m0", "g0", "curg"):
        sname = "M" if name.startswith("m") else "G"
        words.add(name)
        words.update(f"{name}.{f.path}" for f in mc.layouts[sname].leaves
                     if not re.search(r"\[[1-9]\d*\]$", f.path))
    words.update(f"stktop.{f.path}" for f in mc.layouts["Stktop"].leaves)
    words.update({"stktop", "*stktop"})
    words.update(f"${r}" for r in mc.arch.regs)
    return sorted(words)


def make_completer(dbg: Debugger):
    from prompt_toolkit.completion import Completer, Completion

    words = completion_words(dbg)
    cmds = sorted(set(COMMANDS) | set(ALIASES))

    class _C(Completer):
        def get_completions(self, document, complete_event):
            text = document.text_before_cursor
            parts = text.split()
            if not parts or (len(parts) == 1 and not text.endswith(" ")):
                cur = parts[0] if parts else ""
                for c in cmds:
                    if c.startswith(cur):
                        yield Completion(c, -len(cur))
                return
            cur = "" if text.endswith(" ") else parts[-1]
            if parts[0] in ("info",) and len(parts) <= 2:
                pool = ["breakpoints", "registers", "snapshots", "symbol", "frame", "display", "line"]
            elif parts[0] in ("help",):
                pool = cmds
            else:
                pool = words
            for w in pool:
                if w.startswith(cur):
                    yield Completion(w, -len(cur))

    return _C()


# -- entry points ------------------------------------------------------------------------------
def _load(program_path: str | None, arch: str):
    from .run import load_program
    if program_path is None:
        program_path = str(Path(__file__).parent / "demos" / f"leak_{arch}.s")
    return load_program(program_path), program_path


class BatchFileError(UsageError):
    """The --batch / -x file cannot be read."""


def _batch_lines(path: str) -> list[str]:
    try:
        return Path(path).read_text().splitlines()
    except (OSError, UnicodeDecodeError) as e:
        reason = getattr(e, "strerror", None) or str(e)
        raise BatchFileError(f"cannot read batch file {path}: {reason}") from None


BATCH_FAILED = 1


def run_repl(arch: str, variant: str, program_path: str | None = None, batch_file: str | None = None,
             out: TextIO = sys.stdout, max_insns: int | None = None, history: str | None = None,
             err: TextIO | None = None, stop_on_error: bool = False, workload: tuple | None = None) -> int:
    """Run an interactive session (or a batch file); returns an exit code:
    0, or the exit code of the error that prevented the session (a batch
    file that cannot be read: 64; a program that does not assemble: 1).
    A batch file runs every command even after one fails (unless
    ``stop_on_error``) and then exits 1 (BATCH_FAILED) if any command failed:
    stricter than gdb -batch, which looks at the last command only, so that a
    failure in the middle of a script is never lost."""
    try:
        lines = _batch_lines(batch_file) if batch_file is not None else None
        if workload is not None:
            unit, shown, wbudget = workload
            max_insns = max(max_insns or 0, wbudget)
        else:
            unit, shown = _load(program_path, arch)
        dbg = new_debugger(arch, variant, unit, budget=max_insns)
    except GoemuError as e:
        (err or sys.stderr).write(f"goemu repl: error: {str(e).splitlines()[0]}\n")
        return getattr(e, "exit_code", 1)
    if lines is not None:
        s = Session(dbg, out, echo=True)
        for line in lines:
            if not s.execute(line):
                break
            if stop_on_error and s.last_failed:
                s.w("(stopping: --stop-on-error)")
                break
        return BATCH_FAILED if s.failures else 0
    s = Session(dbg, out)
    from prompt_toolkit import PromptSession
    from prompt_toolkit.history import FileHistory
    hist = history or os.environ.get("GOEMU_HISTORY") or os.path.expanduser("~/.goemu_history")
    ps = PromptSession(history=FileHistory(hist), completer=make_completer(dbg),
                       complete_while_typing=False)
    s.w(f"goemu debugger: {shown} on {arch}/{variant}, stopped at {s.where(dbg.mc.pc)}. "
        f'Type "help" for commands.')
    while True:
        try:
            line = ps.prompt(PROMPT)
        except KeyboardInterrupt:
            continue
        except EOFError:
            break
        if not s.execute(line, repeat=True):
            break
    return 0


def _handler(args: argparse.Namespace) -> int:
    batch = args.batch or args.x
    try:
        workload = _workload(args)
    except GoemuError as e:
        sys.stderr.write(f"goemu repl: error: {str(e).splitlines()[0]}\n")
        return getattr(e, "exit_code", 1)
    return run_repl(args.arch, args.variant, args.program, batch, max_insns=args.max_insns,
                    stop_on_error=args.stop_on_error, workload=workload)


def _workload(args: argparse.Namespace) -> tuple | None:
    """(unit, name shown, instruction budget) of --workload, or None."""
    from .workloads.cli import workload_unit
    from .workloads.registry import get, parse_params
    unit = workload_unit(args)
    if unit is None:
        return None
    w = get(args.workload)
    params = w.resolve(args.size, parse_params(args.param))
    shown = f"workload {w.name} (" + ", ".join(f"{k}={v}" for k, v in params.items()) + ")"
    return unit, shown, w.budget(params)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("program", nargs="?", help="goasm program (default: the built-in m->cret leak demo)")
    p.add_argument("--arch", choices=ARCH_NAMES, default="amd64")
    p.add_argument("--variant", choices=["buggy", "fixed"], default="buggy")
    p.add_argument("--batch", metavar="FILE", help="run commands from FILE and exit")
    p.add_argument("-x", metavar="FILE", help="same as --batch")
    p.add_argument("--stop-on-error", action="store_true",
                   help="batch: stop at the first command that fails (default: run them all; the exit status "
                        "is 1 if any failed)")
    p.add_argument("--max-insns", type=int, default=None, help="instruction budget of one continue")
    from .workloads.cli import add_options
    add_options(p)          # --workload NAME [--size] [--param NAME=VALUE]: debug a workload of the suite


def register(subparsers) -> argparse.ArgumentParser:
    """Add ``goemu repl`` to an argparse subparsers object."""
    p = subparsers.add_parser("repl", help="debugger REPL: step through splits and unsplits, forwards and back")
    add_arguments(p)
    p.set_defaults(func=_handler, handler=_handler)
    return p


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="goemu repl")
    add_arguments(p)
    return _handler(p.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
