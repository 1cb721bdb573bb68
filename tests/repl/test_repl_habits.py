"""gdb's habits: expressions, formats, x units, disas, frames, displays,
set var, info symbol, list, the empty-line repeat, and the bad inputs that
used to kill the session (each now one clean line, the session alive)."""
import io
import re

import pytest
from repl_helpers import batch, values

from emu.arch import get_arch
from emu.debugger import new_debugger
from emu.repl import Session, run_repl
from emu.run import load_program

M_CRET = {"amd64": 0x38, "arm": 0x20}


def session(arch="amd64"):
    d = new_debugger(arch, "buggy", _leak(arch))
    out = io.StringIO()
    return Session(d, out), out


def _leak(arch):
    from pathlib import Path

    import emu
    return load_program(str(Path(emu.__file__).parent / "demos" / f"leak_{arch}.s"))


def run(s, out, *lines):
    start = len(out.getvalue())
    for line in lines:
        s.execute(line)
    return out.getvalue()[start:]


@pytest.mark.parametrize("arch", ["amd64", "arm"])
def test_bad_inputs_are_one_line_and_the_session_lives(tmp_path, arch):
    """The issue's list: each was 'internal error: UcError', exit 70."""
    out = batch_rc(tmp_path, arch, """
p m.curg.sched.pc
p *stktop
p *(Stktop*)0xdeadbeef
x/4gx 0xdeadbeef
x/s 0xdeadbeef
watch *(long*)0xdeadbeef
p 1/0
p m.
p $nosuch
disas 0xdeadbeef
si
p $pc
""", expect=1)
    errors = [l for l in out.splitlines() if l.startswith(("error:", "internal error:"))]
    curg_pc = {"amd64": 0x28, "arm": 0x14}[arch]
    assert errors == [
        f"error: Cannot access memory at address {curg_pc:#x}",   # m->curg is 0 at boot: &((G*)0)->sched.pc
        "error: Cannot access memory at address 0x0",             # g0's stackbase is 0 at boot
        "error: Cannot access memory at address 0xdeadbeef",
        "error: Cannot access memory at address 0xdeadbeef",
        "error: Cannot access memory at address 0xdeadbeef",
        "error: Cannot access memory at address 0xdeadbeef",
        "error: division by zero",
        "error: expected a field name after '.' in 'm.'",
        "error: no register $nosuch",
        "error: No function contains specified address 0xdeadbeef.",
    ], out
    assert "[insn 1]" in out                    # the commands after the errors ran


def batch_rc(tmp_path, arch, script, expect):
    f = tmp_path / "s.gdb"
    f.write_text(script)
    out = io.StringIO()
    rc = run_repl(arch, "buggy", None, batch_file=str(f), out=out)
    assert rc == expect, out.getvalue()
    return out.getvalue()


def test_batch_exit_status_and_stop_on_error(tmp_path):
    ok = batch_rc(tmp_path, "amd64", "si\np $pc\n", expect=0)
    assert "error" not in ok
    # a failure in the middle: every command still runs, and the status says it failed
    out = batch_rc(tmp_path, "amd64", "si\np nosuch\nsi\np $pc\n", expect=1)
    assert "[insn 2]" in out
    # --stop-on-error stops there
    f = tmp_path / "t.gdb"
    f.write_text("si\np nosuch\nsi\n")
    buf = io.StringIO()
    assert run_repl("amd64", "buggy", None, batch_file=str(f), out=buf, stop_on_error=True) == 1
    assert "[insn 2]" not in buf.getvalue()


def test_internal_error_is_one_line_and_the_session_goes_on():
    s, out = session()
    s.dbg.backtrace = lambda limit=64: 1 / 0          # a bug in a command
    text = run(s, out, "bt", "si", "p $pc")
    lines = text.splitlines()
    assert lines[0] == "internal error: ZeroDivisionError: division by zero (the session goes on)"
    assert "[insn 1]" in text and s.failures == 1


