"""gdb-multiarch drives goemu gdbserver on both architectures: break at
lessstack, step, read m->cret through m's real location, watch it, go back
with reverse-stepi and reverse-continue onto the store; gdb's registers equal
the REPL's at the same instruction."""
from __future__ import annotations

import re

import pytest
from gdbstub_helpers import DEMOS, gdb_registers, gdbserver, run_gdb, where

from emu.debugger import new_debugger
from emu.gdbstub.target import TargetDescription
from emu.repl import Session
from emu.run import load_program

# m->cret through m's real location (the tests may know the ABI; the stub does not)
CRET = {"amd64": "*(long*)(*(long*)($fs_base-8)+56)", "arm": "*(long*)($r9+32)"}
CRET_ADDR = {"amd64": "*(long*)($fs_base-8)+56", "arm": "$r9+32"}


def _dbg(arch, variant):
    return new_debugger(arch, variant, load_program(DEMOS / f"leak_{arch}.s"))


def _first_store(arch, variant):
    """(position, pc, value written) of the first store to m0.cret, by goemu's own debugger."""
    d = _dbg(arch, variant)
    d.add_watch("m.cret")
    st = d.cont()
    assert st.reason == "watchpoint", st
    return st.icount - 1, st.access_pc, st.new


def _value(text: str, n: int) -> int:
    m = re.search(rf"^\${n} = (0x[0-9a-f]+|\d+)$", text, re.MULTILINE)
    assert m, text
    return int(m.group(1), 0)


@pytest.mark.parametrize("arch", ["amd64", "arm"])
def test_break_step_watch_reverse_buggy(arch, tmp_path):
    d = _dbg(arch, "buggy")
    d.add_break("lessstack")
    st = d.cont()
    n_break = st.icount
    cret_addr, cret_size = d.lvalue("m.cret")
    d.stepi()
    cret_after_step = d.mc.read_uint(cret_addr, cret_size)
    n_store, store_pc, stored = _first_store(arch, "buggy")
    assert stored != 0

    with gdbserver("--arch", arch, "--variant", "buggy", elf=str(tmp_path / "g.elf")) as srv:
        out = run_gdb(srv, [
            "break lessstack", "continue", "monitor where",
            "stepi", "monitor where",
            f"p/x {CRET[arch]}", f"p/x {CRET_ADDR[arch]}",
            f"watch -l {CRET[arch]}",
            "reverse-stepi", "monitor where",
            "continue", "monitor where",
            "delete 1",
            "reverse-continue", "monitor where", f"p/x {CRET[arch]}", "x/i $pc",
        ])
        rc = srv.wait()
    assert rc == 0, out
    assert re.search(r"Breakpoint 1 at 0x[0-9a-f]+", out), out
    assert f"Breakpoint 1, 0x{d.mc.image.symbols['lessstack']:0{d.arch.ptrsize * 2}x} in lessstack ()" in out, out
    w = where(out)
    assert w[0][0] == n_break and w[1][0] == n_break + 1, (w, out)
    assert _value(out, 1) == cret_after_step
    assert _value(out, 2) == cret_addr            # m's real location gives goemu's m0.cret
    assert w[2][0] == n_break                       # reverse-stepi: one instruction back
    # forward onto the watch: gdb stops just after the store that changed m->cret
    assert re.search(rf"Old value = 0\nNew value = {stored}\n", out), out
    assert w[3][0] == n_store + 1
    # reverse-continue: onto the store itself, not yet executed; Old/New in the direction of travel
    assert re.search(rf"Old value = {stored}\nNew value = 0\n", out), out
    assert w[4] == (n_store, store_pc), (w, out)
    assert _value(out, 3) == 0
    assert re.search(rf"=> 0x0*{store_pc:x} <lessstack\+?\d*>:\s+(mov\s+%rax,0x38\(%rbx\)|str\s+r0, \[r9, #32\])",
                     out), out


