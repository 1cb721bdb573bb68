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

from .debugger import Debugger, DebuggerError, Stop, new_debugger
from .errors import GoemuError, UsageError

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


class Session:
    def __init__(self, dbg: Debugger, out: TextIO = sys.stdout, echo: bool = False):
        self.dbg = dbg
        self.mc = dbg.mc
        self.out = out
        self.echo = echo
        self.depth = 0

    def w(self, text: str = "") -> None:
        self.out.write(text + "\n")
        self.out.flush() if hasattr(self.out, "flush") else None

    # -- dispatch ----------------------------------------------------------------------
    def execute(self, line: str) -> bool:
        """Run one command line; False when the session should end."""
        line = line.strip()
        if not line or line.startswith("#"):
            return True
        if self.echo:
            self.w(PROMPT + line)
        m = re.match(r"^(x|p|print|output)/(\S*)\s*(.*)$", line)
        if m:
            word, rest = m.group(1), "/" + m.group(2) + " " + m.group(3)
        else:
            word, _, rest = line.partition(" ")
        if word in ("quit", "q", "exit"):
            return False
        old = None
        self.dbg.clear_interrupt()          # a Ctrl-C belongs to the command it interrupted
        try:
            cmd = lookup(word)
            try:
                old = signal.signal(signal.SIGINT, lambda *_a: self.dbg.interrupt())
            except ValueError:       # not the main thread
                old = None
            cmd.fn(self, rest.strip())
        except (GoemuError, KeyError, ValueError, OSError) as e:
            msg = str(e).splitlines()[0] if str(e) else type(e).__name__
            self.w(f"error: {msg}")
        except KeyboardInterrupt:
            self.w("error: interrupted")
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
        self.w(f"=> {self.where(pc)}:\t{text}")

    def report(self, st: Stop) -> None:
        d = self.dbg
        if st.reason == "breakpoint":
            self.w(f"Breakpoint {st.bp.num}, {self.where(st.pc)}  [insn {st.icount}]")
        elif st.reason == "watchpoint":
            # gdb's shape; going back, Old is the later value and New the earlier one
            self.w(f"{WATCH_TITLE[st.bp.kind]} {st.bp.num}: {st.bp.spec}")
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


@command("stepi", aliases=("si",), help="stepi [N]: execute N instructions (exactly)")
def _si(s: Session, arg: str) -> None:
    s.report(s.dbg.stepi(_count(arg)))


@command("nexti", aliases=("ni",), help="nexti [N]: like stepi, stepping over calls")
def _ni(s: Session, arg: str) -> None:
    s.report(s.dbg.nexti(_count(arg)))


@command("finish", aliases=("fin",), help="run until the current function returns (across lessstack)")
def _finish(s: Session, arg: str) -> None:
    s.report(s.dbg.finish())


@command("until-split", help="run to the next morestack entry (a stack split)")
def _usplit(s: Session, arg: str) -> None:
    s.report(s.dbg.until_split())


@command("until-unsplit", help="run to the next lessstack entry (a stack unsplit)")
def _uunsplit(s: Session, arg: str) -> None:
    s.report(s.dbg.until_unsplit())


@command("reverse-stepi", aliases=("rsi",), help="reverse-stepi [N]: go back N instructions")
def _rsi(s: Session, arg: str) -> None:
    s.report(s.dbg.reverse_stepi(_count(arg)))


@command("reverse-nexti", aliases=("rni",), help="reverse-nexti [N]: go back, stepping over calls")
def _rni(s: Session, arg: str) -> None:
    s.report(s.dbg.reverse_nexti(_count(arg)))


@command("reverse-continue", aliases=("rc",),
         help="go back to the previous breakpoint or watchpoint hit (a watched store: its instruction)")
def _rc(s: Session, arg: str) -> None:
    if s.dbg.n == 0:
        raise DebuggerError("no more reverse-execution history")
    s.w("Continuing backwards.")
    s.report(s.dbg.reverse_continue())


@command("reverse-finish", help="go back to the call of the current function")
def _rfinish(s: Session, arg: str) -> None:
    s.report(s.dbg.reverse_finish())


