// Runtime entries a program calls, Go-style: arguments and results on the
// stack at 0(FP).  Those that call C (AAPCS) run it on the top of their own
// declared frame, so the split check guarantees it room.

// runtime.new(size uintptr) (p *byte): a zeroed heap object.
TEXT runtime.new, $1024-8
	ldr r0, [FP]
	mov r4, sp
	add r5, sp, #1024
	bic sp, r5, #7
	bl mallocgc
	mov sp, r4
	str r0, [FP, #4]
	RET

// runtime.gc(): a collection, run by the emulator over emulated memory.
TEXT runtime.gc, $0-0
	mov r7, #HcGC
	mov r0, sp
	svc #0
	RET

// runtime.printint(v int32)
TEXT runtime.printint, $0-4
	mov r7, #HcPrintInt
	ldr r0, [FP]
	svc #0
	RET

// runtime.printhex(v uint32)
TEXT runtime.printhex, $0-4
	mov r7, #HcPrintHex
	ldr r0, [FP]
	svc #0
	RET

// runtime.prints(s *byte): a NUL-terminated string.
TEXT runtime.prints, $0-4
	mov r7, #HcPrintStr
	ldr r0, [FP]
	svc #0
	RET

// runtime.exit(status int32)
TEXT runtime.exit, NOSPLIT, $0-4
	mov r7, #HcExit
	ldr r0, [FP]
	svc #0
	udf #0
