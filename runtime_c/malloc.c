/*
 * mallocgc, free, the GC bitmap writers, and stack segments (malloc.goc,
 * mgc0.c's mark* functions).  See malloc.h for the shape of the allocator.
 */
#include "malloc.h"

MHeap mheap;
MStats mstats;
FixAlloc stackfixalloc;   /* m0's FixedStack allocator (Go 1.0 mallocs it per M) */
MCache *mcache0;

void mallocinit(uintptr arena, uintptr arena_size, uintptr sys, uintptr sys_size) {
	InitSizes();
	MHeap_Init(&mheap, arena, arena_size, sys, sys_size);
	/* The stack FixAlloc takes the first SysAlloc chunk, so that the main
	 * goroutine's first segment sits just above the never-used pages at the
	 * bottom of the region (a NOSPLIT overrun below it reaches newstack's check). */
	FixAlloc_Init(&stackfixalloc, FixedStack, nil, nil);
	m->stackalloc = &stackfixalloc;
	FixAlloc_Free(&stackfixalloc, FixAlloc_Alloc(&stackfixalloc));
	mcache0 = FixAlloc_Alloc(&mheap.cachealloc);
	mstats.mcache_inuse = mheap.cachealloc.inuse;
	mstats.mcache_sys = mheap.cachealloc.sys;
	m->mcache = mcache0;
}

void memclr(void *v, uintptr n) {
	uintptr *w = v;
	uint8 *b;
	for (; n >= sizeof(uintptr); n -= sizeof(uintptr))
		*w++ = 0;
	for (b = (uint8 *)w; n > 0; n--)
		*b++ = 0;
}

/* The end of Go's runtime·gc, after the collector (in the emulator) swept the
 * freed small objects onto this M's MCache lists and queued the freed large
 * spans: MCache_ReleaseAll returns every cached object to its span (a span
 * left empty goes back to MHeap), and the large spans are freed. */
void stealcache(void) {
	MSpan *s;
	mheap.stealpending = false;
	MCache_ReleaseAll(m->mcache);
	while ((s = mheap.reclaim) != nil) {
		mheap.reclaim = s->next;
		s->next = nil;
		MHeap_Free(&mheap, s, 0);   /* heap_alloc was already lowered by the sweep */
	}
}

void outofmemory(uintptr n) {
	(void)n;
	throw("out of memory");
}

/* Allocate size bytes.  flag: FlagNoPointers, FlagNoGC (not a GC object: no
 * allocated bit); zeroed: clear memory that may be dirty. */
void *runtime_mallocgc(uintptr size, uint32 flag, int32 dogc, int32 zeroed) {
	MCache *c;
	MSpan *s;
	int32 sizeclass;
	uintptr npages;
	void *v;

	if (m->mallocing)
		throw("malloc/free - deadlock");
	m->mallocing = 1;
	if (mheap.stealpending)
		stealcache();
	if (size == 0)
		size = 1;

	c = m->mcache;
	mstats.nmalloc++;
	if (size <= MaxSmallSize) {
		sizeclass = SizeToClass((int32)size);
		size = (uintptr)class_to_size[sizeclass];
		v = MCache_Alloc(c, sizeclass, size, zeroed);
		if (v == nil)
			outofmemory(size);
		mstats.by_size[sizeclass].nmalloc++;
		mstats.heap_alloc += size;
		mstats.heap_objects++;
	} else {
		npages = (size + PageMask) >> PageShift;
		s = MHeap_Alloc(&mheap, npages, 0, 1);
		if (s == nil)
			outofmemory(size);
		size = npages << PageShift;
		v = (void *)(s->start << PageShift);
		markspan(v, 0, 0, true);
	}
	mstats.alloc += size;
	mstats.total_alloc += size;

	if (!(flag & FlagNoGC))
		markallocated(v, size, (flag & FlagNoPointers) != 0);
	m->mallocing = 0;

	/* Go 1.0's trigger: this allocation took heap_alloc to next_gc or past it. */
	if (dogc && mstats.heap_alloc >= mstats.next_gc)
		runtime_gc(0);
	return v;
}

/* runtime.new and the C runtime's own objects: new(T) with pointers, zeroed. */
void *mallocgc(uintptr size) {
	return runtime_mallocgc(size, 0, 1, 1);
}

