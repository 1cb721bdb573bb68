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
 *
 * gosave, gogo and gogocall are Go's assembly, which reads its arguments from
 * the stack where 6c/5c stored them: 8(SP), 16(SP) on amd64 (above the return
 * address), 4(SP), 8(SP), 12(SP) on ARM (above the saved-LR slot).  The
 * go_* wrappers below store them there and call the stub, so the stubs run
 * Go's instructions and leave Go's registers.  gogo and gogocall never return.
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


/* Arguments pushed right to left: 8(SP) = the first at the stub's entry.
 * The values travel in the registers the stub loads them into (AX, BX), so
 * the wrapper leaves no other register holding them. */
static inline __attribute__((always_inline, noreturn)) void go_gogo(Gobuf *buf, uintptr ret) {
	__asm__ volatile("push %0\n\tpush %1\n\tcall gogo" : : "a"(ret), "b"(buf) : "memory");
	__builtin_unreachable();
}

static inline __attribute__((always_inline, noreturn)) void go_gogocall(Gobuf *buf, void (*fn)(void)) {
	__asm__ volatile("push %0\n\tpush %1\n\tcall gogocall" : : "a"(fn), "b"(buf) : "memory");
	__builtin_unreachable();
}

static inline __attribute__((always_inline)) void go_gosave(Gobuf *buf) {
	__asm__ volatile("push %0\n\tcall gosave\n\tadd $8, %%rsp" : "+a"(buf) : : "rbx", "memory", "cc");
}


/* Go's stackalloc test, g == m->g0, with g read from its TLS slot. */
static inline int on_g0(void) {
	return *(G *__seg_fs *)-16 == m->g0;
}


/* newstack and oldstack are entered by a jump-like call from the stubs and
 * never return, and 6c had no callee-saved registers: preserve_none stops
 * clang from saving registers no one will restore. */
#define GO_NOSAVE __attribute__((preserve_none))

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


/* 4(SP), 8(SP), 12(SP) hold the arguments; 0(SP) is the saved-LR slot a
 * 5c caller keeps.  The first argument is also in R0, as 5c passed it. */
static inline __attribute__((always_inline, noreturn)) void go_gogo(Gobuf *buf, uintptr ret) {
	register Gobuf *r0 __asm__("r0") = buf;
	register uintptr r1 __asm__("r1") = ret;
	__asm__ volatile("sub sp, sp, #12\n\tstr r0, [sp, #4]\n\tstr r1, [sp, #8]\n\tbl gogo"
			 : : "r"(r0), "r"(r1) : "memory");
	__builtin_unreachable();
}

/* Go's gogocall loads a third word ("fp offset") its callers never passed;
 * here it reads 0, the slot's value. */
static inline __attribute__((always_inline, noreturn)) void go_gogocall(Gobuf *buf, void (*fn)(void)) {
	register Gobuf *r0 __asm__("r0") = buf;
	register void (*r1)(void) __asm__("r1") = fn;
	register uintptr r2 __asm__("r2") = 0;
	__asm__ volatile("sub sp, sp, #16\n\tstr r0, [sp, #4]\n\tstr r1, [sp, #8]\n\tstr r2, [sp, #12]\n\t"
			 "bl gogocall" : : "r"(r0), "r"(r1), "r"(r2) : "memory");
	__builtin_unreachable();
}

static inline __attribute__((always_inline)) void go_gosave(Gobuf *buf) {
	register Gobuf *r0 __asm__("r0") = buf;
	__asm__ volatile("sub sp, sp, #8\n\tstr r0, [sp, #4]\n\tbl gosave\n\tadd sp, sp, #8"
			 : "+r"(r0) : : "lr", "memory");
}


/* Go's stackalloc test is g == m->g0; C cannot rely on R10 (clang allocates
 * it), so ask whether SP lies on g0's stack instead. */
static inline int on_g0(void) {
	uint8 *sp;
	G *g0p = m->g0;
	__asm__("mov %0, sp" : "=r"(sp));
	return sp >= g0p->stackguard - StackGuard && sp < g0p->stackbase;
}


/* clang has no preserve_none for 32-bit ARM (it saves nothing in newstack
 * and oldstack there anyway: they never return). */
#define GO_NOSAVE

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
