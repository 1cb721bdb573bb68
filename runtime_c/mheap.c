/*
 * MHeap (mheap.c): page runs.  Free runs sit on free[n] (exactly n pages,
 * n < MaxMHeapList) or on `large`; allocation takes the first run of the
 * smallest list that fits, else the best fit from `large`, else grows the
 * arena, and trims the run to size.  Freeing coalesces with free neighbours
 * found through the page->span map.  An in-use span is mapped at every page,
 * a free one at its first and last page.
 */
#include "malloc.h"

static bool MHeap_Grow(MHeap *h, uintptr npage);
static void MHeap_FreeLocked(MHeap *h, MSpan *s);

static void MSpan_Init(MSpan *span, uintptr start, uintptr npages) {
	span->next = nil;
	span->prev = nil;
	span->start = start;
	span->npages = npages;
	span->freelist = nil;
	span->ref = 0;
	span->sizeclass = 0;
	span->state = MSpanInUse;
	span->unusedsince = 0;
	span->npreleased = 0;
	span->limit = nil;
}

void MSpanList_Init(MSpan *list) {
	list->state = MSpanListHead;
	list->next = list;
	list->prev = list;
}

/* goemu: the list heads live in bss and start zeroed; a head whose link is
 * still nil is an empty list (Go initialised all 379 heads at start-up). */
bool MSpanList_IsEmpty(MSpan *list) {
	return list->next == nil || list->next == list;
}

void MSpanList_Insert(MSpan *list, MSpan *span) {
	if (span->next != nil || span->prev != nil)
		throw("MSpanList_Insert");
	if (list->next == nil)
		MSpanList_Init(list);
	span->next = list->next;
	span->prev = list;
	span->next->prev = span;
	span->prev->next = span;
}

void MSpanList_Remove(MSpan *span) {
	if (span->prev == nil && span->next == nil)
		return;
	span->prev->next = span->next;
	span->next->prev = span->prev;
	span->prev = nil;
	span->next = nil;
}

/* spanalloc's first hook: every MSpan ever carved is on allspans. */
static void RecordSpan(void *vh, uint8 *p) {
	MHeap *h = vh;
	MSpan *s = (MSpan *)p;
	s->allnext = h->allspans;
	h->allspans = s;
}

static uintptr arenapage(MHeap *h) {
	return (uintptr)h->arena_start >> PageShift;
}

void MHeap_Init(MHeap *h, uintptr arena, uintptr arena_size, uintptr sys, uintptr sys_size) {
	int32 i;
	if (arena_size > (uintptr)MaxArenaPages << PageShift)
		throw("mallocinit: arena larger than the page map");
	h->sys_start = (uint8 *)sys + SysUnderflowPages * PageSize;
	h->sys_used = h->sys_start;
	h->sys_end = (uint8 *)sys + sys_size;
	h->arena_start = (uint8 *)arena;
	h->arena_used = h->arena_start;
	h->arena_end = h->arena_start + arena_size;
	h->bitmap_mapped = arena_size / WordsPerBitmapWord;
	h->bitmap = h->arena_start - h->bitmap_mapped;
	FixAlloc_Init(&h->spanalloc, sizeof(MSpan), RecordSpan, h);
	FixAlloc_Init(&h->cachealloc, sizeof(MCache), nil, nil);
	for (i = 0; i < NumSizeClasses; i++)
		MCentral_Init(&h->central[i], i);
}

static MSpan *BestFit(MSpan *list, uintptr npage, MSpan *best) {
	MSpan *s;
	if (list->next == nil)
		return best;
	for (s = list->next; s != list; s = s->next) {
		if (s->npages < npage)
			continue;
		if (best == nil || s->npages < best->npages ||
		    (s->npages == best->npages && s->start < best->start))
			best = s;
	}
	return best;
}

static MSpan *MHeap_AllocLocked(MHeap *h, uintptr npage, int32 sizeclass) {
	uintptr n, p;
	MSpan *s, *t;

	for (n = npage; n < MaxMHeapList; n++) {
		if (!MSpanList_IsEmpty(&h->free[n])) {
			s = h->free[n].next;
			goto HaveSpan;
		}
	}
	if ((s = BestFit(&h->large, npage, nil)) == nil) {
		if (!MHeap_Grow(h, npage))
			return nil;
		if ((s = BestFit(&h->large, npage, nil)) == nil)
			return nil;
	}

HaveSpan:
	if (s->state != MSpanFree)
		throw("MHeap_AllocLocked - MSpan not free");
	if (s->npages < npage)
		throw("MHeap_AllocLocked - bad npages");
	MSpanList_Remove(s);
	s->state = MSpanInUse;
	mstats.heap_idle -= s->npages << PageShift;
	mstats.heap_released -= s->npreleased << PageShift;
	s->npreleased = 0;

	if (s->npages > npage) {
		/* Trim the rest into a free span of its own. */
		t = FixAlloc_Alloc(&h->spanalloc);
		mstats.mspan_inuse = h->spanalloc.inuse;
		mstats.mspan_sys = h->spanalloc.sys;
		MSpan_Init(t, s->start + npage, s->npages - npage);
		s->npages = npage;
		p = t->start - arenapage(h);
		if (p > 0)
			h->map[p - 1] = s;
		h->map[p] = t;
		h->map[p + t->npages - 1] = t;
		*(uintptr *)(t->start << PageShift) = *(uintptr *)(s->start << PageShift);   /* the dirty mark */
		t->state = MSpanInUse;
		MHeap_FreeLocked(h, t);
	}

	if (*(uintptr *)(s->start << PageShift) != 0)
		memclr((void *)(s->start << PageShift), s->npages << PageShift);

	s->sizeclass = (uint32)sizeclass;
	p = s->start - arenapage(h);
	for (n = 0; n < npage; n++)
		h->map[p + n] = s;
	return s;
}

