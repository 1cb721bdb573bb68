/* Heap and stack-segment allocation; see malloc.h for the shape. */
#include "malloc.h"

MHeap mheap;
MStats mstats;
StackHeap stackheap;

/* Size classes: small enough to read, coarse enough to exercise reuse.
 * nelem is tabulated so that ARM needs no division helper. */
static const uint32 sizes[NumSizeClasses] = {
	0, 8, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512, 1024, 1536, 2048,
};
static const uint32 nelems[NumSizeClasses] = {
	1, 512, 256, 170, 128, 85, 64, 42, 32, 21, 16, 10, 8, 4, 2, 2,
};

void mallocinit(uintptr arena, uintptr arena_size, uintptr stacks, uintptr stacks_size) {
	uint32 i;
	mheap.arena_start = arena;
	mheap.arena_used = arena;
	mheap.arena_end = arena + arena_size;
	mheap.npages = arena_size >> PageShift;
	if (mheap.npages > MaxArenaPages)
		throw("mallocinit: arena too large");
	for (i = 0; i < NumSizeClasses; i++) {
		mheap.class_to_size[i] = sizes[i];
		mheap.class_to_nelem[i] = nelems[i];
	}
	stackheap.start = stacks;
	stackheap.end = stacks + stacks_size;
	stackheap.npages = stacks_size >> PageShift;
	if (stackheap.npages > MaxStackPages)
		throw("mallocinit: stack region too large");
}

static uint32 sizeclass(uintptr size) {
	uint32 c;
	for (c = 1; c < NumSizeClasses; c++)
		if (size <= sizes[c])
			return c;
	return 0;
}

/* First fit over the page map: the lowest run of npages free pages. */
static MSpan *allocspan(uint32 npages) {
	uint32 p, run = 0, s;
	MSpan *sp;
	for (p = 0; p < mheap.npages; p++) {
		run = mheap.pagespan[p] ? 0 : run + 1;
		if (run == npages)
			break;
	}
	if (run < npages)
		throw("out of memory: heap arena exhausted");
	p = p + 1 - npages;
	for (s = 0; s < MaxSpans; s++)
		if (mheap.spans[s].state == MSpanFree)
			break;
	if (s == MaxSpans)
		throw("out of memory: span table full");
	if (s >= mheap.nspans)
		mheap.nspans = s + 1;
	sp = &mheap.spans[s];
	memset(sp, 0, sizeof *sp);
	sp->start = mheap.arena_start + ((uintptr)p << PageShift);
	sp->npages = npages;
	sp->state = MSpanInUse;
	for (run = 0; run < npages; run++)
		mheap.pagespan[p + run] = (uint16)(s + 1);
	if (sp->start + ((uintptr)npages << PageShift) > mheap.arena_used)
		mheap.arena_used = sp->start + ((uintptr)npages << PageShift);
	return sp;
}

static uint32 takeslot(MSpan *s) {
	uint32 i;
	for (i = 0; i < s->nelem; i++)
		if (!(s->allocbits[i >> 5] & (1u << (i & 31)))) {
			s->allocbits[i >> 5] |= 1u << (i & 31);
			s->nfree--;
			return i;
		}
	throw("takeslot: span has no free slot");
}

/* Allocate size bytes, zeroed.  Small sizes reuse the lowest free slot of the
 * first span of their class that has one, so a swept object's memory comes
 * back to the next allocation of its size. */
void *mallocgc(uintptr size) {
	uint32 c, s, i;
	MSpan *sp = nil;
	uint8 *p;

	if (size == 0)
		size = 1;
	c = sizeclass(size);
	if (c == 0) {
		sp = allocspan((uint32)((size + PageSize - 1) >> PageShift));
		sp->sizeclass = 0;
		sp->elemsize = (uint32)(sp->npages << PageShift);
		sp->nelem = 1;
		sp->nfree = 1;
	} else {
		for (s = 0; s < mheap.nspans; s++) {
			MSpan *t = &mheap.spans[s];
			if (t->state == MSpanInUse && t->sizeclass == c && t->nfree > 0) {
				sp = t;
				break;
			}
		}
		if (sp == nil) {
			sp = allocspan(1);
			sp->sizeclass = c;
			sp->elemsize = sizes[c];
			sp->nelem = nelems[c];
			sp->nfree = nelems[c];
		}
	}
	i = takeslot(sp);
	p = (uint8 *)(sp->start + (uintptr)i * sp->elemsize);
	memset(p, 0, sp->elemsize);
	mstats.nmalloc++;
	mstats.heap_alloc += sp->elemsize;
	return p;
}

/* Stack segments: n rounded up to whole pages, first fit, above a few never-used pages at the
 * bottom of the region (so a NOSPLIT overrun of the lowest segment lands in
 * mapped memory and reaches newstack's overflow check, as it would in Go). */
uint8 *stackalloc(uintptr n) {
	uint32 need = (uint32)((n + PageSize - 1) >> PageShift), p, run = 0, i;
	for (p = StackUnderflowPages; p < stackheap.npages; p++) {
		run = stackheap.pages[p] ? 0 : run + 1;
		if (run == need)
			break;
	}
	if (run < need)
		throw("out of memory: stack region exhausted");
	p = p + 1 - need;
	stackheap.pages[p] = need;
	for (i = 1; i < need; i++)
		stackheap.pages[p + i] = 0xffffffffu;
	mstats.nstackalloc++;
	mstats.stack_inuse += n;
	return (uint8 *)(stackheap.start + ((uintptr)p << PageShift));
}

void stackfree(uint8 *v, uintptr n) {
	uintptr off = (uintptr)v - stackheap.start;
	uint32 p = (uint32)(off >> PageShift), i, need = (uint32)((n + PageSize - 1) >> PageShift);
	if ((uintptr)v < stackheap.start || (uintptr)v >= stackheap.end || (off & (PageSize - 1)))
		throw("stackfree: not a stack segment");
	if (stackheap.pages[p] != need)
		throw("stackfree: bad size");
	for (i = 0; i < need; i++)
		stackheap.pages[p + i] = 0;
	mstats.nstackfree++;
	mstats.stack_inuse -= n;
}
