// Calls that cross a segment boundary, ARM.  Every callee has a 4096-byte
// frame (autosize 4100 >= StackBig), so its prologue always calls morestack
// and newstack gives it a new segment.  The test writes `sel` to pick a case:
//   0: f0    no arguments        -> f0 stores 0x0f0f into out0, main prints it
//   1: f4    one word            -> f4 prints x, returns x*3+1 in the same slot
//   2: f24   five words -> one   -> w5 = 1*w0 + 2*w1 + 3*w2 + 4*w3 + 5*w4; main prints all six
//   3: f1000 250 words           -> every word checked on both sides of the boundary
// Word pattern for f1000: P(i) = (i+1)*0x10001 + 0x10, result T(i) = P(i) + 0x100000.
// A callee's FP is SP + autosize + 4 = SP + 4104 (the loops compute it by hand).
GLOBL sel, $4
GLOBL out0, $4

TEXT main, $1024-0
	ldr r0, =sel
	ldr r0, [r0]
	cmp r0, #1
	beq case1
	cmp r0, #2
	beq case2
	cmp r0, #3
	beq case3
	bl f0
	ldr r0, =out0
	ldr r0, [r0]
	str r0, [sp, #4]
	bl runtime.printint
	RET
case1:
	ldr r0, =0x12345678
	str r0, [sp, #4]
	bl f4
	bl runtime.printint                     // prints the result left in [sp, #4]
	RET
case2:
	mov r0, #7
	str r0, [sp, #4]
	mov r0, #11
	str r0, [sp, #8]
	mov r0, #13
	str r0, [sp, #12]
	mov r0, #17
	str r0, [sp, #16]
	mov r0, #19
	str r0, [sp, #20]
	mvn r0, #0
	str r0, [sp, #24]
	bl f24
	add r0, sp, #4                          // keep a copy: printint's argument slot is word 0
	add r1, sp, #512
	mov r2, #0
copy24:
	ldr r3, [r0, r2, lsl #2]
	str r3, [r1, r2, lsl #2]
	add r2, r2, #1
	cmp r2, #6
	blt copy24
	mov r4, #0
print24:
	str r4, [sp, #1000]
	add r1, sp, #512
	ldr r0, [r1, r4, lsl #2]
	str r0, [sp, #4]
	bl runtime.printint
	ldr r4, [sp, #1000]
	add r4, r4, #1
	cmp r4, #6
	blt print24
	RET
case3:
	add r6, sp, #4
	mov r4, #0
fill:
	add r0, r4, #1
	add r0, r0, r0, lsl #16
	add r0, r0, #0x10
	str r0, [r6, r4, lsl #2]
	add r4, r4, #1
	cmp r4, #250
	blt fill
	bl f1000
	add r6, sp, #4
	mov r4, #0
	mov r5, #0
check:
	add r0, r4, #1
	add r0, r0, r0, lsl #16
	add r0, r0, #0x100000
	add r0, r0, #0x10
	ldr r1, [r6, r4, lsl #2]
	cmp r0, r1
	addne r5, r5, #1
	add r4, r4, #1
	cmp r4, #250
	blt check
	str r5, [sp, #1008]
	str r4, [sp, #4]
	bl runtime.printint                     // words checked
	ldr r0, [sp, #1008]
	str r0, [sp, #4]
	bl runtime.printint                     // mismatches (0)
	RET

TEXT f0, $4096-0
	ldr r0, =out0
	ldr r1, =0x0f0f
	str r1, [r0]
	RET

TEXT f4, $4096-4
	ldr r6, =4104
	add r6, sp, r6
	ldr r0, [r6]
	str r0, [sp, #4]
	bl runtime.printint
	ldr r6, =4104
	add r6, sp, r6
	ldr r0, [r6]
	add r0, r0, r0, lsl #1
	add r0, r0, #1
	str r0, [r6]
	RET

TEXT f24, $4096-24
	ldr r6, =4104
	add r6, sp, r6
	mov r4, #0
	mov r5, #0
f24_loop:
	ldr r0, [r6, r4, lsl #2]
	add r1, r4, #1
	mla r5, r0, r1, r5
	add r4, r4, #1
	cmp r4, #5
	blt f24_loop
	str r5, [r6, #20]
	RET

TEXT f1000, $4096-1000
	ldr r6, =4104
	add r6, sp, r6
	mov r4, #0
	mov r5, #0
loop:
	add r0, r4, #1
	add r0, r0, r0, lsl #16
	add r0, r0, #0x10
	ldr r1, [r6, r4, lsl #2]
	cmp r0, r1
	addne r5, r5, #1
	add r0, r0, #0x100000
	str r0, [r6, r4, lsl #2]
	add r4, r4, #1
	cmp r4, #250
	blt loop
	str r5, [sp, #8]
	str r4, [sp, #4]
	bl runtime.printint                     // words checked on the new segment
	ldr r0, [sp, #8]
	str r0, [sp, #4]
	bl runtime.printint                     // mismatches there (0)
	RET
