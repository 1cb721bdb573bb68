// hot-split, amd64: the hot-split problem of segmented stacks.  deep() puts
// `depth` frames of 512 bytes on the stack, then descend() recurses with small
// frames until one more call would cross the segment's guard and runs the
// loop there: each of its `calls` calls to leaf() fails leaf's split check, so
// it allocates a segment (morestack, newstack, gogocall) and returns through
// lessstack (oldstack, gogo), which frees it.  depth=0 runs the loop on the
// first segment, at the top of the stack.
//
// leaf(i) = 2i + 1 for i = calls..1, so the program prints calls*(calls+2).
GLOBL param_calls, $8
DATA param_calls+0/8, $200
GLOBL param_depth, $8
DATA param_depth+0/8, $20

// leaf(i int) (r int): a small frame, so its split check is the one at the guard.
TEXT leaf, $16-16
	mov rax, qword ptr [FP]
	add rax, rax
	add rax, 1
	mov qword ptr [FP + 8], rax
	RET

// descend(n int) (s int): recurse while the next call still fits above the guard, then loop.
TEXT descend, $32-16
	mov rcx, qword ptr fs:[-16]         // g
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
	mov qword ptr [rsp + 16], rax       // calls left
	mov qword ptr [rsp + 24], 0         // sum
again:
	cmp qword ptr [rsp + 16], 0
	je done
	mov rax, qword ptr [rsp + 16]
	mov qword ptr [rsp], rax
	call leaf                           // splits and unsplits
	mov rax, qword ptr [rsp + 8]
	add qword ptr [rsp + 24], rax
	dec qword ptr [rsp + 16]
	jmp again
done:
	mov rax, qword ptr [rsp + 24]
	mov qword ptr [FP + 8], rax
	RET

// deep(depth, n int) (s int): depth frames of 512 bytes, then descend(n).
TEXT deep, $512-24
	mov rcx, qword ptr [FP]
	test rcx, rcx
	jz loop
	dec rcx
	mov qword ptr [rsp], rcx
	mov rax, qword ptr [FP + 8]
	mov qword ptr [rsp + 8], rax
	call deep
	mov rax, qword ptr [rsp + 16]
	mov qword ptr [FP + 16], rax
	RET
loop:
	mov rax, qword ptr [FP + 8]
	mov qword ptr [rsp], rax
	call descend
	mov rax, qword ptr [rsp + 8]
	mov qword ptr [FP + 16], rax
	RET

TEXT main, $32-0
	mov rax, $param_depth
	mov rax, qword ptr [rax]
	mov qword ptr [rsp], rax
	mov rax, $param_calls
	mov rax, qword ptr [rax]
	mov qword ptr [rsp + 8], rax
	call deep
	mov rax, qword ptr [rsp + 16]
	mov qword ptr [rsp], rax
	call runtime.printint
	RET
