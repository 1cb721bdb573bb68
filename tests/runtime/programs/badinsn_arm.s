// An instruction Keystone cannot assemble: the error must name this file and line.
TEXT main, $16-0
	mov r0, #1
	frobnicate r0, #1                       // BAD
	RET
