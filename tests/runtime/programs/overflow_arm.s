// Runaway recursion, ARM.  The test writes `sel`:
//   0: dive, a NOSPLIT function, recurses `depth` times (default 100) with a
//      72-byte step (autosize = 68 + 4 for the saved LR) -- far past the bottom
//      of the first 4096-byte segment -- then calls victim, whose split check
//      calls morestack: newstack finds the caller's SP below the segment and
//      throws "split stack overflow".
//   1: inf, a split-checked function with a 262144-byte frame, calls itself
//      forever: every call takes a new segment until the stack region is spent.
GLOBL sel, $4
GLOBL depth, $4
DATA depth+0/4, $100

TEXT main, $16-0
	ldr r0, =sel
	ldr r0, [r0]
	cmp r0, #1
	beq unbounded
	ldr r0, =depth
	ldr r0, [r0]
	str r0, [sp, #4]
	bl dive
	RET
unbounded:
	bl inf
	RET

TEXT dive, NOSPLIT, $68-4
	ldr r0, [FP]
	cmp r0, #0
	beq bottom
	sub r0, r0, #1
	str r0, [sp, #4]
	bl dive
	RET
bottom:
	bl victim
	RET

TEXT victim, $16-0
	mov r0, #1
	str r0, [sp, #4]
	bl runtime.printint
	RET

TEXT inf, $262144-0
	bl inf
	RET
