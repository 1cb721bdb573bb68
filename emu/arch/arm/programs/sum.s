// make bench (emu/bench.py): main prints sum(n), recursing n deep (n filled in by str.format)
TEXT sum, $64-8
	ldr r0, [FP]
	cmp r0, #0
	bne recurse
	mov r1, #0
	str r1, [FP, #4]
	RET
recurse:
	str r0, [sp, #32]
	sub r0, r0, #1
	str r0, [sp, #4]
	bl sum
	ldr r0, [sp, #8]
	ldr r1, [sp, #32]
	add r0, r0, r1
	str r0, [FP, #4]
	RET
TEXT main, $32-0
	ldr r0, ={n}
	str r0, [sp, #4]
	bl sum
	ldr r0, [sp, #8]
	str r0, [sp, #4]
	bl runtime.printint
	RET
