// A call to a symbol nothing defines: the error must name this file and line.
TEXT main, $16-0
	mov r0, #1
	bl no_such_function                     // BAD
	RET
