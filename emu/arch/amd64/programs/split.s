// allocbench: depth frames of 512 bytes, then descend's again..done loop calls leaf n times at the guard
TEXT leaf, ${leaf}-16
	mov rax, qword ptr [FP]
	add rax, rax
	add rax, 1
	mov qword ptr [FP + 8], rax
	RET

TEXT descend, $32-16
	mov rcx, qword ptr fs:[-16]
	lea rax, [rsp - 8]
	cmp rax, qword ptr [rcx + g_stackguard]
	jbe bottom
	mov rax, qword ptr [FP]
	mov qword ptr [rsp], rax
	call descend
	mov rax, qword ptr [rsp + 8]
	mov qword ptr [FP + 8], rax
	RET
bottom:
	mov rax, qword ptr [FP]
	mov qword ptr [rsp + 16], rax
	mov qword ptr [rsp + 24], 0
again:
	cmp qword ptr [rsp + 16], 0
	je done
	mov rax, qword ptr [rsp + 16]
	mov qword ptr [rsp], rax
	call leaf
	mov rax, qword ptr [rsp + 8]
	add qword ptr [rsp + 24], rax
	dec qword ptr [rsp + 16]
	jmp again
done:
	mov rax, qword ptr [rsp + 24]
	mov qword ptr [FP + 8], rax
	RET

// down(d, n): d frames of 512 bytes, then descend(n)
TEXT down, $512-24
	mov rax, qword ptr [FP]
	cmp rax, 0
	jne deeper
	mov rax, qword ptr [FP + 8]
	mov qword ptr [rsp], rax
	call descend
	mov rax, qword ptr [rsp + 8]
	mov qword ptr [FP + 16], rax
	RET
deeper:
	dec rax
	mov qword ptr [rsp], rax
	mov rax, qword ptr [FP + 8]
	mov qword ptr [rsp + 8], rax
	call down
	mov rax, qword ptr [rsp + 16]
	mov qword ptr [FP + 16], rax
	RET

TEXT main, $32-0
	mov qword ptr [rsp], {depth}
	mov qword ptr [rsp + 8], {n}
	call down
	mov rax, qword ptr [rsp + 16]
	mov qword ptr [rsp], rax
	call runtime.printint
	RET
