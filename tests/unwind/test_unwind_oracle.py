"""The unwinder against an oracle at every instruction of whole runs.

The oracle knows nothing of frame sizes, Stktops or m->morebuf: it follows
the execution itself, instruction by instruction -- a call pushes the callee
and its return address, a return to that address pops it -- and treats what
the runtime does between a split-prologue's call of morestack and the
function's resumption (morestack, newstack, gogocall), and between a return
into lessstack and the caller's resumption (lessstack, oldstack, gogo), as
one step of the goroutine.  At every instruction the backtrace's goroutine
frames (function names and return pcs) must be what the oracle says.
"""
import re
from pathlib import Path

import pytest

from emu.run import load_program, new_machine
from emu.unwind import GROWING, backtrace

CALL = re.compile(r"^(call|blx?(eq|ne|cs|hs|cc|lo|mi|pl|vs|vc|hi|ls|ge|lt|gt|le|al)?)$")

ITER = {
    "amd64": """
TEXT leaf, $4096-16
	mov rax, qword ptr [FP]
	add rax, 1
	mov qword ptr [FP+8], rax
	RET

TEXT mid, $64-16
	mov rax, qword ptr [FP]
	mov qword ptr [rsp], rax
	call leaf
	RET

TEXT main, $32-0
	mov qword ptr [rsp], 1
	call mid
	mov qword ptr [rsp], 2
	call mid
	call runtime.gc
	RET
""",
    "arm": """
TEXT leaf, $4096-8
	ldr r0, [FP]
	add r0, r0, #1
	str r0, [FP, #4]
	RET

TEXT mid, $64-8
	ldr r0, [FP]
	str r0, [sp, #4]
	bl leaf
	RET

TEXT main, $32-0
	mov r0, #1
	str r0, [sp, #4]
	bl mid
	mov r0, #2
	str r0, [sp, #4]
	bl mid
	bl runtime.gc
	RET
""",
}


def _name(mc, pc):
    f = mc.image.func_at(pc)
    if f is not None:
        return f.name
    s = mc.image.c_image.symbolize(pc)
    return s.partition("+")[0] if s else hex(pc)


class Oracle:
    def __init__(self, mc):
        self.mc = mc
        self.stack = None           # [(function, return pc into its caller)], outermost first
        self.mode = None            # None, "split", "unsplit", "c"
        self.resume = None
        self.prev = None            # (pc, text, length)
        self.checked = {"body": 0, "split": 0, "unsplit": 0}
        self.bad = []
        self.seen = set()

    def step(self, pc):
        mc = self.mc
        name = _name(mc, pc)
        if self.stack is None:
            if name == "main" and mc.g != mc.g0:
                self.stack = [("goexit", None), ("main", mc.image.symbols["goexit"])]
            self.prev = self._insn(pc)
            return
        ppc, ptext, plen = self.prev
        pname = _name(mc, ppc)
        fall = ppc + plen
        if self.mode is None:
            if CALL.match(ptext.split(" ")[0]) and pc != fall:       # a call taken
                if name.startswith("morestack"):
                    self.mode, self.resume = "split", fall
                elif name == "reflectcall":
                    # fn(arg...) is called from reflectcall's first argument, through newstack
                    ps = mc.arch.ptrsize
                    self.rfn = mc.read_ptr(mc.sp + ps)
                    self.stack.append((name, fall))
                elif mc.image.func_at(pc) is None:
                    self.mode, self.resume = "c", fall
                else:
                    self.stack.append((name, fall))
            elif name == "lessstack":
                self.mode = "unsplit"
            elif pc == self.stack[-1][1] and pname == self.stack[-1][0]:
                self.stack.pop()
            elif self.stack[-1][0] == "reflectcall" and mc.g == mc.g0:
                # reflectcall switched to g0: from now on fn is the frame growing a stack
                self.stack[-1] = (_name(mc, self.rfn), self.stack[-1][1])
                self.mode, self.resume = "split", self.rfn
        elif self.mode == "split" and pc == self.resume and name == self.stack[-1][0]:
            self.mode = None
        elif self.mode == "unsplit" and pc == self.stack[-1][1]:
            self.stack.pop()
            self.mode = None
        elif self.mode == "c" and pc == self.resume:
            self.mode = None
        self.prev = self._insn(pc)
        if self.mode == "c" or not self.stack:
            return
        self.check(pc, name)

    def _insn(self, pc):
        _a, text, raw = self.mc.disasm(pc, 1)[0]
        return pc, text, len(raw)

    def check(self, pc, name):
        mc = self.mc
        frames = backtrace(mc, 64)
        names = [f.symbol.partition("+")[0] for f in frames]
        want = [n for n, _r in reversed(self.stack)]
        rets = [r for _n, r in reversed(self.stack)][:-1]      # callers' pcs, innermost caller first
        pos = mc.position(pc)
        if self.mode is None:
            got_names, got_pcs = names, [f.pc for f in frames[1:]]
            ok = got_names == want and got_pcs == rets
            self.checked["body"] += 1
        elif self.mode == "split":
            # #0 is the runtime (or the prologue's trampoline); then the function growing its stack
            got_names, got_pcs = names[1:], [f.pc for f in frames[2:]]
            ok = (got_names == want and got_pcs == rets and frames[1].pc == self.resume
                  and frames[1].note.startswith(GROWING))
            self.checked["split"] += 1
        else:
            # the frame that returned into lessstack is gone: the caller resumes
            got_names, got_pcs = names[1:], [f.pc for f in frames[2:]]
            ok = got_names == want[1:] and got_pcs == rets[1:] and frames[1].pc == rets[0]
            self.checked["unsplit"] += 1
        if not ok:
            self.bad.append((pos, mc.symbolize(pc), self.mode, want,
                             [f"{f.symbol}@{f.pc:#x}" for f in frames]))


