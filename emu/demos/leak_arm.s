// The m->cret leak, ARM.  leak's frame (4096 bytes, StackBig) makes every
// call to it split; it allocates an object and returns with the object's
// address still in R0 -- lessstack saves R0 in m->cret.  main keeps no
// reference, so after the call the object is garbage, yet on the buggy
// runtime m0.cret still points at it when the collector runs.
TEXT leak, $4096-0
	mov r0, #48
	str r0, [sp, #4]
	bl runtime.new
	ldr r0, [sp, #8]                  // R0 = the object, left over at return
	mov r1, #0
	str r1, [sp, #8]                  // no copy stays on the (soon freed) segment
	RET

TEXT main, $16-0
	bl leak
	bl runtime.gc
	RET
