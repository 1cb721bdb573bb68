"""32-bit ARM text of `goemu bench hot-split` (emu/cycles/hotsplit.py): ``PROGRAM``
with ``{loop}`` (``LOOP``), ``{n}`` and ``{entry}`` filled in.  ``descend``
recurses until one more call would cross the stack guard, then runs the loop
there; ``cold`` runs the same loop near the top of the first segment; ``leaf``
returns 2i+1.  The loop has the labels ``again:`` (its head) and ``done:``
(its exit), which the bench and the dynamic calibration look up."""

PROGRAM = """
TEXT leaf, $16-8
	ldr r0, [FP]
	add r0, r0, r0
	add r0, r0, #1
	str r0, [FP, #4]
	RET

// descend(n): recurse while the next call still fits above the guard, then loop.
TEXT descend, $32-8
	ldr r1, [r10, #g_stackguard]
	cmp sp, r1
	blo bottom
	ldr r0, [FP]
	str r0, [sp, #4]
	bl descend
	ldr r0, [sp, #8]
	str r0, [FP, #4]
	RET
bottom:
{loop}

TEXT cold, $32-8
{loop}

TEXT main, $32-0
	ldr r0, ={n}
	str r0, [sp, #4]
	bl {entry}
	ldr r0, [sp, #8]
	str r0, [sp, #4]
	bl runtime.printint
	RET
"""

LOOP = """	ldr r0, [FP]
	str r0, [sp, #12]
	mov r0, #0
	str r0, [sp, #16]
again:
	ldr r0, [sp, #12]
	cmp r0, #0
	beq done
	str r0, [sp, #4]
	bl leaf
	ldr r0, [sp, #8]
	ldr r1, [sp, #16]
	add r1, r1, r0
	str r1, [sp, #16]
	ldr r0, [sp, #12]
	sub r0, r0, #1
	str r0, [sp, #12]
	b again
done:
	ldr r0, [sp, #16]
	str r0, [FP, #4]
	RET"""
