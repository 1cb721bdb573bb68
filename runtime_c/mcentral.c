/*
 * MCentral (mcentral.c): the free objects of one size class, kept on their
 * spans' free lists.  Spans with at least one free object are on `nonempty`,
 * the others on `empty`.  Objects move to and from MCaches in batches; a span
 * whose objects have all come back returns to MHeap.
 */
#include "malloc.h"

static bool MCentral_Grow(MCentral *c);
static void *MCentral_Alloc(MCentral *c);
static void MCentral_Free(MCentral *c, void *v);

void MCentral_Init(MCentral *c, int32 sizeclass) {
	c->sizeclass = sizeclass;   /* the lists start empty: nil links (see MSpanList_IsEmpty) */
	c->nfree = 0;
}

/* Up to n objects as a nil-terminated chain; the count taken (0: out of memory). */
int32 MCentral_AllocList(MCentral *c, int32 n, MLink **pfirst) {
	MLink *first, **plast, *v;
	int32 i;

	if (MSpanList_IsEmpty(&c->nonempty) && !MCentral_Grow(c)) {
		*pfirst = nil;
		return 0;
	}
	plast = &first;
	for (i = 0; i < n && (v = MCentral_Alloc(c)) != nil; i++) {
		*plast = v;
		plast = &v->next;
	}
	*plast = nil;
	c->nfree -= i;
	*pfirst = first;
	return i;
}

static void *MCentral_Alloc(MCentral *c) {
	MSpan *s;
	MLink *v;

	if (MSpanList_IsEmpty(&c->nonempty))
		return nil;
	s = c->nonempty.next;
	s->ref++;
	v = s->freelist;
	s->freelist = v->next;
	if (s->freelist == nil) {
		MSpanList_Remove(s);
		MSpanList_Insert(&c->empty, s);
	}
	return v;
}

void MCentral_FreeList(MCentral *c, int32 n, MLink *start) {
	MLink *v, *next;
	(void)n;
	for (v = start; v != nil; v = next) {
		next = v->next;
		MCentral_Free(c, v);
	}
}

static void MCentral_Free(MCentral *c, void *v) {
	MSpan *s = MHeap_Lookup(&mheap, v);
	MLink *p;
	uintptr size, start;
	int32 n;

	if (s == nil || s->ref == 0)
		throw("invalid free");
	if (s->freelist == nil) {
		MSpanList_Remove(s);
		MSpanList_Insert(&c->nonempty, s);
	}
	p = v;
	p->next = s->freelist;
	s->freelist = p;
	c->nfree++;

	if (--s->ref == 0) {
		/* Every object is back: the span returns to the heap. */
		size = (uintptr)class_to_size[c->sizeclass];
		start = s->start << PageShift;
		n = 0;
		for (p = (MLink *)start; (uint8 *)p < s->limit; p = (MLink *)((uint8 *)p + size))
			n++;
		MSpanList_Remove(s);
		unmarkspan((void *)start, s->npages << PageShift);
		*(uintptr *)start = 1;   /* needs zeroing */
		s->freelist = nil;
		c->nfree -= n;
		MHeap_Free(&mheap, s, 0);
	}
}

/* A new span for this class, carved into objects linked in address order. */
static bool MCentral_Grow(MCentral *c) {
	int32 npages = class_to_allocnpages[c->sizeclass], n = 0;
	uintptr size = (uintptr)class_to_size[c->sizeclass];
	uint8 *p, *end;
	MLink **tailp, *v;
	MSpan *s;

	s = MHeap_Alloc(&mheap, (uintptr)npages, c->sizeclass, 0);
	if (s == nil)
		return false;
	p = (uint8 *)(s->start << PageShift);
	end = p + ((uintptr)npages << PageShift);
	tailp = &s->freelist;
	for (; p + size <= end; p += size) {
		v = (MLink *)p;
		*tailp = v;
		tailp = &v->next;
		n++;
	}
	*tailp = nil;
	s->limit = p;
	markspan((void *)(s->start << PageShift), size, (uintptr)n, p < end);
	c->nfree += n;
	MSpanList_Insert(&c->nonempty, s);
	return true;
}
