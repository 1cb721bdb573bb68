// Go 1.0's stack-switching stubs for amd64 (asm_amd64.s at 89b075cc), in
// Intel syntax, instruction for instruction as 6l emitted them.  g is at
// -16(FS) and m at -8(FS) (Go's get_tls(CX) is empty on ELF, so CX keeps
// whatever it held).  Offsets such as m_cret and (g_sched+gobuf_sp) come from
// runtime_c's DWARF.  gosave, gogo and gogocall take their arguments on the
// stack at 8(SP), 16(SP) as 6c passed them: runtime_c calls them through the
// wrappers in runtime_c/arch.h, which push the arguments.

// gosave(buf): remember the caller's SP, PC and g.
TEXT gosave, NOSPLIT, $0
	mov rax, qword ptr [rsp + 8]            // buf
	lea rbx, [rsp + 8]                      // the caller's SP
	mov qword ptr [rax + gobuf_sp], rbx
	mov rbx, qword ptr [rsp]                // the caller's PC
	mov qword ptr [rax + gobuf_pc], rbx
	mov rbx, qword ptr fs:[-16]
	mov qword ptr [rax + gobuf_g], rbx
	RET

// gogo(buf, ret): resume buf with AX = ret, its apparent return value.
// Leaves AX = ret, BX = buf.pc, CX = g->stackguard, DX = g.
TEXT gogo, NOSPLIT, $0
	mov rax, qword ptr [rsp + 16]           // ret
	mov rbx, qword ptr [rsp + 8]            // buf
	mov rdx, qword ptr [rbx + gobuf_g]
	mov rcx, qword ptr [rdx]                // fault here on a nil g
	mov qword ptr fs:[-16], rdx
	mov rsp, qword ptr [rbx + gobuf_sp]
	mov rbx, qword ptr [rbx + gobuf_pc]
	jmp rbx

// gogocall(buf, fn): run fn as if called from buf.pc, on buf's stack.  Go
// stores g into TLS before the nil check.
TEXT gogocall, NOSPLIT, $0
	mov rax, qword ptr [rsp + 16]           // fn
	mov rbx, qword ptr [rsp + 8]            // buf
	mov rdx, qword ptr [rbx + gobuf_g]
	mov qword ptr fs:[-16], rdx
	mov rcx, qword ptr [rdx]                // fault here on a nil g
	mov rsp, qword ptr [rbx + gobuf_sp]
	mov rbx, qword ptr [rbx + gobuf_pc]
	push rbx                                // the fake return address
	jmp rax
	pop rbx                                 // not reached (Go's file has it too)

// mcall(fn): save the caller in g->sched and call fn(g) on g0's stack, the
// old g pushed as fn's argument.
TEXT mcall, NOSPLIT, $0
	mov rdi, qword ptr [FP]                 // fn
	mov rax, qword ptr fs:[-16 + riz*1]     // (SIB form, as 6l: not movabs)
	mov rbx, qword ptr [rsp]                // the caller's PC
	mov qword ptr [rax + g_sched + gobuf_pc], rbx
	lea rbx, [rsp + 8]                      // the caller's SP
	mov qword ptr [rax + g_sched + gobuf_sp], rbx
	mov qword ptr [rax + g_sched + gobuf_g], rax
	mov rbx, qword ptr fs:[-8]
	mov rsi, qword ptr [rbx + m_g0]
	cmp rsi, rax
	jne mcall_switch
	call badmcall
mcall_switch:
	mov qword ptr fs:[-16], rsi             // g = m->g0, on g0's stack
	mov rsp, qword ptr [rsi + g_sched + gobuf_sp]
	push rax
	call rdi
	pop rax
	call badmcall2
	RET

// morestack: f's prologue found too little stack.  A trampoline loaded m
// into BX, the sizes into m->moreframesize/moreargsize, and AX = &morestack.
// 0(SP) is the return into f, 8(SP) f's return into its caller, 16(SP) f's
// arguments.  newstack is entered with BP = g0 and SI = the old g.
TEXT morestack, NOSPLIT, $0
	mov rsi, qword ptr [rbx + m_g0]
	cmp qword ptr fs:[-16], rsi
	jne morestack_ok
	int3                                    // the scheduler stack cannot grow
morestack_ok:
	mov rax, qword ptr [rsp + 8]            // f's caller's PC
	mov qword ptr [rbx + m_morebuf + gobuf_pc], rax
	lea rax, [rsp + 16]                     // f's caller's SP
	mov qword ptr [rbx + m_morebuf + gobuf_sp], rax
	mov qword ptr [rbx + m_moreargp], rax
	mov rsi, qword ptr fs:[-16]
	mov qword ptr [rbx + m_morebuf + gobuf_g], rsi
	mov rax, qword ptr [rsp]                // f's PC
	mov qword ptr [rbx + m_morepc], rax
	mov rbp, qword ptr [rbx + m_g0]         // g = m->g0, on g0's stack
	mov qword ptr fs:[-16], rbp
	mov rsp, qword ptr [rbp + g_sched + gobuf_sp]
	call newstack
	mov qword ptr [0x1003 + riz*1], 0       // crash if newstack returns
	RET