@command("goto", help="goto N: go to instruction number N (forward or back)")
def _goto(s: Session, arg: str) -> None:
    s.dbg.goto(_count(arg, 0))
    s.report(s.dbg._stop("step"))


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


@command("watch", help="watch EXPR: stop after a write that changes it (m.cret, g.stackguard, ADDR)",
         args="expr")
def _watch(s: Session, arg: str) -> None:
    if not arg:
        raise DebuggerError("argument required (expression to watch)")
    bp = s.dbg.add_watch(arg)
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


@command("info", help="info breakpoints | registers [REG] | snapshots | symbol ADDR", args="info")
def _info(s: Session, arg: str) -> None:
    what, _, rest = arg.partition(" ")
    if not what:
        raise DebuggerError('"info" needs a subcommand: breakpoints, registers, snapshots')
    if "breakpoints".startswith(what) or "watchpoints".startswith(what):
        bps = s.dbg.breakpoints
        if not bps:
            s.w("No breakpoints or watchpoints.")
            return
        s.w("Num  Type            Address             Hits  What")
        for bp in bps.values():
            typ = {"break": "breakpoint", "tbreak": "breakpoint (temp)", "watch": "hw watchpoint",
                   "rwatch": "read watchpoint", "awatch": "acc watchpoint"}[bp.kind]
            s.w(f"{bp.num:<4} {typ:<15} {s.hexw(bp.addr):<19} {bp.hits:<5} "
                + (bp.spec if bp.is_watch else f"<{s.mc.symbolize(bp.addr)}>"))
    elif what in ("registers", "reg", "regs", "r", "all-registers"):
        _regs(s, rest)
    elif "snapshots".startswith(what):
        sn = s.dbg.snapshots()
        s.w(f"{len(sn)} snapshots, every {s.dbg.snap_interval} instructions; latest at {sn[-1] if sn else '-'}")
    elif "symbol".startswith(what):
        s.w(s.mc.symbolize(s.dbg.eval(rest)))
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
def _print_result(s: Session, kind: str, val, fmt: str = "") -> None:
    if kind == "int":
        if fmt == "x":
            s.w(f"$ = {val:#x}")
        elif fmt == "d":
            s.w(f"$ = {val}")
        else:
            s.w(f"$ = {val:#x} ({val})")
        return
    name, addr, fields = val
    s.w(f"({name} *) {addr:#x} = {{")
    arrays: dict[str, list[int]] = {}
    for k, v in fields.items():
        base = re.sub(r"\[\d+\]$", "", k)
        if base != k:
            arrays.setdefault(base, []).append(v)
    shown = set()
    for k, v in fields.items():
        base = re.sub(r"\[\d+\]$", "", k)
        if base != k and not any(arrays[base]):
            if base not in shown:
                shown.add(base)
                s.w(f"  {base} = {{0 <repeats {len(arrays[base])} times>}}")
            continue
        s.w(f"  {k} = {v:#x}")
    s.w("}")


@command("print", aliases=("p", "inspect"),
         help="print EXPR: $reg, m, m.cret, g.stackbase, *stktop, *(Stktop*)ADDR, sym+off", args="expr")
def _print(s: Session, arg: str) -> None:
    fmt = ""
    if arg.startswith("/"):
        fmt, _, arg = arg[1:].partition(" ")
    if not arg.strip():
        raise DebuggerError("print needs an expression")
    kind, val = s.dbg.print_value(arg)
    _print_result(s, kind, val, fmt)


