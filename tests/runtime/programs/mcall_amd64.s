// mcall(fn), amd64: fn runs on g0's stack with the old g as its argument
// (pushed, as Go's mcall passed it) and resumes the goroutine with gogo(&g->sched, 7):
// main sees mcall "return" with AX = 7 and prints it between 1 and 3.
GLOBL seen, $8

TEXT main, $16-0
	mov qword ptr [rsp], 1
	call runtime.printint
	mov rax, $ong0
	mov qword ptr [rsp], rax
	call mcall
	mov qword ptr [rsp], rax
	call runtime.printint
	mov qword ptr [rsp], 3
	call runtime.printint
	RET

TEXT ong0, NOSPLIT, $0-8
	mov rax, qword ptr [FP]                 // the old g
	mov rbx, $seen
	mov qword ptr [rbx], rax
	lea rax, [rax + g_sched]                // gogo takes 6c's stack arguments:
	push 7                                  //   16(SP) = ret
	push rax                                //   8(SP) = buf
	call gogo
	RET
