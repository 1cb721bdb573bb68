// The ARM split check and morestack arguments (Go 1.0's src/cmd/5l/noop.c), run.
// `fns` lists callees fNNN_AA with declared $NNN-AA (autosize NNN+4); the
// test writes `sel` (an index into fns), `low` and `lowoff`.  With low != 0
// main moves SP to g->stackguard + lowoff before the call (lowoff = -4: even
// a small frame must split); with low == 0 main calls from where it stands.
// main fills 8 argument words with 1..8; a callee adds every one of its
// words (it has AA/4) and prints the sum, then adds 100 to each word;
// main prints the sum of the 8 words after the call.
GLOBL sel, $4
GLOBL low, $4
GLOBL lowoff, $4
GLOBL savedsp, $4
GLOBL fns, $28
DATA fns+0/4, $f8_0
DATA fns+4/4, $f8_4
DATA fns+8/4, $f8_24
DATA fns+12/4, $f200_24
DATA fns+16/4, $f4000_16
DATA fns+20/4, $f4088_8
DATA fns+24/4, $f4092_8

TEXT main, $64-0
	ldr r0, =sel
	ldr r0, [r0]
	ldr r1, =fns
	ldr r5, [r1, r0, lsl #2]
	ldr r0, =savedsp
	str sp, [r0]
	ldr r0, =low
	ldr r0, [r0]
	cmp r0, #0
	ldrne r1, [r10]                         // SP = g->stackguard + lowoff
	ldrne r2, =lowoff
	ldrne r2, [r2]
	addne sp, r1, r2
	mov r4, #0
fill:
	add r0, r4, #1
	add r1, sp, #4
	str r0, [r1, r4, lsl #2]
	add r4, r4, #1
	cmp r4, #8
	blt fill
	blx r5
	mov r4, #0
	mov r6, #0
	add r1, sp, #4
sum:
	ldr r0, [r1, r4, lsl #2]
	add r6, r6, r0
	add r4, r4, #1
	cmp r4, #8
	blt sum
	ldr r0, =savedsp
	ldr sp, [r0]
	str r6, [sp, #4]
	bl runtime.printint
	RET

TEXT f8_0, $8-0
	ldr r6, =16                           // FP = SP + autosize + 4
	add r6, sp, r6
	mov r4, #0
	mov r5, #0
f8_0_loop:
	cmp r4, #0
	bge f8_0_done
	ldr r0, [r6, r4, lsl #2]
	add r5, r5, r0
	add r0, r0, #100
	str r0, [r6, r4, lsl #2]
	add r4, r4, #1
	b f8_0_loop
f8_0_done:
	str r5, [sp, #4]
	bl runtime.printint
	RET

TEXT f8_4, $8-4
	ldr r6, =16                           // FP = SP + autosize + 4
	add r6, sp, r6
	mov r4, #0
	mov r5, #0
f8_4_loop:
	cmp r4, #1
	bge f8_4_done
	ldr r0, [r6, r4, lsl #2]
	add r5, r5, r0
	add r0, r0, #100
	str r0, [r6, r4, lsl #2]
	add r4, r4, #1
	b f8_4_loop
f8_4_done:
	str r5, [sp, #4]
	bl runtime.printint
	RET

TEXT f8_24, $8-24
	ldr r6, =16                           // FP = SP + autosize + 4
	add r6, sp, r6
	mov r4, #0
	mov r5, #0
f8_24_loop:
	cmp r4, #6
	bge f8_24_done
	ldr r0, [r6, r4, lsl #2]
	add r5, r5, r0
	add r0, r0, #100
	str r0, [r6, r4, lsl #2]
	add r4, r4, #1
	b f8_24_loop
f8_24_done:
	str r5, [sp, #4]
	bl runtime.printint
	RET

TEXT f200_24, $200-24
	ldr r6, =208                           // FP = SP + autosize + 4
	add r6, sp, r6
	mov r4, #0
	mov r5, #0
f200_24_loop:
	cmp r4, #6
	bge f200_24_done
	ldr r0, [r6, r4, lsl #2]
	add r5, r5, r0
	add r0, r0, #100
	str r0, [r6, r4, lsl #2]
	add r4, r4, #1
	b f200_24_loop
f200_24_done:
	str r5, [sp, #4]
	bl runtime.printint
	RET

TEXT f4000_16, $4000-16
	ldr r6, =4008                           // FP = SP + autosize + 4
	add r6, sp, r6
	mov r4, #0
	mov r5, #0
f4000_16_loop:
	cmp r4, #4
	bge f4000_16_done
	ldr r0, [r6, r4, lsl #2]
	add r5, r5, r0
	add r0, r0, #100
	str r0, [r6, r4, lsl #2]
	add r4, r4, #1
	b f4000_16_loop
f4000_16_done:
	str r5, [sp, #4]
	bl runtime.printint
	RET

TEXT f4088_8, $4088-8
	ldr r6, =4096                           // FP = SP + autosize + 4
	add r6, sp, r6
	mov r4, #0
	mov r5, #0
f4088_8_loop:
	cmp r4, #2
	bge f4088_8_done
	ldr r0, [r6, r4, lsl #2]
	add r5, r5, r0
	add r0, r0, #100
	str r0, [r6, r4, lsl #2]
	add r4, r4, #1
	b f4088_8_loop
f4088_8_done:
	str r5, [sp, #4]
	bl runtime.printint
	RET

TEXT f4092_8, $4092-8
	ldr r6, =4100                           // FP = SP + autosize + 4
	add r6, sp, r6
	mov r4, #0
	mov r5, #0
f4092_8_loop:
	cmp r4, #2
	bge f4092_8_done
	ldr r0, [r6, r4, lsl #2]
	add r5, r5, r0
	add r0, r0, #100
	str r0, [r6, r4, lsl #2]
	add r4, r4, #1
	b f4092_8_loop
f4092_8_done:
	str r5, [sp, #4]
	bl runtime.printint
	RET
