"""reverse-nexti steps back over a whole call, as gdb does (and nexti forward
over it, the morestack call of a split prologue included): checked at every
instruction of the program's own functions against a per-instruction trace."""
from pathlib import Path

import pytest

from emu.debugger import new_debugger
from emu.run import load_program

DEMOS = Path(__file__).resolve().parents[2] / "emu" / "demos"

# a loop that calls a splitting function (every call crosses into a new
# segment and returns through lessstack) and a non-splitting one
LOOP = {
    "amd64": """
TEXT big, $4096-16
	mov rax, qword ptr [FP]
	add rax, 1
	mov qword ptr [FP+8], rax
	RET
TEXT small, $8-0
	nop
	RET
TEXT main, $32-0
	mov rcx, 3
again:
	mov qword ptr [rsp+16], rcx
	mov qword ptr [rsp], rcx
	call big
	call small
	mov rcx, qword ptr [rsp+16]
	dec rcx
	jnz again
	RET
""",
    "arm": """
TEXT big, $4096-8
	ldr r0, [FP]
	add r0, r0, #1
	str r0, [FP, #4]
	RET
TEXT small, $8-0
	nop
	RET
TEXT main, $32-0
	mov r1, #3
again:
	str r1, [sp, #16]
	str r1, [sp, #4]
	bl big
	bl small
	ldr r1, [sp, #16]
	subs r1, r1, #1
	bne again
	RET
""",
}


def _trace(arch, unit):
    d = new_debugger(arch, "buggy", unit, snap_interval=400)
    pcs = []
    d.mc.hooks.code(lambda a, s: pcs.append(a))
    assert d.cont().reason == "exited"
    return pcs


def _expected(mc, pcs, i, funcs):
    """The previous instruction of the same frame: the latest earlier
    instruction of the same (non-recursive) function; at a function's entry,
    the instruction before (the call)."""
    f = mc.image.func_at(pcs[i])
    if pcs[i] == f.addr:
        return i - 1
    for j in range(i - 1, -1, -1):
        if mc.image.func_at(pcs[j]) is f:
            return j
    raise AssertionError("no earlier instruction in the frame")


@pytest.mark.parametrize("arch", ["amd64", "arm"])
@pytest.mark.parametrize("prog", ["leak", "loop"])
def test_repl_reverse_nexti_exact(arch, prog):
    unit = (load_program(DEMOS / f"leak_{arch}.s") if prog == "leak"
            else load_program(None, text=LOOP[arch], name="loop.s"))
    pcs = _trace(arch, unit)
    d = new_debugger(arch, "buggy", unit, snap_interval=400)
    mc = d.mc
    funcs = {"main", "leak", "big", "small"}
    positions = [i for i, pc in enumerate(pcs) if (f := mc.image.func_at(pc)) is not None and f.name in funcs]
    stepped_over = 0
    for i in positions:
        if i == 0:
            continue
        d.goto(i)
        st = d.reverse_nexti()
        want = _expected(mc, pcs, i, funcs)
        assert st.icount == want == d.n, (mc.symbolize(pcs[i]), i, mc.symbolize(pcs[st.icount]))
        assert mc.pc == pcs[want]
        if want < i - 1:
            stepped_over += 1
            assert d._is_call(mc.pc)[0]
        if pcs[i] != mc.image.func_at(pcs[i]).addr:
            # and nexti is its inverse: forward over the same call, to where we were
            assert d.nexti().icount == i
    # the calls stepped over: leak: its prologue's morestack (resumed on the new segment),
    # leak->new, main->leak (returning through lessstack), main->gc;
    # loop: 3 x (big's morestack, main->big through lessstack, main->small)
    assert stepped_over == (4 if prog == "leak" else 9)


def test_repl_reverse_nexti_count_and_session(run_batch):
    out = run_batch("arm", "buggy", """
b runtime.gc
c
rni
x/1i $pc
run
rni 2
x/1i $pc
""")
    assert "error:" not in out, out
    # from runtime.gc's entry: back onto main's `bl runtime.gc` ...
    one = out.split("(goemu) x/1i $pc\n")[1].splitlines()[0]
    # ... and with a count of 2, over `bl leak` too (its split and unsplit included)
    two = out.split("(goemu) x/1i $pc\n")[2].splitlines()[0]
    assert "<main+" in one and "\tbl " in one
    assert "<main+" in two and "\tbl " in two and two != one
