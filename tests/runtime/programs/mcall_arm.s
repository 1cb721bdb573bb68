// mcall(fn), ARM: fn runs on g0's stack with the old g as its argument
// (at 4(SP), as Go's mcall passed it) and resumes the goroutine with gogo(&g->sched, 7):
// main sees mcall "return" with R0 = 7 and prints it between 1 and 3.
GLOBL seen, $4

TEXT main, $16-0
	mov r0, #1
	str r0, [sp, #4]
	bl runtime.printint
	ldr r0, =ong0
	str r0, [sp, #4]
	bl mcall
	str r0, [sp, #4]
	bl runtime.printint
	mov r0, #3
	str r0, [sp, #4]
	bl runtime.printint
	RET

// $-4: no LR save, no check; the argument is at 4(SP).
TEXT ong0, NOSPLIT, $-4
	ldr r0, [sp, #4]                        // the old g
	ldr r1, =seen
	str r0, [r1]
	add r0, r0, #g_sched                    // gogo takes 5c's stack arguments:
	mov r1, #7
	sub sp, sp, #12
	str r0, [sp, #4]                        //   4(SP) = buf
	str r1, [sp, #8]                        //   8(SP) = ret
	bl gogo
