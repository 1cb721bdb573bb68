"""Root names and chains match memory: a pointer planted in a known frame slot,
in a program GLOBL, in an M field (written through the machine API just before
the collector runs), an interior pointer, and a chain through several objects."""
from __future__ import annotations

import re

import pytest
from gen_programs import check_paths

from emu.run import finish, load_program, new_machine

# the program's own runtime.gc calls only (GOGC=off; tests/gc/conftest.py)
pytestmark = pytest.mark.usefixtures("gogc_off")

ARCHES = ("amd64", "arm")
VARIANTS = ("buggy", "fixed")


# -- tiny per-arch snippets ---------------------------------------------------------------------
def alloc(arch: str, size: int, slot_off: int) -> list[str]:
    """new(size) into the frame slot at sp+slot_off, print it, clear the scratch words."""
    if arch == "amd64":
        return [f"mov qword ptr [rsp], {size}", "call runtime.new", "mov rax, qword ptr [rsp + 8]",
                f"mov qword ptr [rsp + {slot_off}], rax", "mov qword ptr [rsp], rax",
                "call runtime.printhex", "mov qword ptr [rsp], 0", "mov qword ptr [rsp + 8], 0"]
    return [f"mov r0, #{size}", "str r0, [sp, #4]", "bl runtime.new", "ldr r0, [sp, #8]",
            f"str r0, [sp, #{slot_off}]", "str r0, [sp, #4]", "bl runtime.printhex",
            "mov r1, #0", "str r1, [sp, #4]", "str r1, [sp, #8]"]


def print_slot_addr(arch: str, slot_off: int) -> list[str]:
    if arch == "amd64":
        return [f"lea rax, [rsp + {slot_off}]", "mov qword ptr [rsp], rax", "call runtime.printhex",
                "mov qword ptr [rsp], 0"]
    return [f"add r0, sp, #{slot_off}", "str r0, [sp, #4]", "bl runtime.printhex",
            "mov r1, #0", "str r1, [sp, #4]"]


def add_to_slot(arch: str, slot_off: int, delta: int) -> list[str]:
    if arch == "amd64":
        return [f"add qword ptr [rsp + {slot_off}], {delta}"]
    return [f"ldr r0, [sp, #{slot_off}]", f"add r0, r0, #{delta}", f"str r0, [sp, #{slot_off}]"]


def slot_to_global(arch: str, slot_off: int, glob: str, off: int) -> list[str]:
    if arch == "amd64":
        return [f"mov rax, qword ptr [rsp + {slot_off}]", f"mov rcx, ${glob}",
                f"mov qword ptr [rcx + {off}], rax"]
    return [f"ldr r0, [sp, #{slot_off}]", f"ldr r1, ={glob}", f"str r0, [r1, #{off}]"]


def slot_to_field(arch: str, obj_slot: int, off: int, val_slot: int) -> list[str]:
    if arch == "amd64":
        return [f"mov rax, qword ptr [rsp + {obj_slot}]", f"mov rcx, qword ptr [rsp + {val_slot}]",
                f"mov qword ptr [rax + {off}], rcx"]
    return [f"ldr r0, [sp, #{obj_slot}]", f"ldr r1, [sp, #{val_slot}]", f"str r1, [r0, #{off}]"]


def clear_slot(arch: str, slot_off: int) -> list[str]:
    if arch == "amd64":
        return [f"mov qword ptr [rsp + {slot_off}], 0"]
    return ["mov r1, #0", f"str r1, [sp, #{slot_off}]"]


def call(arch: str, fn: str) -> str:
    return f"call {fn}" if arch == "amd64" else f"bl {fn}"


def func(name: str, frame: str, body: list[str]) -> str:
    return f"TEXT {name}, {frame}\n" + "".join(f"\t{x}\n" for x in body + ["RET"])


def slots(arch: str) -> tuple[int, int, int]:
    return (16, 24, 32) if arch == "amd64" else (12, 16, 20)


