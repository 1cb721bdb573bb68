"""``goemu gdbserver``: the GDB remote stub over goemu's debugger core.

    goemu gdbserver [PROGRAM] --arch amd64|arm --variant buggy|fixed [--port N]
    gdb-multiarch -ex 'file SYMBOLS' -ex 'target remote :PORT'

The protocol framing is in protocol.py, the register file and target
description in target.py (the per-arch data in emu/arch/<arch>/gdb.py), the
packet handlers in server.py, the ELF with goemu's symbols in elf.py and the
monitor commands in monitor.py.
"""
from __future__ import annotations

import argparse
import os
import shutil
import signal
import sys
import tempfile
from pathlib import Path

from ..arch import ARCH_NAMES
from ..errors import GoemuError


def serve(arch: str, variant: str, program: str | None = None, host: str = "127.0.0.1", port: int = 0,
          elf: str | None = None, max_insns: int | None = None, out=None, err=None) -> int:
    from ..debugger import new_debugger
    from ..run import load_program
    from .elf import write_image_elf
    from .server import GdbServer, listen
    out = out or sys.stdout
    err = err or sys.stderr
    listener = listen(host, port)          # refuse a bad address before building anything
    tmpdir = None
    try:
        if program is None:
            program = str(Path(__file__).resolve().parent.parent / "demos" / f"leak_{arch}.s")
            shown = f"leak demo ({Path(program).name})"
        else:
            shown = program
        dbg = new_debugger(arch, variant, load_program(program), budget=max_insns)
        if elf is None:
            tmpdir = tempfile.mkdtemp(prefix="goemu-gdb-")
            elf = os.path.join(tmpdir, f"goemu-{arch}-{variant}.elf")
        srv = GdbServer(dbg, exec_file=None, log=lambda m: print(f"goemu gdbserver: {m}", file=err, flush=True))
        elf_path = write_image_elf(dbg.mc.image, srv.td.module, elf).resolve()
        srv.exec_file = str(elf_path)
        h, p = listener.getsockname()[:2]
        where = f"[{h}]:{p}" if ":" in h else f"{h}:{p}"
        print(f"goemu gdbserver: {shown} on {arch}/{variant}, listening on {where}", file=out)
        print(f"  symbols: {elf_path}", file=out)
        print(f"  connect: gdb-multiarch -ex 'file {elf_path}' -ex 'target remote {where}'", file=out,
              flush=True)

        def on_term(_sig, _frame):
            raise KeyboardInterrupt
        old = signal.signal(signal.SIGTERM, on_term) if _main_thread() else None
        try:
            srv.serve(listener)
        except KeyboardInterrupt:
            print("goemu gdbserver: stopped (interrupted)", file=err, flush=True)
            return 130
        finally:
            if old is not None:
                signal.signal(signal.SIGTERM, old)
        return 0
    finally:
        listener.close()
        if tmpdir:
            shutil.rmtree(tmpdir, ignore_errors=True)


def _main_thread() -> bool:
    import threading
    return threading.current_thread() is threading.main_thread()


def _handler(ns: argparse.Namespace) -> int:
    return serve(ns.arch, ns.variant, ns.program, ns.host, ns.port, ns.elf, ns.max_insns)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("program", nargs="?", help="goasm program (default: the built-in m->cret leak demo)")
    p.add_argument("--arch", choices=ARCH_NAMES, default="amd64")
    p.add_argument("--variant", choices=["buggy", "fixed"], default="buggy")
    p.add_argument("--port", type=int, default=1234, help="TCP port (0: pick a free one and print it)")
    p.add_argument("--host", default="127.0.0.1", help="127.0.0.1 (default) or ::1; nothing else is accepted")
    p.add_argument("--elf", metavar="PATH", help="write the symbol file here (default: a temporary file "
                   "removed on exit)")
    p.add_argument("--max-insns", type=int, default=None, help="instruction budget of one continue")


def register(subparsers) -> argparse.ArgumentParser:
    p = subparsers.add_parser("gdbserver", help="serve gdb's remote protocol (gdb-multiarch), forwards and "
                              "backwards, on 127.0.0.1")
    add_arguments(p)
    p.set_defaults(func=_handler, handler=_handler)
    return p


__all__ = ["GoemuError", "register", "serve"]
