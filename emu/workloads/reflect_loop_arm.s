// reflect-loop, ARM: reflectcall(fn, arg, argsize) in a loop, each call's
// argument block a fresh heap object, as Go's reflect.Call built them.
//   even i: blk = new(12) = {i, acc, _}; reflectcall(radd, blk, 12): a small
//           block, room on the current segment: newstack's fast path;
//   odd i:  blk = new(4000) = {acc+0, acc+1, ..., acc+998, _};
//           reflectcall(rsum, blk, 4000): no room, a new segment, the block
//           copied there and the results copied back into the heap block.
// acc = the block's result word; the block is then garbage.  runtime.gc runs
// every `gcevery` iterations.  Output: iters, acc (acc starts at 1; modulo 2^32).
GLOBL param_iters, $4
DATA param_iters+0/4, $64
GLOBL param_gcevery, $4
DATA param_gcevery+0/4, $16

// radd(a, b int) (c int): c = 7a + b
TEXT radd, $0-12
	ldr r0, [FP]
	ldr r1, [FP, #4]
	mov r2, #7
	mla r0, r0, r2, r1
	str r0, [FP, #8]
	RET

// rsum(w [999]int) (s int): s = sum over j of (j+1) * w[j].  A leaf with no frame: FP = SP + 4.
TEXT rsum, $0-4000
	add r6, sp, #4
	mov r4, #0
	mov r5, #0
rsum_loop:
	ldr r0, [r6, r4, lsl #2]
	add r4, r4, #1
	mla r5, r0, r4, r5
	ldr r1, =999
	cmp r4, r1
	blt rsum_loop
	ldr r1, =3996
	str r5, [r6, r1]
	RET

// main's frame: #4 #8 #12 outgoing; #16 i; #20 acc; #24 blk; #28 until the next gc
TEXT main, $28-0
	mov r0, #0
	str r0, [sp, #16]
	mov r0, #1
	str r0, [sp, #20]
	ldr r0, =param_gcevery
	ldr r0, [r0]
	str r0, [sp, #28]
loop:
	ldr r0, =param_iters
	ldr r0, [r0]
	ldr r1, [sp, #16]
	cmp r1, r0
	bhs done
	tst r1, #1
	bne big
	mov r0, #12
	str r0, [sp, #4]
	bl runtime.new
	ldr r4, [sp, #8]
	str r4, [sp, #24]
	ldr r0, [sp, #16]
	str r0, [r4]                        // a = i
	ldr r0, [sp, #20]
	str r0, [r4, #4]                    // b = acc
	ldr r0, =radd
	str r0, [sp, #4]
	str r4, [sp, #8]
	mov r0, #12
	str r0, [sp, #12]
	bl reflectcall
	ldr r4, [sp, #24]
	ldr r0, [r4, #8]
	str r0, [sp, #20]
	b next
big:
	mov r0, #4000
	str r0, [sp, #4]
	bl runtime.new
	ldr r4, [sp, #8]
	str r4, [sp, #24]
	ldr r0, [sp, #20]
	mov r1, #0
	ldr r2, =999
fill:
	str r0, [r4, r1, lsl #2]            // w[j] = acc + j
	add r0, r0, #1
	add r1, r1, #1
	cmp r1, r2
	blt fill
	ldr r0, =rsum
	str r0, [sp, #4]
	str r4, [sp, #8]
	mov r0, #4000
	str r0, [sp, #12]
	bl reflectcall
	ldr r4, [sp, #24]
	ldr r1, =3996
	ldr r0, [r4, r1]
	str r0, [sp, #20]
next:
	mov r0, #0
	str r0, [sp, #24]                   // drop the block
	str r0, [sp, #8]
	ldr r0, [sp, #16]
	add r0, r0, #1
	str r0, [sp, #16]
	ldr r0, [sp, #28]
	subs r0, r0, #1
	str r0, [sp, #28]
	bne loop
	bl runtime.gc
	ldr r0, =param_gcevery
	ldr r0, [r0]
	str r0, [sp, #28]
	b loop
done:
	ldr r0, [sp, #16]
	str r0, [sp, #4]
	bl runtime.printint
	ldr r0, [sp, #20]
	str r0, [sp, #4]
	bl runtime.printint
	RET
