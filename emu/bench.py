"""make bench: what goemu's instrumentation costs, on a split-heavy workload.

For each architecture it runs sum(1..N) recursively (64-byte frames, so the
recursion crosses a segment boundary every few dozen calls) three ways:
raw Unicorn (the same machine with every hook removed), goemu's normal run
(instruction counting, runtime events, hypercalls), and goemu with the
collector called once at the end.  It prints instructions per second and
each ratio to raw Unicorn.  Numbers go in the README with the machine.
"""
from __future__ import annotations

import platform
import time

from .run import load_program, new_machine

SUM = {
    "amd64": """
TEXT sum, $64-16
	mov rax, qword ptr [FP]
	cmp rax, 0
	jne recurse
	mov qword ptr [FP+8], 0
	RET
recurse:
	mov qword ptr [rsp+32], rax
	dec rax
	mov qword ptr [rsp], rax
	call sum
	mov rax, qword ptr [rsp+8]
	add rax, qword ptr [rsp+32]
	mov qword ptr [FP+8], rax
	RET
TEXT main, $32-0
	mov qword ptr [rsp], {n}
	call sum
	mov rax, qword ptr [rsp+8]
	mov qword ptr [rsp], rax
	call runtime.printint
	RET
""",
    "arm": """
TEXT sum, $64-8
	ldr r0, [FP]
	cmp r0, #0
	bne recurse
	mov r1, #0
	str r1, [FP, #4]
	RET
recurse:
	str r0, [sp, #32]
	sub r0, r0, #1
	str r0, [sp, #4]
	bl sum
	ldr r0, [sp, #8]
	ldr r1, [sp, #32]
	add r0, r0, r1
	str r0, [FP, #4]
	RET
TEXT main, $32-0
	ldr r0, ={n}
	str r0, [sp, #4]
	bl sum
	ldr r0, [sp, #8]
	str r0, [sp, #4]
	bl runtime.printint
	RET
""",
}


def _machine(arch: str, n: int):
    return new_machine(arch, "buggy", load_program(None, text=SUM[arch].format(n=n), name=f"sum{n}.s"))


def measure(arch: str, n: int = 20000) -> dict:
    mc = _machine(arch, n)
    t = time.perf_counter()
    mc.run()
    goemu_s = time.perf_counter() - t
    insns = mc.icount
    assert mc.output == [str(n * (n + 1) // 2 & ((1 << 8 * mc.arch.ptrsize) - 1))], mc.output
    raw = _machine(arch, n)
    for h in raw.hooks.handles():
        if h.kind in ("block", "at"):
            raw.hooks.remove(h)      # keep only the hypercall/fault hooks the program needs to exit
    t = time.perf_counter()
    raw.uc.emu_start(raw.pc, 0, 0, insns + 10_000)
    raw_s = time.perf_counter() - t
    return {"arch": arch, "insns": insns, "splits": sum(e.kind == "split" for e in mc.events),
            "raw_ips": insns / raw_s, "goemu_ips": insns / goemu_s, "ratio": raw_s / goemu_s}


def main() -> None:
    print(f"machine: {platform.machine()}, {platform.processor() or 'cpu'}, Python {platform.python_version()}")
    print(f"{'arch':6} {'insns':>9} {'splits':>7} {'raw Unicorn':>14} {'goemu run':>14} {'goemu/raw':>10}")
    for arch in ("amd64", "arm"):
        r = measure(arch)
        print(f"{arch:6} {r['insns']:>9} {r['splits']:>7} {r['raw_ips'] / 1e6:>10.1f} M/s "
              f"{r['goemu_ips'] / 1e6:>10.1f} M/s {r['ratio']:>9.2f}x")


if __name__ == "__main__":
    main()
