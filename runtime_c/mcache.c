/*
 * MCache (mcache.c): the per-M cache of free objects, one list per size
 * class, refilled from and returned to MCentral in batches.  No lock: only
 * its M touches it.
 */
#include "malloc.h"

void *MCache_Alloc(MCache *c, int32 sizeclass, uintptr size, int32 zeroed) {
	MCacheList *l = &c->list[sizeclass];
	MLink *first, *v;
	int32 n;

	if (l->list == nil) {
		n = MCentral_AllocList(&mheap.central[sizeclass], TransferCount((int32)size), &first);
		if (n == 0)
			return nil;
		l->list = first;
		l->nlist = (uint32)n;
		c->size += (uintptr)n * size;
	}
	v = l->list;
	l->list = v->next;
	if (--l->nlist < l->nlistmin)
		l->nlistmin = l->nlist;
	c->size -= size;

	/* The link word is always cleared; the rest only if the second word says the
	 * object may be dirty (set by free and by the sweep). */
	v->next = nil;
	if (zeroed && size > sizeof(uintptr) && ((uintptr *)v)[1] != 0)
		memclr(v, size);
	return v;
}

/* Give the first n objects of l back to MCentral. */
static void ReleaseN(MCache *c, MCacheList *l, int32 n, int32 sizeclass) {
	MLink *first, **loc;
	int32 i;

	first = l->list;
	loc = &l->list;
	for (i = 0; i < n; i++)
		loc = &(*loc)->next;
	l->list = *loc;
	*loc = nil;
	l->nlist -= (uint32)n;
	if (l->nlist < l->nlistmin)
		l->nlistmin = l->nlist;
	c->size -= (uintptr)n * (uintptr)class_to_size[sizeclass];
	MCentral_FreeList(&mheap.central[sizeclass], n, first);
}

void MCache_Free(MCache *c, void *v, int32 sizeclass, uintptr size) {
	int32 i, n;
	MCacheList *l = &c->list[sizeclass];
	MLink *p = v;

	p->next = l->list;
	l->list = p;
	l->nlist++;
	c->size += size;

	if (l->nlist >= MaxMCacheListLen)
		ReleaseN(c, l, TransferCount((int32)size), sizeclass);

	if (c->size >= MaxMCacheSize) {
		/* Scavenge: give back half of what each list never dipped below. */
		for (i = 0; i < NumSizeClasses; i++) {
			l = &c->list[i];
			n = (int32)l->nlistmin;
			if (n >= 2)
				n >>= 1;
			if (n > 0)
				ReleaseN(c, l, n, i);
			l->nlistmin = l->nlist;
		}
	}
}

void MCache_ReleaseAll(MCache *c) {
	int32 i;
	MCacheList *l;

	for (i = 0; i < NumSizeClasses; i++) {
		l = &c->list[i];
		if (l->list != nil)
			ReleaseN(c, l, (int32)l->nlist, i);
		l->nlistmin = 0;
	}
}
