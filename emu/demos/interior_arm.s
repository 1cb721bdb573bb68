// Like leak_arm.s, but the word left in R0 points into the middle of the
// object (+24): interior pointers keep the whole object alive.
TEXT leak, $4096-0
	mov r0, #48
	str r0, [sp, #4]
	bl runtime.new
	ldr r0, [sp, #8]
	add r0, r0, #24                   // R0 = &obj->field6, an interior pointer
	mov r1, #0
	str r1, [sp, #8]
	RET

TEXT main, $16-0
	bl leak
	bl runtime.gc
	RET
