TEXT main, $16-0
	mov qword ptr [rsp], 42
	call runtime.printint
	RET
