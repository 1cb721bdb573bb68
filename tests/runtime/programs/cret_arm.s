// m->cret after an unsplit, ARM.  seed has a 4096-byte frame, so every call
// to it splits; it returns with 0x5eed in R0 (Go results live in memory: R0 is
// junk to the caller, but lessstack saves it in m->cret and oldstack hands it
// to gogo, so R0 = 0x5eed again where main resumes).  main prints that R0.
TEXT main, $16-0
	bl seed
	str r0, [sp, #4]
	bl runtime.printhex
	RET

TEXT seed, $4096-0
	mov r1, #1
	str r1, [sp, #4]
	movw r0, #0x5eed
	RET
