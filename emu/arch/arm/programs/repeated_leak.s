TEXT leak, $4096-8
	mov r0, #0
	str r0, [sp, #16]
build:
	ldr r0, [FP]
	str r0, [sp, #4]
	bl runtime.new
	ldr r0, [sp, #8]
	ldr r1, [sp, #16]
	str r1, [r0]
	str r0, [sp, #16]
	ldr r1, [FP, #4]
	subs r1, r1, #1
	str r1, [FP, #4]
	bne build
	ldr r0, [sp, #16]
	mov r1, #0
	str r1, [sp, #16]
	str r1, [sp, #8]
	RET

TEXT main, $32-0
