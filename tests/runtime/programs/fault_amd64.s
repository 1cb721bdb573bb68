// A nil dereference two segments deep, amd64: main -> outer -> inner, each
// with a 4096-byte frame (so each call starts a segment); inner loads through 0.
TEXT main, $16-0
	call outer
	RET

TEXT outer, $4096-0
	call inner
	RET

TEXT inner, $4096-0
	xor eax, eax
	mov rax, qword ptr [rax]                // FAULT
	RET
