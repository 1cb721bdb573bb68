/*
 * runtime·gc (mgc0.c): when a collection runs, and what the runtime does
 * around it.  Marking and sweeping are the emulator's (emu/gc.py, reached
 * through the HcGC hypercall); the decision, the GOGC setting, the scan's
 * starting point and the bookkeeping after the sweep are here, as in Go 1.0.
 *
 * mallocgc calls runtime_gc(0) after an allocation with dogc set once
 * mstats.heap_alloc >= mstats.next_gc.  next_gc starts at 0, so the first such
 * allocation after rt0 sets mstats.enablegc collects; after each collection
 * next_gc = heap_alloc + heap_alloc*gcpercent/100.  A program's own runtime.gc
 * (asm/<arch>/entries.s) reaches the collector directly; see docs/collector.md.
 */
#include "malloc.h"

/* GOGC as the program's environment gives it, NUL-terminated; empty: unset.
 * The emulator writes it before the program runs (emu/gc.py: write_gogc). */
uint8 gcenv[16];

/* Go 1.0: -2 until the first call reads GOGC; -1 is "off". */
int32 gcpercent = -2;

/* runtime·atoi: decimal digits up to the first non-digit. */
static int32 atoi(uint8 *p) {
	int32 n = 0;
	while ('0' <= *p && *p <= '9')
		n = n * 10 + *p++ - '0';
	return n;
}

static int32 readgogc(void) {
	uint8 *p = gcenv;
	if (p[0] == '\0')
		return 100;
	if (p[0] == 'o' && p[1] == 'f' && p[2] == 'f' && p[3] == '\0')
		return -1;
	return atoi(p);
}

#if defined(__arm__)
/* A 64-bit division on a 32-bit CPU: 5c called vlrt.c's _divvu, clang would
 * call libgcc's __aeabi_uldivmod (goemu links no libgcc); the same
 * shift-and-subtract loop here. */
static uint64 divvu(uint64 n, uint64 d) {
	uint64 q = 0, r = 0;
	int32 i;
	for (i = 63; i >= 0; i--) {
		r = (r << 1) | ((n >> i) & 1);
		if (r >= d) {
			r -= d;
			q |= (uint64)1 << i;
		}
	}
	return q;
}
#define DIV(n, d) divvu((n), (d))
#else
#define DIV(n, d) ((n) / (d))
#endif

/* The collection itself, out of line so that only a collection pays for
 * spilling registers: mark and sweep in the emulator, then the end of
 * runtime·gc (stealcache, next_gc). */
static __attribute__((noinline)) void gc1(void) {
	/* mgc0.c scans the running goroutine from the address of scanstack's
	 * argument: a word in the collector's own frame, below every frame of the
	 * allocation that got here (mallocgc's, holding the object it just made).
	 * clang keeps values in callee-saved registers where 6c kept them on the
	 * stack: spillregs saves them all in this frame, above `here`, so a
	 * pointer held only in one of them is on the stack the collector scans. */
	volatile uintptr here = 0;

	spillregs();
	m->gcing = 1;
	hypercall_g(m->curg, HcGC, (uintptr)&here, 0);
	stealcache();
	mstats.next_gc = mstats.heap_alloc + DIV(mstats.heap_alloc * (uint64)gcpercent, 100);
	m->gcing = 0;
}

void runtime_gc(int32 force) {
	if (!mstats.enablegc || m->locks > 0)
		return;
	if (gcpercent == -2)
		gcpercent = readgogc();
	if (gcpercent < 0)
		return;
	if (!force && mstats.heap_alloc < mstats.next_gc)
		return;
	gc1();
}
