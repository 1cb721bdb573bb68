// reflect-loop, amd64: reflectcall(fn, arg, argsize) in a loop, each call's
// argument block a fresh heap object, as Go's reflect.Call built them.
//   even i: blk = new(24) = {i, acc, _}; reflectcall(radd, blk, 24): a small
//           block, room on the current segment: newstack's fast path;
//   odd i:  blk = new(4000) = {acc+0, acc+1, ..., acc+498, _};
//           reflectcall(rsum, blk, 4000): no room, a new segment, the block
//           copied there and the results copied back into the heap block.
// acc = the block's result word; the block is then garbage.  runtime.gc runs
// every `gcevery` iterations.  Output: iters, acc (acc starts at 1; modulo 2^64).
GLOBL param_iters, $8
DATA param_iters+0/8, $64
GLOBL param_gcevery, $8
DATA param_gcevery+0/8, $16

// radd(a, b int) (c int): c = 7a + b
TEXT radd, $0-24
	mov rax, qword ptr [FP]
	imul rax, rax, 7
	add rax, qword ptr [FP + 8]
	mov qword ptr [FP + 16], rax
	RET

// rsum(w [499]int) (s int): s = sum over j of (j+1) * w[j]
TEXT rsum, $0-4000
	lea rsi, [FP]
	xor ecx, ecx
	xor eax, eax
rsum_loop:
	lea r8, [rcx + 1]
	mov rdx, qword ptr [rsi + rcx*8]
	imul rdx, r8
	add rax, rdx
	mov rcx, r8
	cmp rcx, 499
	jl rsum_loop
	mov qword ptr [rsi + 3992], rax
	RET

// main's frame: [rsp] [rsp+8] [rsp+16] outgoing; 24 i; 32 acc; 40 blk; 48 until the next gc
TEXT main, $56-0
	mov qword ptr [rsp + 24], 0
	mov qword ptr [rsp + 32], 1
	mov rax, $param_gcevery
	mov rax, qword ptr [rax]
	mov qword ptr [rsp + 48], rax
loop:
	mov rax, $param_iters
	mov rax, qword ptr [rax]
	cmp qword ptr [rsp + 24], rax
	jae done
	test qword ptr [rsp + 24], 1
	jnz big
	mov qword ptr [rsp], 24
	call runtime.new
	mov rbx, qword ptr [rsp + 8]
	mov qword ptr [rsp + 40], rbx
	mov rax, qword ptr [rsp + 24]
	mov qword ptr [rbx], rax            // a = i
	mov rax, qword ptr [rsp + 32]
	mov qword ptr [rbx + 8], rax        // b = acc
	mov rax, $radd
	mov qword ptr [rsp], rax
	mov qword ptr [rsp + 8], rbx
	mov qword ptr [rsp + 16], 24
	call reflectcall
	mov rbx, qword ptr [rsp + 40]
	mov rax, qword ptr [rbx + 16]
	mov qword ptr [rsp + 32], rax
	jmp next
big:
	mov qword ptr [rsp], 4000
	call runtime.new
	mov rbx, qword ptr [rsp + 8]
	mov qword ptr [rsp + 40], rbx
	mov rax, qword ptr [rsp + 32]
	xor ecx, ecx
fill:
	mov qword ptr [rbx + rcx*8], rax    // w[j] = acc + j
	inc rax
	inc rcx
	cmp rcx, 499
	jl fill
	mov rax, $rsum
	mov qword ptr [rsp], rax
	mov qword ptr [rsp + 8], rbx
	mov qword ptr [rsp + 16], 4000
	call reflectcall
	mov rbx, qword ptr [rsp + 40]
	mov rax, qword ptr [rbx + 3992]
	mov qword ptr [rsp + 32], rax
next:
	mov qword ptr [rsp + 40], 0         // drop the block
	mov qword ptr [rsp + 8], 0
	inc qword ptr [rsp + 24]
	dec qword ptr [rsp + 48]
	jnz loop
	call runtime.gc
	mov rax, $param_gcevery
	mov rax, qword ptr [rax]
	mov qword ptr [rsp + 48], rax
	jmp loop
done:
	mov rax, qword ptr [rsp + 24]
	mov qword ptr [rsp], rax
	call runtime.printint
	mov rax, qword ptr [rsp + 32]
	mov qword ptr [rsp], rax
	call runtime.printint
	RET
