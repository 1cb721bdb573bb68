// binary-trees, amd64: GCBench's shape, in Go 1.0's calling convention.
//
//   stretch: build a tree of depth D+1, check it, drop it, collect;
//   longlived: a tree of depth D kept in a global for the whole run;
//   for d = mindepth, mindepth+2, ..., D: build and check 2^(D-d) trees of
//   depth d, drop them, collect; print (iterations, d, total check);
//   finally check the long-lived tree again.
//
// A node is {left, right *Node} (16 bytes); a tree of depth d has 2^(d+1)-1
// nodes and itemcheck returns that count, so every printed check is a node
// count the test recomputes.  A live node freed by a collection and handed
// out again (zeroed) would cut a subtree off and change the last line.
//
// Output: D+1, check(stretch); per depth: iterations, d, check; D, check(longlived).
GLOBL param_depth, $8
DATA param_depth+0/8, $6
GLOBL param_mindepth, $8
DATA param_mindepth+0/8, $4
GLOBL longlived, $8                     // the long-lived tree: the only global root

// bottomup(depth int) (n *Node): a complete tree of the given depth.
TEXT bottomup, $24-16
	mov qword ptr [rsp], 16
	call runtime.new
	mov rax, qword ptr [rsp + 8]
	mov qword ptr [rsp + 16], rax       // n, kept in the frame across the calls
	mov rcx, qword ptr [FP]
	test rcx, rcx
	jz bu_done
	dec rcx
	mov qword ptr [rsp], rcx
	call bottomup
	mov rax, qword ptr [rsp + 8]
	mov rdx, qword ptr [rsp + 16]
	mov qword ptr [rdx], rax            // n.left
	mov rcx, qword ptr [FP]
	dec rcx
	mov qword ptr [rsp], rcx
	call bottomup
	mov rax, qword ptr [rsp + 8]
	mov rdx, qword ptr [rsp + 16]
	mov qword ptr [rdx + 8], rax        // n.right
bu_done:
	mov rax, qword ptr [rsp + 16]
	mov qword ptr [FP + 8], rax
	RET

// itemcheck(n *Node) (c int): 1 + itemcheck(n.left) + itemcheck(n.right).
TEXT itemcheck, $24-16
	mov rax, qword ptr [FP]
	mov rcx, qword ptr [rax]
	test rcx, rcx
	jz ic_leaf
	mov qword ptr [rsp], rcx
	call itemcheck
	mov rax, qword ptr [rsp + 8]
	mov qword ptr [rsp + 16], rax
	mov rax, qword ptr [FP]
	mov rcx, qword ptr [rax + 8]
	mov qword ptr [rsp], rcx
	call itemcheck
	mov rax, qword ptr [rsp + 8]
	add rax, qword ptr [rsp + 16]
	inc rax
	mov qword ptr [FP + 8], rax
	RET
ic_leaf:
	mov qword ptr [FP + 8], 1
	RET

// check(depth int) (c int): build a tree, check it; the tree is garbage on return.
TEXT check, $16-16
	mov rax, qword ptr [FP]
	mov qword ptr [rsp], rax
	call bottomup
	mov rax, qword ptr [rsp + 8]
	mov qword ptr [rsp], rax
	call itemcheck
	mov rax, qword ptr [rsp + 8]
	mov qword ptr [FP + 8], rax
	mov qword ptr [rsp], 0              // no stale tree pointer left in the frame
	RET

// print2(a, b int)
TEXT print2, $8-16
	mov rax, qword ptr [FP]
	mov qword ptr [rsp], rax
	call runtime.printint
	mov rax, qword ptr [FP + 8]
	mov qword ptr [rsp], rax
	call runtime.printint
	RET

// main's frame: [rsp] [rsp+8] [rsp+16] outgoing; 24 D; 32 d; 40 i; 48 sum; 56 iterations
TEXT main, $64-0
	mov rax, $param_depth
	mov rax, qword ptr [rax]
	mov qword ptr [rsp + 24], rax
	inc rax                             // stretch tree: depth D+1
	mov qword ptr [rsp], rax
	call check
	call print2                         // (D+1, check) are already in place
	call runtime.gc

	mov rax, qword ptr [rsp + 24]
	mov qword ptr [rsp], rax
	call bottomup
	mov rax, qword ptr [rsp + 8]
	mov rcx, $longlived
	mov qword ptr [rcx], rax
	mov qword ptr [rsp + 8], 0

	mov rax, $param_mindepth
	mov rax, qword ptr [rax]
	mov qword ptr [rsp + 32], rax
depth_loop:
	mov rcx, qword ptr [rsp + 24]
	sub rcx, qword ptr [rsp + 32]
	jl depths_done
	mov eax, 1
	shl rax, cl                         // iterations = 2^(D-d)
	mov qword ptr [rsp + 56], rax
	mov qword ptr [rsp + 40], rax
	mov qword ptr [rsp + 48], 0
iter_loop:
	mov rax, qword ptr [rsp + 32]
	mov qword ptr [rsp], rax
	call check
	mov rax, qword ptr [rsp + 8]
	add qword ptr [rsp + 48], rax
	dec qword ptr [rsp + 40]
	jnz iter_loop
	mov rax, qword ptr [rsp + 56]
	mov qword ptr [rsp], rax
	mov rax, qword ptr [rsp + 32]
	mov qword ptr [rsp + 8], rax
	call print2
	mov rax, qword ptr [rsp + 48]
	mov qword ptr [rsp], rax
	call runtime.printint
	call runtime.gc
	add qword ptr [rsp + 32], 2
	jmp depth_loop
depths_done:
	mov rax, $longlived
	mov rax, qword ptr [rax]
	mov qword ptr [rsp], rax
	call itemcheck
	mov rax, qword ptr [rsp + 24]
	mov qword ptr [rsp], rax
	call print2
	RET
