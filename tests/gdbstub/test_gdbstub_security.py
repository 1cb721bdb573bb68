"""Loopback only, one client at a time, and a clean stop on k, D and Ctrl-C
(in gdb: 0x03 interrupts a running continue; in the server's terminal: the
server exits), leaving no process and no file behind."""
from __future__ import annotations

import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from gdbstub_helpers import ROOT, Client, gdbserver, packet

from emu.debugger import new_debugger
from emu.gdbstub.server import AddressRefused, GdbServer, listen, loopback_address
from emu.run import load_program

LOOP = {"amd64": "TEXT main, $0-0\nspin:\n\tadd rax, 1\n\tjmp spin\n\tRET\n",
        "arm": "TEXT main, $0-0\nspin:\n\tadd r0, r0, #1\n\tb spin\n\tRET\n"}


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.10", "10.0.0.1", "127.0.0.2", "example.com"])
def test_other_addresses_refused_with_a_reason(host):
    r = subprocess.run([sys.executable, "-m", "emu.cli", "gdbserver", "--host", host, "--port", "0"],
                       cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert r.returncode == 64, r
    assert "refusing to listen on" in r.stderr and "127.0.0.1 or ::1 only" in r.stderr, r.stderr
    assert "Traceback" not in r.stderr
    with pytest.raises(AddressRefused):
        loopback_address(host)


def test_loopback_addresses_accepted():
    assert loopback_address("127.0.0.1") == (socket.AF_INET, "127.0.0.1")
    assert loopback_address("localhost") == (socket.AF_INET, "127.0.0.1")
    assert loopback_address("::1") == (socket.AF_INET6, "::1")
    s = listen("127.0.0.1", 0)
    assert s.getsockname()[0] == "127.0.0.1"
    s.close()


def test_second_client_refused_politely_first_keeps_working(tmp_path):
    with gdbserver("--arch", "amd64", elf=str(tmp_path / "g.elf")) as srv:
        a = Client(srv.port)
        assert b"PacketSize" in a.ask("qSupported")
        b = socket.create_connection(("127.0.0.1", srv.port), timeout=30)
        b.sendall(b"+" + packet("qSupported"))
        got = b""
        while True:
            try:
                data = b.recv(4096)
            except ConnectionResetError:
                break
            if not data:
                break
            got += data
        b.close()
        assert b"E.goemu gdbserver: another gdb is already connected (one client at a time)" in got, got
        assert a.ask("?").startswith(b"T05")
        a.send_raw(packet("k"))
        assert srv.wait() == 0
        a.close()
        assert "refused a second client" in srv.stderr()


@pytest.mark.parametrize("stop", ["k", "D", "vKill;1"])
def test_stops_on_kill_and_detach_leaving_nothing(stop):
    with gdbserver("--arch", "arm") as srv:
        elf = Path(srv.elf)
        assert elf.exists()
        c = Client(srv.port)
        c.ask("qSupported")
        c.send_raw(packet(stop))
        assert srv.wait() == 0
        c.close()
        assert not elf.exists() and not elf.parent.exists()      # the temporary symbol file is gone


def test_ctrl_c_in_the_servers_terminal_while_running(tmp_path):
    prog = tmp_path / "spin.s"
    prog.write_text(LOOP["amd64"])
    with gdbserver(str(prog), "--arch", "amd64") as srv:
        elf = Path(srv.elf)
        c = Client(srv.port)
        c.ask("qSupported")
        c.send_raw(packet("c"))
        time.sleep(1.0)
        assert srv.proc.poll() is None                 # running the endless loop
        srv.proc.send_signal(signal.SIGINT)            # what Ctrl-C in its terminal sends
        assert srv.wait() == 130
        c.close()
        assert "stopped (interrupted)" in srv.stderr()
        assert not elf.exists()


@pytest.mark.parametrize("arch", ["amd64", "arm"])
def test_ctrl_c_from_gdb_interrupts_a_running_continue(arch, tmp_path):
    prog = tmp_path / f"spin_{arch}.s"
    prog.write_text(LOOP[arch])
    dbg = new_debugger(arch, "buggy", load_program(prog), budget=10**12)
    srv = GdbServer(dbg)
    lst = listen("127.0.0.1", 0)
    t = threading.Thread(target=srv.serve, args=(lst,), daemon=True)
    t.start()
    c = Client(lst.getsockname()[1])
    try:
        c.send_raw(packet("c"))
        time.sleep(0.5)
        n0 = dbg.n
        c.send_raw(b"\x03")
        assert c.read_packet().startswith(b"T02")       # SIGINT: interrupted
        # it was running (n0 > 0), and stopped in the loop: at the boundary it had reached or a later one
        assert dbg.n >= n0 > 0
        assert c.ask("?").startswith(b"T02")
        assert c.ask("s").startswith(b"T05")           # and goes on from there
        assert c.ask("bs").startswith(b"T05")
        c.send_raw(packet("k"))
        t.join(10)
        assert not t.is_alive()
    finally:
        c.close()
        srv.done = True
        lst.close()