@pytest.mark.parametrize("arch", ["amd64", "arm"])
def test_expressions(tmp_path, arch):
    m_off = M_CRET[arch]
    out = batch(tmp_path, arch, "buggy", """
b lessstack
c
si 2
p m->cret
p m.cret
p &m.cret
p 0x10*4
p (0x10 + 2) * 4 - 1
p/x 255
p/t 10
p/o 8
p/d -1
p/c 65
p -5
p m.cret == m->cret
p *(Stktop*)stktop
p (long)&m0.cret - (long)&m0
p m0.cret
p g.stackguard
p sizeof
""".replace("p sizeof\n", ""))
    assert "error" not in out, out
    vals = values(out)
    cret = vals[0]
    assert cret != 0 and vals[1] == cret
    assert re.search(r"\$ = \(unsigned long \*\) 0x[0-9a-f]+ <m0\+" + hex(m_off) + ">", out) or \
        re.search(r"\$ = \(unsigned (long|int) \*\) 0x[0-9a-f]+ <m0\+" + hex(m_off) + ">", out), out
    assert "$ = 0x40 (64)" in out and "$ = 0x47 (71)" in out
    assert "$ = 0xff\n" in out and "$ = 1010\n" in out and "$ = 010\n" in out and "$ = -1\n" in out
    assert "$ = 65 'A'" in out and "(-5)" in out and "$ = 0x1 (1)" in out
    assert "(Stktop *)" in out and "gobuf.pc" in out
    assert f"$ = {m_off:#x} ({m_off})" in out


@pytest.mark.parametrize("arch", ["amd64", "arm"])
def test_p_global_prints_its_value(tmp_path, arch):
    prog = tmp_path / f"g_{arch}.s"
    if arch == "amd64":
        prog.write_text("GLOBL cnt, $8\nDATA cnt+0/8, $1234\nGLOBL msg, $8\nDATA msg+0/4, $0x6948\n"
                        "TEXT main, $16-0\n\tRET\n")
    else:
        prog.write_text("GLOBL cnt, $4\nDATA cnt+0/4, $1234\nGLOBL msg, $8\nDATA msg+0/4, $0x6948\n"
                        "TEXT main, $16-0\n\tRET\n")
    out = batch(tmp_path, arch, "buggy", "p cnt\np &cnt\np cnt + 1\nset var cnt = 7\np cnt\n"
                "x/2c &msg\nx/s &msg\nx/2xb &msg\nx/dw &cnt\n", program=str(prog))
    assert "error" not in out, out
    assert "$ = 0x4d2 (1234)" in out and "$ = 0x4d3 (1235)" in out and "$ = 0x7 (7)" in out
    assert re.search(r"\$ = \(data \*\) 0x[0-9a-f]+ <cnt>", out), out
    assert re.search(r"<msg>:\t72 'H'\t105 'i'\n", out), out       # x/2c reads bytes
    assert re.search(r'<msg>:\t"Hi"\n', out), out                  # x/s: the string
    assert re.search(r"<msg>:\t0x48\t0x69\n", out), out
    assert re.search(r"<cnt>:\t7\n", out), out


def test_x_units_formats_and_repeat():
    s, out = session()
    text = run(s, out, "x/4xg $sp", "x/2i $pc")
    assert len(re.findall(r"^0x[0-9a-f]+:\t0x[0-9a-f]{16}\t0x[0-9a-f]{16}$", text, re.MULTILINE)) == 2
    assert text.count("\n=> ") + text.count("\n   0x") >= 2 or "=> " in text
    # an empty line repeats x, continuing after the last address
    sp = s.mc.sp
    text = run(s, out, "x/2xg $sp")
    s.execute("", repeat=True)
    after = out.getvalue()
    assert f"{sp + 16:#x}:" in after.split(text)[-1]
    # and repeats stepi
    n = s.dbg.n
    s.execute("si")
    s.execute("", repeat=True)
    assert s.dbg.n == n + 2
    # in batch files an empty line does nothing (as gdb -x)
    s.execute("")
    assert s.dbg.n == n + 2


def test_abbreviations():
    s, out = session()
    text = run(s, out, "s", "n", "help s")
    assert s.dbg.n == 2
    assert "error" not in text
    assert "instruction level" in text


@pytest.mark.parametrize("arch", ["amd64", "arm"])
def test_disas_whole_function_with_named_targets(tmp_path, arch):
    out = batch(tmp_path, arch, "buggy", "disas leak\ndisas oldstack\n")
    assert "error" not in out, out
    leak = out.split("End of assembler dump.")[0]
    assert "Dump of assembler code for function leak:" in leak
    # every instruction of the function, through its last (the RET)
    assert len(re.findall(r"<leak(\+0x[0-9a-f]+)?>:", leak)) > 8
    assert "<runtime.new>" in leak and re.search(r"<morestack\w*>", leak)
    old = out.split("End of assembler dump.")[1]
    assert "Dump of assembler code for function oldstack:" in old     # C code too
    assert "<gogo>" in old


