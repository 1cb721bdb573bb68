"""The GDB remote stub: gdb's packets onto goemu's debugger core.

One ``Debugger`` (the REPL's core: the same run loop, snapshots and reverse
execution) serves one gdb at a time over TCP on the loopback interface.
Execution packets (``c``, ``s``, ``bc``, ``bs``, ``vCont``) run the debugger in
a worker thread while the connection thread keeps reading the socket, so a
Ctrl-C from gdb (the byte 0x03) reaches ``Debugger.interrupt()`` and stops a
long continue at the next engine slice.

Watchpoints.  gdb's ARM back end treats watchpoints as "non-steppable" (it
expects the stop *before* the accessing instruction and steps over it
itself, with the watchpoints removed); on x86 it expects the stop after it.
The per-arch flag ``NONSTEPPABLE_WATCHPOINTS`` says which; going backwards
the stub reports the hit one instruction later in the direction of travel,
so that gdb's own step lands on the store, as the REPL's reverse-continue
does.
"""
from __future__ import annotations

import ipaddress
import os
import select
import socket
import threading
from collections import deque
from collections.abc import Callable

from unicorn import UcError

from ..debugger import Debugger, DebuggerError, ProgramExited, Stop
from ..errors import BudgetExhausted, GoemuError, InvalidInstruction, MemoryFault, UsageError
from . import protocol as P
from .target import TargetDescription

THREAD = 1
SIGINT, SIGILL, SIGTRAP, SIGABRT, SIGSEGV, SIGXCPU = 2, 4, 5, 6, 11, 24
MAX_READ = (P.PACKET_SIZE - 16) // 2         # bytes per m reply (hex doubles them)

FEATURES = (f"PacketSize={P.PACKET_SIZE:x};qXfer:features:read+;qXfer:exec-file:read+;swbreak+;hwbreak+;"
            "ReverseStep+;ReverseContinue+;vContSupported+;QStartNoAckMode+")


class AddressRefused(UsageError):
    """gdbserver was asked to listen on an address other than the loopback."""


def loopback_address(host: str) -> tuple[int, str]:
    """(address family, address) for ``host``, which must be 127.0.0.1, ::1 or
    localhost: the stub executes whatever gdb asks, so it never listens where
    another machine could connect."""
    if host == "localhost":
        return socket.AF_INET, "127.0.0.1"
    try:
        ip = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        raise AddressRefused(f"refusing to listen on {host!r}: not an IP address; gdbserver listens on "
                             "127.0.0.1 or ::1 only (a gdb client can read and write all emulated "
                             "state, so the port must not be reachable from other machines)") from None
    if str(ip) not in ("127.0.0.1", "::1"):
        raise AddressRefused(f"refusing to listen on {ip}: gdbserver listens on 127.0.0.1 or ::1 only "
                             "(a gdb client can read and write all emulated state, so the port must not "
                             "be reachable from other machines)")
    return (socket.AF_INET6 if ip.version == 6 else socket.AF_INET), str(ip)


