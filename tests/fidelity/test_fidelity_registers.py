"""Registers on exit from the stubs, as Go 1.0 left them, on the leak demo.

The demo (emu/demos/leak_<arch>.s) splits twice and unsplits twice.  The
run is stopped at the last instruction of morestack, lessstack, gogo and
gogocall (the jump or call that leaves them: every register but SP/PC is
final there), and at main's first instruction; the registers are compared with
the runtime's state read from memory (m, g, g0, m->cret, the split's
morebuf) -- reference section 4 and the asm_*.s register use:

- morestack -> newstack: amd64 BX = m, BP = g0, SI = the old g, AX = m->morepc;
  ARM R3 = m->moreargp, R4 = g0 (and g = g0).
- lessstack -> oldstack: amd64 AX = m->cret, BX = m, BP = g0; ARM R0 = m->cret, g = g0.
- gogo -> the caller: amd64 AX = cret, BX = the resume PC, CX = g->stackguard,
  DX = g, BP = g0; ARM R0 = cret, R1 = &gobuf, R2 = g->stackguard.  On fixed,
  no other register holds a copy of the reference oldstack dropped.
- gogocall -> f: amd64 AX = f, BX = lessstack (also pushed), CX = g->stackguard,
  DX = g; ARM R0 = &gobuf, R1 = f, R2 = Go's unused third word, R3 =
  g->stackguard, LR = lessstack.
- rt0 -> main (newproc1's layout): amd64 SP = stackbase - 8 holding goexit;
  ARM SP = stackbase - 4 holding nil, LR = goexit.
"""
from __future__ import annotations

from pathlib import Path

import pytest
from fidelity_support import ARCHES, VARIANTS

from emu.run import load_program, new_machine

DEMO = Path(__file__).resolve().parents[2] / "emu" / "demos"
GPRS = {"amd64": ["rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp", "r8", "r9", "r10", "r11", "r12", "r13",
                  "r14", "r15"],
        "arm": ["r0", "r1", "r2", "r3", "r4", "r5", "r6", "r7", "r8", "r9", "r10", "r11", "r12", "lr"]}



def _exit_of(mc, name: str) -> int:
    """Address of the instruction that leaves the stub."""
    lines = mc.image.functions[name].lines
    leave = ("call", "jmp") if mc.arch.name == "amd64" else ("b ", "b\t", "ldr pc", "mov pc")
    for ln in lines:
        if ln[4].startswith(leave) and not ln[4].startswith(("bleq", "call badmcall")):
            if name == "morestack" and mc.arch.name == "amd64" and not ln[4].startswith("call"):
                continue                         # the jne over int3
            return ln[0]
    raise AssertionError(f"no exit in {name}")


def _run(arch: str, variant: str):
    mc = new_machine(arch, variant, load_program(DEMO / f"leak_{arch}.s"))
    seen: dict[str, list[dict]] = {k: [] for k in ("morestack", "lessstack", "gogo", "gogocall", "main")}

    def snap(kind: str):
        def hook(_a: int) -> None:
            regs = {r: mc.reg(r) for r in GPRS[arch]}
            regs["sp"] = mc.reg(mc.arch.sp)
            m = mc.m
            # ARM, at gogo and gogocall: what R1 and R0 point at, read now (g0's stack changes later)
            arm_ptrs = arch == "arm" and kind in ("gogo", "gogocall")
            r1words = (mc.read_ptr(regs["r1"]), mc.read_ptr(regs["r1"] + 4)) if arm_ptrs else None
            r0pc = mc.read_ptr(regs["r0"] + 4) if arm_ptrs and kind == "gogocall" else None
            seen[kind].append(dict(regs=regs, r1words=r1words, r0pc=r0pc, g=mc.g, m=m, stackguard=mc.read_ptr(mc.g), curg=mc.field("M", m, "curg"),
                                   cret=mc.field("M", m, "cret"), morepc=mc.field("M", m, "morepc"),
                                   moreargp=mc.field("M", m, "moreargp")))
        return hook
    for name in ("morestack", "lessstack", "gogo", "gogocall"):
        mc.hooks.at(_exit_of(mc, name), snap(name))
    mc.hooks.at(mc.image.functions["main"].addr, snap("main"))
    mc.run()
    assert mc.exited and mc.exit_status == 0
    return mc, seen


