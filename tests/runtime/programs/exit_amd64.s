// Ways out, amd64.  The test writes `sel`:
//   0: main calls deep (two 4096-byte frames, two segments) and returns:
//      goexit ends the program with status 0.
//   1: the innermost call runs runtime.exit(3), two segments deep.
GLOBL sel, $8

TEXT main, $16-0
	call outer
	mov qword ptr [rsp], 2
	call runtime.printint
	RET

TEXT outer, $4096-0
	call inner
	mov qword ptr [rsp], 1
	call runtime.printint
	RET

TEXT inner, $4096-0
	mov qword ptr [rsp], 0
	call runtime.printint
	mov rax, $sel
	mov rax, qword ptr [rax]
	test rax, rax
	je inner_ret
	mov qword ptr [rsp], 3
	call runtime.exit
inner_ret:
	RET