def test_frames_select_and_errors(tmp_path):
    f = tmp_path / "s.gdb"
    f.write_text("b runtime.new\nc\nup\ninfo frame\nup\ndown\nframe 2\ndown 5\nframe 9\nup 9\nlist\n")
    buf = io.StringIO()
    rc = run_repl("amd64", "buggy", None, batch_file=str(f), out=buf)
    out = buf.getvalue()
    assert rc == 1
    assert re.search(r"^#1 +0x[0-9a-f]+ in leak\+0x[0-9a-f]+ ", out, re.MULTILINE)
    assert "Stack level 1, frame at sp=" in out and "function leak: $4096-0" in out
    assert re.search(r"^#2 +0x[0-9a-f]+ in main\+", out, re.MULTILINE)
    assert "error: No frame at level 9." in out
    # up 9 from frame 0: the outermost frame is selected (as gdb)
    assert re.search(r"^#3 +0x[0-9a-f]+ in goexit", out, re.MULTILINE)
    assert "error: Bottom (innermost) frame selected; you cannot go down." not in out
    # list of the selected frame shows the program's source
    assert "TEXT" in out.split("(goemu) list")[-1]


@pytest.mark.parametrize("arch", ["amd64", "arm"])
def test_display_undisplay_set_var_info_symbol(tmp_path, arch):
    reg = {"amd64": "rax", "arm": "r0"}[arch]
    out = batch(tmp_path, arch, "buggy", f"""
display m.cret
display/i $pc
si
undisplay 1
si
info display
set var ${reg} = 0x1234
p ${reg}
set var m->cret = 5
p m.cret
info symbol lessstack+4
info symbol 0x1
b leak
c
list
""")
    assert "error" not in out, out
    parts = out.split("(goemu) si")
    assert "1: m.cret = 0x0 (0)" in parts[1] and "2: x/i $pc" in parts[1]
    assert "1: m.cret" not in parts[2] and "2: x/i $pc" in parts[2]
    assert "2:   /i $pc" in out
    assert "$ = 0x1234 (4660)" in out and "$ = 0x5 (5)" in out
    assert "lessstack + 4 in section .text" in out
    assert "No symbol matches 0x1." in out
    assert "TEXT leak, $4096-0" in out.split("(goemu) list")[-1]


@pytest.mark.parametrize("arch", ["amd64", "arm"])
def test_watch_register_forward_and_back(arch):
    d = new_debugger(arch, "buggy", _leak(arch))
    d.add_break("leak")
    d.cont()
    d.delete()
    sp = d.mc.sp
    bp = d.add_watch("$sp")
    assert bp.reg == d.arch.sp
    st = d.cont()
    assert st.reason == "watchpoint" and st.old == sp and st.new == d.mc.sp != sp
    writer = st.icount - 1
    st2 = d.cont()
    assert st2.reason == "watchpoint"
    back = d.reverse_continue()
    # going back from the second stop lands on the instruction that made the second change
    assert back.reason == "watchpoint" and back.reverse and back.icount == st2.icount - 1
    back = d.reverse_continue()
    assert back.icount == writer and back.new == sp


@pytest.mark.parametrize("arch", ["amd64", "arm"])
def test_watch_g_means_the_goroutine(tmp_path, arch):
    """`g` is the running goroutine: on g0 (newstack, oldstack) it is m->curg."""
    d = new_debugger(arch, "buggy", _leak(arch))
    d.add_break("newstack")
    d.cont()
    curg = d.mc.field("M", d.mc.m, "curg")
    assert curg and d.mc.g == d.mc.g0          # running on g0: `g` must still mean the goroutine
    addr, size = d.lvalue("g.stackguard")
    assert addr == curg + d.mc.layouts["G"].offset("stackguard") and size == d.arch.ptrsize
    w = d.add_watch("g.stackguard")
    st = d.cont()
    assert st.reason == "watchpoint" and d.mc.image.symbolize(st.access_pc).startswith("newstack")
    assert w.addr != d.mc.g0