@command("x", help="x/NFU ADDR: examine memory (F: x d u i s c; U: b h w g)", args="expr")
def _x(s: Session, arg: str) -> None:
    fmt = ""
    if arg.startswith("/"):
        fmt, _, arg = arg[1:].partition(" ")
    m = re.fullmatch(r"(\d*)([xduiscbhwgo]*)", fmt)
    if not m:
        raise DebuggerError(f"bad format {fmt!r}")
    count = int(m.group(1) or 1)
    letters = m.group(2)
    unit = 4
    f = "x"
    for ch in letters:
        if ch in "bhwg":
            unit = {"b": 1, "h": 2, "w": 4, "g": 8}[ch]
        else:
            f = ch
    addr = s.dbg.eval(arg) if arg.strip() else s.mc.sp
    if f == "i":
        for a, text, _raw in s.mc.disasm(addr, count):
            mark = "=>" if a == s.mc.pc else "  "
            s.w(f"{mark} {a:#x} <{s.mc.symbolize(a)}>:\t{text}")
        return
    if f == "s":
        for a, text in s.dbg.strings(addr, count):
            s.w(f"{a:#x}:\t{text!r}")
        return
    for a, vals in s.dbg.examine(addr, count, unit):
        if f == "d":
            txt = [str(v - (1 << 8 * unit) if v >> (8 * unit - 1) else v) for v in vals]
        elif f == "u":
            txt = [str(v) for v in vals]
        elif f == "c":
            txt = [repr(chr(v & 0xff)) for v in vals]
        elif f == "o":
            txt = [f"{v:#o}" for v in vals]
        else:
            txt = [f"{v:#0{2 + 2 * unit}x}" for v in vals]
        sym = s.mc.image.symbolize(a)
        s.w(f"{a:#x}" + (f" <{sym}>" if sym else "") + ":\t" + "\t".join(txt))


@command("disassemble", aliases=("disas",), help="disassemble [SYM|ADDR] [N]: a function (default: pc's)",
         args="symbol")
def _disas(s: Session, arg: str) -> None:
    parts = arg.split()
    addr = s.dbg.eval(parts[0]) if parts else None
    count = _count(parts[1]) if len(parts) > 1 else None
    name, insns = s.dbg.disassemble(addr, count)
    s.w(f"Dump of assembler code for {name}:")
    pc = s.mc.pc
    for a, text, _raw in insns:
        mark = "=>" if a == pc else "  "
        s.w(f"{mark} {a:#x} <{s.mc.symbolize(a)}>:\t{text}")
    s.w("End of assembler dump.")


@command("backtrace", aliases=("bt", "where"), help="backtrace across stack segments")
def _bt(s: Session, arg: str) -> None:
    for i, f in enumerate(s.dbg.backtrace()):
        seg = f"seg {f.segment}" if f.segment is not None else "g0"
        s.w(f"#{i:<2} {f.pc:#x} in {f.symbol:<24} sp={f.sp:#x} [{seg}]" + (f"  ({f.note})" if f.note else ""))


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
    for name in sorted(COMMANDS):
        c = COMMANDS[name]
        al = f" ({', '.join(c.aliases)})" if c.aliases else ""
        s.w(f"  {name}{al:<14} {c.help}")


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
                pool = ["breakpoints", "registers", "snapshots", "symbol"]
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


def run_repl(arch: str, variant: str, program_path: str | None = None, batch_file: str | None = None,
             out: TextIO = sys.stdout, max_insns: int | None = None, history: str | None = None,
             err: TextIO | None = None) -> int:
    """Run an interactive session (or a batch file); returns an exit code:
    0, or the exit code of the error that prevented the session (a batch
    file that cannot be read: 64; a program that does not assemble: 1)."""
    try:
        lines = _batch_lines(batch_file) if batch_file is not None else None
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
        return 0
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
        if not s.execute(line):
            break
    return 0


def _handler(args: argparse.Namespace) -> int:
    batch = args.batch or args.x
    return run_repl(args.arch, args.variant, args.program, batch, max_insns=args.max_insns)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("program", nargs="?", help="goasm program (default: the built-in m->cret leak demo)")
    p.add_argument("--arch", choices=["amd64", "arm"], default="amd64")
    p.add_argument("--variant", choices=["buggy", "fixed"], default="buggy")
    p.add_argument("--batch", metavar="FILE", help="run commands from FILE and exit")
    p.add_argument("-x", metavar="FILE", help="same as --batch")
    p.add_argument("--max-insns", type=int, default=None, help="instruction budget of one continue")


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
