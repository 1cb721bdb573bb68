// A call to a symbol nothing defines: the error must name this file and line.
TEXT main, $16-0
	mov qword ptr [rsp], 1
	call no_such_function                   // BAD
	RET
