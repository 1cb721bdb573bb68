// Deep recursion over many segments, ARM: sum(n) = n + sum(n-1), sum(0) = 0.
// sum's frame is small ($8, autosize 12), so it splits only when its segment
// is full; n (default 10000) may be changed by the test before running.
GLOBL n, $4
DATA n+0/4, $10000

TEXT main, $16-0
	ldr r0, =n
	ldr r0, [r0]
	str r0, [sp, #4]
	bl sum
	ldr r0, [sp, #8]
	str r0, [sp, #4]
	bl runtime.printint
	RET

// sum(n int32) (r int32)
TEXT sum, $8-8
	ldr r0, [FP]
	cmp r0, #0
	bne rec
	mov r1, #0
	str r1, [FP, #4]
	RET
rec:
	sub r0, r0, #1
	str r0, [sp, #4]
	bl sum
	ldr r0, [sp, #8]
	ldr r1, [FP]
	add r0, r0, r1
	str r0, [FP, #4]
	RET