@pytest.fixture(scope="module", params=[(a, v) for a in ARCHES for v in VARIANTS], ids=lambda p: "-".join(p))
def demo(request):
    return (*request.param, *_run(*request.param))


def test_morestack_exit(demo) -> None:
    arch, _v, mc, seen = demo
    assert len(seen["morestack"]) == 2
    for s in seen["morestack"]:
        r = s["regs"]
        assert s["g"] == mc.g0 and s["curg"] != mc.g0
        if arch == "amd64":
            assert (r["rbx"], r["rbp"], r["rsi"], r["rax"]) == (s["m"], mc.g0, s["curg"], s["morepc"])
        else:
            assert (r["r3"], r["r4"], r["r10"]) == (s["moreargp"], mc.g0, mc.g0)


def test_lessstack_exit(demo) -> None:
    arch, _v, mc, seen = demo
    assert len(seen["lessstack"]) == 2
    for s in seen["lessstack"]:
        r = s["regs"]
        if arch == "amd64":
            assert (r["rax"], r["rbx"], r["rbp"]) == (s["cret"], s["m"], mc.g0)
        else:
            assert (r["r0"], r["r10"]) == (s["cret"], mc.g0)
    # the leaked object's address is what the second unsplit saved
    assert seen["lessstack"][-1]["cret"] != 0


def test_gogo_exit(demo) -> None:
    arch, variant, mc, seen = demo
    assert len(seen["gogo"]) == 2
    splits = [e.detail for e in mc.events if e.kind == "split"]
    for s, before, split in zip(seen["gogo"], seen["lessstack"], reversed(splits)):   # unsplits are LIFO
        r = s["regs"]
        cret = before["cret"]                          # what lessstack saved, passed to gogo
        stackguard = s["stackguard"]                   # g->stackguard when the stub left
        assert r["sp"] == split["caller_sp"]           # SP already restored from the gobuf
        if arch == "amd64":
            assert (r["rax"], r["rbx"], r["rcx"], r["rdx"], r["rbp"]) == \
                (cret, split["caller_pc"], stackguard, s["g"], mc.g0)
            others = [k for k in GPRS[arch] if k != "rax"]
        else:
            assert (r["r0"], r["r2"], r["r10"]) == (cret, stackguard, s["g"])
            assert s["r1words"] == (split["caller_sp"], split["caller_pc"])     # R1 = &gobuf
            others = [k for k in GPRS[arch] if k != "r0"]
        assert s["g"] == s["curg"] != mc.g0
        if variant == "fixed":
            assert s["cret"] == 0                      # m->cret dropped ...
            assert cret not in [r[k] for k in others], "a copy of the dropped reference"   # ... and nowhere else


def test_gogocall_exit(demo) -> None:
    arch, _v, mc, seen = demo
    lessstack = mc.image.symbols["lessstack"]
    calls = seen["gogocall"]
    assert len(calls) == 3                            # rt0 -> main, and the two splits
    for s in calls[1:]:
        r = s["regs"]
        stackguard = s["stackguard"]                   # g->stackguard when the stub left
        if arch == "amd64":
            assert (r["rax"], r["rbx"], r["rcx"], r["rdx"]) == (s["morepc"], lessstack, stackguard, s["g"])
        else:
            assert (r["r1"], r["r2"], r["r3"], r["lr"]) == (s["morepc"], 0, stackguard, lessstack)
            assert s["r0pc"] == lessstack                      # R0 = &label, label.pc = lessstack


def test_main_starts_as_newproc1_left_it(demo) -> None:
    arch, _v, mc, seen = demo
    [s] = seen["main"]
    r = s["regs"]
    stackbase = mc.field("G", mc.main_g, "stackbase")
    goexit = mc.image.symbols["goexit"]
    if arch == "amd64":
        assert r["sp"] == stackbase - 8 and mc.read_ptr(r["sp"]) == goexit
    else:
        assert r["sp"] == stackbase - 4 and mc.read_ptr(r["sp"]) == 0 and r["lr"] == goexit
