// reflectcall(fn, arg *byte, argsize uint32), amd64.  The test writes `sel`:
//   0: radd with a 24-byte block, called with room on the first segment
//      (newstack's reflect fast path: no new segment, Stktop below our SP)
//   1: rbig with a 4000-byte block: no room, a new segment
//   2: radd called with SP = stackguard + 72 + 24 + 32: exactly no room
//      (newstack needs morebuf.sp - sizeof(Stktop) - argsize - 32 > stackguard)
//   3: the same with 8 more bytes: just enough room
// radd(a, b) (c): c = 7*a + b, with a = 6, b = 5 in blk.
// rbig: 500 words P(i) = (i+1)*0x100000001 + 0x10 -> T(i) = P(i) + 0x100000,
// mismatches on entry counted in rbad.  main prints blk[2] (cases 0, 2, 3).
GLOBL sel, $8
GLOBL savedsp, $8
GLOBL rbad, $8
GLOBL blk, $4000

TEXT main, $64-0
	mov rax, $sel
	mov rax, qword ptr [rax]
	cmp rax, 1
	je big
	mov rbx, $blk
	mov qword ptr [rbx], 6
	mov qword ptr [rbx+8], 5
	mov qword ptr [rbx+16], -1
	cmp rax, 2
	je lowslow
	cmp rax, 3
	je lowfast
	mov rax, $radd
	mov qword ptr [rsp], rax
	mov qword ptr [rsp+8], rbx
	mov qword ptr [rsp+16], 24
	call reflectcall
	jmp done
lowslow:
	xor r8d, r8d
	jmp low
lowfast:
	mov r8d, 8
low:
	mov rax, $savedsp
	mov qword ptr [rax], rsp
	mov rcx, qword ptr fs:[-16]             // g
	mov rcx, qword ptr [rcx]                // g->stackguard
	lea rsp, [rcx + 128]                    // + sizeof(Stktop) 72 + argsize 24 + 32
	add rsp, r8
	mov rax, $radd
	mov qword ptr [rsp], rax
	mov rax, $blk
	mov qword ptr [rsp+8], rax
	mov qword ptr [rsp+16], 24
	call reflectcall
	mov rax, $savedsp
	mov rsp, qword ptr [rax]
done:
	mov rax, $blk
	mov rax, qword ptr [rax+16]
	mov qword ptr [rsp], rax
	call runtime.printint
	RET
big:
	mov rsi, $blk
	xor ecx, ecx
fill:
	lea rax, [rcx+1]
	mov rbx, rax
	shl rbx, 32
	or rax, rbx
	add rax, 0x10
	mov qword ptr [rsi+rcx*8], rax
	inc rcx
	cmp rcx, 500
	jl fill
	mov rax, $rbig
	mov qword ptr [rsp], rax
	mov qword ptr [rsp+8], rsi
	mov qword ptr [rsp+16], 4000
	call reflectcall
	RET

// radd(a, b int64) (c int64)
TEXT radd, $0-24
	mov rax, qword ptr [FP]
	imul rax, rax, 7
	add rax, qword ptr [FP+8]
	mov qword ptr [FP+16], rax
	RET

TEXT rbig, $0-4000
	lea rsi, [FP]
	xor ecx, ecx
	xor edx, edx
rbig_loop:
	lea rax, [rcx+1]
	mov rbx, rax
	shl rbx, 32
	or rax, rbx
	add rax, 0x10
	cmp qword ptr [rsi+rcx*8], rax
	je rbig_ok
	inc rdx
rbig_ok:
	add rax, 0x100000
	mov qword ptr [rsi+rcx*8], rax
	inc rcx
	cmp rcx, 500
	jl rbig_loop
	mov rax, $rbad
	mov qword ptr [rax], rdx
	RET