@pytest.mark.parametrize("arch", ["amd64", "arm"])
def test_fixed_oldstack_clears_then_reverse_onto_lessstack_store(arch, tmp_path):
    """fixed: the watch stops in oldstack on `m->cret = 0`; reverse-continue
    goes back onto that store, and again across oldstack into lessstack, onto
    the store of R0/AX."""
    n_store, store_pc, stored = _first_store(arch, "fixed")
    with gdbserver("--arch", arch, "--variant", "fixed", elf=str(tmp_path / "g.elf")) as srv:
        out = run_gdb(srv, [f"watch -l {CRET[arch]}", "continue", "monitor where",
                            "continue", "x/i $pc", "monitor where",
                            "reverse-continue", "monitor where", "reverse-continue", "monitor where"])
    assert re.search(r"Hardware watchpoint 1: -location ", out), out
    assert re.search(rf"Old value = {stored}\nNew value = 0\n", out), out
    assert re.search(r"in oldstack \(\)", out), out
    w = where(out)
    assert w[0][0] == n_store + 1
    assert w[1][0] > n_store + 2
    # back onto oldstack's clearing store (not yet executed), then onto lessstack's store
    assert len(re.findall(rf"Old value = 0\nNew value = {stored}\n", out)) == 2, out
    assert w[2][0] == w[1][0] - 1, (w, out)
    assert w[3] == (n_store, store_pc), (w, out)


@pytest.mark.parametrize("arch", ["amd64", "arm"])
def test_registers_equal_the_repls(arch, tmp_path):
    """`info registers` in gdb at the lessstack breakpoint == the REPL's."""
    import io
    d = _dbg(arch, "buggy")
    buf = io.StringIO()
    s = Session(d, buf)
    for line in ("break lessstack", "continue", "stepi 3", "info registers"):
        s.execute(line)
    repl = {m.group(1): int(m.group(2), 16)
            for m in re.finditer(r"^[* ](\w+)\s+(0x[0-9a-f]+)\s", buf.getvalue(), re.MULTILINE)}
    assert set(repl) == set(d.arch.regs), buf.getvalue()
    with gdbserver("--arch", arch, "--variant", "buggy", elf=str(tmp_path / "g.elf")) as srv:
        out = run_gdb(srv, ["break lessstack", "continue", "stepi 3", "info registers"])
    gdb = gdb_registers(out.split("stepi 3")[-1] if "stepi 3" in out else out)
    names = {r.source: r.name for r in TargetDescription(arch).regs if r.source}
    for reg, value in repl.items():
        assert gdb[names[reg]] == value, (reg, hex(value), out)


@pytest.mark.parametrize("arch", ["amd64", "arm"])
def test_symbols_disassembly_and_monitor(arch, tmp_path):
    d = _dbg(arch, "buggy")
    oldstack = d.mc.image.symbols["oldstack"]
    m0 = d.mc.image.symbols["m0"]
    arena = d.arch.regions["arena"].base      # the goroutine's G, the first object allocated
    with gdbserver("--arch", arch, "--variant", "buggy", elf=str(tmp_path / "g.elf")) as srv:
        out = run_gdb(srv, ["info address oldstack", "disas oldstack", f"info symbol {m0:#x}",
                            "break leak", "continue", "bt",
                            "monitor stack", "monitor info snapshots", "monitor gc", f"monitor why {arena + 8:#x}",
                            "monitor why 0x1",
                            "monitor goto 5", "maintenance flush register-cache", "monitor where",
                            "p/x $pc", "monitor bogus", "monitor help"])
    assert f"Symbol \"oldstack\" is at 0x{oldstack:x} in a file compiled without debugging" in out, out
    assert "Dump of assembler code for function oldstack:" in out
    assert "m0 in section .runtime_bss" in out, out
    assert re.search(r"#0\s+0x[0-9a-f]+ in leak \(\)", out), out
    assert re.search(r"\* segment \d+: \[0x", out), out
    assert "snapshots at instructions:" in out
    assert re.search(r"== gc #1 at insn \d+", out), out
    assert re.search(rf"object {arena:#x} \(\d+ bytes\) is retained in collection #1: root data runtime.allg",
                     out), out
    assert "error: no such" in out or "is not a heap object" in out, out
    w = where(out)
    assert w[-1][0] == 5, out
    d.goto(5)
    assert re.search(rf"^\$1 = 0x0*{d.mc.pc:x}$", out, re.MULTILINE), out
    assert 'unknown monitor command "bogus"' in out
    assert "monitor why ADDR" in out


def test_gdb_finds_the_symbols_through_qxfer_exec_file():
    """Without `file`, gdb asks the stub for its executable and loads it."""
    import subprocess

    from gdbstub_helpers import gdb_binary
    with gdbserver("--arch", "arm", "--variant", "buggy") as srv:
        r = subprocess.run([gdb_binary(), "-nx", "-batch", "-ex", f"target remote 127.0.0.1:{srv.port}",
                            "-ex", "break lessstack", "-ex", "info symbol $pc"],
                           capture_output=True, text=True, timeout=300)
    out = r.stdout + r.stderr
    assert "rt0 in section .runtime_text" in out, out
    assert re.search(r"Breakpoint 1 at 0x[0-9a-f]+", out), out
