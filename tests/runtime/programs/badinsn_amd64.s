// An instruction Keystone cannot assemble: the error must name this file and line.
TEXT main, $16-0
	mov qword ptr [rsp], 1
	frobnicate rax, 1                       // BAD
	RET
