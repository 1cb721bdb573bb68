// recursion, amd64: rec(n, a, b) (x, y) recurses n frames deep.  Its frame is
// small, so it splits only when a segment is full (about every 80 calls); at
// each split newstack copies the three argument words onto the new segment,
// and at each return through lessstack oldstack copies the two result words
// back: the values cross every segment boundary in both directions.
//
//   rec(0, a, b) = (a, b)                      and runtime.gc at the bottom,
//   rec(n, a, b) = (3p + n, q ^ a)             where (p, q) = rec(n-1, b, a+b)
//
// (arithmetic modulo 2^64).  The collection at the deepest point scans every
// segment of the goroutine's stack.  Output: depth, x, y of rec(depth, 1, 2).
GLOBL param_depth, $8
DATA param_depth+0/8, $1000

// rec(n, a, b uint64) (x, y uint64)
TEXT rec, $40-40
	mov rcx, qword ptr [FP]
	test rcx, rcx
	jz bottom
	dec rcx
	mov qword ptr [rsp], rcx
	mov rax, qword ptr [FP + 16]
	mov qword ptr [rsp + 8], rax        // a' = b
	add rax, qword ptr [FP + 8]
	mov qword ptr [rsp + 16], rax       // b' = a + b
	call rec
	mov rax, qword ptr [rsp + 24]
	imul rax, rax, 3
	add rax, qword ptr [FP]
	mov qword ptr [FP + 24], rax        // x = 3p + n
	mov rax, qword ptr [rsp + 32]
	xor rax, qword ptr [FP + 8]
	mov qword ptr [FP + 32], rax        // y = q ^ a
	RET
bottom:
	call runtime.gc
	mov rax, qword ptr [FP + 8]
	mov qword ptr [FP + 24], rax
	mov rax, qword ptr [FP + 16]
	mov qword ptr [FP + 32], rax
	RET

TEXT main, $56-0
	mov rax, $param_depth
	mov rax, qword ptr [rax]
	mov qword ptr [rsp], rax
	mov qword ptr [rsp + 8], 1
	mov qword ptr [rsp + 16], 2
	call rec
	mov rax, qword ptr [rsp + 24]
	mov qword ptr [rsp + 40], rax
	mov rax, qword ptr [rsp + 32]
	mov qword ptr [rsp + 48], rax
	call runtime.printint               // depth, still in [rsp]
	mov rax, qword ptr [rsp + 40]
	mov qword ptr [rsp], rax
	call runtime.printint
	mov rax, qword ptr [rsp + 48]
	mov qword ptr [rsp], rax
	call runtime.printint
	RET
