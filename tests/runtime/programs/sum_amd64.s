// Deep recursion over many segments, amd64: sum(n) = n + sum(n-1), sum(0) = 0.
// sum's frame is small ($16), so it splits only when its segment is full;
// n (default 10000) may be changed by the test before running.
GLOBL n, $8
DATA n+0/8, $10000

TEXT main, $16-0
	mov rax, $n
	mov rax, qword ptr [rax]
	mov qword ptr [rsp], rax
	call sum
	mov rax, qword ptr [rsp+8]
	mov qword ptr [rsp], rax
	call runtime.printint
	RET

// sum(n int64) (r int64)
TEXT sum, $16-16
	mov rax, qword ptr [FP]
	test rax, rax
	jne rec
	mov qword ptr [FP+8], 0
	RET
rec:
	dec rax
	mov qword ptr [rsp], rax
	call sum
	mov rax, qword ptr [rsp+8]
	add rax, qword ptr [FP]
	mov qword ptr [FP+8], rax
	RET
