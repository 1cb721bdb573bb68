// m->cret after an unsplit, amd64.  seed has a 4096-byte frame, so every call
// to it splits; it returns with 0x5eed in AX (Go results live in memory: AX is
// junk to the caller, but lessstack saves it in m->cret and oldstack hands it
// to gogo, so AX = 0x5eed again where main resumes).  main prints that AX.
TEXT main, $16-0
	call seed
	mov qword ptr [rsp], rax
	call runtime.printhex
	RET

TEXT seed, $4096-0
	mov qword ptr [rsp], 1
	mov eax, 0x5eed
	RET
