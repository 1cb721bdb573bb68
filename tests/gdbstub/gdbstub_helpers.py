"""Shared by the gdb stub's tests: start `goemu gdbserver`, drive gdb-multiarch,
talk the remote protocol over a raw socket."""
from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DEMOS = ROOT / "emu" / "demos"


def gdb_binary() -> str:
    gdb = shutil.which("gdb-multiarch")
    if gdb is None:
        pytest.fail("gdb-multiarch is not installed: apt-get install gdb-multiarch (.ci/run installs it)")
    return gdb


class Server:
    def __init__(self, proc: subprocess.Popen, port: int, elf: str, banner: str):
        self.proc, self.port, self.elf, self.banner = proc, port, elf, banner

    def wait(self, timeout: float = 30) -> int:
        return self.proc.wait(timeout)

    def stderr(self) -> str:
        return self.proc.stderr.read() if self.proc.stderr else ""


def start_server(*args: str, elf: str | None = None) -> Server:
    cmd = [sys.executable, "-m", "emu.cli", "gdbserver", "--port", "0", *args]
    if elf:
        cmd += ["--elf", elf]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=dict(os.environ, PYTHONUNBUFFERED="1"))
    banner = ""
    deadline = time.time() + 120
    while time.time() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        banner += line
        if line.strip().startswith("connect:"):
            break
    m = re.search(r"listening on 127\.0\.0\.1:(\d+)", banner) or re.search(r"listening on \[::1\]:(\d+)", banner)
    s = re.search(r"symbols: (\S+)", banner)
    if not m or not s:
        proc.kill()
        raise AssertionError(f"gdbserver did not start: {banner!r} {proc.stderr.read()!r}")
    return Server(proc, int(m.group(1)), s.group(1), banner)


@contextmanager
def gdbserver(*args: str, elf: str | None = None):
    srv = start_server(*args, elf=elf)
    try:
        yield srv
    finally:
        if srv.proc.poll() is None:
            srv.proc.kill()
        srv.proc.wait(30)
        for f in (srv.proc.stdout, srv.proc.stderr):
            if f:
                f.close()


def run_gdb(srv: Server, commands: list[str], timeout: float = 300, extra: list[str] = ()) -> str:
    argv = [gdb_binary(), "-nx", "-batch", "-ex", "set pagination off", "-ex", "set width 0",
            "-ex", f"file {srv.elf}", "-ex", f"target remote 127.0.0.1:{srv.port}", *extra]
    for c in commands:
        argv += ["-ex", c]
    r = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    return r.stdout + r.stderr


def packet(body: bytes | str) -> bytes:
    if isinstance(body, str):
        body = body.encode()
    return b"$" + body + b"#%02x" % (sum(body) & 0xFF)


class Client:
    """A minimal remote-protocol client over a raw socket (acks on)."""

    def __init__(self, port: int, host: str = "127.0.0.1", timeout: float = 60):
        self.s = socket.create_connection((host, port), timeout=timeout)
        self.buf = b""

    def send_raw(self, data: bytes) -> None:
        self.s.sendall(data)

    def read_packet(self) -> bytes:
        """The next packet's body (acks skipped)."""
        while True:
            i = self.buf.find(b"$")
            if i >= 0:
                j = self.buf.find(b"#", i)
                if j >= 0 and len(self.buf) >= j + 3:
                    body = self.buf[i + 1:j]
                    self.buf = self.buf[j + 3:]
                    self.s.sendall(b"+")
                    return body
            data = self.s.recv(65536)
            if not data:
                raise EOFError(self.buf)
            self.buf += data

    def ask(self, body: str | bytes) -> bytes:
        self.s.sendall(packet(body))
        reply = self.read_packet()
        while reply.startswith(b"O") and reply != b"OK" and not body.startswith(("qRcmd", b"qRcmd")):
            reply = self.read_packet()      # console output before a stop reply
        return reply

    def close(self) -> None:
        self.s.close()


def gdb_registers(text: str) -> dict[str, int]:
    return {m.group(1): int(m.group(2), 16)
            for m in re.finditer(r"^(\w+)\s+(0x[0-9a-f]+)\s", text, re.MULTILINE)}


def where(text: str) -> list[tuple[int, int]]:
    """(instruction, pc) of every `monitor where` in a gdb transcript."""
    return [(int(a), int(b, 16)) for a, b in re.findall(r"^instruction (\d+), pc (0x[0-9a-f]+)", text, re.MULTILINE)]
