// Go 1.0's stack-switching stubs for ARM (asm_arm.s at 89b075cc), in UAL,
// instruction for instruction as 5l emitted them.  m is R9 and g is R10.  A
// frame of $-4 means: no LR save, no split check; RET is then 5l's
// `add pc, lr, #0`.  gosave, gogo and gogocall read their arguments from the
// stack at 0(FP) = 4(SP) as 5c passed them (runtime_c calls them through the
// wrappers in runtime_c/arch.h).

// gosave(buf): remember the caller's SP, PC (LR) and g.
TEXT gosave, NOSPLIT, $-4
	ldr r0, [FP]                            // buf
	str sp, [r0, #gobuf_sp]
	str lr, [r0, #gobuf_pc]
	str r10, [r0, #gobuf_g]
	RET

// gogo(buf, ret): resume buf with R0 = ret, its apparent return value.
// Leaves R0 = ret, R1 = buf, R2 = g->stackguard.
TEXT gogo, NOSPLIT, $-4
	ldr r1, [FP]                            // buf
	ldr r0, [FP, #4]                        // ret
	ldr r10, [r1, #gobuf_g]
	ldr r2, [r10]                           // fault here on a nil g
	ldr sp, [r1, #gobuf_sp]
	ldr pc, [r1, #gobuf_pc]

// gogocall(buf, fn, fp): run fn with LR = buf.pc, on buf's stack.  Go loads
// a third argument ("fp offset") that no caller passes and nothing uses.
TEXT gogocall, NOSPLIT, $-4
	ldr r0, [FP]                            // buf
	ldr r1, [FP, #4]                        // fn
	ldr r2, [FP, #8]                        // fp offset
	ldr r10, [r0, #gobuf_g]
	ldr r3, [r10]                           // fault here on a nil g
	ldr sp, [r0, #gobuf_sp]
	ldr lr, [r0, #gobuf_pc]
	mov pc, r1

// mcall(fn): save the caller in g->sched and call fn(g) on g0's stack, the
// old g at 4(SP) as fn's argument.
TEXT mcall, NOSPLIT, $-4
	ldr r0, [FP]                            // fn
	str sp, [r10, #g_sched + gobuf_sp]
	str lr, [r10, #g_sched + gobuf_pc]
	str r10, [r10, #g_sched + gobuf_g]
	mov r1, r10
	ldr r10, [r9, #m_g0]                    // g = m->g0
	cmp r1, r10
	bleq badmcall
	ldr sp, [r10, #g_sched + gobuf_sp]
	sub sp, sp, #8
	str r1, [sp, #4]
	add lr, pc, #0                          // BL (R0) as 5l encoded it: LR = the bl below,
	add pc, r0, #0                          // then an indirect jump to fn
	bl badmcall2
	RET

// morestack: R1 = frame size, R2 = argument size, R3 = f's return address
// (LR at its prologue), LR = the return into f.  f has not moved SP yet, so
// its caller's saved-LR slot is at 0(SP) and the arguments start at 4(SP).
// newstack is entered with R3 = the argument pointer and R4 = g0.
TEXT morestack, NOSPLIT, $-4
	ldr r4, [r9, #m_g0]
	cmp r4, r10
	bleq abort                              // the scheduler stack cannot grow
	str r1, [r9, #m_moreframesize]
	str r2, [r9, #m_moreargsize]
	str r3, [r9, #m_morebuf + gobuf_pc]     // f's caller's PC
	str sp, [r9, #m_morebuf + gobuf_sp]     // f's caller's SP
	add r3, sp, #4                          // f's argument pointer
	str r3, [r9, #m_moreargp]
	str r10, [r9, #m_morebuf + gobuf_g]
	str lr, [r9, #m_morepc]                 // f's PC
	ldr r10, [r9, #m_g0]                    // g = m->g0, on g0's stack
	ldr sp, [r10, #g_sched + gobuf_sp]
	b newstack

// reflectcall(fn, arg, argsize): morestack's twin with moreframesize = 1.
TEXT reflectcall, NOSPLIT, $-4
	str lr, [r9, #m_morebuf + gobuf_pc]     // our caller's PC
	str sp, [r9, #m_morebuf + gobuf_sp]     // our caller's SP
	str r10, [r9, #m_morebuf + gobuf_g]
	ldr r0, [FP]                            // fn
	ldr r1, [FP, #4]                        // arg frame
	ldr r2, [FP, #8]                        // arg size
	str r0, [r9, #m_morepc]
	str r1, [r9, #m_moreargp]
	str r2, [r9, #m_moreargsize]
	mov r3, #1
	str r3, [r9, #m_moreframesize]
	ldr r10, [r9, #m_g0]
	ldr sp, [r10, #g_sched + gobuf_sp]
	b newstack

// abort: fault at address 0 (morestack calls it on g0's stack).
TEXT abort, NOSPLIT, $-4
	mov r0, #0
	ldr r1, [r0]

// lessstack: the return address of the first frame on a segment.  It keeps
// R0, whatever it holds, in m->cret -- the word the 2012 fix clears.
TEXT lessstack, NOSPLIT, $-4
	str r0, [r9, #m_cret]
	ldr r10, [r9, #m_g0]
	ldr sp, [r10, #g_sched + gobuf_sp]
	b oldstack

// goexit: where main returns to.
TEXT goexit, NOSPLIT, $-4
	mov r7, #HcExit
	mov r0, #0
	svc #0
	udf #0