def run(arch, variant, text, before_gc=None):
    """Run; before_gc(mc) runs just before each collection; reports are path-checked."""
    mc = new_machine(arch, variant, load_program(None, text=text, name="roots.s"))
    state = {}
    inner = mc.gc_handler

    def handler(m, sp):
        if before_gc:
            before_gc(m)
        state["g"] = m.g
        state["stackguard"] = m.field("G", m.g, "stackguard")
        state["active_splits"] = sum(e.kind == "split" for e in m.events) - \
            sum(e.kind == "unsplit" for e in m.events)
        return inner(m, sp)
    mc.gc_handler = handler
    errs: list[str] = []
    mc.on("gc", lambda ev: errs.extend(check_paths(mc, ev.detail["report"])))
    mc.run()
    res = finish(mc, "roots.s")
    assert res.exit_status == 0
    assert not errs, errs
    return res, mc, state


def find(rep, addr):
    got = [o for o in rep.retained if o.addr == addr]
    assert got, f"{addr:#x} not retained; freed={[hex(o.addr) for o in rep.freed]}"
    return got[0]


# -- frame slot ---------------------------------------------------------------------------------
@pytest.mark.parametrize("arch", ARCHES)
@pytest.mark.parametrize("interior", [0, 16])
def test_gc_root_frame_slot(arch, interior):
    """f runs on the segment deep's 4096-byte frame forced; its slot holds the object."""
    _s0, s1, _ = slots(arch)
    slot = s1 + 16
    f = func("f", "$200-0", alloc(arch, 48, slot) + print_slot_addr(arch, slot)
             + (add_to_slot(arch, slot, interior) if interior else [])
             + [call(arch, "runtime.gc")])
    text = func("main", "$64-0", [call(arch, "deep")]) + func("deep", "$4096-0", [call(arch, "f")]) + f
    # fixed: on buggy, a split of runtime.new would leave the object in m0.cret too
    res, mc, st = run(arch, "fixed", text)
    obj, slot_addr = (int(x, 16) for x in res.output)
    o = find(res.gcs[0], obj)
    nseg = st["active_splits"] + 1
    assert nseg >= 2
    seg_base = st["stackguard"] - mc.layouts.constants["StackGuard"]
    assert o.root == f"g1 stack seg {nseg} +{slot_addr - seg_base:#x} (frame of f)", o.root
    assert o.root_addr == slot_addr
    assert o.levels == 1
    assert o.path[0].addr == slot_addr and o.path[0].value == obj + interior
    if interior:
        assert f"{obj:#x} 48 (interior +{interior:#x})" in o.path_text()
    else:
        assert "interior" not in o.path_text()
    assert re.fullmatch(r"g1 stack seg \d+ \+0x[0-9a-f]+ \(frame of f\) → 0x[0-9a-f]+ 48( \(interior \+0x10\))?",
                        o.path_text()), o.path_text()


@pytest.mark.parametrize("arch", ARCHES)
def test_gc_root_frame_slot_older_segment(arch):
    """The slot is in main's frame on segment 1 while the collection runs two
    segments higher: the root names segment 1 and main's frame."""
    _s0, s1, _ = slots(arch)
    text = (func("main", "$64-0", alloc(arch, 32, s1) + print_slot_addr(arch, s1) + [call(arch, "deep")])
            + func("deep", "$4096-0", [call(arch, "deeper")])
            + func("deeper", "$4096-0", [call(arch, "runtime.gc")]))
    res, mc, st = run(arch, "fixed", text)
    obj, slot_addr = (int(x, 16) for x in res.output)
    o = find(res.gcs[0], obj)
    assert o.root_addr == slot_addr
    assert re.fullmatch(r"g1 stack seg \d+ \+0x[0-9a-f]+ \(frame of main\)", o.root), o.root
    nseg_main = int(o.root.split()[3])
    assert nseg_main == st["active_splits"] + 1 - 2
    assert mc.read_ptr(slot_addr) == obj