// The trampolines 6l chooses from: each loads m into BX, stores one quad at
// m_moreframesize = (argsize << 32) | framesize, and leaves through AX
// (mov rax, $morestack; jmp rax), an indirect jump as in Go.
TEXT morestack00, NOSPLIT, $0
	mov rbx, qword ptr fs:[-8]
	mov rax, 0
	mov qword ptr [rbx + m_moreframesize], rax
	mov rax, $morestack
	jmp rax

TEXT morestack01, NOSPLIT, $0
	mov rbx, qword ptr fs:[-8]
	shl rax, 32
	mov qword ptr [rbx + m_moreframesize], rax
	mov rax, $morestack
	jmp rax

TEXT morestack10, NOSPLIT, $0
	mov rbx, qword ptr fs:[-8]
	mov eax, eax                            // zero-extend: frame size only
	mov qword ptr [rbx + m_moreframesize], rax
	mov rax, $morestack
	jmp rax

TEXT morestack11, NOSPLIT, $0
	mov rbx, qword ptr fs:[-8]
	mov qword ptr [rbx + m_moreframesize], rax
	mov rax, $morestack
	jmp rax

// morestack8 ... morestack48: argument size 8n, no frame size.
TEXT morestack8, NOSPLIT, $0
	push 1
	mov rax, $morestack_n
	jmp rax
TEXT morestack16, NOSPLIT, $0
	push 2
	mov rax, $morestack_n
	jmp rax
TEXT morestack24, NOSPLIT, $0
	push 3
	mov rax, $morestack_n
	jmp rax
TEXT morestack32, NOSPLIT, $0
	push 4
	mov rax, $morestack_n
	jmp rax
TEXT morestack40, NOSPLIT, $0
	push 5
	mov rax, $morestack_n
	jmp rax
TEXT morestack48, NOSPLIT, $0
	push 6
	mov rax, $morestack_n
	jmp rax

// Go's private morestack<>: n was pushed; (8n) << 32 is the quad.
TEXT morestack_n, NOSPLIT, $0
	mov rbx, qword ptr fs:[-8]
	pop rax
	shl rax, 35
	mov qword ptr [rbx + m_moreframesize], rax
	mov rax, $morestack
	jmp rax

// reflectcall(fn, arg, argsize): call fn with argsize bytes copied from arg,
// imitating morestack with moreframesize = 1, newstack's "reflect call" flag.
TEXT reflectcall, NOSPLIT, $0
	mov rbx, qword ptr fs:[-8]
	mov rax, qword ptr [rsp]                // our caller's PC
	mov qword ptr [rbx + m_morebuf + gobuf_pc], rax
	lea rax, [rsp + 8]                      // our caller's SP
	mov qword ptr [rbx + m_morebuf + gobuf_sp], rax
	mov rax, qword ptr fs:[-16 + riz*1]     // (SIB form, as 6l: not movabs)
	mov qword ptr [rbx + m_morebuf + gobuf_g], rax
	mov rax, qword ptr [FP]                 // fn
	mov rdx, qword ptr [FP + 8]             // arg frame
	mov ecx, dword ptr [FP + 16]            // arg size
	mov qword ptr [rbx + m_morepc], rax
	mov qword ptr [rbx + m_moreargp], rdx
	mov dword ptr [rbx + m_moreargsize], ecx
	mov dword ptr [rbx + m_moreframesize], 1
	mov rbp, qword ptr [rbx + m_g0]
	mov qword ptr fs:[-16], rbp
	mov rsp, qword ptr [rbp + g_sched + gobuf_sp]
	call newstack
	mov qword ptr [0x1103 + riz*1], 0       // crash if newstack returns
	RET

// lessstack: the return address of the first frame on a segment.  It keeps
// AX, whatever it holds, in m->cret -- the word the 2012 fix clears.
// oldstack is entered with BX = m and BP = g0.
TEXT lessstack, NOSPLIT, $0
	mov rbx, qword ptr fs:[-8]
	mov qword ptr [rbx + m_cret], rax
	mov rbp, qword ptr [rbx + m_g0]
	mov qword ptr fs:[-16], rbp
	mov rsp, qword ptr [rbp + g_sched + gobuf_sp]
	call oldstack
	mov qword ptr [0x1004 + riz*1], 0       // crash if oldstack returns
	RET

// goexit: where main returns to.
TEXT goexit, NOSPLIT, $0
	mov eax, HcExit
	xor edi, edi
	syscall
	int3
