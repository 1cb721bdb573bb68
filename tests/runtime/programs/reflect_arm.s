// reflectcall(fn, arg *byte, argsize uint32), ARM.  The test writes `sel`:
//   0: radd with a 12-byte block, called with room on the first segment
//      (newstack's reflect fast path: no new segment, Stktop below our SP)
//   1: rbig with a 4000-byte block: no room, a new segment
//   2: radd called with SP = stackguard + 36 + 12 + 32: exactly no room
//      (newstack needs morebuf.sp - sizeof(Stktop) - argsize - 32 > stackguard)
//   3: the same with 4 more bytes: just enough room
// radd(a, b) (c): c = 7*a + b, with a = 6, b = 5 in blk.
// rbig: 1000 words P(i) = (i+1)*0x10001 + 0x10 -> T(i) = P(i) + 0x100000,
// mismatches on entry counted in rbad.  main prints blk[2] (cases 0, 2, 3).
GLOBL sel, $4
GLOBL savedsp, $4
GLOBL rbad, $4
GLOBL blk, $4000

TEXT main, $64-0
	ldr r0, =sel
	ldr r0, [r0]
	cmp r0, #1
	beq big
	ldr r1, =blk
	mov r2, #6
	str r2, [r1]
	mov r2, #5
	str r2, [r1, #4]
	mvn r2, #0
	str r2, [r1, #8]
	cmp r0, #2
	moveq r8, #0
	beq low
	cmp r0, #3
	moveq r8, #4
	beq low
	ldr r0, =radd
	str r0, [sp, #4]
	str r1, [sp, #8]
	mov r0, #12
	str r0, [sp, #12]
	bl reflectcall
	b done
low:
	ldr r0, =savedsp
	str sp, [r0]
	ldr r1, [r10]                           // g->stackguard
	add r1, r1, #80                         // + sizeof(Stktop) 36 + argsize 12 + 32
	add sp, r1, r8
	ldr r0, =radd
	str r0, [sp, #4]
	ldr r0, =blk
	str r0, [sp, #8]
	mov r0, #12
	str r0, [sp, #12]
	bl reflectcall
	ldr r0, =savedsp
	ldr sp, [r0]
done:
	ldr r0, =blk
	ldr r0, [r0, #8]
	str r0, [sp, #4]
	bl runtime.printint
	RET
big:
	ldr r6, =blk
	mov r4, #0
fill:
	add r0, r4, #1
	add r0, r0, r0, lsl #16
	add r0, r0, #0x10
	str r0, [r6, r4, lsl #2]
	add r4, r4, #1
	cmp r4, #1000
	blt fill
	ldr r0, =rbig
	str r0, [sp, #4]
	str r6, [sp, #8]
	mov r0, #4000
	str r0, [sp, #12]
	bl reflectcall
	RET

// radd(a, b int32) (c int32)
TEXT radd, $0-12
	ldr r0, [FP]
	ldr r1, [FP, #4]
	mov r2, #7
	mla r0, r0, r2, r1
	str r0, [FP, #8]
	RET

// A leaf with no frame: FP = SP + 4.
TEXT rbig, $0-4000
	add r6, sp, #4
	mov r4, #0
	mov r5, #0
rbig_loop:
	add r0, r4, #1
	add r0, r0, r0, lsl #16
	add r0, r0, #0x10
	ldr r1, [r6, r4, lsl #2]
	cmp r0, r1
	addne r5, r5, #1
	add r0, r0, #0x100000
	str r0, [r6, r4, lsl #2]
	add r4, r4, #1
	cmp r4, #1000
	bne rbig_loop                           // (not blt: see the report on is_leaf)
	ldr r0, =rbad
	str r5, [r0]
	RET
