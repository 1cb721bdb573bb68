"""``monitor`` commands (gdb's qRcmd): goemu's runtime views as text.

Each command calls the debugger core and formats what it returns; the text
goes back to gdb, which prints it.
"""
from __future__ import annotations

from ..debugger import Debugger, DebuggerError

HELP = """goemu monitor commands:
  monitor gc               run the conservative collector now; each retained object with its root chain
  monitor why ADDR         what keeps the heap object at ADDR alive (or that it was freed) in the last collection
  monitor stack            the goroutine's stack segments, newest first
  monitor bt               goemu's backtrace across stack segments
  monitor goto N           go to instruction N (forwards or backwards); then run
                           `maintenance flush register-cache` so gdb re-reads the registers
  monitor info snapshots   the positions goemu can restore directly
  monitor where            the exact position (instructions since boot) and pc
  monitor help             this text"""


def run_monitor(dbg: Debugger, line: str) -> str:
    words = line.split()
    if not words or words[0] == "help":
        return HELP
    cmd, args = words[0], words[1:]
    mc = dbg.mc
    if cmd == "gc":
        from ..present import gc_report
        rep = dbg.gc()
        return gc_report(rep, dbg.arch.name)
    if cmd == "why":
        if len(args) != 1:
            raise DebuggerError("usage: monitor why ADDR")
        addr = dbg.eval(args[0])
        kind, obj, rep = dbg.why(addr)
        if kind == "retained":
            return (f"object {obj.addr:#x} ({obj.size} bytes) is retained in collection #{rep.index}: "
                    f"root {obj.root} at {obj.root_addr:#x}\n  {obj.path_text()}")
        return f"object {obj.addr:#x} ({obj.size} bytes) was freed by collection #{rep.index}"
    if cmd == "stack":
        segs = dbg.stack_segments()
        if not segs:
            return "no goroutine stack yet"
        out = []
        for s in segs:
            sp = f"sp={s['sp']:#x}" if s["sp"] is not None else "sp=?"
            free = f" free={s['free']}" if s["free"] is not None else ""
            top = f" stktop={s['stktop']:#x}" if s["stktop"] is not None else ""
            out.append(f"{'*' if s['current'] else ' '} segment {s['index']}: [{s['lo']:#x}, {s['hi']:#x}) "
                       f"stackguard={s['stackguard']:#x} stackbase={s['stackbase']:#x}{top} {sp}{free}")
        return "\n".join(out)
    if cmd in ("bt", "backtrace"):
        return "\n".join(f"#{i} {f.pc:#x} in {f.symbol} sp={f.sp:#x}"
                         + (f" [segment {f.segment}]" if f.segment is not None else "")
                         + (f" {f.note}" if f.note else "")
                         for i, f in enumerate(dbg.backtrace()))
    if cmd == "goto":
        if len(args) != 1:
            raise DebuggerError("usage: monitor goto N")
        try:
            n = int(args[0], 0)
        except ValueError:
            raise DebuggerError(f"not an instruction number: {args[0]!r}") from None
        if n > dbg.n + dbg.budget:
            raise DebuggerError(f"instruction {n} is beyond this run's budget ({dbg.budget} instructions "
                                f"from {dbg.n}); use continue, or a larger --max-insns")
        dbg.goto(n)
        return (f"now at instruction {dbg.n}, pc {mc.pc:#x} <{mc.symbolize(mc.pc)}>\n"
                "(gdb still shows the old registers: `maintenance flush register-cache`)")
    if cmd == "info" and args[:1] == ["snapshots"]:
        snaps = dbg.snapshots()
        return (f"{len(snaps)} snapshots at instructions: " + ", ".join(str(n) for n in snaps)
                + f"\nnow at instruction {dbg.n}")
    if cmd == "where":
        return f"instruction {dbg.n}, pc {mc.pc:#x} <{mc.symbolize(mc.pc)}>"
    raise DebuggerError(f'unknown monitor command "{line.strip()}" (monitor help lists them)')
