GLOBL head, $4
TEXT main, $32-0
	ldr r0, ={n}
	str r0, [sp, #16]
build:
	mov r0, #16
	str r0, [sp, #4]
	bl runtime.new
	ldr r0, [sp, #8]
	ldr r1, =head
	ldr r2, [r1]
	str r2, [r0]
	str r0, [r1]
	ldr r0, [sp, #16]
	subs r0, r0, #1
	str r0, [sp, #16]
	bne build
	mov r0, #0
	str r0, [sp, #8]
	bl runtime.gc
	ldr r1, =head
	mov r0, #0
	str r0, [r1]
	bl runtime.gc
	RET
