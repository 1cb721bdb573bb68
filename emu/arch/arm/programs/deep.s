// debug_bench: rec recurses DEPTH frames of 64 bytes, then calls bottom
TEXT bottom, $0-0
	RET

TEXT rec, $64-4
	ldr r0, [FP]
	cmp r0, #0
	beq done
	sub r0, r0, #1
	str r0, [sp, #4]
	bl rec
	RET
done:
	bl bottom
	RET

TEXT main, $16-0
	ldr r0, =DEPTH
	str r0, [sp, #4]
	bl rec
	RET