def listen(host: str = "127.0.0.1", port: int = 0) -> socket.socket:
    family, addr = loopback_address(host)
    s = socket.socket(family, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        s.bind((addr, port))
    except OSError as e:
        s.close()
        raise UsageError(f"cannot listen on {addr}:{port}: {e.strerror or e}") from None
    s.listen(2)
    return s


def _parse_hex(text: str) -> int:
    if not text or len(text) > 32:
        raise ValueError(f"bad number {text!r}")
    return int(text, 16)


def _addr_len(text: str) -> tuple[int, int]:
    a, _, n = text.partition(",")
    return _parse_hex(a), _parse_hex(n)


class GdbServer:
    def __init__(self, dbg: Debugger, exec_file: str | None = None,
                 log: Callable[[str], None] | None = None):
        self.dbg = dbg
        self.mc = dbg.mc
        self.td = TargetDescription(dbg.arch.name)
        self.xml = self.td.xml().encode()
        self.exec_file = exec_file
        self.log = log or (lambda _msg: None)
        self.noack = False
        self.done = False
        self.listener: socket.socket | None = None
        self.last_stop = f"T05thread:{THREAD:x};"
        self.zpoints: dict[tuple[str, int, int], int] = {}    # (Z type, addr, kind) -> breakpoint number
        self.ztype: dict[int, str] = {}                         # breakpoint number -> Z type
        self.regions = sorted((lo, hi + 1) for lo, hi, _p in self.mc.uc.mem_regions())
        self.clients = 0
        self.trace_packets = bool(os.environ.get("GOEMU_GDBSTUB_TRACE"))

    # -- the connection ----------------------------------------------------------------
    def serve(self, listener: socket.socket, once: bool = False) -> None:
        """Serve clients one after the other until k, D (or, with ``once``, the
        first client's disconnection)."""
        self.listener = listener
        try:
            while not self.done:
                r, _, _ = select.select([listener], [], [], 0.5)
                if not r:
                    continue
                try:
                    conn, peer = listener.accept()
                except OSError:
                    continue
                self.clients += 1
                self.log(f"gdb connected from {peer[0]} port {peer[1]}")
                try:
                    self._session(conn)
                except (ConnectionError, OSError) as e:
                    self.log(f"connection lost: {e}")
                finally:
                    try:
                        conn.close()
                    except OSError:
                        pass
                if not self.done:
                    self.log("gdb disconnected; waiting for the next client")
                if once:
                    break
        finally:
            self.dbg.interrupt()

    def _refuse(self) -> None:
        """A second client while one is connected: say why and hang up."""
        try:
            conn, peer = self.listener.accept()
        except OSError:
            return
        self.log(f"refused a second client from {peer[0]} port {peer[1]}: one client at a time")
        try:
            conn.settimeout(0.5)
            conn.sendall(P.frame("E.goemu gdbserver: another gdb is already connected "
                                 "(one client at a time)"))
            conn.shutdown(socket.SHUT_WR)
            for _ in range(8):              # read what it sent, so that closing does not reset
                if not conn.recv(4096):
                    break
        except OSError:
            pass
        conn.close()

    def _send(self, conn: socket.socket, body: str | bytes) -> None:
        if self.trace_packets:
            self.log(f"-> {body[:200]!r}")
        conn.sendall(P.frame(body))

    def _session(self, conn: socket.socket) -> None:
        self.noack = False
        if self.last_stop.startswith("W"):
            # the program exited under the previous client: a new one finds it
            # stopped at its last instruction, from where it can go back
            self.last_stop = f"T{SIGTRAP:02x}thread:{THREAD:x};"
        parser = P.PacketParser()
        pending: deque = deque()
        while not self.done:
            if not pending:
                r, _, _ = select.select([conn, self.listener], [], [], 0.5)
                if self.listener in r:
                    self._refuse()
                if conn in r:
                    data = conn.recv(65536)
                    if not data:
                        return
                    pending.extend(parser.feed(data))
                continue
            ev = pending.popleft()
            if ev.kind == "packet":
                if self.trace_packets:
                    self.log(f"<- {ev.body[:200]!r}")
                if not self.noack:
                    conn.sendall(b"+")
                try:
                    reply = self.handle(ev.body, conn, parser, pending)
                except (ConnectionError, BrokenPipeError):
                    raise
                except Exception as e:  # noqa: BLE001 - a bad packet must never end the session
                    self.log(f"error handling {ev.body[:40]!r}: {type(e).__name__}: {e}")
                    reply = "E01"
                if reply is not None:
                    self._send(conn, reply)
            elif ev.kind == "bad":
                if self.trace_packets:
                    self.log(f"<- bad packet: {ev.reason}")
                if not self.noack:
                    conn.sendall(b"-")
            # acks, naks (we never resend: the transport is TCP) and a stray interrupt: nothing

    # -- packets -----------------------------------------------------------------------
    def handle(self, body: bytes, conn=None, parser=None, pending=None) -> str | bytes | None:
        """The reply to one packet body (None: no reply)."""
        text = body.decode("latin-1")
        if not text:
            return ""
        c = text[0]
        if c == "?":
            return self.last_stop
        if c == "q" or c == "Q":
            return self._query(text, body)
        if c == "g":
            return self.td.read_all(self.mc).hex()
        if c == "G":
            try:
                self.td.write_all(self.mc, P.unhex(text[1:]))
            except ValueError:
                return "E01"
            self.dbg.mutated()
            return "OK"
        if c == "p":
            try:
                n = _parse_hex(text[1:])
            except ValueError:
                return "E01"
            if n >= len(self.td.regs):
                return "E01"
            return self.td.read_one(self.mc, n).hex()
        if c == "P":
            try:
                n, _, v = text[1:].partition("=")
                num = _parse_hex(n)
                if num >= len(self.td.regs):
                    return "E01"
                self.td.write_one(self.mc, num, P.unhex(v))
            except ValueError:
                return "E01"
            self.dbg.mutated()
            return "OK"
        if c == "m":
            try:
                addr, n = _addr_len(text[1:])
            except ValueError:
                return "E01"
            data = self._read(addr, min(n, MAX_READ))
            return data.hex() if data or n == 0 else "E14"
        if c == "M":
            try:
                head, _, hx = text[1:].partition(":")
                addr, n = _addr_len(head)
                data = P.unhex(hx)
            except ValueError:
                return "E01"
            return self._write(addr, n, data)
        if c == "X":
            colon = body.find(b":")
            if colon < 0:
                return "E01"
            try:
                addr, n = _addr_len(body[1:colon].decode("latin-1"))
            except ValueError:
                return "E01"
            return self._write(addr, n, P.unescape(body[colon + 1:]))
        if c in "zZ":
            return self._zpacket(text)
        if c == "H" or c == "T":
            return "OK"
        if c == "k":
            self.log("gdb killed the target (k): stopping")
            self.done = True
            return None
        if c == "D":
            self.log("gdb detached (D): stopping")
            self.done = True
            return "OK"
        if text.startswith("vKill"):
            self.log("gdb killed the target (vKill): stopping")
            self.done = True
            return "OK"
        if text == "vCont?":
            return "vCont;c;C;s;S"
        if text.startswith("vCont;"):
            action = text[6:].split(";")[0].split(":")[0]
            if not action or action[0] not in "cCsS":
                return "E01"
            return self._resume(action[0].lower(), conn, parser, pending)
        if text.startswith("v"):
            return ""                           # vMustReplyEmpty, vFile:*, vRun...: unsupported
        if c in "cCsS":
            arg = text[1:]
            if c in "CS":
                arg = arg.partition(";")[2]     # signal;addr: the signal is not delivered
            if arg:
                try:
                    self.mc.reg_write(self.dbg.arch.pc, _parse_hex(arg))
                except ValueError:
                    return "E01"
                self.dbg.mutated()
            return self._resume(c.lower(), conn, parser, pending)
        if text in ("bc", "bs"):
            return self._resume(text, conn, parser, pending)
        return ""

    def _query(self, text: str, body: bytes) -> str | bytes:
        if text.startswith("qSupported"):
            return FEATURES
        if text == "QStartNoAckMode":
            self.noack = True
            return "OK"
        if text.startswith("qXfer:features:read:"):
            annex, _, rng = text[len("qXfer:features:read:"):].partition(":")
            if annex != "target.xml":
                return "E00"
            return self._xfer(self.xml, rng)
        if text.startswith("qXfer:exec-file:read:"):
            if not self.exec_file:
                return "E00"
            _annex, _, rng = text[len("qXfer:exec-file:read:"):].partition(":")
            return self._xfer(self.exec_file.encode(), rng)
        if text == "qC":
            return f"QC{THREAD:x}"
        if text == "qfThreadInfo":
            return f"m{THREAD:x}"
        if text == "qsThreadInfo":
            return "l"
        if text.startswith("qAttached"):
            return "1"
        if text.startswith("qThreadExtraInfo"):
            return b"goemu m0".hex()
        if text.startswith("qSymbol"):
            return "OK"
        if text.startswith("qRcmd,"):
            try:
                cmd = P.unhex(text[6:]).decode("utf-8", "replace")
            except ValueError:
                return "E01"
            return self._monitor(cmd)
        return ""

    def _xfer(self, data: bytes, rng: str) -> bytes | str:
        try:
            off, n = _addr_len(rng)
        except ValueError:
            return "E00"
        n = min(n, P.PACKET_SIZE - 16)
        chunk = data[off:off + n]
        return (b"m" if off + n < len(data) else b"l") + chunk

    # -- memory ------------------------------------------------------------------------
    def _readable(self, addr: int, n: int) -> int:
        """How many bytes from addr are mapped, up to n."""
        got = 0
        for lo, hi in self.regions:
            a = addr + got
            if lo <= a < hi:
                got += min(hi - a, n - got)
                if got >= n:
                    break
        return got

    def _read(self, addr: int, n: int) -> bytes:
        if n <= 0 or addr < 0 or addr + n > 1 << 64:
            return b""
        k = self._readable(addr, n)
        if not k:
            return b""
        try:
            return bytes(self.mc.read(addr, k))
        except UcError:
            return b""

    def _write(self, addr: int, n: int, data: bytes) -> str:
        if len(data) != n:
            return "E01"
        if n == 0:
            return "OK"
        if self._readable(addr, n) != n:
            return "E14"
        try:
            self.mc.write(addr, data)
        except UcError:
            return "E14"
        self.dbg.mutated()
        return "OK"

    # -- breakpoints and watchpoints ---------------------------------------------------
    def _zpacket(self, text: str) -> str:
        insert = text[0] == "Z"
        parts = text[1:].split(";")[0].split(",")
        if len(parts) != 3 or parts[0] not in ("0", "1", "2", "3", "4"):
            return ""                          # an unknown type: not supported
        t = parts[0]
        try:
            addr, kind = _parse_hex(parts[1]), _parse_hex(parts[2])
        except ValueError:
            return "E01"
        key = (t, addr, kind)
        if not insert:
            num = self.zpoints.pop(key, None)
            if num is not None:
                try:
                    self.dbg.delete(num)
                except DebuggerError:
                    pass
                self.ztype.pop(num, None)
            return "OK"
        if key in self.zpoints:
            return "OK"
        try:
            if t in ("0", "1"):
                if kind not in self.td.break_kinds:
                    return "E01"
                if not self._readable(addr, 1):
                    return "E14"
                bp = self.dbg.add_break(f"{addr:#x}")
            else:
                if not 0 < kind <= 64:
                    return "E01"
                bp = self.dbg.add_watch_range(addr, kind, {"2": "watch", "3": "rwatch", "4": "awatch"}[t])
        except DebuggerError:
            return "E14"
        self.zpoints[key] = bp.num
        self.ztype[bp.num] = t
        return "OK"

    # -- execution ---------------------------------------------------------------------
    def _action(self, what: str) -> Callable[[], Stop]:
        dbg, nonstep = self.dbg, self.td.nonsteppable_watchpoints

        def cont() -> Stop:
            st = dbg.cont()
            if st.reason == "watchpoint" and nonstep:
                dbg.goto(st.icount - 1)         # before the access: gdb steps over it
                st.icount -= 1
            return st

        def rcont() -> Stop:
            st = dbg.reverse_continue()
            if st.reason == "watchpoint" and nonstep:
                dbg.goto(st.icount + 1)         # after the access: gdb steps back onto it
                st.icount += 1
            return st

        def step() -> Stop:
            st = dbg.stepi_watching()
            if st.reason == "watchpoint" and nonstep:
                dbg.goto(st.icount - 1)
                st.icount -= 1
            elif st.reason == "breakpoint":
                st.reason = "step"              # arrived on a breakpoint: gdb sees a finished step
            return st

        def rstep() -> Stop:
            # a step back over a store that changed a watched location is a
            # watchpoint hit, as it is forwards (the stub compares the bytes)
            watched = [bp for bp in dbg.breakpoints.values() if bp.kind in ("watch", "awatch")]
            before = [self._read(bp.addr, bp.size) for bp in watched]
            st = dbg.reverse_stepi(1)
            for bp, old in zip(watched, before):
                if self._read(bp.addr, bp.size) != old:
                    st.reason, st.bp = "watchpoint", bp
                    if nonstep:
                        dbg.goto(st.icount + 1)  # gdb steps back over it itself
                        st.icount += 1
                    break
            return st

        return {"c": cont, "s": step, "bc": rcont, "bs": rstep}[what]

    def _resume(self, what: str, conn, parser, pending) -> str:
        dbg = self.dbg
        if what in ("bc", "bs") and dbg.n == 0:
            return self._remember(f"T05thread:{THREAD:x};replaylog:begin;")
        if what in ("c", "s") and self.mc.exited:
            return self._remember(f"W{(self.mc.exit_status or 0) & 0xFF:02x}")
        fn = self._action(what)
        out_before = len(self.mc.output)
        result: dict = {}

        wake_r, wake_w = os.pipe()              # the worker's "done", seen by select at once

        def work() -> None:
            try:
                result["stop"] = fn()
            except BaseException as e:  # noqa: BLE001 - reported to gdb as a stop
                result["error"] = e
            finally:
                os.write(wake_w, b"x")

        dbg.clear_interrupt()
        worker = threading.Thread(target=work, name="goemu-gdbstub-run", daemon=True)
        worker.start()
        try:
            while worker.is_alive():
                watch = [wake_r] + ([self.listener] if self.listener is not None else [])
                if conn is not None:
                    watch.append(conn)
                r, _, _ = select.select(watch, [], [], 0.5)
                if wake_r in r:
                    worker.join()
                    break
                if self.listener is not None and self.listener in r:
                    self._refuse()
                if conn is not None and conn in r:
                    data = conn.recv(65536)
                    if not data:                # gdb went away: stop the run
                        dbg.interrupt()
                        conn = None
                        continue
                    for ev in parser.feed(data):
                        if ev.kind == "interrupt":
                            dbg.interrupt()
                        else:
                            pending.append(ev)
        finally:
            if worker.is_alive():               # Ctrl-C in the server's terminal
                dbg.interrupt()
                worker.join(10)
            os.close(wake_r)
            os.close(wake_w)
        if conn is not None and what in ("c", "s"):
            for line in self.mc.output[out_before:]:
                self._send(conn, "O" + (str(line) + "\n").encode().hex())
        if "error" in result:
            e = result["error"]
            if isinstance(e, ProgramExited):
                return self._remember(f"W{(self.mc.exit_status or 0) & 0xFF:02x}")
            if isinstance(e, DebuggerError) and what in ("bc", "bs"):
                return self._remember(f"T05thread:{THREAD:x};replaylog:begin;")
            if conn is not None:
                self._send(conn, "O" + f"goemu: {str(e).splitlines()[0] if str(e) else type(e).__name__}\n"
                           .encode().hex())
            if not isinstance(e, GoemuError):
                self.log(f"internal error during {what}: {type(e).__name__}: {e}")
            return self._remember(f"T{SIGTRAP:02x}thread:{THREAD:x};")
        st = result["stop"]
        if st.reason == "fault" and conn is not None and st.error is not None:
            self._send(conn, "O" + f"goemu: {str(st.error).splitlines()[0]}\n".encode().hex())
        return self._remember(self.stop_reply(st))

    def _remember(self, reply: str) -> str:
        self.last_stop = reply
        return reply

    def stop_reply(self, st: Stop) -> str:
        t = f"thread:{THREAD:x};"
        r = st.reason
        if r == "exited":
            return f"W{(st.exit_status or 0) & 0xFF:02x}"
        if r == "history-start":
            return f"T{SIGTRAP:02x}{t}replaylog:begin;"
        if r == "interrupted":
            return f"T{SIGINT:02x}{t}"
        if r == "budget":
            return f"T{SIGXCPU:02x}{t}"
        if r == "fault":
            e = st.error
            sig = (SIGSEGV if isinstance(e, MemoryFault) else SIGILL if isinstance(e, InvalidInstruction)
                   else SIGXCPU if isinstance(e, BudgetExhausted) else SIGABRT)    # a runtime throw: abort
            return f"T{sig:02x}{t}"
        if r == "watchpoint" and st.bp is not None:
            key = {"watch": "watch", "rwatch": "rwatch", "awatch": "awatch"}[st.bp.kind]
            return f"T{SIGTRAP:02x}{t}{key}:{st.bp.addr:x};"
        if r == "breakpoint" and st.bp is not None:
            hw = self.ztype.get(st.bp.num) == "1"
            return f"T{SIGTRAP:02x}{t}{'hwbreak' if hw else 'swbreak'}:;"
        return f"T{SIGTRAP:02x}{t}"

    # -- monitor -----------------------------------------------------------------------
    def _monitor(self, cmd: str) -> str:
        from .monitor import run_monitor
        try:
            out = run_monitor(self.dbg, cmd)
        except GoemuError as e:
            out = f"error: {str(e).splitlines()[0]}\n"
        if not out.endswith("\n"):
            out += "\n"
        return out.encode().hex()
