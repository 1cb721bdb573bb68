GLOBL head, $8
TEXT main, $32-0
	mov qword ptr [rsp + 16], {n}
build:
	mov qword ptr [rsp], 16
	call runtime.new
	mov rax, qword ptr [rsp + 8]
	mov rcx, $head
	mov rdx, qword ptr [rcx]
	mov qword ptr [rax], rdx
	mov qword ptr [rcx], rax
	dec qword ptr [rsp + 16]
	jnz build
	mov qword ptr [rsp + 8], 0
	call runtime.gc
	mov rcx, $head
	mov qword ptr [rcx], 0
	call runtime.gc
	RET
