// Runaway recursion, amd64.  The test writes `sel`:
//   0: dive, a NOSPLIT function, recurses `depth` times (default 100) with an
//      80-byte step -- far past the bottom of the first 4096-byte segment --
//      then calls victim, whose split check calls morestack: newstack finds the
//      caller's SP below the segment and throws "split stack overflow".
//   1: inf, a split-checked function with a 262144-byte frame, calls itself
//      forever: every call takes a new segment until the stack region is spent.
GLOBL sel, $8
GLOBL depth, $8
DATA depth+0/8, $100

TEXT main, $16-0
	mov rax, $sel
	mov rax, qword ptr [rax]
	cmp rax, 1
	je unbounded
	mov rax, $depth
	mov rax, qword ptr [rax]
	mov qword ptr [rsp], rax
	call dive
	RET
unbounded:
	call inf
	RET

TEXT dive, NOSPLIT, $72-8
	mov rax, qword ptr [FP]
	test rax, rax
	je bottom
	dec rax
	mov qword ptr [rsp], rax
	call dive
	RET
bottom:
	call victim
	RET

TEXT victim, $16-0
	mov qword ptr [rsp], 1
	call runtime.printint
	RET

TEXT inf, $262144-0
	call inf
	RET
