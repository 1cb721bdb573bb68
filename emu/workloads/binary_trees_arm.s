// binary-trees, ARM: GCBench's shape, in Go 1.0's calling convention.
//
//   stretch: build a tree of depth D+1, check it, drop it, collect;
//   longlived: a tree of depth D kept in a global for the whole run;
//   for d = mindepth, mindepth+2, ..., D: build and check 2^(D-d) trees of
//   depth d, drop them, collect; print (iterations, d, total check);
//   finally check the long-lived tree again.
//
// A node is {left, right *Node} (8 bytes); a tree of depth d has 2^(d+1)-1
// nodes and itemcheck returns that count, so every printed check is a node
// count the test recomputes.  A live node freed by a collection and handed
// out again (zeroed) would cut a subtree off and change the last line.
//
// Output: D+1, check(stretch); per depth: iterations, d, check; D, check(longlived).
GLOBL param_depth, $4
DATA param_depth+0/4, $6
GLOBL param_mindepth, $4
DATA param_mindepth+0/4, $4
GLOBL longlived, $4                     // the long-lived tree: the only global root

// bottomup(depth int) (n *Node): a complete tree of the given depth.
TEXT bottomup, $12-8
	mov r0, #8
	str r0, [sp, #4]
	bl runtime.new
	ldr r0, [sp, #8]
	str r0, [sp, #12]                   // n, kept in the frame across the calls
	ldr r1, [FP]
	cmp r1, #0
	beq bu_done
	sub r1, r1, #1
	str r1, [sp, #4]
	bl bottomup
	ldr r0, [sp, #8]
	ldr r2, [sp, #12]
	str r0, [r2]                        // n.left
	ldr r1, [FP]
	sub r1, r1, #1
	str r1, [sp, #4]
	bl bottomup
	ldr r0, [sp, #8]
	ldr r2, [sp, #12]
	str r0, [r2, #4]                    // n.right
bu_done:
	ldr r0, [sp, #12]
	str r0, [FP, #4]
	RET

// itemcheck(n *Node) (c int): 1 + itemcheck(n.left) + itemcheck(n.right).
TEXT itemcheck, $12-8
	ldr r0, [FP]
	ldr r1, [r0]
	cmp r1, #0
	beq ic_leaf
	str r1, [sp, #4]
	bl itemcheck
	ldr r0, [sp, #8]
	str r0, [sp, #12]
	ldr r0, [FP]
	ldr r1, [r0, #4]
	str r1, [sp, #4]
	bl itemcheck
	ldr r0, [sp, #8]
	ldr r1, [sp, #12]
	add r0, r0, r1
	add r0, r0, #1
	str r0, [FP, #4]
	RET
ic_leaf:
	mov r0, #1
	str r0, [FP, #4]
	RET

// check(depth int) (c int): build a tree, check it; the tree is garbage on return.
TEXT check, $8-8
	ldr r0, [FP]
	str r0, [sp, #4]
	bl bottomup
	ldr r0, [sp, #8]
	str r0, [sp, #4]
	bl itemcheck
	ldr r0, [sp, #8]
	str r0, [FP, #4]
	mov r0, #0
	str r0, [sp, #4]                    // no stale tree pointer left in the frame
	RET

// print2(a, b int)
TEXT print2, $4-8
	ldr r0, [FP]
	str r0, [sp, #4]
	bl runtime.printint
	ldr r0, [FP, #4]
	str r0, [sp, #4]
	bl runtime.printint
	RET

// main's frame: #4 #8 outgoing; #24 D; #28 d; #32 i; #36 sum; #40 iterations
TEXT main, $44-0
	ldr r0, =param_depth
	ldr r0, [r0]
	str r0, [sp, #24]
	add r0, r0, #1                      // stretch tree: depth D+1
	str r0, [sp, #4]
	bl check
	bl print2                           // (D+1, check) are already in place
	bl runtime.gc

	ldr r0, [sp, #24]
	str r0, [sp, #4]
	bl bottomup
	ldr r0, [sp, #8]
	ldr r1, =longlived
	str r0, [r1]
	mov r0, #0
	str r0, [sp, #8]

	ldr r0, =param_mindepth
	ldr r0, [r0]
	str r0, [sp, #28]
depth_loop:
	ldr r1, [sp, #24]
	ldr r0, [sp, #28]
	subs r1, r1, r0
	blt depths_done
	mov r0, #1
	lsl r0, r0, r1                      // iterations = 2^(D-d)
	str r0, [sp, #40]
	str r0, [sp, #32]
	mov r0, #0
	str r0, [sp, #36]
iter_loop:
	ldr r0, [sp, #28]
	str r0, [sp, #4]
	bl check
	ldr r0, [sp, #8]
	ldr r1, [sp, #36]
	add r1, r1, r0
	str r1, [sp, #36]
	ldr r0, [sp, #32]
	subs r0, r0, #1
	str r0, [sp, #32]
	bne iter_loop
	ldr r0, [sp, #40]
	str r0, [sp, #4]
	ldr r0, [sp, #28]
	str r0, [sp, #8]
	bl print2
	ldr r0, [sp, #36]
	str r0, [sp, #4]
	bl runtime.printint
	bl runtime.gc
	ldr r0, [sp, #28]
	add r0, r0, #2
	str r0, [sp, #28]
	b depth_loop
depths_done:
	ldr r0, =longlived
	ldr r0, [r0]
	str r0, [sp, #4]
	bl itemcheck
	ldr r0, [sp, #24]
	str r0, [sp, #4]
	bl print2
	RET
