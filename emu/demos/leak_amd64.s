// The m->cret leak, amd64.  leak's frame (4096 bytes, StackBig) makes every
// call to it split; it allocates an object and returns with the object's
// address still in AX -- lessstack saves AX in m->cret.  main keeps no
// reference, so after the call the object is garbage, yet on the buggy
// runtime m0.cret still points at it when the collector runs.
TEXT leak, $4096-0
	mov qword ptr [rsp], 48
	call runtime.new
	mov rax, qword ptr [rsp + 8]      // AX = the object, left over at return
	mov qword ptr [rsp + 8], 0        // no copy stays on the (soon freed) segment
	RET

TEXT main, $16-0
	call leak
	call runtime.gc
	RET
