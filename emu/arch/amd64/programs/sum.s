// make bench (emu/bench.py): main prints sum(n), recursing n deep (n filled in by str.format)
TEXT sum, $64-16
	mov rax, qword ptr [FP]
	cmp rax, 0
	jne recurse
	mov qword ptr [FP+8], 0
	RET
recurse:
	mov qword ptr [rsp+32], rax
	dec rax
	mov qword ptr [rsp], rax
	call sum
	mov rax, qword ptr [rsp+8]
	add rax, qword ptr [rsp+32]
	mov qword ptr [FP+8], rax
	RET
TEXT main, $32-0
	mov qword ptr [rsp], {n}
	call sum
	mov rax, qword ptr [rsp+8]
	mov qword ptr [rsp], rax
	call runtime.printint
	RET
