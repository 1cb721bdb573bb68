// Runtime entries a program calls, Go-style: arguments and results on the
// stack at 0(FP).  Those that call C (SysV ABI) run it on the top of their
// own declared frame, so the split check guarantees it room.

// runtime.new(size uintptr) (p *byte): a zeroed heap object.
TEXT runtime.new, $1024-16
	mov rdi, qword ptr [FP]
	mov rbx, rsp
	lea rsp, [rsp + 1024]
	and rsp, -16
	call mallocgc
	mov rsp, rbx
	mov qword ptr [FP + 8], rax
	RET

// runtime.gc(): a collection, run by the emulator over emulated memory.
TEXT runtime.gc, $0-0
	mov eax, HcGC
	mov rdi, rsp
	syscall
	RET

// runtime.printint(v int64)
TEXT runtime.printint, $0-8
	mov eax, HcPrintInt
	mov rdi, qword ptr [FP]
	syscall
	RET

// runtime.printhex(v uint64)
TEXT runtime.printhex, $0-8
	mov eax, HcPrintHex
	mov rdi, qword ptr [FP]
	syscall
	RET

// runtime.prints(s *byte): a NUL-terminated string.
TEXT runtime.prints, $0-8
	mov eax, HcPrintStr
	mov rdi, qword ptr [FP]
	syscall
	RET

// runtime.exit(status int32)
TEXT runtime.exit, NOSPLIT, $0-8
	mov eax, HcExit
	mov rdi, qword ptr [FP]
	syscall
	int3
