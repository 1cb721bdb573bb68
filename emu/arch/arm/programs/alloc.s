// allocbench: n runtime.new(size) objects linked on a global list; mark..done spans the last k
GLOBL head, $4

TEXT main, $32-0
	ldr r0, ={n}
	str r0, [sp, #16]
again:
	ldr r0, [sp, #16]
	cmp r0, #0
	beq done
	ldr r1, ={k}
	cmp r0, r1
	bne skip
	nop
mark:
	nop
skip:
	ldr r0, ={size}
	str r0, [sp, #4]
	bl runtime.new
	ldr r0, [sp, #8]
	ldr r1, =head
	ldr r2, [r1]
	str r2, [r0]
	str r0, [r1]
	ldr r0, [sp, #16]
	sub r0, r0, #1
	str r0, [sp, #16]
	b again
done:
	ldr r0, ={n}
	str r0, [sp, #4]
	bl runtime.printint
	RET
