"""amd64 text of `goemu bench hot-split` (emu/cycles/hotsplit.py): ``PROGRAM``
with ``{loop}`` (``LOOP``), ``{n}`` and ``{entry}`` filled in.  ``descend``
recurses until one more call would cross the stack guard, then runs the loop
there; ``cold`` runs the same loop near the top of the first segment; ``leaf``
returns 2i+1.  The loop has the labels ``again:`` (its head) and ``done:``
(its exit), which the bench and the dynamic calibration look up."""

PROGRAM = """
TEXT leaf, $16-16
	mov rax, qword ptr [FP]
	add rax, rax
	add rax, 1
	mov qword ptr [FP + 8], rax
	RET

// descend(n): recurse while the next call still fits above the guard, then loop.
TEXT descend, $32-16
	mov rcx, qword ptr fs:[-16]
	lea rax, [rsp - 8]
	cmp rax, qword ptr [rcx + g_stackguard]
	jbe bottom
	mov rax, qword ptr [FP]
	mov qword ptr [rsp], rax
	call descend
	mov rax, qword ptr [rsp + 8]
	mov qword ptr [FP + 8], rax
	RET
bottom:
{loop}

TEXT cold, $32-16
{loop}

TEXT main, $32-0
	mov qword ptr [rsp], {n}
	call {entry}
	mov rax, qword ptr [rsp + 8]
	mov qword ptr [rsp], rax
	call runtime.printint
	RET
"""

LOOP = """	mov rax, qword ptr [FP]
	mov qword ptr [rsp + 16], rax
	mov qword ptr [rsp + 24], 0
again:
	cmp qword ptr [rsp + 16], 0
	je done
	mov rax, qword ptr [rsp + 16]
	mov qword ptr [rsp], rax
	call leaf
	mov rax, qword ptr [rsp + 8]
	add qword ptr [rsp + 24], rax
	dec qword ptr [rsp + 16]
	jmp again
done:
	mov rax, qword ptr [rsp + 24]
	mov qword ptr [FP + 8], rax
	RET"""
