// list, amd64: a long linked list kept alive through a global, then dropped.
//
// build(n) runs on a segment of its own (a 4096-byte frame: every call
// splits) and returns the head of n nodes {next *Node, value int}, values
// 1..n from the head.  main stores the head in the global `list` and
// collects (every node is live), walks the list (count and sum printed),
// drops it and collects again.  On the fixed runtime the second collection
// frees all n nodes.  On the buggy one it frees none: build returned across a
// segment boundary with the head in AX, lessstack saved it in m->cret, and
// that stale word holds the whole list -- the m->cret leak at scale.
//
// Output: n, n(n+1)/2.
GLOBL param_nodes, $8
DATA param_nodes+0/8, $200
GLOBL list, $8                          // the list's head: its only root

// build(n int) (head *Node).  Its segment has 1024 bytes to spare below the frame, not
// enough for runtime.new: each allocation splits again (a hot split, as in Go 1.0).
TEXT build, $4096-16
	mov qword ptr [rsp + 16], 0         // head so far
	mov rax, qword ptr [FP]
	mov qword ptr [rsp + 24], rax       // next value, counting down
build_loop:
	mov qword ptr [rsp], 16
	call runtime.new
	mov rax, qword ptr [rsp + 8]
	mov rcx, qword ptr [rsp + 16]
	mov qword ptr [rax], rcx            // node.next = head
	mov rcx, qword ptr [rsp + 24]
	mov qword ptr [rax + 8], rcx        // node.value
	mov qword ptr [rsp + 16], rax
	dec qword ptr [rsp + 24]
	jnz build_loop
	mov rax, qword ptr [rsp + 16]       // the head, still in AX at the return
	mov qword ptr [FP + 8], rax
	RET

// walk(l *Node) (count, sum int): a leaf, no split check (Go's textflag 7).
TEXT walk, NOSPLIT, $0-24
	mov rax, qword ptr [FP]
	xor ecx, ecx
	xor edx, edx
walk_loop:
	test rax, rax
	jz walk_done
	inc rcx
	add rdx, qword ptr [rax + 8]
	mov rax, qword ptr [rax]
	jmp walk_loop
walk_done:
	mov qword ptr [FP + 8], rcx
	mov qword ptr [FP + 16], rdx
	RET

TEXT main, $40-0
	mov rax, $param_nodes
	mov rax, qword ptr [rax]
	mov qword ptr [rsp], rax
	call build
	mov rax, qword ptr [rsp + 8]
	mov rcx, $list
	mov qword ptr [rcx], rax
	mov qword ptr [rsp + 8], 0
	call runtime.gc                     // the list is live through the global
	mov rax, $list
	mov rax, qword ptr [rax]
	mov qword ptr [rsp], rax
	call walk
	mov rax, qword ptr [rsp + 16]
	mov qword ptr [rsp + 32], rax
	mov rax, qword ptr [rsp + 8]
	mov qword ptr [rsp], rax
	call runtime.printint               // count
	mov rax, qword ptr [rsp + 32]
	mov qword ptr [rsp], rax
	call runtime.printint               // sum
	mov rax, $list
	mov qword ptr [rax], 0              // drop the list
	mov qword ptr [rsp], 0
	call runtime.gc                     // fixed: every node freed
	RET
