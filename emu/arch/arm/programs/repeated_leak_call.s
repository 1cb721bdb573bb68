	mov r0, #{size}
	str r0, [sp, #4]
	mov r0, #{n}
	str r0, [sp, #8]
	bl leak
	bl runtime.gc
