// debug_bench: rec recurses DEPTH frames of 64 bytes, then calls bottom
TEXT bottom, $0-0
	RET

TEXT rec, $64-8
	mov rax, qword ptr [FP]
	test rax, rax
	jz done
	dec rax
	mov qword ptr [rsp], rax
	call rec
	RET
done:
	call bottom
	RET

TEXT main, $16-0
	mov qword ptr [rsp], DEPTH
	call rec
	RET
