// The stale word heads a linked list: leak builds four 32-byte nodes,
// node[i].next = node[i+1], and returns with the head in AX.  On the buggy
// runtime one word, m0.cret, keeps the whole list alive.
TEXT leak, $4096-0
	mov qword ptr [rsp + 16], 0       // next node so far: none
	mov qword ptr [rsp + 24], 4       // nodes to build
build:
	mov qword ptr [rsp], 32
	call runtime.new
	mov rax, qword ptr [rsp + 8]
	mov rcx, qword ptr [rsp + 16]
	mov qword ptr [rax], rcx          // node.next = previous head
	mov qword ptr [rsp + 16], rax
	dec qword ptr [rsp + 24]
	jnz build
	mov rax, qword ptr [rsp + 16]     // AX = head, left over at return
	mov qword ptr [rsp + 16], 0
	mov qword ptr [rsp + 8], 0
	RET

TEXT main, $16-0
	call leak
	call runtime.gc
	RET
