// A nil dereference two segments deep, ARM: main -> outer -> inner, each
// with a 4096-byte frame (so each call starts a segment); inner loads through 0.
TEXT main, $16-0
	bl outer
	RET

TEXT outer, $4096-0
	bl inner
	RET

TEXT inner, $4096-0
	mov r0, #0
	ldr r0, [r0]                            // FAULT
	RET