def run_oracle(arch, text, name, sel=None):
    unit = load_program(None, text=text, name=name)
    mc = new_machine(arch, "buggy", unit, 2_000_000)
    if sel is not None:
        mc.write_ptr(mc.image.symbols["sel"], sel)
    o = Oracle(mc)
    mc.hooks.code(lambda a, _s: o.step(a), label="oracle")
    mc.run()
    return mc, o


@pytest.mark.parametrize("arch", ["amd64", "arm"])
@pytest.mark.parametrize("demo", ["leak", "nested"])
def test_unwind_matches_oracle_at_every_instruction(arch, demo):
    if demo == "leak":
        from pathlib import Path

        import emu
        path = Path(emu.__file__).parent / "demos" / f"leak_{arch}.s"
        text = path.read_text()
    else:
        text = ITER[arch]
    mc, o = run_oracle(arch, text, f"{demo}_{arch}.s")
    assert mc.exited and mc.exit_status == 0
    # every phase of both splits and both unsplits was checked, not just the bodies
    assert o.checked["split"] > 40 and o.checked["unsplit"] > 40 and o.checked["body"] > 20, o.checked
    assert not o.bad, "\n".join(f"insn {p} {w} [{m}]: want {want} got {got}" for p, w, m, want, got in o.bad[:15])


@pytest.mark.parametrize("arch", ["amd64", "arm"])
def test_gc_root_names_use_the_unwinder_mid_unsplit(arch):
    """A collection run by hand in the middle of an unsplit (in gogo, on the
    caller's segment again) names stack words after real frames."""
    from pathlib import Path

    import emu
    from emu.debugger import new_debugger
    from emu.gc import collect
    unit = load_program(str(Path(emu.__file__).parent / "demos" / f"leak_{arch}.s"))
    d = new_debugger(arch, "buggy", unit)
    d.add_break("gogo")
    st = d.cont()
    assert st.reason == "breakpoint"
    d.delete()
    # step to gogo's last instruction (the jump to the resumed caller)
    while True:
        ins = d.mc.disasm(d.mc.pc, 1)[0][1]
        if ins.startswith(("jmp", "ldr pc")):
            break
        d.stepi(1)
    rep = collect(d.mc, d.mc.sp)
    names = [o.root for o in rep.retained] + [str(o.path_text()) for o in rep.retained]
    assert not any("frame of 0x" in n for n in names), names


PROGRAMS = Path(__file__).resolve().parent.parent / "runtime" / "programs"


@pytest.mark.parametrize("arch", ["amd64", "arm"])
@pytest.mark.parametrize("sel", [0, 1])
def test_unwind_oracle_reflectcall(arch, sel):
    """reflectcall with room (a Stktop on the caller's segment, no new
    segment: sel 0) and without (a new segment: sel 1).  (sel 2 and 3 move
    main's SP off its frame on purpose: no unwinder can follow that.)"""
    text = (PROGRAMS / f"reflect_{arch}.s").read_text()
    mc, o = run_oracle(arch, text, f"reflect_{arch}.s", sel=sel)
    assert mc.exited
    assert o.checked["split"] > 20 and o.checked["unsplit"] > 20, o.checked
    assert not o.bad, "\n".join(f"insn {p} {w} [{m}]: want {want} got {got}" for p, w, m, want, got in o.bad[:15])


def test_unwind_reflectcall_fast_path_is_labelled_as_such():
    """In reflectcall's fast path fn's frame sits above a Stktop on the
    caller's own segment: bt says so, and numbers no segment that does not exist."""
    from emu.debugger import new_debugger
    text = (PROGRAMS / "reflect_amd64.s").read_text()
    d = new_debugger("amd64", "buggy", load_program(None, text=text, name="reflect_amd64.s"))
    d.add_break("radd")
    st = d.cont()
    assert st.reason == "breakpoint", st
    frames = d.backtrace()
    assert [f.symbol.partition("+")[0] for f in frames] == ["radd", "main", "goexit"], frames
    assert "reflectcall's Stktop on segment 1 (no new segment)" in frames[0].note
    assert {f.segment for f in frames} == {1}
