// Go 1.0's stack-switching stubs for amd64 (asm_amd64.s at 89b075cc), in
// Intel syntax.  g is at -16(FS) and m at -8(FS).  Offsets such as m_cret
// and (g_sched+gobuf_sp) come from runtime_c's DWARF.  Stubs called from C
// (gosave, gogo, gogocall) take their arguments in rdi/rsi: our C compiler
// uses the SysV ABI where 6c passed them on the stack.

// gosave(buf): remember the caller's SP, PC and g.
TEXT gosave, NOSPLIT, $0
	mov rax, qword ptr [rsp]
	mov qword ptr [rdi + gobuf_pc], rax
	lea rax, [rsp + 8]
	mov qword ptr [rdi + gobuf_sp], rax
	mov rax, qword ptr fs:[-16]
	mov qword ptr [rdi + gobuf_g], rax
	RET

// gogo(buf, ret): resume buf with AX = ret, its apparent return value.
TEXT gogo, NOSPLIT, $0
	mov rax, rsi
	mov rbx, rdi
	mov rdx, qword ptr [rbx + gobuf_g]
	mov rcx, qword ptr [rdx]                // fault here on a nil g
	mov qword ptr fs:[-16], rdx
	mov rsp, qword ptr [rbx + gobuf_sp]
	mov rbx, qword ptr [rbx + gobuf_pc]
	jmp rbx

// gogocall(buf, fn): run fn as if called from buf.pc, on buf's stack.
TEXT gogocall, NOSPLIT, $0
	mov rax, rsi
	mov rbx, rdi
	mov rdx, qword ptr [rbx + gobuf_g]
	mov rcx, qword ptr [rdx]
	mov qword ptr fs:[-16], rdx
	mov rsp, qword ptr [rbx + gobuf_sp]
	mov rbx, qword ptr [rbx + gobuf_pc]
	push rbx                                // the fake return address
	jmp rax

// mcall(fn): save the caller in g->sched and call fn(g) on g0's stack.
// Called from Go code, so fn is at 0(FP); fn gets the old g both pushed
// (as 6c-compiled code expected) and in rdi (for a C function).
TEXT mcall, NOSPLIT, $0
	mov rdi, qword ptr [FP]
	mov rax, qword ptr fs:[-16]
	mov rbx, qword ptr [rsp]
	mov qword ptr [rax + g_sched + gobuf_pc], rbx
	lea rbx, [rsp + 8]
	mov qword ptr [rax + g_sched + gobuf_sp], rbx
	mov qword ptr [rax + g_sched + gobuf_g], rax
	mov rbx, qword ptr fs:[-8]
	mov rsi, qword ptr [rbx + m_g0]
	cmp rsi, rax
	jne mcall_switch
	call badmcall
mcall_switch:
	mov qword ptr fs:[-16], rsi
	mov rsp, qword ptr [rsi + g_sched + gobuf_sp]
	push rax
	mov rcx, rdi
	mov rdi, rax
	call rcx
	pop rax
	call badmcall2
	RET

// morestack: f's prologue found too little stack.  A trampoline loaded the
// sizes into m->moreframesize/moreargsize.  0(SP) is the return into f,
// 8(SP) f's return into its caller, 16(SP) f's arguments.
TEXT morestack, NOSPLIT, $0
	mov rbx, qword ptr fs:[-8]
	mov rsi, qword ptr [rbx + m_g0]
	mov rax, qword ptr fs:[-16]
	cmp rax, rsi
	jne morestack_ok
	int3                                    // the scheduler stack cannot grow
morestack_ok:
	mov rax, qword ptr [rsp + 8]
	mov qword ptr [rbx + m_morebuf + gobuf_pc], rax
	lea rax, [rsp + 16]
	mov qword ptr [rbx + m_morebuf + gobuf_sp], rax
	mov qword ptr [rbx + m_moreargp], rax
	mov rax, qword ptr fs:[-16]
	mov qword ptr [rbx + m_morebuf + gobuf_g], rax
	mov rax, qword ptr [rsp]
	mov qword ptr [rbx + m_morepc], rax
	mov qword ptr fs:[-16], rsi             // g = m->g0, on g0's stack
	mov rsp, qword ptr [rsi + g_sched + gobuf_sp]
	call newstack
	mov eax, 0x1003                         // newstack never returns
	mov qword ptr [rax], rax

