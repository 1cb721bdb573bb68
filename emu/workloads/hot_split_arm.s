// hot-split, ARM: the hot-split problem of segmented stacks.  deep() puts
// `depth` frames of 512 bytes on the stack, then descend() recurses with small
// frames until one more call would cross the segment's guard and runs the
// loop there: each of its `calls` calls to leaf() fails leaf's split check, so
// it allocates a segment (morestack, newstack, gogocall) and returns through
// lessstack (oldstack, gogo), which frees it.  depth=0 runs the loop on the
// first segment, at the top of the stack.
//
// leaf(i) = 2i + 1 for i = calls..1, so the program prints calls*(calls+2) mod 2^32.
GLOBL param_calls, $4
DATA param_calls+0/4, $200
GLOBL param_depth, $4
DATA param_depth+0/4, $20

// leaf(i int) (r int): a small frame, so its split check is the one at the guard.
TEXT leaf, $16-8
	ldr r0, [FP]
	add r0, r0, r0
	add r0, r0, #1
	str r0, [FP, #4]
	RET

// descend(n int) (s int): recurse while the next call still fits above the guard, then loop.
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
	ldr r0, [FP]
	str r0, [sp, #12]                   // calls left
	mov r0, #0
	str r0, [sp, #16]                   // sum
again:
	ldr r0, [sp, #12]
	cmp r0, #0
	beq done
	str r0, [sp, #4]
	bl leaf                             // splits and unsplits
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
	RET

// deep(depth, n int) (s int): depth frames of 512 bytes, then descend(n).
TEXT deep, $512-12
	ldr r1, [FP]
	cmp r1, #0
	beq loop
	sub r1, r1, #1
	str r1, [sp, #4]
	ldr r0, [FP, #4]
	str r0, [sp, #8]
	bl deep
	ldr r0, [sp, #12]
	str r0, [FP, #8]
	RET
loop:
	ldr r0, [FP, #4]
	str r0, [sp, #4]
	bl descend
	ldr r0, [sp, #8]
	str r0, [FP, #8]
	RET

TEXT main, $16-0
	ldr r0, =param_depth
	ldr r0, [r0]
	str r0, [sp, #4]
	ldr r0, =param_calls
	ldr r0, [r0]
	str r0, [sp, #8]
	bl deep
	ldr r0, [sp, #12]
	str r0, [sp, #4]
	bl runtime.printint
	RET
