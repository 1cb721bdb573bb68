/*
 * Segmented stacks: newstack and oldstack, modelled on src/pkg/runtime/proc.c
 * at efacb2a1 (variant buggy) and 89b075cc (variant fixed, -DGOEMU_FIXED).
 * Both run on m->g0's stack and reach the goroutine as m->curg.
 */
#include "malloc.h"

/* Go's runtime·printf for newstack's two diagnostics, one output line each:
 * text, a number (hex with 0x, or decimal), text, a number. */
static char *put_str(char *p, const char *s) {
	while (*s)
		*p++ = *s++;
	return p;
}

static char *put_num(char *p, uintptr v, int hex) {
	char tmp[24];
	int n = 0;
	if (hex) {
		p = put_str(p, "0x");
	}
	do {
		uintptr d = hex ? (v & 15) : (v % 10);
		tmp[n++] = (char)(d < 10 ? '0' + d : 'a' + d - 10);
		v = hex ? (v >> 4) : (v / 10);
	} while (v != 0);
	while (n > 0)
		*p++ = tmp[--n];
	return p;
}

static void print_line(const char *a, uintptr x, int hex, const char *b, uintptr y, int two) {
	char buf[128];
	char *p = put_num(put_str(buf, a), x, hex);
	if (two)
		p = put_num(put_str(p, b), y, hex);
	*p = 0;
	hypercall(HcPrintStr, (uintptr)buf, 0);
}

/* Entered by morestack (and reflectcall) on g0 with m->more* describing the
 * call that did not fit: give it a segment (or, for a reflect call with room,
 * the rest of this one), copy its arguments, and resume it at m->morepc with
 * lessstack as its return address. */
void newstack(void) {
	uint32 framesize = m->moreframesize, argsize = m->moreargsize;
	G *g1 = m->curg;
	uint8 *stk, *sp;
	Stktop *top;
	uintptr free;
	bool reflectcall;
	Gobuf label;

	if (m->morebuf.sp < g1->stackguard - StackGuard) {
		print_line("runtime: split stack overflow: ", (uintptr)m->morebuf.sp, 1, " < ",
			   (uintptr)(g1->stackguard - StackGuard), 1);
		throw("runtime: split stack overflow");
	}
	if (argsize % sizeof(uintptr) != 0) {
		print_line("runtime: stack split with misaligned argsize ", argsize, 0, "", 0, 0);
		throw("runtime: stack split argsize");
	}

	reflectcall = framesize == 1;
	if (reflectcall)
		framesize = 0;

	if (reflectcall && m->morebuf.sp - sizeof(Stktop) - argsize - 32 > g1->stackguard) {
		/* Room on the current segment: put the Stktop just below the caller's SP. */
		top = (Stktop *)(m->morebuf.sp - sizeof(Stktop));
		stk = g1->stackguard - StackGuard;
		free = 0;
	} else {
		framesize += argsize + StackExtra;
		if (framesize < StackMin)
			framesize = StackMin;
		framesize += StackSystem;
		stk = stackalloc(framesize);
		top = (Stktop *)(stk + framesize - sizeof(Stktop));
		free = framesize;
	}

	top->stackbase = g1->stackbase;
	top->stackguard = g1->stackguard;
	top->gobuf = m->morebuf;
	top->argp = m->moreargp;
	top->argsize = argsize;
	top->free = free;
	top->panic = g1->ispanic;
	g1->ispanic = false;

	g1->stackbase = (uint8 *)top;
	g1->stackguard = stk + StackGuard;

	sp = (uint8 *)top;
	if (argsize > 0) {
		sp -= argsize;
		memmove(sp, m->moreargp, argsize);
	}
	if (thechar == '5') {
		/* A caller on ARM keeps its saved-LR slot just below the arguments. */
		sp -= sizeof(void *);
		*(void **)sp = nil;
	}

	label.sp = sp;
	label.pc = (uint8 *)lessstack;
	label.g = m->curg;
	go_gogocall(&label, m->morepc);

	*(int32 *)345 = 123;  /* not reached */
	__builtin_unreachable();
}

/* Entered by lessstack on g0 when a function returns off the top of a
 * segment: copy its results back, free the segment, restore the older
 * segment's bounds and resume the caller with AX/R0 = m->cret. */
void oldstack(void) {
	G *g1 = m->curg;
	Stktop *top = (Stktop *)g1->stackbase;
	Stktop old = *top;   /* a copy: the segment is about to be freed */
	uint32 argsize = old.argsize;
	volatile int32 goid;

	if (argsize > 0)
		memmove(old.argp, (uint8 *)top - argsize, argsize);
	goid = old.gobuf.g->goid;   /* fault here, not in gogo, on a bad g */
	(void)goid;

	if (old.free != 0)
		stackfree(g1->stackguard - StackGuard, old.free);
	g1->stackbase = old.stackbase;
	g1->stackguard = old.stackguard;

#ifdef GOEMU_FIXED
	{
		uintptr cret = m->cret;
		m->cret = 0;   /* drop reference */
		go_gogo(&old.gobuf, cret);
	}
#else
	go_gogo(&old.gobuf, m->cret);
#endif
}

/* A goroutine with a first segment of stacksize bytes; its Stktop is zeroed,
 * so a nil stackbase link marks the first segment. */
G *malg(uintptr stacksize) {
	G *newg = mallocgc(sizeof(G));
	uint8 *stk = stackalloc(stacksize);
	newg->stack0 = stk;
	newg->stackguard = stk + StackGuard;
	newg->stackbase = stk + stacksize - sizeof(Stktop);
	memset(newg->stackbase, 0, sizeof(Stktop));
	return newg;
}
