// Ways out, ARM.  The test writes `sel`:
//   0: main calls deep (two 4096-byte frames, two segments) and returns:
//      goexit ends the program with status 0.
//   1: the innermost call runs runtime.exit(3), two segments deep.
GLOBL sel, $4

TEXT main, $16-0
	bl outer
	mov r0, #2
	str r0, [sp, #4]
	bl runtime.printint
	RET

TEXT outer, $4096-0
	bl inner
	mov r0, #1
	str r0, [sp, #4]
	bl runtime.printint
	RET

TEXT inner, $4096-0
	mov r0, #0
	str r0, [sp, #4]
	bl runtime.printint
	ldr r0, =sel
	ldr r0, [r0]
	cmp r0, #0
	beq inner_ret
	mov r0, #3
	str r0, [sp, #4]
	bl runtime.exit
inner_ret:
	RET
