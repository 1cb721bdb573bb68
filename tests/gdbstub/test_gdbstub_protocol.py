"""The framing and the target description, without gdb."""
from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest
from gdbstub_helpers import DEMOS

from emu.arch import get_arch
from emu.debugger import new_debugger
from emu.gdbstub import protocol as P
from emu.gdbstub.elf import image_elf
from emu.gdbstub.server import GdbServer
from emu.gdbstub.target import TargetDescription
from emu.run import load_program


def test_frame_checksum_and_escapes():
    assert P.frame("OK") == b"$OK#9a"
    assert P.frame(b"a#b$c}d*") == b"$a}\x03b}\x04c}]d}\x0a#" + b"%02x" % P.checksum(b"a}\x03b}\x04c}]d}\x0a")
    raw = bytes(range(256))
    assert P.unescape(P.escape(raw)) == raw


def test_parser_splits_joins_and_rejects():
    p = P.PacketParser(max_body=16)
    evs = []
    for chunk in (b"+$qSupp", b"orted#", b"37", b"\x03$g#67$g#00", b"$" + b"m" * 40 + b"#00", b"-$?#3f"):
        evs += p.feed(chunk)
    kinds = [(e.kind, e.body) for e in evs]
    assert kinds == [("ack", b""), ("packet", b"qSupported"), ("interrupt", b""), ("packet", b"g"),
                     ("bad", b""), ("bad", b""), ("nak", b""), ("packet", b"?")]
    assert [e.reason for e in evs if e.kind == "bad"] == ["bad checksum", "packet too long"]


@pytest.mark.parametrize("arch", ["amd64", "arm"])
def test_target_description_covers_every_goemu_register(arch):
    td = TargetDescription(arch)
    root = ET.fromstring(td.xml().split("\n", 2)[2])
    regs = root.findall(".//reg")
    assert [r.get("name") for r in regs] == [r.name for r in td.regs]
    assert [int(r.get("regnum")) for r in regs] == list(range(len(regs)))
    assert {r.source for r in td.regs if r.source} == set(get_arch(arch).regs)
    assert td.g_size == sum(int(r.get("bitsize")) for r in regs) // 8


@pytest.mark.parametrize("arch", ["amd64", "arm"])
def test_registers_and_memory_packets(arch):
    dbg = new_debugger(arch, "buggy", load_program(DEMOS / f"leak_{arch}.s"))
    srv = GdbServer(dbg)
    td, mc = srv.td, dbg.mc
    g = bytes.fromhex(srv.handle(b"g"))
    assert len(g) == td.g_size
    pc_num = next(r.num for r in td.regs if r.source == dbg.arch.pc)
    assert int.from_bytes(bytes.fromhex(srv.handle(b"p%x" % pc_num)), "little") == mc.pc == mc.image.symbols["rt0"]
    assert srv.handle(b"p%x" % len(td.regs)) == "E01"
    rt0 = mc.image.symbols["rt0"]
    assert bytes.fromhex(srv.handle(b"m%x,8" % rt0)) == mc.read(rt0, 8)
    assert srv.handle(b"m0,8") == "E14"
    data = dbg.arch.regions["data"].base
    assert srv.handle(b"M%x,4:01020304" % data) == "OK" and mc.read(data, 4) == b"\x01\x02\x03\x04"
    assert srv.handle(b"X%x,2:}\x03}]" % data) == "OK" and mc.read(data, 2) == b"#}"
    assert srv.handle(b"Mzz,4:00") == "E01"
    # a read that runs off the end of a mapping returns the mapped part
    end = dbg.arch.regions["data"].end
    assert len(bytes.fromhex(srv.handle(b"m%x,10" % (end - 4)))) == 4
    assert srv.handle(b"qXfer:features:read:target.xml:0,20").startswith(b"m<?xml")
    assert srv.handle(b"bs") == "T05thread:1;replaylog:begin;"       # nothing before instruction 0
    assert srv.handle(b"s").startswith("T05") and srv.handle(b"vCont;s:1").startswith("T05")
    assert dbg.n == 2
    assert srv.handle(b"bs") == "T05thread:1;"
    assert dbg.n == 1
    assert srv.handle(b"bs") == "T05thread:1;replaylog:begin;"      # back at the start of history
    assert dbg.n == 0
    assert srv.handle(b"Z0,%x,%x" % (mc.image.symbols["lessstack"], td.break_kinds[-1])) == "OK"
    assert srv.handle(b"c") == "T05thread:1;swbreak:;"
    assert mc.pc == mc.image.symbols["lessstack"]


@pytest.mark.parametrize("arch", ["amd64", "arm"])
def test_symbol_file_names_every_function(arch, tmp_path):
    dbg = new_debugger(arch, "buggy", load_program(DEMOS / f"leak_{arch}.s"))
    td = TargetDescription(arch)
    raw = image_elf(dbg.mc.image, td.module)
    assert raw[:4] == b"\x7fELF" and raw[4] == (2 if arch == "amd64" else 1)
    strtab = raw
    for name, _addr, _size in dbg.mc.image.code_functions():
        assert b"\0" + name.encode() + b"\0" in strtab, name
    assert re.search(rb"\0m0\0", raw)
