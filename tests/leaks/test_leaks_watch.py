"""What counts as a read and a write of a watched word: byte by byte (partial
stores and loads), accesses that start before the word, and the replay's
determinism check."""
from __future__ import annotations

import pytest

from emu import gc
from emu.errors import EmulationError
from emu.image import build_image
from emu.leaks import find_dead_roots
from emu.leaks.core import ReplayDiverged
from emu.machine import Machine
from emu.run import load_program

PARTIAL = """
GLOBL gp, $48
TEXT main, $32-0
	mov qword ptr [rsp], 48
	call runtime.new
	mov rax, qword ptr [rsp + 8]
	mov rcx, $gp
	mov qword ptr [rcx], rax
	mov qword ptr [rcx + 8], rax
	mov qword ptr [rcx + 16], rax
	mov qword ptr [rcx + 24], rax
	mov qword ptr [rcx + 40], rax
	mov qword ptr [rsp + 8], 0
	mov qword ptr [rsp], 0
	mov rax, 0
	call runtime.gc
	mov rcx, $gp
	mov dword ptr [rcx], 0
	mov eax, dword ptr [rcx + 4]
	mov dword ptr [rcx + 8], 0
	mov dword ptr [rcx + 12], 0
	mov al, byte ptr [rcx + 23]
	mov dword ptr [rcx + 24], 0
	mov eax, dword ptr [rcx + 24]
	mov rax, qword ptr [rcx + 36]
	RET
"""


def _make(text: str, arch: str = "amd64", variant: str = "buggy"):
    image = build_image(arch, variant, load_program(None, text=text, name="t.s"))

    def make():
        m = Machine(image, 1_000_000)
        gc.attach(m)
        return m
    return make


def test_leaks_watch_bytes():
    res = find_dead_roots(_make(PARTIAL), "partial")
    roots = {r.name: r for r in res.collections[0].roots}
    a, b, c, d, e = (roots[n] for n in ("data gp", "data gp+0x8", "data gp+0x10", "data gp+0x18", "data gp+0x28"))
    # low half overwritten, then the high half (still the collection's bytes) read: live
    assert a.live and a.next.text == "mov eax, dword ptr [rcx + 4]"
    # both halves overwritten before any read: dead, at the second store
    assert not b.live and b.how == "overwritten" and b.next.text == "mov dword ptr [rcx + 0xc], 0"
    # one byte read: live
    assert c.live and c.next.text == "mov al, byte ptr [rcx + 0x17]"
    # the low half overwritten and read back, the high half never read: dead at exit
    assert not d.live and d.how == "untouched"
    # an 8-byte load starting 4 bytes before the word reads its low half: live
    assert e.live and e.next.text == "mov rax, qword ptr [rcx + 0x24]"
    for r in (b, d):
        assert r.origin.where.startswith("main+") and r.origin.value == r.value


def test_leaks_replay_divergence_is_an_error():
    """The replay must repeat the first run; a different program is caught at
    the first collection that differs, as a typed error."""
    first = _make(PARTIAL)
    other = _make(PARTIAL.replace("mov rax, 0\n\tcall runtime.gc", "mov rax, 0\n\tnop\n\tcall runtime.gc"))
    calls = []

    def make():
        calls.append(1)
        return (first if len(calls) == 1 else other)()
    with pytest.raises(ReplayDiverged) as ei:
        find_dead_roots(make, "diverging")
    assert isinstance(ei.value, EmulationError) and "replay diverged" in str(ei.value)


HOT = """
GLOBL gp, $8
TEXT main, $32-0
	mov qword ptr [rsp], 48
	call runtime.new
	mov rax, qword ptr [rsp + 8]
	mov rcx, $gp
	mov qword ptr [rcx], rax
	mov qword ptr [rsp + 8], 0
	mov rax, 0
	call runtime.gc
	mov rcx, $gp
	mov rdx, 500
loop:
	mov rax, qword ptr [rcx]
	dec rdx
	jnz loop
	mov rax, 0
	call runtime.gc
	mov rcx, $gp
	mov qword ptr [rcx], 0
	RET
"""


def test_leaks_watch_hot_word_rewatched():
    """A word read in a loop after it was found live stops costing callbacks
    (its hooks go once it is idle and hot), and is watched again, correctly, at
    the next collection."""
    res = find_dead_roots(_make(HOT), "hot")
    first, second = ({r.name: r for r in c.roots}["data gp"] for c in res.collections)
    assert first.live and first.next.text == "mov rax, qword ptr [rcx]"
    assert not second.live and second.how == "overwritten" and second.next.text == "mov qword ptr [rcx], 0"
    assert second.origin.text == "mov qword ptr [rcx], rax" and second.freed_bytes == 48
    assert res.watch_callbacks < 150, res.watch_callbacks     # not one per loop iteration
