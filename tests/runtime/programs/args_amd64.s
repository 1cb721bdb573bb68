// Calls that cross a segment boundary, amd64.  Every callee has a 4096-byte
// frame (StackBig), so its prologue always calls morestack and newstack gives
// it a new segment.  The test writes `sel` before running to pick one case:
//   0: f0    no arguments        -> f0 stores 0x0f0f into out0, main prints it
//   1: f8    one 8-byte word     -> f8 prints x, returns x*3+1 in the same slot
//   2: f24   a, b -> c           -> main prints a, b, c (c = 1*a + 2*b)
//   3: f1000 125 words           -> every word checked on both sides of the boundary
// Word pattern for f1000: P(i) = (i+1)*0x100000001 + 0x10, result T(i) = P(i) + 0x100000.
GLOBL sel, $8
GLOBL out0, $8

TEXT main, $1024-0
	mov rax, $sel
	mov rax, qword ptr [rax]
	cmp rax, 1
	je case1
	cmp rax, 2
	je case2
	cmp rax, 3
	je case3
	call f0
	mov rax, $out0
	mov rax, qword ptr [rax]
	mov qword ptr [rsp], rax
	call runtime.printint
	RET
case1:
	mov rax, 0x123456789
	mov qword ptr [rsp], rax
	call f8
	call runtime.printint                   // prints the result left in [rsp]
	RET
case2:
	mov qword ptr [rsp], 7
	mov qword ptr [rsp+8], 11
	mov qword ptr [rsp+16], -1
	call f24
	mov rax, qword ptr [rsp+16]
	mov qword ptr [rsp+1000], rax
	mov rax, qword ptr [rsp+8]
	mov qword ptr [rsp+1008], rax
	call runtime.printint                   // a
	mov rax, qword ptr [rsp+1008]
	mov qword ptr [rsp], rax
	call runtime.printint                   // b
	mov rax, qword ptr [rsp+1000]
	mov qword ptr [rsp], rax
	call runtime.printint                   // c
	RET
case3:
	xor ecx, ecx
fill:
	lea rax, [rcx+1]
	mov rbx, rax
	shl rbx, 32
	or rax, rbx
	add rax, 0x10
	mov qword ptr [rsp+rcx*8], rax
	inc rcx
	cmp rcx, 125
	jl fill
	call f1000
	xor ecx, ecx
	xor edx, edx
check:
	lea rax, [rcx+1]
	mov rbx, rax
	shl rbx, 32
	or rax, rbx
	add rax, 0x100010
	cmp qword ptr [rsp+rcx*8], rax
	je check_ok
	inc rdx
check_ok:
	inc rcx
	cmp rcx, 125
	jl check
	mov qword ptr [rsp+1008], rdx
	mov qword ptr [rsp], rcx
	call runtime.printint                   // words checked
	mov rax, qword ptr [rsp+1008]
	mov qword ptr [rsp], rax
	call runtime.printint                   // mismatches (0)
	RET

TEXT f0, $4096-0
	mov rax, $out0
	mov qword ptr [rax], 0x0f0f
	RET

TEXT f8, $4096-8
	mov rax, qword ptr [FP]
	mov qword ptr [rsp], rax
	call runtime.printint
	mov rax, qword ptr [FP]
	imul rax, rax, 3
	inc rax
	mov qword ptr [FP], rax
	RET

TEXT f24, $4096-24
	mov rax, qword ptr [FP+8]
	add rax, rax
	add rax, qword ptr [FP]
	mov qword ptr [FP+16], rax
	RET

TEXT f1000, $4096-1000
	lea rsi, [FP]                           // the arguments, on the new segment
	xor ecx, ecx
	xor edx, edx
loop:
	lea rax, [rcx+1]
	mov rbx, rax
	shl rbx, 32
	or rax, rbx
	add rax, 0x10
	cmp qword ptr [rsi+rcx*8], rax
	je loop_ok
	inc rdx
loop_ok:
	add rax, 0x100000
	mov qword ptr [rsi+rcx*8], rax
	inc rcx
	cmp rcx, 125
	jl loop
	mov qword ptr [rsp+8], rdx
	mov qword ptr [rsp], rcx
	call runtime.printint                   // words checked on the new segment
	mov rax, qword ptr [rsp+8]
	mov qword ptr [rsp], rax
	call runtime.printint                   // mismatches there (0)
	RET
