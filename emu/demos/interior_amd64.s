// Like leak_amd64.s, but the word left in AX points into the middle of the
// object (+24): Go 1.0's collector resolved interior pointers to their
// object, so the whole object is retained just the same.
TEXT leak, $4096-0
	mov qword ptr [rsp], 48
	call runtime.new
	mov rax, qword ptr [rsp + 8]
	add rax, 24                       // AX = &obj->field3, an interior pointer
	mov qword ptr [rsp + 8], 0
	RET

TEXT main, $16-0
	call leak
	call runtime.gc
	RET
