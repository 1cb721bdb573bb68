/*
 * The per-architecture half of the C model: how C reaches g, m and the
 * emulator.  Everything else in runtime_c is architecture-neutral.
 *
 * amd64: Go 1.0 on ELF keeps g at -16(FS) and m at -8(FS).  clang has no
 * global register variables, but an FS-relative address space gives the same
 * loads (mov %fs:-8, reg).
 * arm: Go 1.0 keeps m in R9 and g in R10.  clang can reserve R9
 * (-mcpu=...+reserve_r9) but not R10, so C reads m from R9 and never needs g
 * (newstack and oldstack reach the goroutine through m->curg, as Go's did);
 * R10 is callee-saved in the C ABI, so C that returns leaves it intact and C
 * that does not return leaves through gogo/gogocall, which set it.
 */
#ifndef GOEMU_ARCH_H
#define GOEMU_ARCH_H

#if defined(__x86_64__)

#define m (*(M *__seg_fs *)-8)
#define thechar '6'

static inline uintptr hypercall(uintptr nr, uintptr a0, uintptr a1) {
	uintptr ret;
	__asm__ volatile("syscall" : "=a"(ret) : "a"(nr), "D"(a0), "S"(a1) : "rcx", "r11", "memory");
	return ret;
}

/* In the function that uses it: every callee-saved register is saved in its
 * frame (6c kept no value in a register across a call; clang does). */
#define spillregs() __asm__ volatile("" : : : "rbx", "rbp", "r12", "r13", "r14", "r15", "memory")

/* A hypercall the emulator serves for goroutine gp (g is in TLS already). */
static inline uintptr hypercall_g(void *gp, uintptr nr, uintptr a0, uintptr a1) {
	(void)gp;
	return hypercall(nr, a0, a1);
}

#elif defined(__arm__)

static inline M *getm(void) {
	M *mp;
	__asm__("mov %0, r9" : "=r"(mp));
	return mp;
}
#define m (getm())
#define thechar '5'

static inline uintptr hypercall(uintptr nr, uintptr a0, uintptr a1) {
	register uintptr r7 __asm__("r7") = nr;
	register uintptr r0 __asm__("r0") = a0;
	register uintptr r1 __asm__("r1") = a1;
	__asm__ volatile("svc #0" : "+r"(r0) : "r"(r7), "r"(r1) : "memory");
	return r0;
}

/* (r9 holds m and is never allocated; d8-d15 are not used by runtime_c) */
#define spillregs() __asm__ volatile("" : : : "r4", "r5", "r6", "r7", "r8", "r10", "r11", "memory")

/* A hypercall the emulator serves for goroutine gp: C may use R10 for its own
 * values, so R10 = gp for the svc (and the caller's R10 is restored by the
 * epilogue of the C function, R10 being callee-saved). */
static inline uintptr hypercall_g(void *gp, uintptr nr, uintptr a0, uintptr a1) {
	register uintptr r7 __asm__("r7") = nr;
	register uintptr r0 __asm__("r0") = a0;
	register uintptr r1 __asm__("r1") = a1;
	register void *r10 __asm__("r10") = gp;
	__asm__ volatile("svc #0" : "+r"(r0), "+r"(r10) : "r"(r7), "r"(r1) : "memory");
	return r0;
}

#else
#error "goemu models amd64 and arm only"
#endif

#endif
