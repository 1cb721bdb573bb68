// recursion, ARM: rec(n, a, b) (x, y) recurses n frames deep.  Its frame is
// small, so it splits only when a segment is full (about every 170 calls); at
// each split newstack copies the three argument words onto the new segment,
// and at each return through lessstack oldstack copies the two result words
// back: the values cross every segment boundary in both directions.
//
//   rec(0, a, b) = (a, b)                      and runtime.gc at the bottom,
//   rec(n, a, b) = (3p + n, q ^ a)             where (p, q) = rec(n-1, b, a+b)
//
// (arithmetic modulo 2^32).  The collection at the deepest point scans every
// segment of the goroutine's stack.  Output: depth, x, y of rec(depth, 1, 2).
GLOBL param_depth, $4
DATA param_depth+0/4, $1000

// rec(n, a, b uint32) (x, y uint32)
TEXT rec, $20-20
	ldr r1, [FP]
	cmp r1, #0
	beq bottom
	sub r1, r1, #1
	str r1, [sp, #4]
	ldr r0, [FP, #8]
	str r0, [sp, #8]                    // a' = b
	ldr r2, [FP, #4]
	add r0, r0, r2
	str r0, [sp, #12]                   // b' = a + b
	bl rec
	ldr r0, [sp, #16]
	add r0, r0, r0, lsl #1
	ldr r1, [FP]
	add r0, r0, r1
	str r0, [FP, #12]                   // x = 3p + n
	ldr r0, [sp, #20]
	ldr r1, [FP, #4]
	eor r0, r0, r1
	str r0, [FP, #16]                   // y = q ^ a
	RET
bottom:
	bl runtime.gc
	ldr r0, [FP, #4]
	str r0, [FP, #12]
	ldr r0, [FP, #8]
	str r0, [FP, #16]
	RET

TEXT main, $28-0
	ldr r0, =param_depth
	ldr r0, [r0]
	str r0, [sp, #4]
	mov r0, #1
	str r0, [sp, #8]
	mov r0, #2
	str r0, [sp, #12]
	bl rec
	ldr r0, [sp, #16]
	str r0, [sp, #24]
	ldr r0, [sp, #20]
	str r0, [sp, #28]
	bl runtime.printint                 // depth, still in [sp, #4]
	ldr r0, [sp, #24]
	str r0, [sp, #4]
	bl runtime.printint
	ldr r0, [sp, #28]
	str r0, [sp, #4]
	bl runtime.printint
	RET
