	mov qword ptr [rsp], {size}
	mov qword ptr [rsp + 8], {n}
	call leak
	call runtime.gc