# -- globals ------------------------------------------------------------------------------------
@pytest.mark.parametrize("arch", ARCHES)
@pytest.mark.parametrize("variant", VARIANTS)
def test_gc_root_global(arch, variant):
    ps = 8 if arch == "amd64" else 4
    _s0, s1, _ = slots(arch)
    text = ("GLOBL counter, $32\n"
            + func("main", "$64-0", alloc(arch, 64, s1) + slot_to_global(arch, s1, "counter", 2 * ps)
                   + clear_slot(arch, s1) + [call(arch, "runtime.gc")]))
    res, mc, _ = run(arch, variant, text)
    assert res.splits == 0
    obj = int(res.output[0], 16)
    o = find(res.gcs[0], obj)
    assert o.root == f"data counter+{2 * ps:#x}"
    assert o.root_addr == mc.image.symbols["counter"] + 2 * ps
    assert mc.read_ptr(o.root_addr) == obj


@pytest.mark.parametrize("arch", ARCHES)
@pytest.mark.parametrize("variant", VARIANTS)
def test_gc_root_chain(arch, variant):
    """chain → A; A+ps → B; B+2ps → C: C is 3 levels down, every step matches memory."""
    ps = 8 if arch == "amd64" else 4
    a, b, c = slots(arch)
    body = (alloc(arch, 32, a) + alloc(arch, 48, b) + alloc(arch, 64, c)
            + slot_to_field(arch, a, ps, b) + slot_to_field(arch, b, 2 * ps, c)
            + slot_to_global(arch, a, "chain", 0)
            + clear_slot(arch, a) + clear_slot(arch, b) + clear_slot(arch, c) + [call(arch, "runtime.gc")])
    res, mc, _ = run(arch, variant, "GLOBL chain, $16\n" + func("main", "$64-0", body))
    assert res.splits == 0
    A, B, C = (int(x, 16) for x in res.output)
    rep = res.gcs[0]
    oa, ob, oc = find(rep, A), find(rep, B), find(rep, C)
    chain = mc.image.symbols["chain"]
    for o in (oa, ob, oc):
        assert o.root in ("data chain", "data chain+0x0"), o.root
        assert o.root_addr == chain
    assert (oa.levels, ob.levels, oc.levels) == (1, 2, 3)
    assert [s.value for s in oc.path] == [A, B, C]
    assert [s.addr for s in oc.path] == [chain, A + ps, B + 2 * ps]
    assert [s.where for s in oc.path[1:]] == [f"+{ps:#x}", f"+{2 * ps:#x}"]
    for s in oc.path:
        assert mc.read_ptr(s.addr) == s.value
    assert oc.path_text() == (f"{oc.root} → {A:#x} 32 → +{ps:#x} → {B:#x} 48 → +{2 * ps:#x} → {C:#x} 64")


# -- M fields (planted through the machine API) ------------------------------------------------
@pytest.mark.parametrize("arch", ARCHES)
@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("fld,delta", [("createstack[3]", 0), ("morebuf.pc", 8)])
def test_gc_root_m_field(arch, variant, fld, delta):
    _s0, s1, _ = slots(arch)
    text = func("main", "$64-0", alloc(arch, 48, s1) + clear_slot(arch, s1) + [call(arch, "runtime.gc")])
    off = {}

    def plant(mc):
        obj = int(mc.output[0], 16)
        off["addr"] = mc.m0 + mc.layouts["M"].offset(fld)
        mc.write(off["addr"], (obj + delta).to_bytes(mc.arch.ptrsize, "little"))

    res, _mc, _ = run(arch, variant, text, before_gc=plant)
    assert res.splits == 0
    obj = int(res.output[0], 16)
    o = find(res.gcs[0], obj)
    assert o.root == f"m0.{fld}"
    assert o.root_addr == off["addr"]
    assert o.path[0].value == obj + delta
    if delta:
        assert f"(interior +{delta:#x})" in o.path_text()
    # without the planted word the same program frees the object
    res2, _mc, _ = run(arch, variant, text)
    assert [x.addr for x in res2.gcs[0].freed] == [int(res2.output[0], 16)]
