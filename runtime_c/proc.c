/*
 * Start-up and the small services the rest of runtime_c needs.
 * One M (m0, static), its scheduler goroutine g0 (static, on the emulator's
 * g0 stack) and one user goroutine g1 (heap-allocated, on its own first
 * segment), linked through allm and allg as the collector expects.
 */
#include "malloc.h"

/* This file needs G's field named m, not the current-M accessor. */
#undef m

M m0;
G g0;
M *allm;
G *allg;
int32 gcount;

BootArgs bootargs;

/* Called once on the g0 stack by the emulator, after it filled bootargs.
 * Like mstart it records g0's scheduling point with gosave (pc = -1: never
 * resumed), then starts main on g1's first segment, returning into goexit. */
void rt0(void) {
	G *g1;
	uint8 *sp;
	void (*mainfn)(void) = (void (*)(void))bootargs.mainfn;

	mallocinit(bootargs.arena, bootargs.arena_size, bootargs.stacks, bootargs.stacks_size);
	m0.g0 = &g0;
	g0.stackguard = (uint8 *)bootargs.g0stack_lo + StackGuard;
	g0.stackbase = (uint8 *)bootargs.g0stack_hi;
	g0.m = &m0;
	allm = &m0;

	g1 = malg(StackMin);
	g1->goid = ++gcount;
	g1->status = Grunning;
	g1->m = &m0;
	g1->entry = (uint8 *)mainfn;
	allg = g1;
	m0.curg = g1;

	/* As newproc1 did: main takes no arguments, so sp is the stack base; on ARM
	 * a nil word below it stands for the caller's saved-LR slot. */
	sp = g1->stackbase;
	if (thechar == '5') {
		sp -= sizeof(void *);
		*(void **)sp = nil;
	}
	g1->sched.sp = sp;
	g1->sched.pc = (uint8 *)goexit;
	g1->sched.g = g1;

	/* The emulator's words are not Go's: drop them so they pin nothing. */
	memset(&bootargs, 0, sizeof bootargs);

	/* The end of schedinit: from here an allocation may start a collection. */
	mstats.enablegc = true;

	go_gosave(&g0.sched);
	g0.sched.pc = (uint8 *)(intptr)-1;
	hypercall(HcBoot, (uintptr)g1, 0);
	go_gogocall(&g1->sched, mainfn);
}

void throw(const char *msg) {
	for (;;)
		hypercall(HcThrow, (uintptr)msg, 0);
}

void *memmove(void *dst, const void *src, uintptr n) {
	uint8 *d = dst;
	const uint8 *s = src;
	if (d < s) {
		while (n--)
			*d++ = *s++;
	} else if (d > s) {
		d += n;
		s += n;
		while (n--)
			*--d = *--s;
	}
	return dst;
}

void *memcpy(void *dst, const void *src, uintptr n) {
	return memmove(dst, src, n);
}

void *memset(void *dst, int c, uintptr n) {
	volatile uint8 *d = dst;
	while (n--)
		*d++ = (uint8)c;
	return dst;
}

/* mcall's failure exits, as in Go 1.0. */
void badmcall(void) {
	throw("runtime: mcall called on m->g0 stack");
}

void badmcall2(void) {
	throw("runtime: mcall function returned");
}