@pytest.mark.parametrize("arch", ["amd64", "arm"])
def test_reverse_finish_that_fails_stays(arch):
    d = new_debugger(arch, "buggy", _leak(arch))
    d.add_break("runtime.new")
    d.cont()
    d.delete()
    d.stepi(3)
    here, h = d.n, d.state_hash()
    # forget the history before the call: the search cannot find it
    d.history.rebase()
    with pytest.raises(Exception, match="could not find the call"):
        d.reverse_finish()
    assert d.n == here and d.state_hash() == h


@pytest.mark.parametrize("arch", ["amd64", "arm"])
def test_ni_over_call_oldstack_and_finish_in_newstack(arch):
    d = new_debugger(arch, "buggy", _leak(arch))
    # finish inside newstack: back in the function growing its stack, on its new segment
    d.add_break("newstack")
    d.cont()
    d.delete()
    morepc = d.mc.field("M", d.mc.m, "morepc")
    d.stepi(5)
    st = d.finish()
    assert st.reason == "finish" and st.pc == morepc, st
    # ni over lessstack's call of oldstack: in the caller, on the older segment
    d.add_break("lessstack")
    d.cont()
    d.delete()
    caller = d.backtrace()[1]
    while True:
        text = d.mc.disasm(d.mc.pc, 1)[0][1]
        if "oldstack" in d.mc.symbolize(d.branch_target(text) or 0):
            break
        d.stepi(1)
    st = d.nexti()
    if arch == "amd64":         # call oldstack: stepped over, to where the caller resumes
        assert st.reason == "step" and st.pc == caller.pc and d.mc.sp == caller.sp, st
    else:                       # ARM's lessstack jumps (b oldstack): a jump is stepped, as in gdb
        assert st.reason == "step" and st.symbol == "oldstack"
        st = d.finish()         # finish in oldstack: the caller resumes
        assert st.reason == "finish" and st.pc == caller.pc and d.mc.sp == caller.sp, st


def test_bt_more_frames_line(tmp_path):
    prog = tmp_path / "deep.s"
    prog.write_text(get_arch("amd64").program("deep").replace("DEPTH", "100"))   # the debug bench's program
    out = batch(tmp_path, "amd64", "buggy", "b bottom\nc\nbt\nbt 3\nbt full\n", program=str(prog))
    bt = out.split("(goemu) bt\n")[1].split("(goemu)")[0].splitlines()
    # bottom, 101 rec, main, goexit: 104 frames
    assert len(bt) == 65 and bt[-1].startswith("(More stack frames follow: 40 more"), bt[-1]
    assert bt[63].startswith("#63")
    short = out.split("(goemu) bt 3\n")[1].split("(goemu)")[0].splitlines()
    assert len(short) == 4 and "101 more" in short[-1]
    full = out.split("(goemu) bt full\n")[1].splitlines()
    assert len(full) == 104 and full[-1].startswith("#103") and "goexit" in full[-1]


@pytest.mark.parametrize("arch", ["amd64", "arm"])
def test_reverse_finish_in_an_unsplit_lands_on_the_call(tmp_path, arch):
    """In oldstack the frame that returned through lessstack is gone: going
    back to its call lands on the caller's call of it, on the older segment."""
    out = batch(tmp_path, arch, "buggy", "b oldstack\nc\nsi 3\nreverse-finish\n")
    assert "error" not in out, out
    last = out.split("(goemu) reverse-finish\n")[1]
    assert last.startswith("Run back to the call; now at ")
    assert re.search(r"=> 0x[0-9a-f]+ <leak\+0x[0-9a-f]+>:\t(call|bl) .*<runtime\.new>", last), last


def test_outer_frame_pc_and_sp(tmp_path):
    """After up, $pc and $sp are the selected frame's (as gdb)."""
    out = batch(tmp_path, "amd64", "buggy", "b runtime.new\nc\nup\np $pc\nx/i $pc\ndown\np $pc\n")
    assert "error" not in out, out
    up = out.split("(goemu) up\n")[1]
    assert re.search(r"\(goemu\) p \$pc\n\$ = 0x[0-9a-f]+ <leak\+0x[0-9a-f]+>", up), up
    assert re.search(r"\(goemu\) x/i \$pc\n   0x[0-9a-f]+ <leak\+", up), up
    assert re.search(r"\(goemu\) p \$pc\n\$ = 0x[0-9a-f]+ <runtime\.new>", out.split("(goemu) down\n")[1])
