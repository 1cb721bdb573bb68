// allocbench: depth frames of 512 bytes, then descend's again..done loop calls leaf n times at the guard
TEXT leaf, ${leaf}-8
	ldr r0, [FP]
	add r0, r0, r0
	add r0, r0, #1
	str r0, [FP, #4]
	RET

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
	str r0, [sp, #12]
	mov r0, #0
	str r0, [sp, #16]
again:
	ldr r0, [sp, #12]
	cmp r0, #0
	beq done
	str r0, [sp, #4]
	bl leaf
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

// down(d, n): d frames of 512 bytes, then descend(n)
TEXT down, $512-12
	ldr r0, [FP]
	cmp r0, #0
	bne deeper
	ldr r0, [FP, #4]
	str r0, [sp, #4]
	bl descend
	ldr r0, [sp, #8]
	str r0, [FP, #8]
	RET
deeper:
	sub r0, r0, #1
	str r0, [sp, #4]
	ldr r0, [FP, #4]
	str r0, [sp, #8]
	bl down
	ldr r0, [sp, #12]
	str r0, [FP, #8]
	RET

TEXT main, $32-0
	ldr r0, ={depth}
	str r0, [sp, #4]
	ldr r0, ={n}
	str r0, [sp, #8]
	bl down
	ldr r0, [sp, #12]
	str r0, [sp, #4]
	bl runtime.printint
	RET
