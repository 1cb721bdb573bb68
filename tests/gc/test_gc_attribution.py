"""Which root an object is attributed to when several hold it.

The M words are scanned last, so an object named after ``m0.cret`` is one that
nothing but the stale word holds.  Pinned here: on the buggy runtime, an object
that the caller still keeps in its own frame is attributed to that frame, even
though m0.cret points at it too; once the caller drops its copy, the same
object is attributed to m0.cret (buggy) or freed (fixed)."""
from __future__ import annotations

import pytest

from emu.run import load_program, run_program

# the program's own runtime.gc calls only (GOGC=off; tests/gc/conftest.py)
pytestmark = pytest.mark.usefixtures("gogc_off")

# leak returns the object both in its result slot and in AX/R0 (lessstack
# saves AX/R0 into m->cret); main keeps the result in its frame unless `drop`.
PROGRAMS = {
    "amd64": """
TEXT leak, $4096-8
	mov qword ptr [rsp], 48
	call runtime.new
	mov rax, qword ptr [rsp + 8]
	mov qword ptr [rsp + 8], 0
	mov qword ptr [FP], rax
	RET
TEXT main, $24-0
	call leak
	mov rax, qword ptr [rsp]
	mov qword ptr [rsp + 16], rax
	mov qword ptr [rsp], 0
	{drop}
	call runtime.gc
	RET
""",
    "arm": """
TEXT leak, $4096-4
	mov r0, #48
	str r0, [sp, #4]
	bl runtime.new
	ldr r0, [sp, #8]
	mov r1, #0
	str r1, [sp, #8]
	str r0, [FP]
	RET
TEXT main, $16-0
	bl leak
	ldr r0, [sp, #4]
	str r0, [sp, #12]
	mov r1, #0
	str r1, [sp, #4]
	{drop}
	bl runtime.gc
	RET
""",
}
DROP = {"amd64": "mov qword ptr [rsp + 16], 0", "arm": "str r1, [sp, #12]"}


def _run(arch: str, variant: str, drop: bool):
    src = PROGRAMS[arch].replace("{drop}", DROP[arch] if drop else "")
    r = run_program(arch, variant, load_program(None, text=src, name="attr.s"), 2_000_000)
    assert r.exit_status == 0
    assert r.unsplits >= 1
    (gc,) = r.gcs
    return r, gc


@pytest.mark.parametrize("arch", ["amd64", "arm"])
@pytest.mark.parametrize("variant", ["buggy", "fixed"])
def test_frame_wins_over_m_cret(arch, variant):
    r, gc = _run(arch, variant, drop=False)
    objs = [o for o in gc.retained if o.size == 48]
    assert len(objs) == 1
    assert objs[0].root.startswith("g") and "(frame of main)" in objs[0].root, objs[0].root
    if variant == "buggy":
        assert r.cret == objs[0].addr, "m0.cret also points at it on buggy"


@pytest.mark.parametrize("arch", ["amd64", "arm"])
def test_dropped_object_is_held_by_m_cret_only_on_buggy(arch):
    _r, gc = _run(arch, "buggy", drop=True)
    assert [o.root for o in gc.retained if o.size == 48] == ["m0.cret"]
    _r, gc = _run(arch, "fixed", drop=True)
    assert not [o for o in gc.retained if o.size == 48]
    assert [o.size for o in gc.freed].count(48) == 1
