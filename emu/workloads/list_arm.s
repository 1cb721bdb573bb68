// list, ARM: a long linked list kept alive through a global, then dropped.
//
// build(n) runs on a segment of its own (a 4096-byte frame: every call
// splits) and returns the head of n nodes {next *Node, value int}, values
// 1..n from the head.  main stores the head in the global `list` and
// collects (every node is live), walks the list (count and sum printed),
// drops it and collects again.  On the fixed runtime the second collection
// frees all n nodes.  On the buggy one it frees none: build returned across a
// segment boundary with the head in R0, lessstack saved it in m->cret, and
// that stale word holds the whole list -- the m->cret leak at scale.
//
// Output: n, n(n+1)/2 mod 2^32.
GLOBL param_nodes, $4
DATA param_nodes+0/4, $200
GLOBL list, $4                          // the list's head: its only root

// build(n int) (head *Node).  Its segment has 1024 bytes to spare below the frame, not
// enough for runtime.new: each allocation splits again (a hot split, as in Go 1.0).
TEXT build, $4096-8
	mov r0, #0
	str r0, [sp, #16]                   // head so far
	ldr r0, [FP]
	str r0, [sp, #20]                   // next value, counting down
build_loop:
	mov r0, #8
	str r0, [sp, #4]
	bl runtime.new
	ldr r0, [sp, #8]
	ldr r1, [sp, #16]
	str r1, [r0]                        // node.next = head
	ldr r1, [sp, #20]
	str r1, [r0, #4]                    // node.value
	str r0, [sp, #16]
	ldr r1, [sp, #20]
	subs r1, r1, #1
	str r1, [sp, #20]
	bne build_loop
	ldr r0, [sp, #16]                   // the head, still in R0 at the return
	str r0, [FP, #4]
	RET

// walk(l *Node) (count, sum int): a leaf without frame or split check ($-4, Go's textflag 7).
TEXT walk, NOSPLIT, $-4
	ldr r0, [sp, #4]
	mov r1, #0
	mov r2, #0
walk_loop:
	cmp r0, #0
	beq walk_done
	add r1, r1, #1
	ldr r3, [r0, #4]
	add r2, r2, r3
	ldr r0, [r0]
	b walk_loop
walk_done:
	str r1, [sp, #8]
	str r2, [sp, #12]
	RET

TEXT main, $20-0
	ldr r0, =param_nodes
	ldr r0, [r0]
	str r0, [sp, #4]
	bl build
	ldr r0, [sp, #8]
	ldr r1, =list
	str r0, [r1]
	mov r0, #0
	str r0, [sp, #8]
	bl runtime.gc                       // the list is live through the global
	ldr r0, =list
	ldr r0, [r0]
	str r0, [sp, #4]
	bl walk
	ldr r0, [sp, #12]
	str r0, [sp, #20]
	ldr r0, [sp, #8]
	str r0, [sp, #4]
	bl runtime.printint                 // count
	ldr r0, [sp, #20]
	str r0, [sp, #4]
	bl runtime.printint                 // sum
	ldr r1, =list
	mov r0, #0
	str r0, [r1]                        // drop the list
	str r0, [sp, #4]
	bl runtime.gc                       // fixed: every node freed
	RET
