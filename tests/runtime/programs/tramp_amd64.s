// Which morestack entry the amd64 prologue picks (Go 1.0's src/cmd/6l/pass.c), run.
// `fns` lists callees fNNN_AA with declared $NNN-AA; the test writes `sel`
// (an index into fns), `low` and `lowoff`.  With low != 0 main moves SP to
// g->stackguard + lowoff before the call (lowoff = 0: even a small frame
// must split); with low == 0 main calls from where it stands (room on the
// first segment).
// main fills 8 argument words with 1..8; a callee adds every one of its
// words (it has AA/8) and prints the sum, then adds 100 to each word;
// main prints the sum of the 8 words after the call.
GLOBL sel, $8
GLOBL low, $8
GLOBL lowoff, $8
GLOBL savedsp, $8
GLOBL fns, $80
DATA fns+0/8, $f8_0
DATA fns+8/8, $f8_8
DATA fns+16/8, $f8_24
DATA fns+24/8, $f8_48
DATA fns+32/8, $f8_56
DATA fns+40/8, $f200_24
DATA fns+48/8, $f3936_0
DATA fns+56/8, $f3936_8
DATA fns+64/8, $f4000_0
DATA fns+72/8, $f4096_24

TEXT main, $64-0
	mov rax, $sel
	mov rax, qword ptr [rax]
	mov rbx, $fns
	mov rbx, qword ptr [rbx+rax*8]
	mov rax, $savedsp
	mov qword ptr [rax], rsp
	mov rax, $low
	mov rax, qword ptr [rax]
	test rax, rax
	je fill_start
	mov rcx, qword ptr fs:[-16]             // g
	mov rsp, qword ptr [rcx]                // SP = g->stackguard + lowoff
	mov rax, $lowoff
	add rsp, qword ptr [rax]
fill_start:
	xor ecx, ecx
fill:
	lea rax, [rcx+1]
	mov qword ptr [rsp+rcx*8], rax
	inc rcx
	cmp rcx, 8
	jl fill
	call rbx
	xor ecx, ecx
	xor ebx, ebx
sum:
	add rbx, qword ptr [rsp+rcx*8]
	inc rcx
	cmp rcx, 8
	jl sum
	mov rax, $savedsp
	mov rsp, qword ptr [rax]
	mov qword ptr [rsp], rbx
	call runtime.printint
	RET

TEXT f8_0, $8-0
	lea rsi, [FP]
	xor ecx, ecx
	xor ebx, ebx
f8_0_loop:
	cmp rcx, 0
	jge f8_0_done
	add rbx, qword ptr [rsi+rcx*8]
	add qword ptr [rsi+rcx*8], 100
	inc rcx
	jmp f8_0_loop
f8_0_done:
	mov qword ptr [rsp], rbx
	call runtime.printint
	RET

TEXT f8_8, $8-8
	lea rsi, [FP]
	xor ecx, ecx
	xor ebx, ebx
f8_8_loop:
	cmp rcx, 1
	jge f8_8_done
	add rbx, qword ptr [rsi+rcx*8]
	add qword ptr [rsi+rcx*8], 100
	inc rcx
	jmp f8_8_loop
f8_8_done:
	mov qword ptr [rsp], rbx
	call runtime.printint
	RET

TEXT f8_24, $8-24
	lea rsi, [FP]
	xor ecx, ecx
	xor ebx, ebx
f8_24_loop:
	cmp rcx, 3
	jge f8_24_done
	add rbx, qword ptr [rsi+rcx*8]
	add qword ptr [rsi+rcx*8], 100
	inc rcx
	jmp f8_24_loop
f8_24_done:
	mov qword ptr [rsp], rbx
	call runtime.printint
	RET

TEXT f8_48, $8-48
	lea rsi, [FP]
	xor ecx, ecx
	xor ebx, ebx
f8_48_loop:
	cmp rcx, 6
	jge f8_48_done
	add rbx, qword ptr [rsi+rcx*8]
	add qword ptr [rsi+rcx*8], 100
	inc rcx
	jmp f8_48_loop
f8_48_done:
	mov qword ptr [rsp], rbx
	call runtime.printint
	RET

TEXT f8_56, $8-56
	lea rsi, [FP]
	xor ecx, ecx
	xor ebx, ebx
f8_56_loop:
	cmp rcx, 7
	jge f8_56_done
	add rbx, qword ptr [rsi+rcx*8]
	add qword ptr [rsi+rcx*8], 100
	inc rcx
	jmp f8_56_loop
f8_56_done:
	mov qword ptr [rsp], rbx
	call runtime.printint
	RET

TEXT f200_24, $200-24
	lea rsi, [FP]
	xor ecx, ecx
	xor ebx, ebx
f200_24_loop:
	cmp rcx, 3
	jge f200_24_done
	add rbx, qword ptr [rsi+rcx*8]
	add qword ptr [rsi+rcx*8], 100
	inc rcx
	jmp f200_24_loop
f200_24_done:
	mov qword ptr [rsp], rbx
	call runtime.printint
	RET

TEXT f3936_0, $3936-0
	lea rsi, [FP]
	xor ecx, ecx
	xor ebx, ebx
f3936_0_loop:
	cmp rcx, 0
	jge f3936_0_done
	add rbx, qword ptr [rsi+rcx*8]
	add qword ptr [rsi+rcx*8], 100
	inc rcx
	jmp f3936_0_loop
f3936_0_done:
	mov qword ptr [rsp], rbx
	call runtime.printint
	RET

TEXT f3936_8, $3936-8
	lea rsi, [FP]
	xor ecx, ecx
	xor ebx, ebx
f3936_8_loop:
	cmp rcx, 1
	jge f3936_8_done
	add rbx, qword ptr [rsi+rcx*8]
	add qword ptr [rsi+rcx*8], 100
	inc rcx
	jmp f3936_8_loop
f3936_8_done:
	mov qword ptr [rsp], rbx
	call runtime.printint
	RET

TEXT f4000_0, $4000-0
	lea rsi, [FP]
	xor ecx, ecx
	xor ebx, ebx
f4000_0_loop:
	cmp rcx, 0
	jge f4000_0_done
	add rbx, qword ptr [rsi+rcx*8]
	add qword ptr [rsi+rcx*8], 100
	inc rcx
	jmp f4000_0_loop
f4000_0_done:
	mov qword ptr [rsp], rbx
	call runtime.printint
	RET

TEXT f4096_24, $4096-24
	lea rsi, [FP]
	xor ecx, ecx
	xor ebx, ebx
f4096_24_loop:
	cmp rcx, 3
	jge f4096_24_done
	add rbx, qword ptr [rsi+rcx*8]
	add qword ptr [rsi+rcx*8], 100
	inc rcx
	jmp f4096_24_loop
f4096_24_done:
	mov qword ptr [rsp], rbx
	call runtime.printint
	RET
