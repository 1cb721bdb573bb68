TEXT leak, $4096-16
	mov qword ptr [rsp + 16], 0
build:
	mov rax, qword ptr [FP]
	mov qword ptr [rsp], rax
	call runtime.new
	mov rax, qword ptr [rsp + 8]
	mov rcx, qword ptr [rsp + 16]
	mov qword ptr [rax], rcx
	mov qword ptr [rsp + 16], rax
	dec qword ptr [FP + 8]
	jnz build
	mov rax, qword ptr [rsp + 16]
	mov qword ptr [rsp + 16], 0
	mov qword ptr [rsp + 8], 0
	RET

TEXT main, $32-0
