// allocbench: n runtime.new(size) objects linked on a global list; mark..done spans the last k
GLOBL head, $8

TEXT main, $32-0
	mov qword ptr [rsp + 16], {n}
again:
	cmp qword ptr [rsp + 16], 0
	je done
	cmp qword ptr [rsp + 16], {k}
	jne skip
	nop
mark:
	nop
skip:
	mov qword ptr [rsp], {size}
	call runtime.new
	mov rax, qword ptr [rsp + 8]
	mov rcx, $head
	mov rdx, qword ptr [rcx]
	mov qword ptr [rax], rdx
	mov qword ptr [rcx], rax
	dec qword ptr [rsp + 16]
	jmp again
done:
	mov qword ptr [rsp], {n}
	call runtime.printint
	RET