// The trampolines 6l chooses from: each stores one quad at
// m_moreframesize = (argsize << 32) | framesize and jumps to morestack.
TEXT morestack00, NOSPLIT, $0
	mov rbx, qword ptr fs:[-8]
	mov qword ptr [rbx + m_moreframesize], 0
	jmp morestack

TEXT morestack01, NOSPLIT, $0
	mov rbx, qword ptr fs:[-8]
	shl rax, 32
	mov qword ptr [rbx + m_moreframesize], rax
	jmp morestack

TEXT morestack10, NOSPLIT, $0
	mov rbx, qword ptr fs:[-8]
	mov eax, eax                            // zero-extend: frame size only
	mov qword ptr [rbx + m_moreframesize], rax
	jmp morestack

TEXT morestack11, NOSPLIT, $0
	mov rbx, qword ptr fs:[-8]
	mov qword ptr [rbx + m_moreframesize], rax
	jmp morestack

// morestack8 ... morestack48: argument size 8n, no frame size.
TEXT morestack8, NOSPLIT, $0
	push 1
	jmp morestack_n
TEXT morestack16, NOSPLIT, $0
	push 2
	jmp morestack_n
TEXT morestack24, NOSPLIT, $0
	push 3
	jmp morestack_n
TEXT morestack32, NOSPLIT, $0
	push 4
	jmp morestack_n
TEXT morestack40, NOSPLIT, $0
	push 5
	jmp morestack_n
TEXT morestack48, NOSPLIT, $0
	push 6
	jmp morestack_n

// Go's private morestack<>: n was pushed; (8n) << 32 is the quad.
TEXT morestack_n, NOSPLIT, $0
	pop rax
	shl rax, 35
	mov rbx, qword ptr fs:[-8]
	mov qword ptr [rbx + m_moreframesize], rax
	jmp morestack

// reflectcall(fn, arg, argsize): call fn with argsize bytes copied from arg,
// imitating morestack with moreframesize = 1, newstack's "reflect call" flag.
TEXT reflectcall, NOSPLIT, $0
	mov rbx, qword ptr fs:[-8]
	mov rax, qword ptr [rsp]                // our caller's PC
	mov qword ptr [rbx + m_morebuf + gobuf_pc], rax
	lea rax, [rsp + 8]                      // our caller's SP
	mov qword ptr [rbx + m_morebuf + gobuf_sp], rax
	mov rax, qword ptr fs:[-16]
	mov qword ptr [rbx + m_morebuf + gobuf_g], rax
	mov rax, qword ptr [FP]
	mov qword ptr [rbx + m_morepc], rax
	mov rax, qword ptr [FP + 8]
	mov qword ptr [rbx + m_moreargp], rax
	mov eax, dword ptr [FP + 16]
	mov dword ptr [rbx + m_moreargsize], eax
	mov dword ptr [rbx + m_moreframesize], 1
	mov rsi, qword ptr [rbx + m_g0]
	mov qword ptr fs:[-16], rsi
	mov rsp, qword ptr [rsi + g_sched + gobuf_sp]
	call newstack
	mov eax, 0x1003
	mov qword ptr [rax], rax

// lessstack: the return address of the first frame on a segment.  It keeps
// AX, whatever it holds, in m->cret -- the word the 2012 fix clears.
TEXT lessstack, NOSPLIT, $0
	mov rbx, qword ptr fs:[-8]
	mov qword ptr [rbx + m_cret], rax
	mov rsi, qword ptr [rbx + m_g0]
	mov qword ptr fs:[-16], rsi
	mov rsp, qword ptr [rsi + g_sched + gobuf_sp]
	call oldstack
	mov eax, 0x1004                         // oldstack never returns
	mov qword ptr [rax], rax

// goexit: where main returns to.
TEXT goexit, NOSPLIT, $0
	mov eax, HcExit
	xor edi, edi
	syscall
	int3