void runtime_free(void *v) {
	MSpan *s;
	int32 sizeclass;
	uintptr size;

	if (v == nil)
		return;
	if (m->mallocing)
		throw("malloc/free - deadlock");
	m->mallocing = 1;
	if (mheap.stealpending)
		stealcache();
	mstats.nlookup++;
	s = MHeap_LookupMaybe(&mheap, v);
	if (s == nil || (s->sizeclass != 0 && (uint8 *)v >= s->limit))
		throw("free runtime·mlookup: not an allocated block");
	sizeclass = (int32)s->sizeclass;
	if (sizeclass == 0) {
		size = s->npages << PageShift;
		*(uintptr *)(s->start << PageShift) = 1;   /* needs zeroing */
		markfreed(v, size);
		unmarkspan(v, 1 << PageShift);
		MHeap_Free(&mheap, s, 1);
	} else {
		size = (uintptr)class_to_size[sizeclass];
		if (size > sizeof(uintptr))
			((uintptr *)v)[1] = 1;   /* needs zeroing */
		markfreed(v, size);
		mstats.by_size[sizeclass].nfree++;
		mstats.heap_alloc -= size;
		mstats.heap_objects--;
		MCache_Free(m->mcache, v, sizeclass, size);
	}
	mstats.alloc -= size;
	m->mallocing = 0;
}

/* -- the bitmap: the word for heap word `off` is the (off/WordsPerBitmapWord + 1)-th
 * below arena_start, at bit offset off % WordsPerBitmapWord in each group. */
static uintptr *bitp(void *v, uintptr *shift) {
	uintptr off = (uintptr *)v - (uintptr *)mheap.arena_start;
	*shift = off % WordsPerBitmapWord;
	return (uintptr *)mheap.arena_start - off / WordsPerBitmapWord - 1;
}

static void setbits(void *v, uintptr bits) {
	uintptr shift, *b;
	if ((uint8 *)v < mheap.arena_start || (uint8 *)v >= mheap.arena_used)
		throw("bitmap: address outside the arena");
	b = bitp(v, &shift);
	*b = (*b & ~(bitMask << shift)) | (bits << shift);
}

void markallocated(void *v, uintptr n, bool noptr) {
	(void)n;
	setbits(v, bitAllocated | (noptr ? bitNoPointers : 0));
}

void markfreed(void *v, uintptr n) {
	(void)n;
	setbits(v, bitBlockBoundary);
}

/* A boundary bit at each of n objects of `size` from v (and at the tail if leftover). */
void markspan(void *v, uintptr size, uintptr n, bool leftover) {
	uintptr off, shift, *b, step = size / sizeof(uintptr);
	if ((uint8 *)v < mheap.arena_start || (uint8 *)v + size * n > mheap.arena_used)
		throw("markspan: bad pointer");
	if (leftover)
		n++;
	off = (uintptr *)v - (uintptr *)mheap.arena_start;
	for (; n > 0; n--, off += step) {
		b = (uintptr *)mheap.arena_start - off / WordsPerBitmapWord - 1;
		shift = off % WordsPerBitmapWord;
		*b = (*b & ~(bitMask << shift)) | (bitBlockBoundary << shift);
	}
}

/* Clear every bitmap word over [v, v+n); n covers whole bitmap words. */
void unmarkspan(void *v, uintptr n) {
	uintptr shift, *b = bitp(v, &shift);
	n /= sizeof(uintptr) * WordsPerBitmapWord;
	while (n-- > 0)
		*b-- = 0;
}

/* -- stack segments (malloc.goc): FixedStack from this M's FixAlloc, outside
 * the arena; other sizes are heap blocks without an allocated bit, so the
 * collector never takes them for objects. */
uint8 *stackalloc(uintptr n) {
	uint8 *v;
	/* On the scheduler stack only, so that it never grows the stack it runs on. */
	if (!on_g0())
		throw("stackalloc not on scheduler stack");
	if (m->mallocing || m->gcing || n == FixedStack) {
		if (n != FixedStack)
			throw("stackalloc: in malloc, size is not FixedStack");
		v = FixAlloc_Alloc(m->stackalloc);
		mstats.stacks_inuse = m->stackalloc->inuse;
		mstats.stacks_sys = m->stackalloc->sys;
	} else {
		v = runtime_mallocgc(n, FlagNoProfiling | FlagNoGC, 0, 0);
	}
	mstats.nstackalloc++;
	return v;
}

void stackfree(uint8 *v, uintptr n) {
	if (m->mallocing || m->gcing || n == FixedStack) {
		FixAlloc_Free(m->stackalloc, v);
		mstats.stacks_inuse = m->stackalloc->inuse;
	} else {
		runtime_free(v);
	}
	mstats.nstackfree++;
}