MSpan *MHeap_Alloc(MHeap *h, uintptr npage, int32 sizeclass, int32 acct) {
	MSpan *s = MHeap_AllocLocked(h, npage, sizeclass);
	if (s != nil) {
		mstats.heap_inuse += npage << PageShift;
		if (acct) {
			mstats.heap_objects++;
			mstats.heap_alloc += npage << PageShift;
		}
	}
	return s;
}

/* The arena grows upward from arena_start, at least HeapAllocChunk at a time. */
static uint8 *MHeap_SysAlloc(MHeap *h, uintptr n) {
	uint8 *p = h->arena_used;
	if (n > (uintptr)(h->arena_end - p))
		return nil;
	h->arena_used = p + n;
	mstats.sys += n + n / WordsPerBitmapWord;   /* the arena and its bitmap */
	return p;
}

static bool MHeap_Grow(MHeap *h, uintptr npage) {
	uintptr ask, p;
	uint8 *v;
	MSpan *s;

	npage = (npage + 15) & ~(uintptr)15;
	ask = npage << PageShift;
	if (ask < HeapAllocChunk)
		ask = HeapAllocChunk;
	v = MHeap_SysAlloc(h, ask);
	if (v == nil) {
		if (ask > (npage << PageShift)) {
			ask = npage << PageShift;
			v = MHeap_SysAlloc(h, ask);
		}
		if (v == nil) {
			hypercall(HcPrintStr, (uintptr)"runtime: out of memory: cannot allocate ", 0);
			hypercall(HcPrintInt, ask, 0);
			hypercall(HcPrintStr, (uintptr)"-byte block (", 0);
			hypercall(HcPrintInt, (uintptr)mstats.heap_sys, 0);
			hypercall(HcPrintStr, (uintptr)" in use)\n", 0);
			return false;
		}
	}
	mstats.heap_sys += ask;

	s = FixAlloc_Alloc(&h->spanalloc);
	mstats.mspan_inuse = h->spanalloc.inuse;
	mstats.mspan_sys = h->spanalloc.sys;
	MSpan_Init(s, (uintptr)v >> PageShift, ask >> PageShift);
	p = s->start - arenapage(h);
	h->map[p] = s;
	h->map[p + s->npages - 1] = s;
	s->state = MSpanInUse;
	MHeap_FreeLocked(h, s);
	return true;
}

MSpan *MHeap_Lookup(MHeap *h, void *v) {
	return h->map[((uintptr)v >> PageShift) - arenapage(h)];
}

MSpan *MHeap_LookupMaybe(MHeap *h, void *v) {
	MSpan *s;
	uintptr p;
	if ((uint8 *)v < h->arena_start || (uint8 *)v >= h->arena_used)
		return nil;
	p = (uintptr)v >> PageShift;
	s = h->map[p - arenapage(h)];
	if (s == nil || p < s->start || p - s->start >= s->npages || s->state != MSpanInUse)
		return nil;
	return s;
}

void MHeap_Free(MHeap *h, MSpan *s, int32 acct) {
	mstats.heap_inuse -= s->npages << PageShift;
	if (acct) {
		mstats.heap_alloc -= s->npages << PageShift;
		mstats.heap_objects--;
	}
	MHeap_FreeLocked(h, s);
}

static void MHeap_FreeLocked(MHeap *h, MSpan *s) {
	MSpan *t;
	uintptr p;

	if (s->state != MSpanInUse || s->ref != 0)
		throw("MHeap_FreeLocked - invalid free");
	mstats.heap_idle += s->npages << PageShift;
	s->state = MSpanFree;
	s->unusedsince = 0;
	s->npreleased = 0;
	MSpanList_Remove(s);

	p = s->start - arenapage(h);
	if (p > 0 && (t = h->map[p - 1]) != nil && t->state != MSpanInUse) {
		*(uintptr *)(t->start << PageShift) |= *(uintptr *)(s->start << PageShift);
		s->start = t->start;
		s->npages += t->npages;
		s->npreleased = t->npreleased;
		p -= t->npages;
		h->map[p] = s;
		MSpanList_Remove(t);
		t->state = MSpanDead;
		FixAlloc_Free(&h->spanalloc, t);
		mstats.mspan_inuse = h->spanalloc.inuse;
	}
	if (p + s->npages < MaxArenaPages && (t = h->map[p + s->npages]) != nil && t->state != MSpanInUse) {
		*(uintptr *)(s->start << PageShift) |= *(uintptr *)(t->start << PageShift);
		s->npages += t->npages;
		s->npreleased += t->npreleased;
		h->map[p + s->npages - 1] = s;
		MSpanList_Remove(t);
		t->state = MSpanDead;
		FixAlloc_Free(&h->spanalloc, t);
		mstats.mspan_inuse = h->spanalloc.inuse;
	}

	if (s->npages < MaxMHeapList)
		MSpanList_Insert(&h->free[s->npages], s);
	else
		MSpanList_Insert(&h->large, s);
}
