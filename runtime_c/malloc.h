/*
 * The heap: a page arena carved into spans, each span holding objects of one
 * size class (or one large object).  Its metadata lives in one bss global,
 * `mheap`, which the collector in Python reads and sweeps (emu/gc), and which
 * the root scan skips exactly as Go 1.0's mark() skipped runtime·mheap.
 *
 * This is simpler than Go 1.0's MHeap/MCentral/MCache and 4-bit heap bitmap,
 * but keeps what the collector's answers depend on: object boundaries by size
 * class, interior pointers resolved through a page->span map, real reuse of
 * freed slots (lowest free slot first), and allocation that zeroes.
 */
#ifndef GOEMU_MALLOC_H
#define GOEMU_MALLOC_H

#include "runtime.h"

enum {
	PageShift = 12,
	PageSize = 1 << PageShift,
	MaxSmallSize = 2048,
	NumSizeClasses = 16,          /* class 0 = large object */
	MaxArenaPages = 8192,         /* 32 MiB arena at most */
	MaxSpans = 2048,
	MaxObjsPerSpan = PageSize / 8,
	AllocWords = MaxObjsPerSpan / 32,
};

enum { MSpanFree = 0, MSpanInUse = 1 };

typedef struct MSpan MSpan;
struct MSpan {
	uintptr start;               /* address of the first object */
	uint32 npages;
	uint32 sizeclass;            /* 0: one large object */
	uint32 elemsize;
	uint32 nelem;
	uint32 nfree;
	uint32 state;                /* MSpanFree or MSpanInUse */
	uint32 allocbits[AllocWords];/* bit i set: object i is allocated */
};

typedef struct MStats MStats;
struct MStats {
	uint64 nmalloc;              /* objects allocated, ever */
	uint64 nfree;                /* objects freed by sweeps */
	uint64 heap_alloc;           /* bytes in allocated objects now */
	uint64 nstackalloc;          /* stack segments allocated, ever */
	uint64 nstackfree;
	uint64 stack_inuse;          /* bytes in stack segments now */
	uint64 ngc;
};

typedef struct MHeap MHeap;
struct MHeap {
	uintptr arena_start;
	uintptr arena_used;          /* end of the highest page ever handed out */
	uintptr arena_end;
	uint32 npages;               /* pages in the arena */
	uint32 nspans;               /* spans[0..nspans) ever used */
	uint32 class_to_size[NumSizeClasses];
	uint32 class_to_nelem[NumSizeClasses];
	uint16 pagespan[MaxArenaPages]; /* 1 + index of the span owning a page, 0 = free page */
	MSpan spans[MaxSpans];
};

/* Stack segments come from their own region, outside the arena, like Go 1.0's
 * FixAlloc-over-SysAlloc; pages are handed out first-fit. */
enum { MaxStackPages = 8192, StackUnderflowPages = 4 };
typedef struct StackHeap StackHeap;
struct StackHeap {
	uintptr start;
	uintptr end;
	uint32 npages;
	uint32 pages[MaxStackPages]; /* at a segment's first page: its page count; 0xffffffff: inside a segment; 0: free */
};

extern MHeap mheap;
extern MStats mstats;
extern StackHeap stackheap;

void mallocinit(uintptr arena, uintptr arena_size, uintptr stacks, uintptr stacks_size);

#endif
