// The stale word heads a linked list: leak builds four 32-byte nodes,
// node[i].next = node[i+1], and returns with the head in R0.  On the buggy
// runtime one word, m0.cret, keeps the whole list alive.
TEXT leak, $4096-0
	mov r0, #0
	str r0, [sp, #16]                 // next node so far: none
	mov r0, #4
	str r0, [sp, #20]                 // nodes to build
build:
	mov r0, #32
	str r0, [sp, #4]
	bl runtime.new
	ldr r0, [sp, #8]
	ldr r1, [sp, #16]
	str r1, [r0]                      // node.next = previous head
	str r0, [sp, #16]
	ldr r1, [sp, #20]
	subs r1, r1, #1
	str r1, [sp, #20]
	bne build
	ldr r0, [sp, #16]                 // R0 = head, left over at return
	mov r1, #0
	str r1, [sp, #16]
	str r1, [sp, #8]
	RET

TEXT main, $16-0
	bl leak
	bl runtime.gc
	RET
